"""rempart.desk.recheck: notified URLs checked against a real local web server, on SQLite and
PostgreSQL: a 404 or a changed image verifies the removal (the item moves, its clock stops), a
minor's item is asked HEAD only, and only what is due is checked."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Row, select, update

from rempart.desk import VICTIM, AgeAnswer, Branch, Desk, FixedClock, ItemInput, ItemState, Notices
from rempart.desk.evidence_model import Check, CheckOutcome
from rempart.desk.fetch import HttpFetcher
from rempart.desk.recheck import Rechecker
from rempart.errors import CaseInvalidError, CaseNotFoundError, CaseStateConflictError
from rempart.hashing import hash_media
from rempart.media import load_bytes
from rempart.store import Store, as_utc
from rempart.store.schema import desk_checks, desk_events, desk_items, desk_notice_items
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    NOW,
    OTHER_FLAGGER,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    make_notices_fixture,
)
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.smtp import smtp_server_fixture  # noqa: F401

MakeNotices = Callable[..., Notices]


def encoded(picture: Image.Image, fmt: str = "PNG", **options: int) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def pattern(seed: int) -> Image.Image:
    """A benign picture: 8 x 8 random colours blown up smoothly (stable, distinct PDQs)."""
    small = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((256, 256), Image.Resampling.BICUBIC)


def pdq_of(data: bytes) -> str:
    return hash_media(load_bytes(data), path="test").pdq


@pytest.fixture(name="notices")
def notices_fixture(make_notices: MakeNotices) -> Notices:
    return make_notices()


@pytest.fixture(name="checker")
def checker_fixture(desk: Desk, site: Site) -> Rechecker:
    return Rechecker(desk, HttpFetcher(allow=[site.allow], clock=desk.clock), hours=6)


def notified(
    desk: Desk,
    notices: Notices,
    site: Site,
    path: str,
    *,
    answer: AgeAnswer = AgeAnswer.ADULT,
    pdq: str | None = None,
) -> tuple[str, int]:
    """A case whose one item is in a notice delivered by hand, its URL on the local server
    (a platform's host is needed to draft the notice; the URL is then the server's)."""
    item = ItemInput(url=f"https://forms.test{path}", pdq=pdq, quality=100 if pdq else None)
    case = desk.report(answer, [item]).case
    draft = notices.draft(case.number, "uk-form", REVIEWER)
    notices.record_delivery(draft.reference, REVIEWER, at=NOW, how="the platform's web form")
    item_id = case.items[0].id
    with desk.store.write() as connection:
        connection.execute(
            update(desk_items).where(desk_items.c.id == item_id).values(url=site.url(path))
        )
    return case.number, item_id


def item_row(store: Store, item_id: int) -> Row[Any]:
    with store.read() as connection:
        return connection.execute(select(desk_items).where(desk_items.c.id == item_id)).one()


def kinds(store: Store, item_id: int) -> list[str]:
    with store.read() as connection:
        return list(
            connection.execute(
                select(desk_events.c.kind)
                .where(desk_events.c.item_id == item_id)
                .order_by(desk_events.c.id)
            ).scalars()
        )


def clock_rows(store: Store, item_id: int) -> list[tuple[datetime | None, str | None]]:
    with store.read() as connection:
        rows = connection.execute(
            select(desk_notice_items.c.answered_at, desk_notice_items.c.outcome).where(
                desk_notice_items.c.item_id == item_id
            )
        ).all()
    return [(as_utc(at) if at else None, outcome) for at, outcome in rows]


def test_a_page_there_then_gone_is_verified_removed(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker, clock: FixedClock
) -> None:
    site.serve("/p/1", b"<p>still here</p>")
    number, item_id = notified(desk, notices, site, "/p/1")
    assert checker.due() == [item_id]

    seen: list[Check] = []
    report = checker.recheck(on_check=seen.append)
    [first] = report.checks
    assert seen == [first]
    assert (first.outcome, first.status, first.method, first.case) == (
        CheckOutcome.PRESENT,
        200,
        "GET",
        number,
    )
    assert checker.due() == [], "checked: not due again for 6 hours"
    assert checker.recheck().checks == ()
    assert clock_rows(desk.store, item_id) == [(None, None)], "the clock still runs"

    site.serve("/p/1", b"gone", status=404)
    clock.advance(timedelta(hours=6))
    assert checker.due() == [item_id]
    [second] = checker.recheck().checks
    assert (second.outcome, second.status, second.at) == (CheckOutcome.REMOVED, 404, clock.now())
    row = item_row(desk.store, item_id)
    assert row.state == ItemState.REMOVED
    assert as_utc(row.removal_verified_at) == clock.now()
    assert clock_rows(desk.store, item_id) == [(clock.now(), "removed")], "its clock stopped"
    assert kinds(desk.store, item_id)[-2:] == ["item-moved", "removal-verified"]
    with desk.store.read() as connection:
        detail = connection.execute(
            select(desk_events.c.detail, desk_events.c.actor).where(
                desk_events.c.kind == "removal-verified", desk_events.c.item_id == item_id
            )
        ).one()
    assert json.loads(detail.detail) == {"method": "GET", "status": 404, "distance": None}
    assert detail.actor == "system"

    # Verified removed: never due again; the case page reads the last check.
    clock.advance(timedelta(days=2))
    assert checker.due() == []
    assert checker.checks(number) == {item_id: second}
    assert [r.method for r in site.requests] == ["GET", "GET"]


@pytest.mark.parametrize(("served", "outcome"), [("same", "present"), ("other", "removed")])
def test_a_served_image_is_compared_with_the_items_pdq(
    desk: Desk,
    notices: Notices,
    site: Site,
    checker: Rechecker,
    served: str,
    outcome: str,
) -> None:
    original = encoded(pattern(1))
    # The same picture as a platform re-encodes it (near), or another one altogether (far).
    near = encoded(pattern(1), "JPEG", quality=80)
    far = encoded(pattern(2))
    _, item_id = notified(desk, notices, site, "/a.png", pdq=pdq_of(original))
    site.serve("/a.png", near if served == "same" else far, "image/png")
    [check] = checker.recheck().checks
    assert check.outcome == outcome
    assert check.status == 200
    assert check.distance is not None
    if served == "same":
        assert check.distance <= 31
        assert item_row(desk.store, item_id).removal_verified_at is None
    else:
        assert check.distance > 31
        assert check.detail == "the image served is no longer the one reported"
        assert item_row(desk.store, item_id).state == ItemState.REMOVED


def test_a_page_served_for_an_image_item_is_present(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker
) -> None:
    _, item_id = notified(desk, notices, site, "/a.png", pdq=pdq_of(encoded(pattern(1))))
    site.serve("/a.png", b"<html>a page</html>")
    [check] = checker.recheck().checks
    assert (check.outcome, check.distance) == (CheckOutcome.PRESENT, None)
    assert item_row(desk.store, item_id).removal_verified_at is None


def test_a_minors_item_is_asked_head_only(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker, clock: FixedClock
) -> None:
    pdq = pdq_of(encoded(pattern(1)))
    _, item_id = notified(desk, notices, site, "/m/1", answer=AgeAnswer.UNDER_18, pdq=pdq)
    site.serve("/m/1", encoded(pattern(3)), "image/png")  # another image: HEAD never sees it
    [check] = checker.recheck().checks
    assert (check.outcome, check.method, check.status, check.distance) == (
        CheckOutcome.PRESENT,
        "HEAD",
        200,
        None,
    )

    site.serve("/m/1", b"", status=405)  # no HEAD here: a reviewer checks by hand
    clock.advance(timedelta(hours=6))
    [check] = checker.recheck().checks
    assert (check.outcome, check.status) == (CheckOutcome.MANUAL, 405)
    clock.advance(timedelta(hours=6))
    site.close()  # no answer at all: by hand still, one event only
    [check] = checker.recheck().checks
    assert (check.outcome, check.status) == (CheckOutcome.MANUAL, None)
    assert kinds(desk.store, item_id).count("check-manual") == 1
    assert {r.method for r in site.requests} == {"HEAD"}
    assert len(site.requests) == 2


def test_a_minors_item_gone_is_verified_by_head(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker
) -> None:
    _, item_id = notified(desk, notices, site, "/m/1", answer=AgeAnswer.UNDER_18)
    site.serve("/m/1", b"", status=410)
    [check] = checker.recheck().checks
    assert (check.outcome, check.method, check.status) == (CheckOutcome.REMOVED, "HEAD", 410)
    assert item_row(desk.store, item_id).state == ItemState.REMOVED
    assert [r.method for r in site.requests] == ["HEAD"]


def test_an_unreachable_or_refused_url_is_checked_again_later(
    desk: Desk, notices: Notices, site: Site, clock: FixedClock
) -> None:
    site.serve("/p/1", b"", status=500)
    _, item_id = notified(desk, notices, site, "/p/1")
    allowed = Rechecker(desk, HttpFetcher(allow=[site.allow]), hours=1)
    [check] = allowed.recheck().checks
    assert (check.outcome, check.status, check.detail) == (
        CheckOutcome.UNREACHABLE,
        500,
        "HTTP 500",
    )
    clock.advance(timedelta(hours=1))
    [check] = Rechecker(desk, HttpFetcher(), hours=1).recheck().checks
    assert (check.outcome, check.status, check.detail) == (
        CheckOutcome.UNREACHABLE,
        None,
        "address refused",
    )
    assert item_row(desk.store, item_id).state == ItemState.RECEIVED
    with desk.store.read() as connection:
        outcomes = select(desk_checks.c.outcome).where(desk_checks.c.item_id == item_id)
        assert connection.execute(outcomes).scalars().all() == [
            "unreachable",
            "unreachable",
        ]


def test_only_notified_due_items_of_live_cases_are_checked(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker, clock: FixedClock
) -> None:
    site.serve("/p/1", b"page")
    site.serve("/p/2", b"page")
    # Reported but never notified: not due.
    quiet = desk.report(AgeAnswer.ADULT, [ItemInput(url=site.url("/p/3"))]).case
    number, first = notified(desk, notices, site, "/p/1")
    withdrawn, second = notified(desk, notices, site, "/p/2")
    assert set(checker.due()) == {first, second}
    desk.withdraw(withdrawn, VICTIM)
    assert checker.due() == [first]
    with pytest.raises(CaseStateConflictError, match="withdrawn"):
        checker.recheck(number=withdrawn)
    with pytest.raises(CaseStateConflictError, match="withdrawn"):
        checker.recheck(items=[second])

    [check] = checker.recheck().checks
    assert check.item_id == first
    clock.advance(timedelta(hours=5))
    assert checker.recheck().checks == (), "not due yet"
    # Asked for, due or not: the case's URL items, or the items given.
    assert [c.item_id for c in checker.recheck(number=number, actor=REVIEWER).checks] == [first]
    quiet_item = quiet.items[0].id
    assert [c.item_id for c in checker.recheck(items=[quiet_item]).checks] == [quiet_item]
    assert [r.path for r in site.requests] == ["/p/1", "/p/1", "/p/3"]


def test_asking_is_for_reviewers_and_names_what_is_wrong(desk: Desk, checker: Rechecker) -> None:
    case = desk.report(AgeAnswer.ADULT, [ItemInput(pdq=pdq_of(encoded(pattern(1))), quality=100)])
    with pytest.raises(CaseInvalidError, match="admin or reviewer"):
        checker.recheck(number=case.case.number, actor=OTHER_FLAGGER)
    with pytest.raises(CaseInvalidError, match="has no URL"):
        checker.recheck(items=[case.case.items[0].id])
    with pytest.raises(CaseNotFoundError, match="no item 999999"):
        checker.recheck(items=[999999])
    with pytest.raises(CaseNotFoundError):
        checker.recheck(number="D-0000-0000")


def test_a_removal_verified_on_hold_moves_the_item_from_there(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker
) -> None:
    number, item_id = notified(desk, notices, site, "/p/1")
    desk.move_item(number, item_id, ItemState.ON_HOLD, REVIEWER)
    site.serve("/p/1", b"", status=451)
    [check] = checker.recheck().checks
    assert (check.outcome, check.status) == (CheckOutcome.REMOVED, 451)
    assert item_row(desk.store, item_id).state == ItemState.REMOVED
    with desk.store.read() as connection:
        moves = connection.execute(
            select(desk_events.c.from_state, desk_events.c.to_state).where(
                desk_events.c.kind == "removal-verified", desk_events.c.item_id == item_id
            )
        ).all()
    assert [tuple(move) for move in moves] == [("on_hold", "removed")]
    assert checker.due() == []


def test_a_minors_item_redirected_to_a_dead_host_keeps_no_address_in_the_check(
    desk: Desk, notices: Notices, site: Site, checker: Rechecker
) -> None:
    _, item_id = notified(desk, notices, site, "/m/1", answer=AgeAnswer.UNDER_18)
    site.redirect("/m/1", "http://secret-host-name.invalid/m/where")
    [check] = checker.recheck().checks
    assert check.outcome == CheckOutcome.MANUAL
    with desk.store.read() as connection:
        details = connection.execute(
            select(desk_checks.c.detail).where(desk_checks.c.item_id == item_id)
        ).scalars()
        written = json.dumps([*details, *kinds(desk.store, item_id)])
    assert "secret-host-name" not in written
    assert "/m/" not in written
    assert "secret-host-name" not in (check.detail or "")


def test_a_case_moved_to_minor_during_a_run_is_asked_head_only(
    desk: Desk, notices: Notices, site: Site
) -> None:
    site.serve("/p/1", b"page one")
    site.serve("/p/2", b"page two")
    notified(desk, notices, site, "/p/1")
    second_case, _ = notified(desk, notices, site, "/p/2")
    inner = HttpFetcher(allow=[site.allow], clock=desk.clock)

    class Moving:
        """Moves the second case to the minor branch while the first item is fetched."""

        def fetch(self, url: str, **options: Any) -> Any:
            if url == site.url("/p/1"):
                desk.move_branch(second_case, Branch.MINOR, REVIEWER, reason="was 16 then")
            return inner.fetch(url, **options)

    Rechecker(desk, Moving(), hours=6).recheck()
    assert [(r.path, r.method) for r in site.requests] == [("/p/1", "GET"), ("/p/2", "HEAD")]
