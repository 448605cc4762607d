"""``rempart desk recheck``: notified URLs checked against a real local web server, from the
local database; the removal verified shows on the case; a refused address is reported, not
fatal."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import update

from rempart.config import load_settings
from rempart.store import Store
from rempart.store.schema import desk_items
from tests.cli.invoke import desk_environment, jsonl, run
from tests.desk.served import Site, site_fixture  # noqa: F401

PLATFORMS = """\
version: 1
platforms:
  formhost:
    title: Form Host
    domains: [example.edu]
    jurisdictions: [eu-dsa]
    channel:
      form: https://example.edu/report
"""


def ok(env: dict[str, str], *args: str) -> tuple[str, str]:
    code, out, err = run(env, *args)
    assert code == 0, err
    return out, err


@pytest.fixture
def desk_env(env: dict[str, str], tmp_path: Path, site: Site) -> dict[str, str]:
    """A data folder with the desk's key and a form platform; fetches may reach ``site``."""
    return desk_environment(env, tmp_path, PLATFORMS, REMPART_DESK_FETCH_ALLOW=site.allow)


def notified(env: dict[str, str], site: Site, path: str) -> tuple[str, int]:
    """A case whose item is in a notice delivered by hand, its URL then the local server's
    (a platform's host is needed to draft the notice)."""
    [case] = jsonl(env, "report", "--url", f"https://example.edu{path}", "--age", "adult")
    number, item = case["number"], case["items"][0]["id"]
    ok(env, "notice", "draft", number, "--platform", "formhost")
    [notice] = jsonl(env, "notice", "list", number)
    ok(env, "notice", "record", notice["reference"], "--delivered", "--how", "web form")
    with closing(Store.open(load_settings(env).database_url)) as store, store.write() as db:
        db.execute(update(desk_items).where(desk_items.c.id == item).values(url=site.url(path)))
    return number, item


def test_a_notified_url_checked_then_found_removed(desk_env: dict[str, str], site: Site) -> None:
    site.serve("/p/1", b"<p>here</p>")
    number, item = notified(desk_env, site, "/p/1")

    out, err = ok(desk_env, "desk", "recheck")
    assert "present" in out
    assert "Checked 1 URL: 1 present, 0 removed" in err
    _, err = ok(desk_env, "desk", "recheck")
    assert "Checked 0 URLs" in err, "not due again yet"

    site.serve("/p/1", b"", status=404)
    [check] = jsonl(desk_env, "desk", "recheck", "--item", str(item))
    assert (check["item"], check["case"], check["outcome"], check["status"]) == (
        item,
        number,
        "removed",
        404,
    )
    assert check["method"] == "GET"
    [shown] = jsonl(desk_env, "case", "show", number)
    assert shown["items"][0]["state"] == "removed"
    kinds = [event["kind"] for event in shown["events"]]
    assert "removal-verified" in kinds
    assert [e["actor"] for e in shown["events"] if e["kind"] == "removal-verified"] == ["cli"]
    # Verified removed: a case's check leaves it alone.
    assert jsonl(desk_env, "desk", "recheck", "--case", number) == []
    assert [r.method for r in site.requests] == ["GET", "GET"]


def test_a_refused_address_is_reported_and_not_fatal(desk_env: dict[str, str], site: Site) -> None:
    site.serve("/p/1", b"<p>here</p>")
    number, _ = notified(desk_env, site, "/p/1")
    closed = {**desk_env, "REMPART_DESK_FETCH_ALLOW": ""}
    [check] = jsonl(closed, "desk", "recheck", "--case", number)
    assert (check["outcome"], check["detail"]) == ("unreachable", "address refused")
    assert site.requests == []


def test_bad_requests_are_refused_with_their_reason(desk_env: dict[str, str]) -> None:
    code, out, err = run(desk_env, "desk", "recheck", "--case", "R-X", "--item", "1")
    assert (code, out) == (2, "")
    assert "--case or --item" in err
    code, _, err = run(desk_env, "desk", "recheck", "--item", "999999")
    assert code != 0
    assert "no item 999999" in err
