"""Helpers shared by the desk's tests."""

from __future__ import annotations

from sqlalchemy import text

from rempart.store import Store


def without_cases(store: Store) -> Store:
    """``store`` with no desk case in it. The shared PostgreSQL keeps earlier tests' cases (the
    ``store`` fixture empties the bank tables only); their events, append-only, stay, told
    apart by case ids, which are never reused."""
    if not store.is_sqlite:
        with store.write() as connection:
            connection.execute(
                text(
                    "TRUNCATE desk_item_entries, desk_sealed, desk_items, desk_cases, "
                    "desk_statements CASCADE"
                )
            )
    return store
