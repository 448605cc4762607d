"""The roles an API key may have: on its own, with no database or hashing behind it, so the
command line can offer them at once."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    """What a key may do; the server maps each role to its endpoints."""

    ADMIN = "admin"
    PLATFORM = "platform"
    FLAGGER = "flagger"
    REVIEWER = "reviewer"
    MONITOR = "monitor"
    """Reads the metrics and nothing else: the key a Prometheus server scrapes with."""
