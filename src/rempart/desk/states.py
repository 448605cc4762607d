"""The states of a case and of its items, and the moves allowed between them, as data.

A case goes from received through review to acting on it, may be put on hold and is closed;
an item (a URL, a hash, or both) is watched when it has a hash (its matches count as
sightings), is removed or refused by the platform that holds it, and reappears when a closed or
removed item is matched again. ``WITHDRAWN`` is the victim's withdrawal: reached only through
``Desk.withdraw``, never by a move, and final.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypeVar

from rempart.errors import CaseStateConflictError

__all__ = [
    "CASE_MOVES",
    "ITEM_MOVES",
    "OPEN_CASE_STATES",
    "CaseState",
    "ItemState",
    "check_case_move",
    "check_item_move",
]


class CaseState(StrEnum):
    """Where a case stands. Stable: stored and shown to clients."""

    RECEIVED = "received"
    IN_REVIEW = "in_review"
    ACTING = "acting"
    ON_HOLD = "on_hold"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class ItemState(StrEnum):
    """Where one item of a case stands. Stable: stored and shown to clients."""

    RECEIVED = "received"
    """A URL-only item, not acted on yet."""
    WATCHING = "watching"
    """An item with a hash: its matches anywhere are sightings."""
    SIGHTED = "sighted"
    REMOVED = "removed"
    REFUSED = "refused"
    REAPPEARED = "reappeared"
    """Matched again after it was closed or removed."""
    ON_HOLD = "on_hold"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


_C = CaseState
CASE_MOVES: Final[Mapping[CaseState, frozenset[CaseState]]] = MappingProxyType(
    {
        _C.RECEIVED: frozenset({_C.IN_REVIEW, _C.ON_HOLD, _C.CLOSED}),
        _C.IN_REVIEW: frozenset({_C.ACTING, _C.ON_HOLD, _C.CLOSED}),
        _C.ACTING: frozenset({_C.IN_REVIEW, _C.ON_HOLD, _C.CLOSED}),
        _C.ON_HOLD: frozenset({_C.IN_REVIEW, _C.ACTING, _C.CLOSED}),
        _C.CLOSED: frozenset({_C.IN_REVIEW}),  # reopened: a copy came back
        _C.WITHDRAWN: frozenset(),
    }
)

_I = ItemState
# Staff record what a platform did (removed, refused) and what they saw (sighted); the watch
# records sightings (watching -> sighted, closed or removed -> reappeared) by the same table.
ITEM_MOVES: Final[Mapping[ItemState, frozenset[ItemState]]] = MappingProxyType(
    {
        _I.RECEIVED: frozenset({_I.REMOVED, _I.REFUSED, _I.ON_HOLD, _I.CLOSED}),
        _I.WATCHING: frozenset({_I.SIGHTED, _I.REMOVED, _I.REFUSED, _I.ON_HOLD, _I.CLOSED}),
        _I.SIGHTED: frozenset({_I.WATCHING, _I.REMOVED, _I.REFUSED, _I.ON_HOLD, _I.CLOSED}),
        _I.REMOVED: frozenset({_I.REAPPEARED, _I.WATCHING, _I.CLOSED}),
        _I.REFUSED: frozenset({_I.REMOVED, _I.ON_HOLD, _I.CLOSED}),
        _I.REAPPEARED: frozenset({_I.REMOVED, _I.REFUSED, _I.ON_HOLD, _I.CLOSED}),
        _I.ON_HOLD: frozenset({_I.RECEIVED, _I.WATCHING, _I.REMOVED, _I.REFUSED, _I.CLOSED}),
        _I.CLOSED: frozenset({_I.REAPPEARED, _I.WATCHING, _I.RECEIVED}),
        _I.WITHDRAWN: frozenset(),
    }
)

OPEN_CASE_STATES: Final = frozenset(CaseState) - {CaseState.CLOSED, CaseState.WITHDRAWN}
"""The states of a case someone still has to act on (the queue's)."""

_S = TypeVar("_S", CaseState, ItemState)


def check_case_move(current: CaseState, to: CaseState) -> None:
    """Nothing when a case may move from ``current`` to ``to``, else
    ``CaseStateConflictError`` naming the moves it may make."""
    _check("case", CASE_MOVES, current, to)


def check_item_move(current: ItemState, to: ItemState) -> None:
    """Nothing when an item may move from ``current`` to ``to``, else
    ``CaseStateConflictError`` naming the moves it may make."""
    _check("item", ITEM_MOVES, current, to)


def _check(what: str, moves: Mapping[_S, frozenset[_S]], current: _S, to: _S) -> None:
    allowed = moves[current]
    if to in allowed:
        return
    # In the order the enum declares them, so that the message is stable.
    names = [state.value for state in type(current) if state in allowed]
    may = f"it may move to {', '.join(names)}" if names else "it may not move any more"
    raise CaseStateConflictError(f"a {what} {current.value} cannot move to {to.value}: {may}")
