"""The audit log: who did what, when, and with what outcome, for every API request.

Append-only (the database refuses UPDATE and DELETE on it). Entries hold the key id and role,
the method and route, the target (a bank or person name), the status, the outcome (a verdict's
action, a count) and small details; never image bytes or prompts. ``AuditWriter`` commits
entries on a thread, a tenth of a second's worth at a time, so that a busy server does not
commit once a request; ``write`` commits at once, for requests that change
something.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, select

from rempart.store import Store, as_utc, utc_now
from rempart.store.schema import audit_log

__all__ = ["AuditEntry", "AuditWriter", "read_audit"]

_LOG = logging.getLogger(__name__)
_FLUSH_SECONDS: Final = 0.25
_GATHER_SECONDS: Final = 0.1
_BATCH: Final = 5000
_ATTEMPTS: Final = 5
MAX_QUEUED: Final = 100_000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One request, as recorded."""

    method: str
    route: str
    status: int
    duration_ms: int
    key_id: str | None = None
    role: str | None = None
    target: str | None = None
    outcome: str | None = None
    detail: dict[str, Any] | None = None
    client: str | None = None
    at: datetime = field(default_factory=utc_now)

    def row(self) -> dict[str, Any]:
        """The row as inserted."""
        return {
            "at": self.at,
            "key_id": self.key_id,
            "role": self.role,
            "method": self.method[:8],
            "route": self.route[:200],
            "target": self.target[:512] if self.target else None,
            "status": self.status,
            "outcome": self.outcome[:64] if self.outcome else None,
            "detail": json.dumps(self.detail, ensure_ascii=False) if self.detail else None,
            "client": self.client[:64] if self.client else None,
            "duration_ms": self.duration_ms,
        }


def write_entries(store: Store, entries: Sequence[AuditEntry]) -> None:
    """Append entries in one transaction."""
    if entries:
        with store.append() as connection:
            connection.execute(insert(audit_log), [entry.row() for entry in entries])


def read_audit(
    store: Store, *, after: int = 0, limit: int = 100, key_id: str | None = None
) -> list[dict[str, Any]]:
    """Entries with an id above ``after``, oldest first, at most ``limit``."""
    query = select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(limit)
    if key_id is not None:
        query = query.where(audit_log.c.key_id == key_id)
    with store.read() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        {
            **dict(row),
            "at": as_utc(row["at"]).isoformat(),
            "detail": json.loads(row["detail"]) if row["detail"] else None,
        }
        for row in rows
    ]


class AuditWriter:
    """Appends entries from a queue, in batches, on its own thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[AuditEntry | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, entry: AuditEntry) -> None:
        """Queue an entry; it is committed within a fraction of a second. While the database
        cannot take them and ``MAX_QUEUED`` wait, further entries are dropped, and counted
        in the log, rather than filling the server's memory."""
        if self._queue.qsize() >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                _LOG.error("the audit log is not keeping up: %d entries dropped", self.dropped)
            return
        self._queue.put(entry)

    def write(self, entry: AuditEntry) -> None:
        """Commit an entry now (blocking): for a request that changed something."""
        write_entries(self.store, [entry])

    def close(self) -> None:
        """Commit what is queued and stop the thread."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[AuditEntry] = []
            try:
                first = self._queue.get(timeout=_FLUSH_SECONDS)
            except queue.Empty:
                continue
            if first is not None:
                # Let a busy server's entries gather: one commit of hundreds, not hundreds.
                self._stopping.wait(_GATHER_SECONDS)
            for item in self._drain(first):
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
            self._commit(batch)

    def _drain(self, first: AuditEntry | None) -> list[AuditEntry | None]:
        items = [first]
        while len(items) < _BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _commit(self, batch: list[AuditEntry]) -> None:
        """Commit a batch, retrying a few times a second apart (a database restarting)."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                write_entries(self.store, batch)
                return
            except Exception:  # the server goes on; the failure is logged, not the entries
                _LOG.exception("could not write %d audit entries (try %d)", len(batch), attempt)
                if attempt < _ATTEMPTS:
                    time.sleep(1.0)
        self.dropped += len(batch)
