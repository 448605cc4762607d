"""Removal checks and evidence on the staff's case page, over HTTP as a browser without
JavaScript uses them, fetching from a real local web server: a reviewer captures a page with a
reason, holds, releases and purges the capture (each with a reason), checks a URL now and sees
its last check; the victim reads calm words for each; a refusal (no reason, a flagger, a
minor's case, a capture of another case) shows an error and changes nothing; moving the case to
the minor branch warns, needs the box ticked, and purges its captures at once."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rempart.access.roles import Role
from rempart.desk import Branch, FixedClock
from rempart.desk.evidence import Evidence
from tests.desk.noticing import ADMIN
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.server.desk.conftest import (
    START,
    DeskServer,
    Visitor,
    card,
    desk_settings,
    new_key,
    report,
    staff_visitor,
)

PAGE = b"<!doctype html><html><body><h1>A benign page</h1></body></html>"
_CAPTURE = re.compile(r"/evidence/(\d+)/hold")


def _text(response: httpx.Response) -> str:
    """A page's words, without its tags, unescaped and with its spaces run together."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


@pytest.fixture
def evidence_server(tmp_path: Path, site: Site) -> Iterator[DeskServer]:
    """A desk whose fetches may reach the local web server only (its evidence and removal
    checks built by the server); cases and sessions on one fixed clock."""
    # No re-checks on the serving thread: only those the test asks for reach the server.
    settings = desk_settings(
        tmp_path / "data", REMPART_DESK_FETCH_ALLOW=site.allow, REMPART_DESK_RECHECK_HOURS="0"
    )
    server = DeskServer(settings)
    server.app.state.desk_web.sessions.clock = FixedClock(START)
    server.start()
    server.desk.clock = server.clock
    yield server
    server.stop()


def _case(server: DeskServer, site: Site, *, age: str = "adult") -> tuple[Visitor, str, int]:
    """A victim's case with the local page's URL: the victim, the number, the item's id."""
    site.serve("/p", PAGE)
    victim = server.visitor(**{"Accept-Language": "en"})
    number, _ = card(report(victim, age=age, url=site.url("/p")))
    return victim, number, server.desk.get(number).items[0].id


def test_a_reviewer_captures_holds_releases_and_purges_with_a_reason_each_time(
    evidence_server: DeskServer, site: Site
) -> None:
    victim, number, item = _case(evidence_server, site)
    reviewer = staff_visitor(evidence_server, new_key(evidence_server, Role.REVIEWER))
    page = reviewer.get(f"/desk/staff/cases/{number}")
    assert "Capture as evidence" in _text(page)
    assert "No capture yet." in _text(page)
    # No reason: refused, nothing fetched.
    refused = reviewer.post(f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": ""})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert site.requests == []
    captured = reviewer.post(
        f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": "before the complaint"}
    )
    assert captured.status_code == 303, captured.text
    [capture] = _evidence(evidence_server).captures(number, ADMIN)
    page = reviewer.get(f"/desk/staff/cases/{number}")
    text = _text(page)
    assert capture.sha256 in text
    assert "kept while the case is open" in text
    assert "A copy of the page was kept as evidence." in text
    found = _CAPTURE.search(page.text)
    assert found is not None
    assert int(found.group(1)) == capture.id
    base = f"/desk/staff/cases/{number}/evidence/{capture.id}"
    assert reviewer.post(f"{base}/hold", {"reason": ""}).status_code == 422
    held = reviewer.post(f"{base}/hold", {"reason": "complaint filed, PV 2026/123"})
    assert held.status_code == 303, held.text
    text = _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "held for proceedings: complaint filed, PV 2026/123" in text
    assert "Release the hold" in text
    assert reviewer.post(f"{base}/release", {"reason": "closed"}).status_code == 303
    assert reviewer.post(f"{base}/erase", {"reason": "x"}).status_code == 404
    assert reviewer.post(f"{base}/purge", {"reason": "the person asked"}).status_code == 303
    text = _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "purged on" in text
    assert "a reviewer's decision" in text
    assert capture.sha256 in text  # its SHA-256 stays
    # The victim reads calm words, never the reasons.
    status = _text(victim.get("/desk/status"))
    for said in (
        "A copy of the page was kept as evidence.",
        "A copy kept as evidence is held for proceedings.",
        "A copy kept as evidence is no longer held.",
        "A copy kept as evidence was deleted.",
    ):
        assert said in status
    assert "PV 2026/123" not in status


def test_check_now_shows_the_last_check_and_a_verified_removal(
    evidence_server: DeskServer, site: Site
) -> None:
    victim, number, item = _case(evidence_server, site)
    reviewer = staff_visitor(evidence_server, new_key(evidence_server, Role.REVIEWER))
    assert "not checked yet" in _text(reviewer.get(f"/desk/staff/cases/{number}"))
    checked = reviewer.post(f"/desk/staff/cases/{number}/items/{item}/check")
    assert checked.status_code == 303, checked.text
    assert "still online (HTTP 200)" in _text(reviewer.get(f"/desk/staff/cases/{number}"))
    site.serve("/p", b"gone", status=404)
    assert reviewer.post(f"/desk/staff/cases/{number}/items/{item}/check").status_code == 303
    assert "removed (verified) (HTTP 404)" in _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "A removal was verified" in _text(victim.get("/desk/status"))


def test_refusals_show_an_error_and_change_nothing(evidence_server: DeskServer, site: Site) -> None:
    _, number, item = _case(evidence_server, site)
    _, other, other_item = _case(evidence_server, site)
    flagger = staff_visitor(evidence_server, new_key(evidence_server, Role.FLAGGER))
    admin = staff_visitor(evidence_server, new_key(evidence_server, Role.ADMIN))
    # A flagger may not capture.
    flagger.get("/desk/staff/queue")
    denied = flagger.post(f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": "x"})
    assert denied.status_code == 403
    admin.get(f"/desk/staff/cases/{number}")
    # Another case's item, or a capture of another case.
    wrong = admin.post(f"/desk/staff/cases/{number}/items/{other_item}/capture", {"reason": "x"})
    assert wrong.status_code == 422
    assert site.requests == []
    admin.get(f"/desk/staff/cases/{other}")
    made = admin.post(f"/desk/staff/cases/{other}/items/{other_item}/capture", {"reason": "x"})
    assert made.status_code == 303, made.text
    [capture] = _evidence(evidence_server).captures(other, ADMIN)
    admin.get(f"/desk/staff/cases/{number}")
    crossed = admin.post(f"/desk/staff/cases/{number}/evidence/{capture.id}/purge", {"reason": "x"})
    assert crossed.status_code == 404
    assert _evidence(evidence_server).get(capture.id, ADMIN).purged_at is None


def test_moving_to_the_minor_branch_warns_and_purges_at_once(
    evidence_server: DeskServer, site: Site
) -> None:
    victim, number, item = _case(evidence_server, site)
    reviewer = staff_visitor(evidence_server, new_key(evidence_server, Role.REVIEWER))
    reviewer.get(f"/desk/staff/cases/{number}")
    assert (
        reviewer.post(
            f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": "before"}
        ).status_code
        == 303
    )
    page = _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "erases at once the person's words, the notes and every capture" in page
    unticked = reviewer.post(
        f"/desk/staff/cases/{number}/branch", {"branch": "minor", "reason": "she was 16"}
    )
    assert unticked.status_code == 422
    assert evidence_server.desk.get(number).branch is Branch.ADULT
    moved = reviewer.post(
        f"/desk/staff/cases/{number}/branch",
        {"branch": "minor", "reason": "she was 16", "confirm": "yes"},
    )
    assert moved.status_code == 303, moved.text
    assert evidence_server.desk.get(number).branch is Branch.MINOR
    page = _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "the case moved to the minor branch" in page
    assert "Capture as evidence" not in page
    asked = len(site.requests)
    refused = reviewer.post(f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": "again"})
    assert refused.status_code == 422
    assert "This capture may not be made" in _text(refused)
    assert len(site.requests) == asked
    assert "moved to the other branch" in _text(victim.get("/desk/status"))


def test_check_now_on_a_minor_s_item_asks_head_only(
    evidence_server: DeskServer, site: Site
) -> None:
    _, number, item = _case(evidence_server, site, age="under-18")
    reviewer = staff_visitor(evidence_server, new_key(evidence_server, Role.REVIEWER))
    reviewer.get(f"/desk/staff/cases/{number}")
    assert reviewer.post(f"/desk/staff/cases/{number}/items/{item}/check").status_code == 303
    assert [r.method for r in site.requests] == ["HEAD"]
    refused = reviewer.post(f"/desk/staff/cases/{number}/items/{item}/capture", {"reason": "x"})
    assert refused.status_code == 422
    assert [r.method for r in site.requests] == ["HEAD"]


def _evidence(server: DeskServer) -> Evidence:
    """The server's evidence service, to check what the pages did."""
    found = server.app.state.services.evidence
    assert isinstance(found, Evidence)
    return found
