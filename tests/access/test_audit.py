"""rempart.access.audit: entries are committed (queued or at once), read back in order and by key,
and the database refuses to change or delete them."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from rempart.access.audit import AuditEntry, AuditWriter, read_audit
from rempart.store import Store
from rempart.store.schema import audit_log


def last_id(store: Store) -> int:
    """The newest entry's id: on PostgreSQL, earlier tests' entries stay (no TRUNCATE)."""
    with store.read() as connection:
        return int(connection.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).one()[0])


def entry(key_id: str | None = None, **fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "method": "POST",
        "route": "/v1/banks/{name}/hashes",
        "status": 201,
        "duration_ms": 3,
        "key_id": key_id,
        "role": "flagger" if key_id else None,
    }
    return AuditEntry(**{**values, **fields})


def test_an_entry_reads_back_as_written(store: Store) -> None:
    start = last_id(store)
    at = datetime(2026, 11, 22, 12, 30, 15, 250000, tzinfo=UTC)
    writer = AuditWriter(store)
    try:
        writer.write(
            entry(
                "k" * 12,
                target="sightings",
                outcome="1 added",
                detail={"import_id": 7, "note": "réexamen ✓"},
                client="192.0.2.7",
                at=at,
            )
        )
    finally:
        writer.close()
    [found] = read_audit(store, after=start)
    assert found["id"] > start
    assert found["at"] == at.isoformat()
    assert {k: v for k, v in found.items() if k not in ("id", "at")} == {
        "key_id": "k" * 12,
        "role": "flagger",
        "method": "POST",
        "route": "/v1/banks/{name}/hashes",
        "target": "sightings",
        "status": 201,
        "outcome": "1 added",
        "detail": {"import_id": 7, "note": "réexamen ✓"},
        "client": "192.0.2.7",
        "duration_ms": 3,
    }


def test_long_fields_are_cut_to_their_columns(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    try:
        writer.write(
            entry(
                method="PROPFINDX",
                route="/" + "r" * 500,
                target="t" * 1000,
                outcome="o" * 100,
                client="c" * 99,
            )
        )
    finally:
        writer.close()
    [found] = read_audit(store, after=start)
    assert found["method"] == "PROPFIND"
    assert len(found["route"]) == 200
    assert len(found["target"]) == 512
    assert len(found["outcome"]) == 64
    assert len(found["client"]) == 64


def test_write_commits_at_once(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    try:
        writer.write(entry(outcome="created"))
        # Read on another connection, before the writer is closed.
        assert [found["outcome"] for found in read_audit(store, after=start)] == ["created"]
    finally:
        writer.close()


def test_recorded_entries_are_committed_by_close(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    key = secrets.token_hex(6)
    for number in range(10):
        writer.record(entry(key, status=200, duration_ms=number))
    writer.close()
    found = read_audit(store, after=start, limit=1000)
    assert [row["duration_ms"] for row in found] == list(range(10))
    assert {row["key_id"] for row in found} == {key}


def test_recorded_entries_are_committed_without_close(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    try:
        for number in range(5):
            writer.record(entry(status=200, duration_ms=number))
        deadline = time.monotonic() + 5
        while len(read_audit(store, after=start)) < 5:
            assert time.monotonic() < deadline, "queued entries were not committed"
            time.sleep(0.05)
    finally:
        writer.close()
    assert len(read_audit(store, after=start)) == 5


def test_close_commits_more_than_a_batch(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    for number in range(12_000):  # over two of the writer's batches
        writer.record(entry(status=200, duration_ms=number))
    writer.close()
    with store.read() as connection:
        count = connection.execute(select(func.count()).where(audit_log.c.id > start)).scalar_one()
    assert count == 12_000
    assert read_audit(store, after=start, limit=3)[0]["duration_ms"] == 0


def test_read_audit_pages_and_filters_by_key(store: Store) -> None:
    start = last_id(store)
    first, second = secrets.token_hex(6), secrets.token_hex(6)
    writer = AuditWriter(store)
    base = datetime.now(UTC)
    try:
        for number in range(9):
            key = (first, second, None)[number % 3]
            writer.write(entry(key, duration_ms=number, at=base + timedelta(seconds=number)))
    finally:
        writer.close()

    everything = read_audit(store, after=start, limit=100)
    assert [row["duration_ms"] for row in everything] == list(range(9))
    ids = [row["id"] for row in everything]
    assert ids == sorted(ids)

    page = read_audit(store, after=start, limit=4)
    assert [row["duration_ms"] for row in page] == [0, 1, 2, 3]
    rest = read_audit(store, after=page[-1]["id"], limit=100)
    assert [row["duration_ms"] for row in rest] == [4, 5, 6, 7, 8]

    by_first = read_audit(store, after=start, key_id=first)
    assert [row["duration_ms"] for row in by_first] == [0, 3, 6]
    assert [row["duration_ms"] for row in read_audit(store, key_id=second)] == [1, 4, 7]
    later = read_audit(store, after=by_first[0]["id"], key_id=first, limit=1)
    assert [row["duration_ms"] for row in later] == [3]
    assert read_audit(store, key_id="nobody") == []
    assert read_audit(store, after=ids[-1]) == []


def refused(store: Store, statement: str) -> str:
    """Run ``statement`` in a transaction of its own; the error the database raised."""
    with pytest.raises(DBAPIError) as caught, store.engine.begin() as connection:
        connection.execute(text(statement))
    return str(caught.value)


def test_the_audit_log_is_append_only(store: Store) -> None:
    start = last_id(store)
    writer = AuditWriter(store)
    try:
        writer.write(entry(outcome="created", target="kept"))
    finally:
        writer.close()
    [before] = read_audit(store, after=start)

    for statement in (
        f"UPDATE audit_log SET outcome = 'rewritten' WHERE id = {before['id']}",
        "UPDATE audit_log SET status = 200",
        f"DELETE FROM audit_log WHERE id = {before['id']}",
        "DELETE FROM audit_log",
    ):
        assert "append-only" in refused(store, statement)
    if not store.is_sqlite:
        assert "append-only" in refused(store, "TRUNCATE audit_log")
        assert "append-only" in refused(store, "TRUNCATE audit_log CASCADE")

    assert read_audit(store, after=start) == [before]
    # Appending still works.
    writer = AuditWriter(store)
    try:
        writer.write(entry(outcome="after"))
    finally:
        writer.close()
    assert [row["outcome"] for row in read_audit(store, after=start)] == ["created", "after"]
