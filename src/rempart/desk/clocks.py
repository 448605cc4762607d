"""Deadlines, on part 1's ``Clock``: each notified item is due by the strictest deadline of its
platform's jurisdictions, counted in real hours (UTC) from the notice's sending, or from an
authority's order for a jurisdiction that counts from one; a reminder falls at half time;
overdue is computed when read, never stored. Escalation steps are suggested for an item that
is overdue or refused: the next ones up the ladder not yet taken (a minor's item: the authority,
straight away)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from rempart.desk.model import Branch
from rempart.desk.notice_model import (
    ESCALATION_LADDER,
    MINOR_LADDER,
    ClockStatus,
    Decision,
    EscalationStep,
)
from rempart.desk.platforms import Platform, PlatformBook

__all__ = ["Deadline", "Rule", "clock_status", "deadline", "local_time", "rules_for", "suggested"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One jurisdiction's deadline as a notice keeps it (fixed when sent)."""

    jurisdiction: str
    hours: int
    starts: Literal["sent", "order"]
    provisional: bool

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict."""
        return {
            "jurisdiction": self.jurisdiction,
            "hours": self.hours,
            "starts": self.starts,
            "provisional": self.provisional,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        """The rule ``to_json`` gave."""
        return cls(
            jurisdiction=str(data["jurisdiction"]),
            hours=int(data["hours"]),
            starts="order" if data["starts"] == "order" else "sent",
            provisional=bool(data["provisional"]),
        )

    def start(self, *, sent_at: datetime | None, order_at: datetime | None) -> datetime | None:
        """When its clock starts: the notice's sending or the authority's order (None: not
        yet)."""
        return order_at if self.starts == "order" else sent_at


@dataclass(frozen=True, slots=True)
class Deadline:
    """An item's strictest deadline: when it is due, when the reminder falls, which
    jurisdiction set it and whether that one's figure is provisional; all None before the
    clock starts."""

    due_at: datetime | None
    reminder_at: datetime | None
    jurisdiction: str | None
    provisional: bool


def rules_for(platform: Platform, book: PlatformBook, *, dsa_hours: int) -> tuple[Rule, ...]:
    """The deadline rules of the platform's jurisdictions; ``dsa_hours`` for those whose
    hours the deployment sets."""
    return tuple(
        Rule(
            jurisdiction=law.name,
            hours=dsa_hours if law.hours is None else law.hours,
            starts=law.starts,
            provisional=law.provisional,
        )
        for law in (book.jurisdictions[name] for name in platform.jurisdictions)
    )


def deadline(
    rules: Sequence[Rule], *, sent_at: datetime | None, order_at: datetime | None
) -> Deadline:
    """The strictest deadline of the rules whose start has happened (the earliest due
    time); ties go to the rule listed first. Hours are real hours from the start in UTC: a
    change of clocks where the times are shown moves nothing."""
    best: tuple[datetime, datetime, Rule] | None = None
    for rule in rules:
        start = rule.start(sent_at=sent_at, order_at=order_at)
        if start is None:
            continue
        if start.tzinfo is None:
            raise ValueError("a deadline counts from aware times (store.as_utc reads them so)")
        start = start.astimezone(UTC)
        due = start + timedelta(hours=rule.hours)
        if best is None or due < best[0]:
            best = (due, start + (due - start) / 2, rule)
    if best is None:
        return Deadline(None, None, None, False)
    due, reminder, rule = best
    return Deadline(due, reminder, rule.jurisdiction, rule.provisional)


def clock_status(due: Deadline, now: datetime, *, answered: bool) -> ClockStatus:
    """Where the clock stands at ``now``: ``answered`` (a decision stopped it) before all,
    ``not-sent`` while no clock runs (not sent, or only a clock from an order not given)."""
    if answered:
        return ClockStatus.ANSWERED
    if due.due_at is None or due.reminder_at is None:
        return ClockStatus.NOT_SENT
    if now >= due.due_at:
        return ClockStatus.OVERDUE
    if now >= due.reminder_at:
        return ClockStatus.REMINDER
    return ClockStatus.RUNNING


def suggested(
    branch: Branch,
    status: ClockStatus,
    outcome: Decision | None,
    taken: Collection[EscalationStep],
) -> tuple[EscalationStep, ...]:
    """The escalation steps to suggest, in order: none unless the item is overdue or
    refused; then those of its branch's ladder not taken yet."""
    if status != ClockStatus.OVERDUE and outcome != Decision.REFUSED:
        return ()
    ladder = MINOR_LADDER if branch == Branch.MINOR else ESCALATION_LADDER
    return tuple(step for step in ladder if step not in taken)


def local_time(moment: datetime, timezone: str) -> datetime:
    """``moment`` in the time zone ``timezone`` (an IANA name, as ``Settings.desk_timezone``
    checked it), for display."""
    return moment.astimezone(ZoneInfo(timezone))
