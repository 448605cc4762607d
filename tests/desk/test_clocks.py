"""Deadlines: each jurisdiction's, the strictest of a platform's, the reminder at half time,
where a clock stands as time passes (a ``FixedClock``), real hours across a daylight-saving
change, and the escalation steps suggested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rempart.config import load_settings
from rempart.desk import Branch, FixedClock
from rempart.desk.clocks import (
    Deadline,
    Rule,
    clock_status,
    deadline,
    local_time,
    rules_for,
    suggested,
)
from rempart.desk.notice_model import ClockStatus, Decision, EscalationStep
from rempart.desk.platforms import PlatformBook

SENT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PROFILES = """\
version: 1
platforms:
  us-only:
    domains: [us.example.org]
    jurisdictions: [us-take-it-down]
    channel: {email: abuse@us.example.org}
  eu-only:
    domains: [eu.example.org]
    jurisdictions: [eu-dsa]
    channel: {email: abuse@eu.example.org}
  uk-only:
    domains: [uk.example.org]
    jurisdictions: [uk]
    channel: {email: abuse@uk.example.org}
  french-host:
    domains: [fr.example.org]
    jurisdictions: [eu-dsa, fr-authority]
    channel: {email: abuse@fr.example.org}
  everywhere:
    domains: [all.example.org]
    jurisdictions: [eu-dsa, uk, us-take-it-down, fr-authority]
    channel: {email: abuse@all.example.org}
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> PlatformBook:
    folder: Path = tmp_path_factory.mktemp("platforms")
    (folder / "profiles.yaml").write_text(PROFILES)
    return PlatformBook.load(folder)


def due_of(
    book: PlatformBook,
    name: str,
    *,
    dsa_hours: int = 72,
    sent_at: datetime | None = SENT,
    order_at: datetime | None = None,
) -> Deadline:
    rules = rules_for(book.platform(name), book, dsa_hours=dsa_hours)
    return deadline(rules, sent_at=sent_at, order_at=order_at)


# --- each jurisdiction -----------------------------------------------------------------------


def test_take_it_down_gives_48_hours_from_sending(book: PlatformBook) -> None:
    due = due_of(book, "us-only")
    assert due == Deadline(
        SENT + timedelta(hours=48), SENT + timedelta(hours=24), "us-take-it-down", False
    )


@pytest.mark.parametrize(
    ("flagger", "hours_set", "hours"), [("Arcom", 0, 24), ("", 0, 72), ("Arcom", 36, 36)]
)
def test_the_dsa_gives_the_deployments_hours(
    book: PlatformBook, flagger: str, hours_set: int, hours: int
) -> None:
    settings = load_settings(
        {"REMPART_DESK_TRUSTED_FLAGGER": flagger, "REMPART_DESK_DSA_HOURS": str(hours_set)}
    )
    due = due_of(book, "eu-only", dsa_hours=settings.dsa_hours)
    assert (due.due_at, due.jurisdiction) == (SENT + timedelta(hours=hours), "eu-dsa")
    assert due.reminder_at == SENT + timedelta(hours=hours / 2)


def test_the_uks_48_hours_are_provisional(book: PlatformBook) -> None:
    due = due_of(book, "uk-only")
    assert (due.due_at, due.jurisdiction, due.provisional) == (
        SENT + timedelta(hours=48),
        "uk",
        True,
    )


def test_the_french_authoritys_24_hours_run_only_from_its_order(book: PlatformBook) -> None:
    assert due_of(book, "french-host", dsa_hours=72).jurisdiction == "eu-dsa"
    order = SENT + timedelta(hours=10)
    due = due_of(book, "french-host", dsa_hours=72, order_at=order)
    assert (due.due_at, due.reminder_at, due.jurisdiction) == (
        order + timedelta(hours=24),
        order + timedelta(hours=12),
        "fr-authority",
    )
    # an order given late does not stretch a deadline that falls earlier
    late = SENT + timedelta(hours=60)
    assert due_of(book, "french-host", order_at=late).due_at == SENT + timedelta(hours=72)
    # an order, nothing sent: its clock alone runs
    alone = due_of(book, "french-host", sent_at=None, order_at=order)
    assert (alone.due_at, alone.jurisdiction) == (order + timedelta(hours=24), "fr-authority")


def test_the_strictest_deadline_wins_and_ties_go_to_the_first_listed(book: PlatformBook) -> None:
    due = due_of(book, "everywhere", dsa_hours=24)
    assert (due.due_at, due.jurisdiction) == (SENT + timedelta(hours=24), "eu-dsa")
    due = due_of(book, "everywhere", dsa_hours=72)
    # uk and us-take-it-down both give 48 h: uk is listed first on this profile
    assert (due.due_at, due.jurisdiction, due.provisional) == (
        SENT + timedelta(hours=48),
        "uk",
        True,
    )
    rules = (Rule("b", 48, "sent", False), Rule("a", 48, "sent", True))
    assert deadline(rules, sent_at=SENT, order_at=None).jurisdiction == "b"


def test_nothing_is_due_before_a_clock_starts(book: PlatformBook) -> None:
    assert due_of(book, "us-only", sent_at=None) == Deadline(None, None, None, False)
    assert due_of(book, "french-host", sent_at=None).due_at is None
    assert deadline((), sent_at=SENT, order_at=None).due_at is None


def test_a_rule_round_trips_as_json(book: PlatformBook) -> None:
    rules = rules_for(book.platform("everywhere"), book, dsa_hours=30)
    assert rules[0].to_json() == {
        "jurisdiction": "eu-dsa",
        "hours": 30,
        "starts": "sent",
        "provisional": False,
    }
    assert tuple(Rule.from_json(rule.to_json()) for rule in rules) == rules
    assert rules[-1] == Rule("fr-authority", 24, "order", False)


def test_a_sent_time_in_another_zone_counts_the_same_instant(book: PlatformBook) -> None:
    paris = local_time(SENT, "Europe/Paris")
    due = due_of(book, "us-only", sent_at=paris)
    assert due.due_at == SENT + timedelta(hours=48)
    assert due.due_at is not None
    assert due.due_at.utcoffset() == timedelta(0)


# --- status as time passes -------------------------------------------------------------------


def test_the_status_moves_from_running_to_reminder_to_overdue(book: PlatformBook) -> None:
    due = due_of(book, "us-only")
    clock = FixedClock(SENT)
    seen = []
    for step in (0, 23, 1, 23, 1, 100):
        clock.advance(timedelta(hours=step))
        seen.append(clock_status(due, clock.now(), answered=False))
    assert seen == [
        ClockStatus.RUNNING,
        ClockStatus.RUNNING,
        ClockStatus.REMINDER,  # 24 h: half of 48
        ClockStatus.REMINDER,
        ClockStatus.OVERDUE,  # 48 h
        ClockStatus.OVERDUE,
    ]
    assert clock_status(due, clock.now(), answered=True) is ClockStatus.ANSWERED
    assert clock_status(due, SENT, answered=True) is ClockStatus.ANSWERED


def test_a_clock_not_started_is_not_sent(book: PlatformBook) -> None:
    due = due_of(book, "us-only", sent_at=None)
    assert clock_status(due, SENT, answered=False) is ClockStatus.NOT_SENT


# --- a daylight-saving change ----------------------------------------------------------------


def test_hours_are_real_hours_across_a_daylight_saving_change(book: PlatformBook) -> None:
    # Paris leaves summer time on 2026-10-25 at 03:00 (UTC+2 -> UTC+1).
    sent = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    due = due_of(book, "us-only", sent_at=sent)
    assert due.due_at == datetime(2026, 10, 26, 12, 0, tzinfo=UTC)
    assert due.reminder_at == datetime(2026, 10, 25, 12, 0, tzinfo=UTC)
    shown_sent = local_time(sent, "Europe/Paris")
    shown_due = local_time(due.due_at, "Europe/Paris")
    assert (shown_sent.hour, shown_sent.utcoffset()) == (14, timedelta(hours=2))
    assert (shown_due.hour, shown_due.utcoffset()) == (13, timedelta(hours=1))
    assert shown_due.isoformat() == "2026-10-26T13:00:00+01:00"
    # 48 hours on the wall clock would fall an hour late
    assert shown_due - shown_sent == timedelta(hours=47)  # datetime compares wall times here
    assert (shown_sent + timedelta(hours=48)).astimezone(UTC) == due.due_at + timedelta(hours=1)
    clock = FixedClock(datetime(2026, 10, 26, 11, 59, tzinfo=UTC))
    assert clock_status(due, clock.now(), answered=False) is ClockStatus.REMINDER
    clock.advance(timedelta(minutes=1))
    assert clock_status(due, clock.now(), answered=False) is ClockStatus.OVERDUE


def test_local_time_in_utc_and_elsewhere() -> None:
    assert local_time(SENT, "UTC") == SENT
    assert local_time(SENT, "America/New_York").hour == 4  # EST, UTC-5, in March before the 8th


# --- escalation ------------------------------------------------------------------------------


def test_nothing_is_suggested_while_the_clock_runs_or_after_a_removal() -> None:
    for status in (ClockStatus.NOT_SENT, ClockStatus.RUNNING, ClockStatus.REMINDER):
        assert suggested(Branch.ADULT, status, None, ()) == ()
    assert suggested(Branch.ADULT, ClockStatus.ANSWERED, Decision.REMOVED, ()) == ()
    assert suggested(Branch.ADULT, ClockStatus.ANSWERED, Decision.RESTRICTED, ()) == ()


def test_an_overdue_adults_item_climbs_the_ladder_step_by_step() -> None:
    taken: list[EscalationStep] = []
    climbed = []
    while steps := suggested(Branch.ADULT, ClockStatus.OVERDUE, None, taken):
        climbed.append(steps[0])
        taken.append(steps[0])
    assert climbed == [
        EscalationStep.PLATFORM_AGAIN,
        EscalationStep.HOST,
        EscalationStep.SEARCH_DELISTING,
        EscalationStep.REGULATOR,
        EscalationStep.AUTHORITY,
    ]
    assert suggested(Branch.ADULT, ClockStatus.OVERDUE, None, [EscalationStep.HOST]) == (
        EscalationStep.PLATFORM_AGAIN,
        EscalationStep.SEARCH_DELISTING,
        EscalationStep.REGULATOR,
        EscalationStep.AUTHORITY,
    )


def test_a_refusal_is_escalated_though_answered() -> None:
    steps = suggested(
        Branch.ADULT, ClockStatus.ANSWERED, Decision.REFUSED, [EscalationStep.PLATFORM_AGAIN]
    )
    assert steps[0] is EscalationStep.HOST
    assert EscalationStep.PLATFORM_AGAIN not in steps


def test_a_minors_item_goes_to_the_authority_alone() -> None:
    assert suggested(Branch.MINOR, ClockStatus.OVERDUE, None, ()) == (EscalationStep.AUTHORITY,)
    assert suggested(Branch.MINOR, ClockStatus.ANSWERED, Decision.REFUSED, ()) == (
        EscalationStep.AUTHORITY,
    )
    assert suggested(Branch.MINOR, ClockStatus.OVERDUE, None, [EscalationStep.AUTHORITY]) == ()


def test_a_naive_time_is_refused_rather_than_read_as_local() -> None:
    with pytest.raises(ValueError, match="aware"):
        deadline((Rule("uk", 48, "sent", True),), sent_at=datetime(2026, 3, 2), order_at=None)
