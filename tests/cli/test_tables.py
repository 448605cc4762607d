"""Tables at 80 columns: identifiers whole on one line, prose wrapped, records as blocks
when the identifiers alone would not fit."""

from __future__ import annotations

import io

import pytest

from rempart.cli.tables import print_table

PDQ = "cdb91179324eeec5aeb1113a550f4e45baf2abbae99c10455461eedaab161325"
CREATED = "2026-12-01T18:22:56.133297+00:00"


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _render(rows: list[dict[str, str]], columns: tuple[str, ...]) -> list[str]:
    out = io.StringIO()
    print_table(rows, columns, out)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    return lines


def test_a_hash_too_wide_to_sit_beside_the_rest_gives_one_block_per_record() -> None:
    rows = [
        {"path": "images/harbour.jpg", "pdq": PDQ, "quality": "100"},
        {"path": "images/notes.jpg", "error_code": "unsupported_format", "error_message": "x y"},
    ]
    lines = _render(rows, ("path", "pdq", "quality", "error_code", "error_message"))
    assert any(line.split() == ["pdq", PDQ] for line in lines)
    assert any(line.split() == ["error_code", "unsupported_format"] for line in lines)
    assert "" in lines  # a blank line between the two records
    assert not any(line.startswith("pdq") and "error_code" in line for line in lines)


def test_identifiers_stay_whole_while_prose_wraps() -> None:
    description = "hashes a hotline shared with us after the spring takedown campaign"
    rows = [{"name": "hotline", "source": "local", "description": description, "at": CREATED}]
    lines = _render(rows, ("name", "source", "description", "at"))
    assert lines[0].split() == ["name", "source", "description", "at"]
    assert CREATED in lines[1]
    assert len(lines) > 2  # the description wrapped
    assert " ".join(" ".join(line.split()) for line in lines).count("campaign") == 1


def test_columns_empty_in_every_row_are_left_out() -> None:
    rows = [{"path": "a.png", "quality": "100", "matches": "demo#1@8", "error_code": ""}]
    lines = _render(rows, ("path", "quality", "matches", "skipped", "error_code"))
    assert lines[0].split() == ["path", "quality", "matches"]
    assert lines[1].split() == ["a.png", "100", "demo#1@8"]


def test_brackets_in_a_cell_are_text_not_markup() -> None:
    rows = [{"path": "[bold]x[/bold].jpg", "quality": "100"}]
    lines = _render(rows, ("path", "quality"))
    assert "[bold]x[/bold].jpg" in lines[1]
