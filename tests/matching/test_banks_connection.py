"""Bank writes inside the caller's transaction (``connection=``), and reinstatement (each test
runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, func, select

from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks
from rempart.store import Store
from rempart.store.schema import bank_changes, bank_entries, banks

HASHES = [f"{i:02x}" * 32 for i in range(1, 4)]


class RollbackError(Exception):
    """Raised to roll back the caller's transaction."""


def rolled_back(store: Store, write: Callable[[Connection], object]) -> None:
    """Run ``write`` in a write transaction that then rolls back."""
    with contextlib.suppress(RollbackError), store.write() as connection:
        write(connection)
        raise RollbackError


def counts(store: Store) -> tuple[int, int, int]:
    with store.read() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (banks, bank_entries, bank_changes)
        )


def changes(store: Store) -> list[tuple[int | None, str]]:
    with store.read() as connection:
        rows = connection.execute(
            select(bank_changes.c.entry_id, bank_changes.c.op).order_by(bank_changes.c.seq)
        ).all()
    return [(row.entry_id, row.op) for row in rows]


def test_writes_join_the_callers_transaction(store: Store) -> None:
    bank_store = Banks(store)
    before = counts(store)

    def write(connection: Connection) -> None:
        bank = bank_store.create("desk-test", source="desk", review=True, connection=connection)
        assert bank.review
        bank_store.add("desk-test", HASHES[0], quality=90, connection=connection)
        bank_store.withdraw("desk-test", hashes=[HASHES[0]], connection=connection)

    rolled_back(store, write)
    assert counts(store) == before  # the bank, its entry, its log: all rolled back
    with store.write() as connection:
        bank_store.create("desk-test", source="desk", connection=connection)
        bank_store.add("desk-test", HASHES[0], source_ref="desk-item:1", connection=connection)
    (entry,) = bank_store.entries("desk-test")
    assert entry.source_ref == "desk-item:1"
    assert changes(store)[-1] == (entry.entry_id, "add")


def test_a_connection_outside_store_write_is_refused(store: Store) -> None:
    bank_store = Banks(store)
    bank_store.create("b")
    with store.read() as connection, pytest.raises(RuntimeError, match=r"Store\.write"):
        bank_store.add("b", HASHES[0], connection=connection)
    assert bank_store.stats("b").active == 0


def test_reinstatement_makes_an_entry_match_again_and_is_logged(store: Store) -> None:
    bank_store = Banks(store)
    bank_store.create("b")
    for value in HASHES[:2]:
        bank_store.add("b", value)
    first, second = (entry.entry_id for entry in bank_store.entries("b"))
    bank_store.withdraw("b", entry_ids=[first], reason="withdrawn by the victim")
    matcher = BankMatcher(store, refresh_interval=0)
    assert matcher.match(pack([HASHES[0]])) == [[]]
    with store.write() as connection:
        # The active one and an id the bank never held are left alone.
        assert bank_store.reinstate("b", [first, second, 999], connection=connection) == 1
    assert changes(store)[-1] == (first, "add")
    (entry,) = [e for e in bank_store.entries("b") if e.entry_id == first]
    assert entry.withdrawn_at is None
    assert [m.entry_id for m in matcher.match(pack([HASHES[0]]))[0]] == [first]
    assert bank_store.reinstate("b", [first]) == 0  # already active: nothing logged
    assert changes(store)[-1] == (first, "add")
    assert bank_store.stats("b").active == 2


def test_a_reinstatement_rolls_back_with_its_transaction(store: Store) -> None:
    bank_store = Banks(store)
    bank_store.create("b")
    bank_store.add("b", HASHES[0])
    bank_store.withdraw("b", hashes=[HASHES[0]])
    before = (counts(store), bank_store.stats("b").active)
    ids = [e.entry_id for e in bank_store.entries("b", include_withdrawn=True)]
    rolled_back(store, lambda connection: bank_store.reinstate("b", ids, connection=connection))
    assert (counts(store), bank_store.stats("b").active) == before
