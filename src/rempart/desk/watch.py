"""``Watch``: notice when a hash a victim reported is matched somewhere, and say so on the case.

Every match endpoint (``/v1/match``, ``/v1/match/image``, ``/v1/scan``, ``/v1/gate``) and
``rempart match`` and ``rempart scan`` hand their matches to ``observe``. It keeps those in the
banks the desk owns (source ``"desk"``) and counts them in memory, per entry and per API key:
one set lookup a match and a short lock, no I/O, so that watching ten thousand items costs a
match request nothing it can measure. ``flush`` (the follower thread of a server, each second;
a command at its end) writes them in one transaction, as the audit log is written:

- one ``desk_sightings`` row per entry and key: how many times since the last row, and when;
- on each item that claims the entry: ``sightings`` and ``last_sighted_at``, and a move,
  with an event by the system: a watching item becomes sighted, and a closed or removed one
  reappeared (the copy taken down is back);
- a closed case whose item reappeared is reopened (in review), so that it is in the queue again.

``refresh`` follows the bank change log, as ``BankMatcher`` does, applying only the changes to
desk banks: a report, a withdrawal or a new desk bank is watched within a second.

Don't:

- look anything up in ``observe``: it runs inside match requests;
- write an event per sighting: a copy matched a thousand times a second would flood the case's
  history; the counts are on the item, the details in ``desk_sightings``;
- move or count a withdrawn item: the victim took the case back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from sqlalchemy import Connection, bindparam, insert, select, update

from rempart.desk.clock import Clock, SystemClock
from rempart.desk.model import DESK_SOURCE, SYSTEM, event_row
from rempart.desk.states import CaseState, ItemState
from rempart.matching.banks import BankMatch, last_change
from rempart.store import Store, batches
from rempart.store.schema import (
    bank_changes,
    bank_entries,
    banks,
    desk_cases,
    desk_events,
    desk_item_entries,
    desk_items,
    desk_sightings,
)

__all__ = ["MAX_PENDING", "Watch"]

MAX_PENDING: Final = 100_000
"""The most (entry, key) pairs counted between two flushes: while the database cannot take
them, a new pair beyond this is dropped (and counted in the log) rather than filling memory."""

MOVES: Final[Mapping[str, ItemState]] = MappingProxyType(
    {
        ItemState.WATCHING: ItemState.SIGHTED,
        ItemState.CLOSED: ItemState.REAPPEARED,
        ItemState.REMOVED: ItemState.REAPPEARED,
    }
)
"""What a sighting moves an item to, by its state; it leaves any other state as it is."""

SIGHTING: Final = "sighting"
"""The kind of the event of an item a sighting moved."""
REOPENED: Final = "reopened"
"""The kind of the event of a closed case reopened because one of its items reappeared."""
_LOG = logging.getLogger(__name__)


Pending: TypeAlias = dict[tuple[int, str | None], "_Count"]
"""Sightings counted, by entry id and key id."""


@dataclass(slots=True)
class _Count:
    """Sightings of one entry by one key since the last flush, and the last one's time."""

    count: int
    at: datetime


class Watch:
    """The entries of the desk's banks, and the sightings of them not yet written."""

    def __init__(self, store: Store, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.dropped = 0
        self._entries: frozenset[int] = frozenset()
        self._seq = 0
        self._pending: Pending = {}
        self._lock = threading.Lock()  # around ``_pending`` only: held for a dict update
        self._refreshing = threading.Lock()  # one refresh at a time
        self._load()

    def __len__(self) -> int:
        """How many entries are watched."""
        return len(self._entries)

    def _load(self) -> None:
        with self.store.read() as connection:
            # The log position first: a change made while loading is applied again, harmlessly.
            self._seq = last_change(connection)
            ids = connection.execute(
                select(bank_entries.c.id)
                .join(banks, banks.c.id == bank_entries.c.bank_id)
                .where(banks.c.source == DESK_SOURCE, bank_entries.c.withdrawn_at.is_(None))
            ).scalars()
            self._entries = frozenset(ids)

    def refresh(self) -> int:
        """Apply the changes to desk banks logged since the last refresh; returns how many.
        Costs one indexed read when nothing changed."""
        with self._refreshing, self.store.read() as connection:
            last = last_change(connection)
            if last == self._seq:
                return 0
            rows = connection.execute(
                select(bank_changes.c.op, bank_changes.c.entry_id)
                .join(banks, banks.c.id == bank_changes.c.bank_id)
                .where(
                    bank_changes.c.seq > self._seq,
                    bank_changes.c.seq <= last,
                    bank_changes.c.entry_id.is_not(None),
                    banks.c.source == DESK_SOURCE,
                )
                .order_by(bank_changes.c.seq)
            ).all()
            if rows:
                entries = set(self._entries)
                for row in rows:
                    if row.op == "add":
                        entries.add(row.entry_id)
                    elif row.op == "withdraw":
                        entries.discard(row.entry_id)
                # One reference swapped: ``observe`` reads either set whole, without a lock.
                self._entries = frozenset(entries)
            self._seq = last
        return len(rows)

    def observe(self, matches: Iterable[BankMatch], *, key_id: str | None) -> int:
        """Count the matches of desk entries, made for ``key_id`` (None: a command run on
        this machine); returns how many there were. No I/O; safe from any thread."""
        entries = self._entries
        hits = [match.entry_id for match in matches if match.entry_id in entries]
        if not hits:
            return 0
        at = self.clock.now()
        with self._lock:
            for entry_id in hits:
                counted = self._pending.get((entry_id, key_id))
                if counted is not None:
                    counted.count += 1
                    counted.at = at
                elif len(self._pending) < MAX_PENDING:
                    self._pending[(entry_id, key_id)] = _Count(1, at)
                else:
                    self._drop(1)
        return len(hits)

    def flush(self) -> int:
        """Write the sightings counted since the last flush and apply them to the items that
        claim their entries, in one transaction; returns how many sightings. When the write
        fails, they are counted again for the next flush, and the error raised."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self.store.write() as connection:
                _write(connection, pending, self.clock.now())
        except Exception:
            self._restore(pending)
            raise
        return sum(counted.count for counted in pending.values())

    def close(self) -> None:
        """Write what is counted."""
        self.flush()

    def _restore(self, pending: Pending) -> None:
        with self._lock:
            for pair, counted in pending.items():
                current = self._pending.get(pair)
                if current is not None:
                    current.count += counted.count
                elif len(self._pending) < MAX_PENDING:
                    self._pending[pair] = counted
                else:
                    self._drop(counted.count)

    def _drop(self, count: int) -> None:
        """Lose ``count`` sightings (called with the lock held), saying so now and then."""
        before, self.dropped = self.dropped, self.dropped + count
        if before // 1000 != self.dropped // 1000 or before == 0:
            _LOG.error("the desk's watch is not keeping up: %d sightings dropped", self.dropped)


def _write(connection: Connection, pending: Pending, now: datetime) -> None:
    """The sightings' rows, then each claiming item's counts and move, and the case of an
    item that reappeared reopened, with their events."""
    connection.execute(
        insert(desk_sightings),
        [
            {"entry_id": entry_id, "key_id": key_id, "count": counted.count, "at": counted.at}
            for (entry_id, key_id), counted in pending.items()
        ],
    )
    by_entry: dict[int, _Count] = {}
    for (entry_id, _), counted in pending.items():
        _add(by_entry, entry_id, counted, total=True)
    claims = _claims(connection, sorted(by_entry))
    # An item whose hash sits in two of the desk's banks (reported, then confirmed) is seen
    # through both at once: it counts the larger, not the sum.
    seen: dict[int, _Count] = {}
    for claim in claims:
        _add(seen, claim.item_id, by_entry[claim.entry_id], total=False)
    items = {claim.item_id: claim for claim in claims}
    if items:
        _sight(connection, items, seen, now)


def _add(counts: dict[int, _Count], key: int, counted: _Count, *, total: bool) -> None:
    """Fold ``counted`` into ``counts[key]``: its sum (``total``) or its larger, and the later
    time."""
    found = counts.setdefault(key, _Count(0, counted.at))
    found.count = found.count + counted.count if total else max(found.count, counted.count)
    found.at = max(found.at, counted.at)


def _sight(
    connection: Connection, items: Mapping[int, _Claim], seen: Mapping[int, _Count], now: datetime
) -> None:
    """Count the sightings on the items, move them, and reopen a closed case whose item
    reappeared: the victim's copy is back, so someone must act again."""
    to = {item_id: str(MOVES.get(claim.state, claim.state)) for item_id, claim in items.items()}
    connection.execute(
        update(desk_items)
        .where(desk_items.c.id == bindparam("b_id"))
        .values(
            sightings=desk_items.c.sightings + bindparam("b_count"),
            last_sighted_at=bindparam("b_at"),
            state=bindparam("b_state"),
            updated_at=now,
        ),
        [
            {"b_id": item_id, "b_count": counted.count, "b_at": counted.at, "b_state": to[item_id]}
            for item_id, counted in seen.items()
        ],
    )
    moved = [items[item_id] for item_id in seen if to[item_id] != items[item_id].state]
    reopened = {
        claim.case_id: claim
        for claim in moved
        if to[claim.item_id] == ItemState.REAPPEARED and claim.case_state == CaseState.CLOSED
    }
    if reopened:
        connection.execute(
            update(desk_cases)
            .where(desk_cases.c.id.in_(reopened), desk_cases.c.state == CaseState.CLOSED.value)
            .values(state=CaseState.IN_REVIEW.value, updated_at=now, closed_at=None)
        )
    events = [
        _event(
            claim.case_id,
            claim.item_id,
            (claim.state, to[claim.item_id]),
            now,
            detail={"sightings": seen[claim.item_id].count},
        )
        for claim in moved
    ]
    events += [
        _event(case_id, claim.item_id, (CaseState.CLOSED, CaseState.IN_REVIEW), now, kind=REOPENED)
        for case_id, claim in reopened.items()
    ]
    if events:
        connection.execute(insert(desk_events), events)


def _event(
    case_id: int,
    item_id: int,
    move: tuple[str, str],
    at: datetime,
    *,
    kind: str = SIGHTING,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event row by the system: ``move`` is from which state to which."""
    return event_row(
        case_id, SYSTEM, kind, at, item_id=item_id, from_state=move[0], to_state=move[1],
        detail=detail,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Claim:
    """An item (not withdrawn) that claims an entry, in its state, and its case's state."""

    item_id: int
    entry_id: int
    state: str
    case_id: int
    case_state: str


def _claims(connection: Connection, entry_ids: Sequence[int]) -> list[_Claim]:
    found: list[_Claim] = []
    for part in batches(entry_ids):
        rows = connection.execute(
            select(
                desk_items.c.id,
                desk_item_entries.c.entry_id,
                desk_items.c.state,
                desk_items.c.case_id,
                desk_cases.c.state.label("case_state"),
            )
            .join(desk_items, desk_items.c.id == desk_item_entries.c.item_id)
            .join(desk_cases, desk_cases.c.id == desk_items.c.case_id)
            .where(
                desk_item_entries.c.entry_id.in_(part),
                desk_items.c.state != ItemState.WITHDRAWN.value,
            )
            .order_by(desk_items.c.id)
        ).all()
        found += [_Claim(*row) for row in rows]
    return found
