"""Deadlines, on part 1's ``Clock``: each notified item is due by the strictest deadline of its
platform's jurisdictions, counted in real hours (UTC) from the notice's sending, or from an
authority's order for a jurisdiction that counts from one; a reminder falls at half time;
overdue is computed when read, never stored. Escalation steps are suggested for an item that
is overdue or refused: the next ones up the ladder not yet taken (a minor's item: the authority,
straight away)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rempart.desk.model import Branch
from rempart.desk.notice_model import ClockStatus, Decision, EscalationStep
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
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        """The rule ``to_json`` gave."""
        raise NotImplementedError


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
    raise NotImplementedError


def deadline(
    rules: Sequence[Rule], *, sent_at: datetime | None, order_at: datetime | None
) -> Deadline:
    """The strictest deadline of the rules whose start has happened (the earliest due
    time); ties go to the rule listed first."""
    raise NotImplementedError


def clock_status(due: Deadline, now: datetime, *, answered: bool) -> ClockStatus:
    """Where the clock stands at ``now``."""
    raise NotImplementedError


def suggested(
    branch: Branch,
    status: ClockStatus,
    outcome: Decision | None,
    taken: Collection[EscalationStep],
) -> tuple[EscalationStep, ...]:
    """The escalation steps to suggest, in order: none unless the item is overdue or
    refused; then those of its branch's ladder not taken yet."""
    raise NotImplementedError


def local_time(moment: datetime, timezone: str) -> datetime:
    """``moment`` in the time zone ``timezone`` (an IANA name), for display."""
    raise NotImplementedError
