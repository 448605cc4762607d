"""Notices' clocks through the service, with a fixed clock, on SQLite and PostgreSQL: the due
time each jurisdiction sets, the reminder at half time, overdue when read, the queue and the
due list in order (minors, then overdue), escalation suggested and recorded, an authority's
order, and real hours across a change of clocks in Europe/Paris."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from rempart.desk import (
    VICTIM,
    AgeAnswer,
    ClockStatus,
    Decision,
    Desk,
    EscalationStep,
    FixedClock,
    ItemInput,
    ItemState,
    Notices,
    ReplyKind,
)
from rempart.desk.clocks import local_time
from rempart.desk.notice_model import ESCALATION_LADDER
from rempart.errors import NoticeInvalidError
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    NOW,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    link,
    make_notices_fixture,
)
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

MakeNotices = Callable[..., Notices]
HOUR = timedelta(hours=1)


def sent_notice(
    desk: Desk,
    notices: Notices,
    platform: str,
    host: str,
    *,
    answer: AgeAnswer = AgeAnswer.ADULT,
    items: list[ItemInput] | None = None,
) -> tuple[str, str]:
    """A case whose notice to ``platform`` is sent now: (case number, notice reference)."""
    number = desk.report(answer, items or [link(host)]).case.number
    if answer == AgeAnswer.ADULT:
        notices.consent(number, VICTIM, name="n", contact="c@victim.test", signature="s")
    ref = notices.draft(number, platform, REVIEWER).reference
    if platform == "uk-form":
        notices.record_delivery(ref, REVIEWER, at=desk.clock.now(), how="the form")
    else:
        notices.send(ref, REVIEWER)
    return number, ref


@pytest.mark.parametrize(
    ("platform", "host", "settings", "hours", "jurisdiction", "provisional"),
    [
        ("take-it-down", "us.test", {}, 48, "us-take-it-down", False),
        ("dsa-only", "dsa.test", {}, 72, "eu-dsa", False),
        ("dsa-only", "dsa.test", {"REMPART_DESK_TRUSTED_FLAGGER": "Arcom"}, 24, "eu-dsa", False),
        ("dsa-only", "dsa.test", {"REMPART_DESK_DSA_HOURS": "12"}, 12, "eu-dsa", False),
        ("social", "social.test", {}, 48, "us-take-it-down", False),
        ("social", "social.test", {"REMPART_DESK_TRUSTED_FLAGGER": "Arcom"}, 24, "eu-dsa", False),
        ("uk-form", "forms.test", {}, 48, "uk", True),
    ],
)
def test_each_jurisdiction_sets_its_due_time(
    desk: Desk,
    make_notices: MakeNotices,
    platform: str,
    host: str,
    settings: dict[str, str],
    hours: int,
    jurisdiction: str,
    provisional: bool,
) -> None:
    notices = make_notices(settings)
    _, ref = sent_notice(desk, notices, platform, host)
    [item] = notices.get(ref, REVIEWER).clocks
    assert item.due_at == NOW + timedelta(hours=hours)
    assert item.reminder_at == NOW + timedelta(hours=hours) / 2
    assert (item.jurisdiction, item.provisional) == (jurisdiction, provisional)
    assert item.status == ClockStatus.RUNNING


def test_a_reminder_at_half_time_then_overdue_when_read(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock
) -> None:
    notices = make_notices()
    number, ref = sent_notice(desk, notices, "dsa-only", "dsa.test")  # 72 hours
    seen = []
    for at in (35 * HOUR, 36 * HOUR, 71 * HOUR, 72 * HOUR):
        clock.at = NOW + at
        [item] = notices.get(ref, REVIEWER).clocks
        seen.append((item.status, item.suggested))
        assert notices.case_clocks([number])[number].status == item.status
    assert seen == [
        (ClockStatus.RUNNING, ()),
        (ClockStatus.REMINDER, ()),
        (ClockStatus.REMINDER, ()),
        (ClockStatus.OVERDUE, ESCALATION_LADDER),
    ]
    notices.reply(ref, REVIEWER, kind=ReplyKind.DECISION, decision=Decision.REMOVED)
    assert notices.case_clocks([number]) == {}
    [item] = notices.get(ref, REVIEWER).clocks
    assert (item.status, item.suggested) == (ClockStatus.ANSWERED, ())


def test_the_queue_puts_overdue_cases_after_minors_and_before_sightings(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock
) -> None:
    notices = make_notices()

    def photo(index: int) -> list[ItemInput]:
        return [ItemInput(pdq=f"{index:02x}" * 32, quality=90)]

    plain = desk.report(AgeAnswer.ADULT, photo(1)).case.number
    clock.advance(HOUR)
    running, _ = sent_notice(desk, notices, "dsa-only", "dsa.test")
    clock.advance(HOUR)
    sighted_case = desk.report(AgeAnswer.ADULT, photo(2)).case
    desk.move_item(sighted_case.number, sighted_case.items[0].id, ItemState.SIGHTED, REVIEWER)
    clock.advance(HOUR)
    overdue, overdue_ref = sent_notice(desk, notices, "take-it-down", "us.test")  # 48 hours
    clock.advance(HOUR)
    minor, _ = sent_notice(desk, notices, "dsa-only", "dsa.test", answer=AgeAnswer.UNSURE)

    clock.advance(47 * HOUR)  # the 48 hours of the overdue case are over, not the others' 72
    queue = [case.number for case in desk.queue()]
    assert queue == [minor, overdue, sighted_case.number, plain, running]
    due = notices.due(REVIEWER)
    assert [(d.case, d.clock.status) for d in due] == [
        (minor, ClockStatus.REMINDER),
        (overdue, ClockStatus.OVERDUE),
        (running, ClockStatus.REMINDER),
    ]
    assert due[0].branch == "minor"
    assert notices.due(REVIEWER, limit=1) == due[:1]
    clocks = notices.case_clocks([plain, overdue, running])
    assert set(clocks) == {overdue, running}
    assert clocks[overdue].status == ClockStatus.OVERDUE

    # Answered, it is not overdue any more.
    notices.reply(overdue_ref, REVIEWER, kind=ReplyKind.DECISION, decision=Decision.RESTRICTED)
    assert [case.number for case in desk.queue()][:3] == [minor, sighted_case.number, plain]


def test_escalation_is_suggested_then_recorded(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock
) -> None:
    notices = make_notices({"REMPART_DESK_REGULATOR": "Arcom (DSC)"})
    number, ref = sent_notice(
        desk,
        notices,
        "dsa-only",
        "dsa.test",
        items=[link("dsa.test", "1"), link("cdn.dsa.test", "2")],
    )
    first, second = (c.item_id for c in notices.get(ref, REVIEWER).clocks)
    assert all(c.suggested == () for c in notices.get(ref, REVIEWER).clocks)
    clock.advance(72 * HOUR)
    assert all(c.suggested == ESCALATION_LADDER for c in notices.get(ref, REVIEWER).clocks)

    notices.escalate(ref, REVIEWER, EscalationStep.PLATFORM_AGAIN)
    notices.escalate(ref, REVIEWER, EscalationStep.HOST, item_id=second)
    notice = notices.escalate(ref, REVIEWER, EscalationStep.REGULATOR)

    assert [(e.step, e.item_id, e.target) for e in notice.escalations] == [
        (EscalationStep.PLATFORM_AGAIN, None, "dsa-only"),
        (EscalationStep.HOST, second, "cdn.dsa.test"),
        (EscalationStep.REGULATOR, None, "Arcom (DSC)"),
    ]
    by_item = {c.item_id: c.suggested for c in notice.clocks}
    assert by_item[first] == (
        EscalationStep.HOST,
        EscalationStep.SEARCH_DELISTING,
        EscalationStep.AUTHORITY,
    )
    assert by_item[second] == (EscalationStep.SEARCH_DELISTING, EscalationStep.AUTHORITY)
    with pytest.raises(NoticeInvalidError, match="does not name item") as refused:
        notices.escalate(ref, REVIEWER, EscalationStep.HOST, item_id=10**9)
    assert refused.value.element == "items"
    kinds = [e.kind for e in desk.events(number)]
    assert kinds.count("escalated") == 3


def test_an_authority_order_starts_a_stricter_clock(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock
) -> None:
    notices = make_notices()
    _, ref = sent_notice(desk, notices, "uk-form", "forms.test")  # uk: 48 h, provisional
    _, later_ref = sent_notice(desk, notices, "uk-form", "forms.test")
    _, dsa_ref = sent_notice(desk, notices, "dsa-only", "dsa.test")
    clock.advance(30 * HOUR)

    early = notices.order(ref, REVIEWER, at=NOW + 10 * HOUR, order_ref="OFAC-1")
    late = notices.order(later_ref, REVIEWER, at=NOW + 30 * HOUR, order_ref="OFAC-2")

    [item] = early.clocks
    assert (item.due_at, item.jurisdiction, item.provisional) == (
        NOW + 34 * HOUR,
        "fr-authority",
        False,
    )
    assert item.reminder_at == NOW + 22 * HOUR
    assert item.status == ClockStatus.REMINDER
    [kept] = late.clocks  # 24 hours from the order would be later than the 48 already running
    assert (kept.due_at, kept.jurisdiction) == (NOW + 48 * HOUR, "uk")
    assert early.order_ref == "OFAC-1"
    with pytest.raises(NoticeInvalidError, match="order already") as refused:
        notices.order(ref, REVIEWER, at=NOW + 20 * HOUR, order_ref="OFAC-3")
    assert refused.value.element == "order"
    with pytest.raises(NoticeInvalidError, match="no jurisdiction") as refused:
        notices.order(dsa_ref, REVIEWER, at=NOW, order_ref="OFAC-4")
    assert refused.value.element == "order"
    with pytest.raises(NoticeInvalidError, match="future"):
        notices.order(later_ref, REVIEWER, at=NOW + 31 * HOUR, order_ref="OFAC-5")


@pytest.mark.parametrize(
    ("sent_at", "sent_local", "due_local"),
    [
        # Spring forward (28 March 2027, 02:00 -> 03:00): 48 real hours, 49 on the wall.
        (datetime(2027, 3, 27, 12, 0, tzinfo=UTC), 13, 14),
        # Fall back (31 October 2027, 03:00 -> 02:00): 48 real hours, 47 on the wall.
        (datetime(2027, 10, 30, 12, 0, tzinfo=UTC), 14, 13),
    ],
)
def test_clocks_count_real_hours_across_a_change_of_clocks(
    desk: Desk,
    make_notices: MakeNotices,
    clock: FixedClock,
    sent_at: datetime,
    sent_local: int,
    due_local: int,
) -> None:
    notices = make_notices({"REMPART_DESK_TIMEZONE": "Europe/Paris"})
    clock.at = sent_at
    _, ref = sent_notice(desk, notices, "take-it-down", "us.test")
    [item] = notices.get(ref, REVIEWER).clocks
    assert item.due_at is not None
    assert item.due_at - sent_at == 48 * HOUR
    assert local_time(sent_at, "Europe/Paris").hour == sent_local
    assert local_time(item.due_at, "Europe/Paris").hour == due_local
    clock.at = item.due_at - timedelta(seconds=1)
    assert notices.get(ref, REVIEWER).clocks[0].status == ClockStatus.REMINDER
    clock.at = item.due_at
    assert notices.get(ref, REVIEWER).clocks[0].status == ClockStatus.OVERDUE
