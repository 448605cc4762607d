"""Matching hashes against banks: an in-memory ``HashIndex`` that follows the change log.

A ``BankMatcher`` loads the active entries of the banks it watches once, then applies the
change log (``bank_changes``) incrementally: an import, a withdrawal, a bank disabled or its
threshold changed in another process takes effect here at the next refresh, at most
``refresh_interval`` seconds later, without reloading anything. A server passes
``refresh_interval=None`` and calls ``refresh`` from a thread of its own, so that no match
waits for the database. Matching and refreshing are safe from several threads: a search
reads the index's current snapshot (see ``HashIndex``) and takes no lock.

``BankMatcher.resume`` starts from an index saved earlier instead of reading every entry, and
replays the log from the position it was saved at (see ``rempart.matching.banks.snapshot``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from rempart.errors import UnknownBankError
from rempart.hashing.files import FileHashes
from rempart.hashing.hash256 import pack
from rempart.hashing.pdq import DIHEDRAL_NAMES, MIN_QUALITY
from rempart.matching.banks.bank import last_change
from rempart.matching.formats import BankCategory, stored_category
from rempart.matching.index import HashIndex, Matches, SavedState, Words
from rempart.store import Store
from rempart.store.schema import bank_changes, bank_entries, banks

__all__ = ["BankMatch", "BankMatcher", "ImageMatch", "match_images"]

# An index id is the bank id above the entry id, so a match says its bank without a lookup.
_ENTRY_BITS: Final = 40
_ENTRY_MASK: Final = (1 << _ENTRY_BITS) - 1
_LOAD_BATCH: Final = 100_000


@dataclass(frozen=True, slots=True)
class BankMatch:
    """One bank entry within its bank's threshold of a query, with the bank's category."""

    bank: str
    entry_id: int
    hash: str
    distance: int
    variant: str | None = None
    category: BankCategory = BankCategory.NCII
    review: bool = False
    """The bank is a review bank (``Bank.review``): the match sends to review, not to a block."""

    def to_json(self, *, variant: bool = True) -> dict[str, Any]:
        """``{"bank", "category", "entry_id", "hash", "distance", "variant"}``; without
        ``variant`` when the query was a single hash, not an image's rotations and flips;
        with ``"review": true`` for a match in a review bank."""
        record: dict[str, Any] = {
            "bank": self.bank,
            "category": self.category.value,
            "entry_id": self.entry_id,
            "hash": self.hash,
            "distance": self.distance,
            "variant": self.variant,
        }
        if not variant:
            del record["variant"]
        if self.review:
            record["review"] = True
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> BankMatch:
        """The match ``to_json`` wrote (a signal's evidence); ``KeyError`` or ``ValueError``
        for a record it did not write."""
        return cls(
            bank=str(record["bank"]),
            entry_id=int(record["entry_id"]),
            hash=str(record["hash"]),
            distance=int(record["distance"]),
            variant=record.get("variant"),
            category=stored_category(str(record.get("category", BankCategory.NCII.value))),
            review=record.get("review") is True,
        )


@dataclass(frozen=True, slots=True)
class _BankState:
    name: str
    threshold: int
    enabled: bool
    category: BankCategory
    review: bool


class BankMatcher:
    """Matches PDQ hashes against the active entries of some or all banks."""

    def __init__(
        self,
        store: Store,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = 1.0,
    ) -> None:
        self._setup(store, banks, refresh_interval)
        self._load()

    def _setup(
        self, store: Store, banks: Sequence[str] | None, refresh_interval: float | None
    ) -> None:
        self.store = store
        self.refresh_interval = refresh_interval
        self._names = None if banks is None else frozenset(banks)
        self._index = HashIndex()
        self._banks: dict[int, _BankState] = {}
        self._seq = 0
        self._refreshed = 0.0
        self._lock = threading.Lock()  # one refresh at a time; searches take no lock

    @classmethod
    def resume(
        cls,
        store: Store,
        index: HashIndex,
        seq: int,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = 1.0,
    ) -> BankMatcher:
        """A matcher from an index that holds the watched banks' active entries as of change
        ``seq`` (a snapshot, see ``rempart.matching.banks.snapshot``): the banks' states are
        read now, and the changes logged after ``seq`` are replayed before it returns."""
        matcher = cls.__new__(cls)
        matcher._setup(store, banks, refresh_interval)
        with store.read() as connection:
            matcher._load_banks(connection)
        matcher._index, matcher._seq = index, seq
        matcher.refresh()
        return matcher

    @property
    def seq(self) -> int:
        """The last change-log entry applied."""
        return self._seq

    def capture(self) -> tuple[int, SavedState]:
        """The last change-log entry applied and the index as it holds exactly the changes up
        to it (no refresh runs between the two), for a snapshot to write."""
        with self._lock:
            return self._seq, self._index.capture()

    @property
    def index(self) -> HashIndex:
        """The index searched: the watched banks' active entries, of every state."""
        return self._index

    @property
    def watched(self) -> tuple[str, ...] | None:
        """The names of the banks watched, sorted; None when every bank is."""
        return None if self._names is None else tuple(sorted(self._names))

    def __len__(self) -> int:
        return len(self._index)

    def _load(self) -> None:
        with self.store.read() as connection:
            # Read the log position first: a change made while loading is applied again by
            # the next refresh, and applying a change twice is harmless.
            self._seq = last_change(connection)
            self._load_banks(connection)
            watched = list(self._banks)
            query = (
                select(bank_entries.c.id, bank_entries.c.bank_id, bank_entries.c.hash)
                .where(bank_entries.c.withdrawn_at.is_(None), bank_entries.c.bank_id.in_(watched))
                .order_by(bank_entries.c.bank_id, bank_entries.c.id)
            )
            result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
            hashes: list[Words] = []
            ids: list[npt.NDArray[np.int64]] = []
            for rows in result.partitions():
                hashes.append(pack([row.hash for row in rows]))
                ids.append(np.array([_index_id(r.bank_id, r.id) for r in rows], dtype=np.int64))
        # One build: adding batch by batch would merge the tables once per batch.
        if hashes:
            self._index = HashIndex.build(np.concatenate(hashes), np.concatenate(ids))
        self._refreshed = time.monotonic()

    def _load_banks(self, connection: Connection) -> None:
        rows = connection.execute(select(banks)).mappings().all()
        if self._names is not None:
            missing = self._names - {row["name"] for row in rows}
            if missing:
                raise UnknownBankError(f"no bank named {', '.join(sorted(missing))}")
        self._banks = {
            row["id"]: _BankState(
                row["name"],
                row["threshold"],
                bool(row["enabled"]),
                stored_category(row["category"]),
                bool(row["review"]),
            )
            for row in rows
            if self._names is None or row["name"] in self._names
        }

    def refresh(self) -> int:
        """Apply the changes logged since the last refresh; returns how many."""
        with self._lock, self.store.read() as connection:
            query = (
                select(
                    bank_changes.c.seq,
                    bank_changes.c.op,
                    bank_changes.c.bank_id,
                    bank_changes.c.entry_id,
                    bank_entries.c.hash,
                    bank_entries.c.withdrawn_at,
                )
                .outerjoin(bank_entries, bank_entries.c.id == bank_changes.c.entry_id)
                .where(bank_changes.c.seq > self._seq)
                .order_by(bank_changes.c.seq)
            )
            applied = 0
            result = connection.execution_options(yield_per=_LOAD_BATCH).execute(query)
            for rows in result.partitions():
                if any(row.op == "bank" for row in rows):
                    self._load_banks(connection)
                self._apply(rows)
                self._seq = rows[-1].seq
                applied += len(rows)
        self._refreshed = time.monotonic()
        return applied

    def _apply(self, rows: Sequence[Any]) -> None:
        """Apply consecutive log entries: runs of adds in one batch, each removal at once."""
        adds: list[Any] = []
        for row in [*rows, None]:
            # An entry withdrawn since is not added (an import logs the adds of its entries
            # after the withdrawals it makes, which may withdraw some of them); withdrawn is
            # final: the entry is never active again.
            if (
                row is not None
                and row.op == "add"
                and row.bank_id in self._banks
                and row.withdrawn_at is None
            ):
                adds.append(row)
                continue
            if adds:
                ids = np.array([_index_id(a.bank_id, a.entry_id) for a in adds], dtype=np.int64)
                new = ~self._index.contains(ids)
                hashes = pack([a.hash for a in adds])
                self._index.add(hashes[new], ids[new])
                adds = []
            if row is not None and row.op == "withdraw":
                self._index.remove(np.array([_index_id(row.bank_id, row.entry_id)]))

    def _maybe_refresh(self) -> None:
        interval = self.refresh_interval
        if interval is not None and time.monotonic() - self._refreshed >= interval:
            self.refresh()

    def match(self, hashes: Words) -> list[list[BankMatch]]:
        """For each packed hash, its matches in enabled banks, nearest first."""
        return self._search(self._index.search, hashes)

    def match_dihedral(self, variants: Words) -> list[list[BankMatch]]:
        """Like ``match`` for ``(q, 8, 4)`` rotations and flips; each entry once per query."""
        return self._search(self._index.search_dihedral, variants)

    def _search(
        self, search: Callable[[Words, int], Matches], queries: Words
    ) -> list[list[BankMatch]]:
        self._maybe_refresh()
        threshold = self._max_threshold()
        if threshold is None:
            return [[] for _ in range(len(queries))]
        return self._collect(search(queries, threshold), len(queries))

    def _max_threshold(self) -> int | None:
        thresholds = [bank.threshold for bank in self._banks.values() if bank.enabled]
        return max(thresholds) if thresholds else None

    def _collect(self, found: Matches, queries: int) -> list[list[BankMatch]]:
        results: list[list[BankMatch]] = [[] for _ in range(queries)]
        bank_ids: npt.NDArray[np.int64] = found.ids >> _ENTRY_BITS
        for i in range(len(found)):
            bank = self._banks.get(int(bank_ids[i]))
            distance = int(found.distances[i])
            if bank is None or not bank.enabled or distance > bank.threshold:
                continue
            variant = None if found.variant is None else DIHEDRAL_NAMES[int(found.variant[i])]
            results[int(found.query[i])].append(
                BankMatch(
                    bank=bank.name,
                    entry_id=int(found.ids[i]) & _ENTRY_MASK,
                    hash=found.hashes[i].astype(">u8").tobytes().hex(),
                    distance=distance,
                    variant=variant,
                    category=bank.category,
                    review=bank.review,
                )
            )
        return results


def _index_id(bank_id: int, entry_id: int) -> int:
    return (bank_id << _ENTRY_BITS) | entry_id


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """An image's hashes and the bank entries they match. A hash of quality under
    ``MIN_QUALITY`` is too featureless to act on: it is not looked up (``skipped``)."""

    hashes: FileHashes
    matches: list[BankMatch]
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "sha256", "pdq", "quality", "matches"}`` (each match with its ``variant``
        when the rotations and flips were matched), with ``"skipped": "low_quality"``."""
        dihedral = self.hashes.dihedral is not None
        record: dict[str, Any] = {
            "path": self.hashes.path,
            "sha256": self.hashes.sha256,
            "pdq": self.hashes.pdq,
            "quality": self.hashes.quality,
            "matches": [match.to_json(variant=dihedral) for match in self.matches],
        }
        if self.skipped:
            record["skipped"] = self.skipped
        return record


def match_images(matcher: BankMatcher, images: Sequence[FileHashes]) -> list[ImageMatch]:
    """Each image's matches, in order, its rotations and flips too where they were hashed; the
    images of matchable quality looked up in one search of each kind."""
    found: list[list[BankMatch]] = [[] for _ in images]
    wanted = [i for i, hashes in enumerate(images) if hashes.quality >= MIN_QUALITY]
    flipped = [i for i in wanted if images[i].dihedral is not None]
    single = [i for i in wanted if images[i].dihedral is None]
    if flipped:
        variants = pack([h for i in flipped for h in images[i].dihedral or ()])
        for i, matches in zip(
            flipped, matcher.match_dihedral(variants.reshape(-1, 8, 4)), strict=True
        ):
            found[i] = matches
    if single:
        for i, matches in zip(
            single, matcher.match(pack([images[i].pdq for i in single])), strict=True
        ):
            found[i] = matches
    return [
        ImageMatch(hashes, matches, None if hashes.quality >= MIN_QUALITY else "low_quality")
        for hashes, matches in zip(images, found, strict=True)
    ]
