"""Case and item states are data: every move not in the tables is refused, naming those that
are allowed."""

from __future__ import annotations

import pytest

from rempart.desk.states import (
    CASE_MOVES,
    ITEM_MOVES,
    CaseState,
    ItemState,
    check_case_move,
    check_item_move,
)
from rempart.errors import CaseStateConflictError


def test_every_state_has_its_moves() -> None:
    assert set(CASE_MOVES) == set(CaseState)
    assert set(ITEM_MOVES) == set(ItemState)


@pytest.mark.parametrize("current", list(CaseState))
@pytest.mark.parametrize("to", list(CaseState))
def test_case_moves_follow_the_table(current: CaseState, to: CaseState) -> None:
    if to in CASE_MOVES[current]:
        check_case_move(current, to)
    else:
        with pytest.raises(CaseStateConflictError, match=f"{current} cannot move to {to}"):
            check_case_move(current, to)


@pytest.mark.parametrize("current", list(ItemState))
@pytest.mark.parametrize("to", list(ItemState))
def test_item_moves_follow_the_table(current: ItemState, to: ItemState) -> None:
    if to in ITEM_MOVES[current]:
        check_item_move(current, to)
    else:
        with pytest.raises(CaseStateConflictError, match=f"{current} cannot move to {to}"):
            check_item_move(current, to)


def test_a_refusal_names_the_allowed_moves() -> None:
    with pytest.raises(CaseStateConflictError) as refused:
        check_case_move(CaseState.RECEIVED, CaseState.ACTING)
    assert str(refused.value) == (
        "a case received cannot move to acting: it may move to in_review, on_hold, closed"
    )
    with pytest.raises(CaseStateConflictError, match="it may not move any more"):
        check_item_move(ItemState.WITHDRAWN, ItemState.CLOSED)


def test_withdrawal_is_never_a_move() -> None:
    assert not any(CaseState.WITHDRAWN in moves for moves in CASE_MOVES.values())
    assert not any(ItemState.WITHDRAWN in moves for moves in ITEM_MOVES.values())


def test_sightings_have_their_moves() -> None:
    """The watch moves a watched item to sighted, a closed or removed one to reappeared."""
    check_item_move(ItemState.WATCHING, ItemState.SIGHTED)
    check_item_move(ItemState.CLOSED, ItemState.REAPPEARED)
    check_item_move(ItemState.REMOVED, ItemState.REAPPEARED)


def test_every_state_but_withdrawn_can_be_left() -> None:
    """No case or item gets stuck (the state graph has no dead end but withdrawal)."""
    for moves, final in ((CASE_MOVES, CaseState.WITHDRAWN), (ITEM_MOVES, ItemState.WITHDRAWN)):
        for state, allowed in moves.items():
            assert bool(allowed) == (state != final), state
