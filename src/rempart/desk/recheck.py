"""Removal checks: each notified URL re-checked on a schedule.

SKELETON: the interface is fixed; helper F implements it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rempart.desk.cases import Desk
from rempart.desk.evidence_model import Check, RecheckReport
from rempart.desk.fetch import Fetcher
from rempart.desk.model import SYSTEM, Actor

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["Rechecker"]


class Rechecker:
    """Re-checks notified URLs: 404, 410 or 451, or a served image whose PDQ is no longer
    within 31 of the item's, verifies the item's removal. A minor's item is asked HEAD only,
    never a body."""

    def __init__(self, desk: Desk, fetcher: Fetcher, *, hours: float = 6) -> None:
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls, settings: Settings, desk: Desk, *, fetcher: Fetcher | None = None
    ) -> Rechecker:
        """The re-checker as the settings configure it (an ``HttpFetcher`` unless given)."""
        raise NotImplementedError

    def due(self, *, limit: int = 1000) -> list[int]:
        """Items whose URL is due a check: in a sent notice, not closed, withdrawn or
        verified removed, never checked or last checked ``hours`` ago."""
        raise NotImplementedError

    def recheck(
        self,
        *,
        number: str | None = None,
        items: Sequence[int] | None = None,
        actor: Actor = SYSTEM,
        limit: int = 1000,
        on_check: Callable[[Check], None] | None = None,
    ) -> RecheckReport:
        """Check the items due (or a case's URL items, or the items given, due or not)."""
        raise NotImplementedError

    def checks(self, number: str) -> dict[int, Check]:
        """Each of the case's items' last check, by item id (for the case page)."""
        raise NotImplementedError
