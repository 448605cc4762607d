"""``rempart evidence`` and ``rempart desk branch``, in the local database, fetching from a
real local web server (``REMPART_DESK_FETCH_ALLOW`` lets the commands reach it and nothing else
on loopback): a page captured, listed, opened to a file (never to a terminal), held, exported
as a dossier, purged; a minor's item never fetched; a move to the minor branch purges; bad
input exits non-zero, says what was wrong and changes nothing."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.cli.invoke import ok, run, run_on_terminal
from tests.desk.served import Site, site_fixture  # noqa: F401

PAGE = b"<!doctype html><html><body><h1>A benign page</h1></body></html>"


def refused(env: dict[str, str], *args: str) -> str:
    """``rempart ARGS``'s standard error, once it exited non-zero with nothing printed."""
    code, out, err = run(env, *args)
    assert code != 0, out
    assert out == ""
    return err


def captures(env: dict[str, str], number: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        ok(env, "evidence", "list", number, "--format", "json")
    )["captures"]
    return found


def events(env: dict[str, str], number: str) -> list[str]:
    [case] = [
        json.loads(line) for line in ok(env, "case", "show", number, "-f", "jsonl").splitlines()
    ]
    return [event["kind"] for event in case["events"]]


@pytest.fixture
def evidence_env(env: dict[str, str], site: Site) -> dict[str, str]:
    """A data folder with the desk's key; fetches may reach the local server only."""
    site.serve("/p", PAGE)
    env = {**env, "REMPART_DESK_FETCH_ALLOW": site.allow}
    ok(env, "desk", "init")
    return env


def reported(env: dict[str, str], url: str, *, age: str = "adult") -> tuple[str, int]:
    """A case reported here with ``url``: its number and its item's id."""
    [line] = ok(env, "report", "--url", url, "--age", age, "--format", "jsonl").splitlines()
    case = json.loads(line)
    return case["number"], case["items"][0]["id"]


def test_a_capture_listed_opened_held_exported_and_purged(
    evidence_env: dict[str, str], site: Site, tmp_path: Path
) -> None:
    env = evidence_env
    number, item = reported(env, site.url("/p"))
    ok(env, "evidence", "capture", str(item), "--reason", "before the complaint")
    [capture] = captures(env, number)
    assert (capture["item"], capture["url"], capture["purged_at"]) == (item, site.url("/p"), None)
    assert capture["sha256"] in ok(env, "evidence", "list", number)  # the table
    ident = str(capture["id"])
    # Opened to a file: its owner's alone, the WARC the SHA-256 names, the page's body in it.
    warc = tmp_path / "capture.warc"
    ok(env, "evidence", "open", ident, "--reason", "checking it", "--out", str(warc))
    assert stat.S_IMODE(warc.stat().st_mode) == 0o600
    assert hashlib.sha256(warc.read_bytes()).hexdigest() == capture["sha256"]
    bodies = [
        record.content_stream().read()
        for record in ArchiveIterator(io.BytesIO(warc.read_bytes()))
        if record.rec_type == "response"
    ]
    assert bodies == [PAGE]
    # Never to a terminal, and nothing recorded then.
    viewed = events(env, number).count("evidence-viewed")
    code, err, printed = run_on_terminal(env, "evidence", "open", ident, "--reason", "look")
    assert code == 2
    assert "a WARC file is not for a terminal" in err
    assert printed == b""
    assert events(env, number).count("evidence-viewed") == viewed == 1
    # Held, then exported as a dossier.
    ok(env, "evidence", "hold", ident, "--reason", "complaint filed, PV 2026/123")
    [held] = captures(env, number)
    assert held["hold_reason"] == "complaint filed, PV 2026/123"
    out = tmp_path / "dossier"
    listed = ok(env, "evidence", "export", number, "--out", str(out), "--reason", "PHAROS")
    index = json.loads((out / "index.json").read_text())
    assert {entry["name"] for entry in index["files"]} == {
        "timeline.pdf",
        f"captures/{ident}.warc",
        f"captures/{ident}.manifest.json",
    }
    assert all(entry["sha256"] in listed for entry in index["files"])
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert "not empty" in refused(
        env, "evidence", "export", number, "--out", str(out), "--reason", "again"
    )
    assert events(env, number)[-2:] == ["evidence-exported", "dossier-exported"]
    # Released, then purged with a reason: its SHA-256 stays, it no longer opens.
    ok(env, "evidence", "release", ident, "--reason", "proceedings closed")
    assert "--reason" in refused(env, "evidence", "purge", ident)
    ok(env, "evidence", "purge", ident, "--dry-run")
    assert captures(env, number)[0]["purged_at"] is None
    ok(env, "evidence", "purge", ident, "--reason", "the person asked")
    [purged] = captures(env, number)
    assert (purged["purge_reason"], purged["sha256"]) == ("reviewer", capture["sha256"])
    refused(env, "evidence", "open", ident, "--reason", "once more", "--out", str(tmp_path / "x"))
    # Retention: nothing is past it while the case is open.
    assert "Would purge 0 capture(s)" in run(env, "evidence", "purge", "--dry-run")[2]
    assert json.loads(ok(env, "evidence", "purge")) == {"purged": [], "held": 0}


def test_bad_input_is_refused_saying_what_and_changing_nothing(
    evidence_env: dict[str, str], site: Site
) -> None:
    env = evidence_env
    number, item = reported(env, site.url("/p"))
    before = events(env, number)
    assert "--reason" in refused(env, "evidence", "capture", str(item))
    assert "reason" in refused(env, "evidence", "capture", str(item), "--reason", "  ")
    assert "table or json" in refused(env, "evidence", "list", number, "--format", "xml")
    assert "--reason goes with an ID" in refused(env, "evidence", "purge", "--reason", "x")
    refused(env, "evidence", "hold", "999", "--reason", "no such capture")
    assert "adult, minor" in refused(env, "desk", "branch", number, "teen", "--reason", "x")
    assert site.requests == []
    assert events(env, number) == before
    assert captures(env, number) == []


def test_a_minor_s_item_is_never_fetched(evidence_env: dict[str, str], site: Site) -> None:
    number, item = reported(evidence_env, site.url("/p"), age="under-18")
    err = refused(evidence_env, "evidence", "capture", str(item), "--reason", "complaint")
    assert "minor" in err
    assert site.requests == []
    assert captures(evidence_env, number) == []


def test_moving_a_case_to_the_minor_branch_purges_its_captures(
    evidence_env: dict[str, str], site: Site
) -> None:
    env = evidence_env
    number, item = reported(env, site.url("/p"))
    ok(env, "evidence", "capture", str(item), "--reason", "before the complaint")
    code, out, err = run(env, "desk", "branch", number, "minor", "--reason", "she was 16 then")
    assert code == 0, err
    assert "minor" in out
    assert "captures were erased" in err
    [capture] = captures(env, number)
    assert capture["purge_reason"] == "minor-branch"
    assert events(env, number)[-2:] in (
        ["evidence-purged", "branch-moved"],
        ["branch-moved", "evidence-purged"],
    )
    assert "minor" in refused(env, "evidence", "capture", str(item), "--reason", "again")


def test_a_private_document_over_an_existing_file_is_the_owners_alone(tmp_path: Path) -> None:
    """``--out`` naming a file that exists (readable by others) leaves it 0600 before the WARC
    goes in; a symbolic link there is not followed."""
    import typer

    from rempart.cli.console import write_document

    existing = tmp_path / "old.warc"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    write_document(b"WARC/1.1 sealed no more", existing, private=True, what="a WARC file")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert existing.read_bytes() == b"WARC/1.1 sealed no more"

    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    link = tmp_path / "link.warc"
    link.symlink_to(target)
    with pytest.raises(typer.Exit):
        write_document(b"WARC/1.1", link, private=True, what="a WARC file")
    assert target.read_bytes() == b""
