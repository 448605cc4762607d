"""``rempart desk platforms``: the jurisdictions and platforms the desk knows, and a folder of
platform files checked before a deployment uses it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.invoke import run

PICS = """\
version: 1
platforms:
  pics:
    domains: [pics.example.net]
    jurisdictions: [eu-dsa, uk]
    channel: {form: "https://pics.example.net/report"}
    language: fr
"""


def folder_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "platforms"
    folder.mkdir()
    (folder / "pics.yaml").write_text(text)
    return folder


def test_it_lists_the_built_in_jurisdictions_and_the_example(env: dict[str, str]) -> None:
    code, out, err = run({**env, "COLUMNS": "160"}, "desk", "platforms")
    assert code == 0, err
    laws, platforms = out.split("\nPlatforms\n")
    assert "us-take-it-down  48" in laws
    assert "72 (deployment)" in laws  # no trusted flagger: 72 hours
    assert "fr-authority     24               the order" in laws
    uk = next(line for line in laws.splitlines() if line.startswith("uk "))
    assert "yes" in uk.split()
    row = next(line for line in platforms.splitlines() if line.startswith("example "))
    assert row.split()[1:6] == [
        "example.com",
        "eu-dsa,",
        "us-take-it-down",
        "email",
        "en",
    ]
    assert row.endswith("built-in/example.yaml:7")


def test_json_holds_the_deployments_profiles_and_its_dsa_hours(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = folder_with(tmp_path, PICS)
    setting = {
        **env,
        "REMPART_DESK_PLATFORMS": str(folder),
        "REMPART_DESK_TRUSTED_FLAGGER": "Arcom",
    }
    code, out, err = run(setting, "desk", "platforms", "--format", "json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["dsa_hours"] == 24
    assert [law["name"] for law in listed["jurisdictions"]] == [
        "us-take-it-down",
        "eu-dsa",
        "uk",
        "fr-authority",
    ]
    assert listed["jurisdictions"][1]["hours"] is None
    pics = listed["platforms"][1]
    assert pics["name"] == "pics"
    assert pics["channel"] == {"kind": "form", "address": "https://pics.example.net/report"}
    assert pics["source"] == f"{folder / 'pics.yaml'}:3"


def test_check_says_ok_with_counts(env: dict[str, str], tmp_path: Path) -> None:
    folder = folder_with(tmp_path, PICS)
    code, out, err = run(env, "desk", "platforms", "--check", str(folder))
    assert code == 0, err
    assert out.strip() == (
        f"{folder}: OK, 2 platforms and 4 jurisdictions (the built-in ones included)."
    )


def test_check_names_the_file_and_line_of_an_error(env: dict[str, str], tmp_path: Path) -> None:
    folder = folder_with(tmp_path, PICS.replace("[eu-dsa, uk]", "[eu-dsa, mars]"))
    code, out, err = run(env, "desk", "platforms", "--check", str(folder))
    assert code == 2
    assert out == ""
    assert err.startswith(f"Error: {folder / 'pics.yaml'}:5: ")
    assert "'mars'" in err


def test_a_missing_folder_is_named(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code, _, err = run({**env, "REMPART_DESK_PLATFORMS": str(missing)}, "desk", "platforms")
    assert code == 2
    assert f"{missing}: no such folder" in err
    code, _, err = run(env, "desk", "platforms", "--check", str(missing))
    assert code == 2
    assert f"{missing}: no such folder" in err


def test_an_unknown_format_is_a_usage_error(env: dict[str, str]) -> None:
    code, _, err = run(env, "desk", "platforms", "--format", "csv")
    assert code == 2
    assert "table or json" in err
