"""Evidence: captures of what an adult case's URL served, kept sealed, then purged.

SKELETON: the interface is fixed; helper E implements it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rempart.desk.cases import Desk
from rempart.desk.evidence_model import Capture, PurgeReport
from rempart.desk.fetch import Fetcher
from rempart.desk.model import SYSTEM, Actor

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["MAX_IMAGES", "Evidence"]

MAX_IMAGES: Final = 50
"""Most images of a page one capture fetches."""


class Evidence:
    """Capture an adult case's item through the ``Fetcher``, seal it, read it back (recorded),
    hold it for proceedings, purge it. Reviewers only (admin or reviewer keys); never an item
    of a minor's case."""

    def __init__(
        self,
        desk: Desk,
        fetcher: Fetcher,
        *,
        days: int = 365,
        tsa_url: str | None = None,
        max_images: int = MAX_IMAGES,
    ) -> None:
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls, settings: Settings, desk: Desk, *, fetcher: Fetcher | None = None
    ) -> Evidence:
        """The evidence service as the settings configure it (an ``HttpFetcher`` unless one
        is given)."""
        raise NotImplementedError

    def capture(self, item_id: int, actor: Actor, *, reason: str) -> Capture:
        """Fetch the item's URL and the images its page embeds, write them as one WARC 1.1,
        seal it, store it; ``EvidenceRefusedError`` for a minor's case (no request made)."""
        raise NotImplementedError

    def captures(self, number: str, actor: Actor) -> list[Capture]:
        """The case's captures, newest first, purged ones included (their SHA-256 stays)."""
        raise NotImplementedError

    def get(self, capture_id: int, actor: Actor) -> Capture:
        """One capture; ``EvidenceNotFoundError`` when there is none (or the actor may not)."""
        raise NotImplementedError

    def open(self, capture_id: int, actor: Actor, *, reason: str) -> bytes:
        """The capture's WARC, unsealed; recorded as viewed (who, when, why)."""
        raise NotImplementedError

    def export(self, number: str, actor: Actor, *, reason: str) -> list[tuple[Capture, bytes]]:
        """Every unpurged capture of the case with its WARC, unsealed; each recorded as
        exported (who, when, why). For the dossier."""
        raise NotImplementedError

    def hold(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """Keep the capture past retention, for proceedings; the reason is recorded."""
        raise NotImplementedError

    def release(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """End a hold: retention applies again."""
        raise NotImplementedError

    def purge(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """Delete the capture's WARC and data key now (a reviewer's decision, recorded); its
        SHA-256 and manifest stay."""
        raise NotImplementedError

    def purge_due(self, *, actor: Actor = SYSTEM, limit: int = 1000) -> PurgeReport:
        """Purge every capture past retention (its case closed more than ``days`` ago) and not
        held; each purge recorded."""
        raise NotImplementedError

    def due(self, numbers: Sequence[str] | None = None) -> list[Capture]:
        """Captures past retention and not held (what ``purge_due`` would purge)."""
        raise NotImplementedError
