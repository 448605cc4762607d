"""The desk's clock, one object passed down, so that tests can set the time: a case's events,
its items' sightings and the sign-in throttle all read it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from rempart.store import utc_now

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Tells the time."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        return utc_now()


class FixedClock:
    """A clock that tells ``at`` until told otherwise (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a FixedClock needs an aware time")
        self.at = at

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at

    def advance(self, delta: timedelta) -> None:
        """Move the time on by ``delta``."""
        self.at += delta
