"""What removal checks and evidence are made of, as values: one check of a notified URL, what a
re-check run did, one capture (its WARC sealed apart), what a purge did and what a dossier
holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "Capture",
    "Check",
    "CheckOutcome",
    "Dossier",
    "PurgeReason",
    "PurgeReport",
    "RecheckReport",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class CheckOutcome(StrEnum):
    """What one check of a URL found. Stable: stored and shown to clients."""

    PRESENT = "present"
    """The URL still answers: a page, or an image within 31 of the item's PDQ."""
    REMOVED = "removed"
    """404, 410 or 451, or a served image no longer within 31 of the item's PDQ: removal
    verified, the item moves to removed."""
    MANUAL = "manual"
    """A minor's item whose URL gave no usable answer to HEAD: a reviewer checks by hand
    (never a GET, never a body)."""
    UNREACHABLE = "unreachable"
    """No answer, a refused address or another status: checked again next time."""


@dataclass(frozen=True, slots=True)
class Check:
    """One check of an item's URL: when, how (``HEAD`` only on a minor's case), the HTTP
    status (None without an answer), what it found, and the PDQ distance of a served image."""

    item_id: int
    case: str
    at: datetime
    method: str
    status: int | None
    outcome: CheckOutcome
    distance: int | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON-ready dict (a line of ``rempart desk recheck``'s output)."""
        return {
            "item": self.item_id,
            "case": self.case,
            "at": self.at.isoformat(),
            "method": self.method,
            "status": self.status,
            "outcome": self.outcome.value,
            "distance": self.distance,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class RecheckReport:
    """What a re-check run did: every check made, in order."""

    checks: tuple[Check, ...] = ()

    def count(self, outcome: CheckOutcome) -> int:
        """How many checks found ``outcome``."""
        return sum(check.outcome == outcome for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        """Counts by outcome, as a JSON-ready dict."""
        return {"checked": len(self.checks)} | {
            outcome.value: self.count(outcome) for outcome in CheckOutcome
        }


class PurgeReason(StrEnum):
    """Why a capture was purged. Stable: stored and shown to clients."""

    RETENTION = "retention"
    """``REMPART_DESK_EVIDENCE_DAYS`` after its case closed, and not held."""
    MINOR_BRANCH = "minor-branch"
    """Its case moved to the minor branch: at once."""
    WITHDRAWN = "withdrawn"
    """Its case was withdrawn: at once, with the case's sealed fields."""
    REVIEWER = "reviewer"
    """A reviewer purged it, with a reason recorded in the case's events."""


@dataclass(frozen=True, slots=True)
class Capture:
    """One capture of an item's URL, as the desk lists it: never its WARC. ``sha256`` and
    ``size`` are the plain WARC's, kept after a purge; ``timestamp_token`` its RFC 3161 token
    (DER), if any; ``purge_due`` is when retention purges it (None while its case is open, or
    while it is held)."""

    id: int
    case: str
    item_id: int
    url: str
    captured_at: datetime
    requested_by: str
    sha256: str
    size: int
    manifest: Mapping[str, Any] = field(default_factory=dict)
    timestamp_token: bytes | None = field(default=None, repr=False)
    held_at: datetime | None = None
    held_by: str | None = None
    hold_reason: str | None = None
    purged_at: datetime | None = None
    purge_reason: PurgeReason | None = None
    purge_due: datetime | None = None

    @property
    def timestamped(self) -> bool:
        """Whether an RFC 3161 authority timestamped its SHA-256."""
        return self.timestamp_token is not None

    @property
    def purged(self) -> bool:
        """Whether its WARC and data key are gone."""
        return self.purged_at is not None

    @property
    def held(self) -> bool:
        """Whether a reviewer holds it for proceedings (retention does not purge it)."""
        return self.held_at is not None and not self.purged

    def to_json(self) -> dict[str, Any]:
        """The capture as a JSON-ready dict (no bytes, no key)."""
        return {
            "id": self.id,
            "case": self.case,
            "item": self.item_id,
            "url": self.url,
            "captured_at": self.captured_at.isoformat(),
            "requested_by": self.requested_by,
            "sha256": self.sha256,
            "size": self.size,
            "manifest": dict(self.manifest),
            "timestamped": self.timestamped,
            "held_at": _iso(self.held_at),
            "held_by": self.held_by,
            "hold_reason": self.hold_reason,
            "purged_at": _iso(self.purged_at),
            "purge_reason": self.purge_reason.value if self.purge_reason else None,
            "purge_due": _iso(self.purge_due),
        }


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a retention purge did: the captures purged, and how many past retention were kept
    because a reviewer holds them."""

    purged: tuple[int, ...] = ()
    held: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {"purged": list(self.purged), "held": self.held}


@dataclass(frozen=True, slots=True)
class Dossier:
    """A case's dossier as written: its folder and each file's name (relative) and SHA-256."""

    folder: Path
    files: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The dossier as a JSON-ready dict."""
        return {
            "folder": str(self.folder),
            "files": [{"name": name, "sha256": digest} for name, digest in self.files],
        }
