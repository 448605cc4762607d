"""Desk rows made directly in the database, for tests of what watches them (``Watch``, the
match endpoints, the commands): a desk bank, and a case whose item claims an entry of it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from rempart.desk.model import DESK_SOURCE
from rempart.matching.banks import Banks
from rempart.store import Store, utc_now
from rempart.store.schema import (
    bank_entries,
    desk_cases,
    desk_events,
    desk_item_entries,
    desk_items,
    desk_sightings,
)


@dataclass(frozen=True)
class WatchedItem:
    """A case's item and the bank entry it claims."""

    case_id: int
    item_id: int
    entry_id: int


def desk_bank(store: Store, name: str, *, review: bool = True, category: str = "ncii") -> None:
    """A bank as the desk makes them: source ``desk``; a review bank unless confirmed."""
    Banks(store).create(name, source=DESK_SOURCE, review=review, category=category)


def entry_id(store: Store, bank: str, hash_hex: str) -> int:
    """The id of ``hash_hex``'s entry in ``bank``, added if it is not there."""
    banks = Banks(store)
    banks.add(bank, hash_hex, quality=100, source_ref="desk-item:test")
    (found,) = [row.entry_id for row in banks.entries(bank) if row.hash == hash_hex]
    return found


def watched_item(
    store: Store,
    entries: list[int],
    *,
    state: str = "watching",
    case_state: str = "in_review",
    pdq: str | None = None,
) -> WatchedItem:
    """A new case in ``case_state`` with one item in ``state`` that claims ``entries`` (the
    first is returned)."""
    now = utc_now()
    with store.write() as connection:
        case_id = connection.execute(
            insert(desk_cases)
            .values(
                number="R-" + secrets.token_hex(5).upper(),
                branch="adult",
                state=case_state,
                created_at=now,
                updated_at=now,
            )
            .returning(desk_cases.c.id)
        ).scalar_one()
        item_id = connection.execute(
            insert(desk_items)
            .values(
                case_id=case_id, pdq=pdq, quality=100, state=state, created_at=now, updated_at=now
            )
            .returning(desk_items.c.id)
        ).scalar_one()
        rows = connection.execute(
            select(bank_entries.c.id, bank_entries.c.bank_id).where(bank_entries.c.id.in_(entries))
        ).all()
        connection.execute(
            insert(desk_item_entries),
            [{"item_id": item_id, "entry_id": row.id, "bank_id": row.bank_id} for row in rows],
        )
    return WatchedItem(case_id, item_id, entries[0])


def item(store: Store, item_id: int) -> dict[str, Any]:
    """The item's row."""
    with store.read() as connection:
        row = connection.execute(select(desk_items).where(desk_items.c.id == item_id)).mappings()
        return dict(row.one())


def case_state(store: Store, case_id: int) -> str:
    """The case's state."""
    with store.read() as connection:
        query = select(desk_cases.c.state).where(desk_cases.c.id == case_id)
        return str(connection.execute(query).scalar_one())


def events(store: Store, item_id: int) -> list[dict[str, Any]]:
    """The item's events, oldest first."""
    with store.read() as connection:
        rows = connection.execute(
            select(desk_events).where(desk_events.c.item_id == item_id).order_by(desk_events.c.id)
        ).mappings()
        return [dict(row) for row in rows]


def last_sighting(store: Store) -> int:
    """The newest sighting's id: on PostgreSQL, earlier tests' rows stay (append-only)."""
    with store.read() as connection:
        newest = select(func.coalesce(func.max(desk_sightings.c.id), 0))
        return int(connection.execute(newest).scalar_one())


def sightings(store: Store, after: int) -> list[dict[str, Any]]:
    """The sightings written since ``after`` (``last_sighting``), oldest first."""
    with store.read() as connection:
        rows = connection.execute(
            select(desk_sightings).where(desk_sightings.c.id > after).order_by(desk_sightings.c.id)
        ).mappings()
        return [dict(row) for row in rows]
