"""Exact Hamming-radius search over 256-bit hashes: multi-index hashing.

Multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with Multi-Index
Hashing", CVPR 2012) cuts each hash into ``m`` disjoint chunks and keeps, for each chunk, a table
from chunk value to the hashes holding it. Write the threshold ``r = s*m + a`` with
``0 <= a < m``: any hash within ``r`` of a query is within ``s`` of it on one of ``a + 1`` chosen
chunks, or within ``s - 1`` on one of the others (otherwise the distance would be at least
``(a+1)(s+1) + (m-a-1)s = r + 1``). So probing every chunk value within those radii finds every
match; each candidate is then checked on all 256 bits. The search is exact at every threshold.

Layout, chosen to keep a 10-million-hash index under 1 GiB:

- the hashes themselves, ``(n, 4)`` uint64 (32 bytes each) with their int64 ids;
- per chunk, one table as a CSR array: ``offsets[value]`` to ``offsets[value + 1]`` delimit the
  rows whose chunk equals ``value`` in ``postings`` (uint32 rows). Chunks are about ``log2(n)``
  bits wide (Norouzi et al.'s advice), from 16 to 20, so a bucket holds a few hashes;
- a small append-only buffer of recent additions, searched by brute force and merged into the
  tables when full, so that adding a hash does not rebuild anything. The merge runs on a
  thread of its own while the full buffer, frozen, is still searched and additions go on into
  a fresh one (double buffering): an addition never waits for a merge;
- a liveness mask, so that removing a hash takes effect at once.

Searches read an immutable snapshot and take no lock; writers serialise on one lock, held only
for short steps (never for a merge).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import logging
import math
import os
import tempfile
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

from rempart.errors import IndexFileError

__all__ = ["BITS", "HashIndex", "IndexFileError", "Layout", "Matches", "read_meta"]

BITS: Final = 256
WORDS: Final = BITS // 64
BUFFER_CAPACITY: Final = 4096
MIN_CHUNK_BITS: Final = 16
MAX_CHUNK_BITS: Final = 20
# Checking one candidate (a random row fetch) costs about as much as scanning this many rows in
# order; beyond that point a brute-force scan is faster, and exact too.
_CANDIDATE_COST: Final = 16

_LOG = logging.getLogger(__name__)
_MAGIC: Final = b"RMPTIDX1"
_FORMAT_VERSION: Final = 2
_ALIGN: Final = 64

Words = npt.NDArray[np.uint64]
Ids = npt.NDArray[np.int64]
Rows = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Layout:
    """How a hash is cut into chunks: the width in bits of each, in order from the top bit."""

    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        if sum(self.widths) != BITS or not all(0 < w <= 32 for w in self.widths):
            raise ValueError(f"chunk widths must be 1 to 32 bits and sum to {BITS}")

    @classmethod
    def for_size(cls, count: int) -> Layout:
        """The layout for ``count`` hashes: chunks of about ``log2(count)`` bits."""
        bits = min(max(math.ceil(math.log2(max(count, 2))), MIN_CHUNK_BITS), MAX_CHUNK_BITS)
        chunks = math.ceil(BITS / bits)
        narrow, extra = divmod(BITS, chunks)
        return cls((narrow + 1,) * extra + (narrow,) * (chunks - extra))

    def chunks(self, hashes: Words, index: int | None = None) -> npt.NDArray[np.uint32]:
        """The value of chunk ``index`` of each packed hash, or of every chunk as ``(n, m)``."""
        word, following, offset, width = _chunk_params(self.widths)
        pick: int | slice = slice(None) if index is None else index
        first, second = hashes[:, word[pick]], hashes[:, following[pick]]
        # A chunk may run on into the next word; shifts of 64 or more give 0 in numpy.
        value = ((first << offset[pick]) >> (np.uint64(64) - width[pick])) | (
            second >> (np.uint64(128) - offset[pick] - width[pick])
        )
        return value.astype(np.uint32)

    def radii(self, threshold: int) -> tuple[int, ...]:
        """Per chunk, the radius to probe so that a search within ``threshold`` is exact."""
        per_chunk, remainder = divmod(threshold, len(self.widths))
        # The a + 1 chunks probed at the larger radius are the narrowest: fewer probes.
        by_width = sorted(range(len(self.widths)), key=lambda i: self.widths[i])
        wide = set(by_width[: remainder + 1])
        return tuple(per_chunk if i in wide else per_chunk - 1 for i in range(len(self.widths)))


@functools.lru_cache(maxsize=16)
def _chunk_params(widths: tuple[int, ...]) -> tuple[Words, Words, Words, Words]:
    """Per chunk: its word, the next word, its bit offset in the word, and its width."""
    starts = np.cumsum((0, *widths[:-1]))
    word = starts // 64
    return (
        word.astype(np.intp),
        np.minimum(word + 1, WORDS - 1).astype(np.intp),
        (starts % 64).astype(np.uint64),
        np.asarray(widths, dtype=np.uint64),
    )


@dataclass(frozen=True, slots=True)
class _ProbePlan:
    """Every table slot one query probes, as arrays: which chunk, which XOR mask, where the
    chunk's table starts."""

    chunk: npt.NDArray[np.intp]
    mask: npt.NDArray[np.uint32]
    table_start: npt.NDArray[np.int64]


@functools.lru_cache(maxsize=64)
def _probe_plan(layout: Layout, threshold: int, count: int) -> _ProbePlan | None:
    """The probes of an exact search, or None where scanning all ``count`` hashes is cheaper."""
    probed = [
        (i, w, r)
        for i, (w, r) in enumerate(zip(layout.widths, layout.radii(threshold), strict=False))
    ]
    probed = [(i, w, r) for i, w, r in probed if r >= 0]
    probes = sum(_probe_count(w, r) for _, w, r in probed)
    expected = sum(_probe_count(w, r) * count / (1 << w) for _, w, r in probed)
    if probes + _CANDIDATE_COST * expected >= count:
        return None
    table_starts = _table_starts(layout)
    masks = [_flip_masks(w, r) for _, w, r in probed]
    return _ProbePlan(
        chunk=np.repeat([i for i, _, _ in probed], [len(m) for m in masks]).astype(np.intp),
        mask=np.concatenate(masks),
        table_start=np.repeat([table_starts[i] for i, _, _ in probed], [len(m) for m in masks]),
    )


@functools.lru_cache(maxsize=64)
def _flip_masks(width: int, radius: int) -> npt.NDArray[np.uint32]:
    """Every ``width``-bit value with at most ``radius`` bits set: the XOR masks to probe."""
    values = np.arange(1 << width, dtype=np.uint32)
    masks: npt.NDArray[np.uint32] = values[np.bitwise_count(values) <= radius]
    return masks


def _probe_count(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1))


@dataclass(frozen=True, slots=True)
class Matches:
    """Search results as columns, one row per (query, stored hash) pair within the threshold.

    Sorted by query, then distance, then id. ``variant`` is set by dihedral searches: which of
    the query's eight rotations and flips matched (its index in ``DIHEDRAL_NAMES``).
    """

    query: npt.NDArray[np.int64]
    ids: Ids
    distances: npt.NDArray[np.int64]
    hashes: Words
    variant: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def for_query(self, query: int) -> Matches:
        """The matches of one query."""
        lo, hi = np.searchsorted(self.query, [query, query + 1])
        part = slice(int(lo), int(hi))
        variant = None if self.variant is None else self.variant[part]
        return Matches(
            self.query[part], self.ids[part], self.distances[part], self.hashes[part], variant
        )


@dataclass(frozen=True, slots=True)
class _Tables:
    """The merged part of an index: hashes, ids, liveness and one CSR table per chunk."""

    layout: Layout
    hashes: Words
    ids: Ids
    alive: npt.NDArray[np.bool_]
    offsets: npt.NDArray[np.uint32]
    postings: npt.NDArray[np.uint32]
    table_starts: tuple[int, ...]

    @classmethod
    def build(cls, hashes: Words, ids: Ids, alive: npt.NDArray[np.bool_]) -> _Tables:
        layout = Layout.for_size(len(hashes))
        table_starts = _table_starts(layout)
        count = len(hashes)
        offsets = np.empty(table_starts[-1], dtype=np.uint32)
        postings = np.empty(count * len(layout.widths), dtype=np.uint32)
        rows = np.arange(count, dtype=np.uint64)
        for index, width in enumerate(layout.widths):
            keys = layout.chunks(hashes, index)
            # Rows in a bucket may come in any order, so one sort of key<<32|row gives both the
            # bucket order and the rows, faster than a stable argsort.
            packed = np.sort((keys.astype(np.uint64) << np.uint64(32)) | rows)
            postings[index * count : (index + 1) * count] = packed.astype(np.uint32)
            table = offsets[table_starts[index] : table_starts[index + 1]]
            table[0] = 0
            np.cumsum(np.bincount(keys, minlength=1 << width), out=table[1:])
        return cls(layout, hashes, ids, alive, offsets, postings, table_starts)

    def merged(self, hashes: Words, ids: Ids) -> _Tables:
        """These tables with more hashes added: an O(n) merge, not a rebuild."""
        old, new = len(self.hashes), len(hashes)
        if not new:
            return self
        all_hashes = np.concatenate([self.hashes, hashes])
        all_ids = np.concatenate([self.ids, ids])
        alive = np.concatenate([self.alive, np.ones(new, dtype=np.bool_)])
        if Layout.for_size(old + new) != self.layout:
            return _Tables.build(all_hashes, all_ids, alive)
        rows = np.arange(old, old + new, dtype=np.uint32)
        positions, values = [], []
        offsets = self.offsets.copy()
        for index, width in enumerate(self.layout.widths):
            keys = self.layout.chunks(hashes, index)
            order = np.argsort(keys, kind="stable")
            table = slice(self.table_starts[index], self.table_starts[index + 1])
            # Each new row goes at the end of its bucket in the old postings.
            bucket_ends = self.offsets[table][keys[order].astype(np.int64) + 1]
            positions.append(bucket_ends.astype(np.int64) + index * old)
            values.append(rows[order])
            added_before = np.zeros((1 << width) + 1, dtype=np.uint32)
            np.cumsum(np.bincount(keys, minlength=1 << width), out=added_before[1:])
            offsets[table] += added_before
        postings = _inserted(self.postings, np.concatenate(positions), np.concatenate(values))
        return _Tables(
            self.layout, all_hashes, all_ids, alive, offsets, postings, self.table_starts
        )

    def candidates(self, queries: Words, threshold: int) -> tuple[Rows, Rows] | None:
        """(query, row) pairs that may be within ``threshold``; None when a scan is cheaper."""
        count = len(self.hashes)
        plan = _probe_plan(self.layout, threshold, count)
        if plan is None:
            return None
        keys = self.layout.chunks(queries)[:, plan.chunk] ^ plan.mask
        slots = (keys + plan.table_start).ravel()
        base = np.tile(plan.chunk * count, len(queries))
        starts = np.take(self.offsets, slots).astype(np.int64) + base
        ends = np.take(self.offsets, slots + 1).astype(np.int64) + base
        owners = np.repeat(np.arange(len(queries), dtype=np.int64), len(plan.chunk))
        return _expand_ranges(starts, ends, owners, self.postings)


def _inserted(
    array: npt.NDArray[np.uint32], positions: Rows, values: npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint32]:
    """``np.insert(array, positions, values)``, a block of ``_INSERT_BLOCK`` rows at a time,
    each by a few calls that release the GIL for milliseconds. ``np.insert`` holds it for much
    of its pass over the whole array (at 10M hashes, 130M postings: it stalled every other
    thread, an add or a search, by up to tens of milliseconds), and one short copy per gap
    between positions gives the GIL back for microseconds only, too short for a waiting
    thread to take it."""
    if len(positions) > 1 and bool(np.any(positions[1:] < positions[:-1])):
        order = np.argsort(positions, kind="stable")
        positions, values = positions[order], values[order]
    out = np.empty(len(array) + len(values), dtype=array.dtype)
    out[positions + np.arange(len(positions))] = values
    for start in range(0, len(array), _INSERT_BLOCK):
        end = min(start + _INSERT_BLOCK, len(array))
        # Each old row moves up by the number of values inserted at or before it: those
        # before the block, and those within it (searchsorted releases the GIL; building the
        # same counts with add.at and cumsum measured stalls of 150 ms and more).
        first, last = (int(n) for n in np.searchsorted(positions, [start, end]))
        rows = np.arange(start, end, dtype=np.int64)
        rows += np.searchsorted(positions[first:last], rows, side="right")
        rows += first
        out[rows] = array[start:end]
    return out


_INSERT_BLOCK: Final = 1 << 21  # rows: 16 MiB of positions per block


def _table_starts(layout: Layout) -> tuple[int, ...]:
    sizes = [(1 << width) + 1 for width in layout.widths]
    return tuple(int(s) for s in np.cumsum([0, *sizes]))


def _expand_ranges(
    starts: Rows, ends: Rows, owners: Rows, postings: npt.NDArray[np.uint32]
) -> tuple[Rows, Rows]:
    """The postings in each ``[start, end)`` range, each with the query that asked for it."""
    lengths = ends - starts
    hit = lengths > 0
    starts, lengths, owners = starts[hit], lengths[hit], owners[hit]
    total = int(lengths.sum())
    first = np.cumsum(lengths) - lengths
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - first, lengths)
    return np.repeat(owners, lengths), np.take(postings, positions).astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Segment:
    """Hashes searched by brute force: the buffer of recent additions, or a full buffer while
    it is merged into the tables. ``alive`` is shared with the index: removals flip it."""

    hashes: Words
    ids: Ids
    alive: npt.NDArray[np.bool_]

    def live(self) -> tuple[Words, Ids]:
        keep = self.alive.copy()
        return self.hashes[keep], self.ids[keep]


def _empty_segment() -> _Segment:
    return _Segment(
        np.empty((0, WORDS), dtype=np.uint64), np.empty(0, np.int64), np.empty(0, np.bool_)
    )


@dataclass(frozen=True, slots=True)
class _IdLookup:
    """The tables' ids sorted, to find an id's rows without scanning: ``order`` maps sorted
    positions back to rows (None when the ids are already in order)."""

    sorted_ids: Ids
    order: Rows | None

    @classmethod
    def of(cls, ids: Ids) -> _IdLookup:
        if len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1])):
            return cls(ids, None)
        order = np.argsort(ids, kind="stable")
        return cls(ids[order], order)

    def rows(self, ids: Ids) -> Rows:
        """Every row holding one of ``ids``, removed or not: an id removed then added again
        has a dead row and a live one once both are merged."""
        lo = np.searchsorted(self.sorted_ids, ids, side="left")
        hi = np.searchsorted(self.sorted_ids, ids, side="right")
        lengths = hi - lo
        positions = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths) + np.arange(
            int(lengths.sum())
        )
        return (positions if self.order is None else self.order[positions]).astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a search reads: the tables, the full buffer being merged into them (empty when no
    merge runs) and the filled part of the buffer; never mutated except for liveness flags,
    which only ever go from alive to removed. A merge publishes its tables and drops the
    frozen buffer in one snapshot, so a search sees each hash exactly once."""

    tables: _Tables
    frozen: _Segment
    buffer: _Segment


class HashIndex:
    """An exact, incrementally updatable index of 256-bit hashes, each with a unique int64 id.

    Hashes are packed ``(n, 4)`` uint64 arrays (see ``rempart.hashing.pack``). ``search`` returns
    every stored hash within the threshold of each query, as ``Matches``.

    Additions go to a buffer; when it holds ``BUFFER_CAPACITY`` hashes it is frozen (and still
    searched) and merged into the tables on a background thread while additions go on into a
    fresh buffer, which grows rather than waits if it fills before the merge ends. A removal
    takes effect at once, and one made during a merge is applied to the merged tables before
    they are published. A batch of ``BUFFER_CAPACITY`` hashes or more is merged before ``add``
    returns (it costs a merge whatever happens), as is every full buffer with
    ``background_merge=False``.
    """

    def __init__(self, *, background_merge: bool = True) -> None:
        self._lock = threading.Lock()
        self._merge_done = threading.Condition(self._lock)
        self._background = background_merge
        self._tables = _Tables.build(
            np.empty((0, WORDS), dtype=np.uint64), np.empty(0, np.int64), np.empty(0, np.bool_)
        )
        self._lookup = _IdLookup.of(self._tables.ids)
        self._frozen = _empty_segment()
        self._merging = False
        self._removed_while_merging: list[Ids] = []
        self._merge_hook: Callable[[], None] | None = None  # tests hold a merge here
        self._merge_at = BUFFER_CAPACITY  # a benchmark's floor (no merges) raises it
        self.meta: dict[str, object] = {}
        """The ``meta`` of the file the index was loaded from (see ``save``)."""
        self._new_buffer(BUFFER_CAPACITY)
        self._publish()

    def _new_buffer(self, capacity: int) -> None:
        self._buffer_hashes = np.empty((capacity, WORDS), dtype=np.uint64)
        self._buffer_ids = np.empty(capacity, dtype=np.int64)
        self._buffer_alive = np.zeros(capacity, dtype=np.bool_)
        self._buffered = 0

    def _grow_buffer(self, needed: int) -> None:
        capacity = len(self._buffer_ids)
        while capacity < needed:
            capacity *= 2
        n = self._buffered
        hashes, ids, alive = self._buffer_hashes, self._buffer_ids, self._buffer_alive
        self._new_buffer(capacity)
        self._buffer_hashes[:n], self._buffer_ids[:n], self._buffer_alive[:n] = (
            hashes[:n],
            ids[:n],
            alive[:n],
        )
        self._buffered = n

    def _publish(self) -> None:
        n = self._buffered
        self._snapshot = _Snapshot(
            self._tables,
            self._frozen,
            _Segment(self._buffer_hashes[:n], self._buffer_ids[:n], self._buffer_alive[:n]),
        )

    @classmethod
    def build(cls, hashes: Words, ids: Ids, *, background_merge: bool = True) -> HashIndex:
        """An index of ``hashes`` with their ``ids``, built in one pass."""
        index = cls(background_merge=background_merge)
        index.add(hashes, ids)
        return index

    def __len__(self) -> int:
        snapshot = self._snapshot
        return int(
            snapshot.tables.alive.sum() + snapshot.frozen.alive.sum() + snapshot.buffer.alive.sum()
        )

    def add(self, hashes: Words, ids: Ids) -> None:
        """Add hashes with their ids; an id already present raises ``ValueError``."""
        hashes, ids = _checked_hashes(hashes), np.asarray(ids, dtype=np.int64)
        if len(ids) != len(hashes):
            raise ValueError(f"{len(hashes)} hashes but {len(ids)} ids")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids must be unique")
        if len(ids) >= self._merge_at:
            self._add_and_merge(hashes, ids)
            return
        with self._lock:
            while self._merging and not self._background:
                self._merge_done.wait()
            self._refuse_present(ids)
            end = self._buffered + len(ids)
            if end > self._merge_at and not self._background:
                self._freeze(hashes, ids)
            else:
                if end > len(self._buffer_ids):
                    self._grow_buffer(end)
                self._buffer_hashes[self._buffered : end] = hashes
                self._buffer_ids[self._buffered : end] = ids
                self._buffer_alive[self._buffered : end] = True
                self._buffered = end
                self._publish()
                if end < self._merge_at or self._merging or not self._background:
                    return
                self._freeze()
                self._start_merge()
                return
        self._merge()  # background merging off: this caller merges, as a build does

    def _start_merge(self) -> None:
        """Start merging the frozen buffer on a thread (holds the lock); where no thread can
        start, the frozen hashes go back to the buffer, searched, and the next add tries
        again: a merge that never ran would leave ``_merging`` set, and ``save``, ``capture``
        and ``wait_merged`` waiting for ever."""
        merge = functools.partial(self._merge, in_background=True)
        try:
            threading.Thread(target=merge, name="index-merge", daemon=True).start()
        except RuntimeError:  # can't start new thread: out of threads or memory
            _LOG.exception("starting the index merge failed")
            self._unfreeze()

    def _add_and_merge(self, hashes: Words, ids: Ids) -> None:
        """Merge a large batch, with the buffer, before returning (after a running merge)."""
        with self._lock:
            while self._merging:
                self._merge_done.wait()
            self._refuse_present(ids)
            self._freeze(hashes, ids)
        self._merge()

    def _refuse_present(self, ids: Ids) -> None:
        if any(len(rows) for rows in self._locate(ids)):
            raise ValueError("an id is already in the index; remove it first")

    def _freeze(self, hashes: Words | None = None, ids: Ids | None = None) -> None:
        """Hand the buffer (and a batch) to a merge; adds go on into a fresh buffer. Holds the
        lock; a merge must not be running."""
        n = self._buffered
        frozen = _Segment(self._buffer_hashes[:n], self._buffer_ids[:n], self._buffer_alive[:n])
        if hashes is not None and ids is not None:
            frozen = _Segment(
                np.concatenate([frozen.hashes, hashes]),
                np.concatenate([frozen.ids, ids]),
                np.concatenate([frozen.alive, np.ones(len(ids), dtype=np.bool_)]),
            )
        self._frozen, self._merging = frozen, True
        self._removed_while_merging = []
        self._new_buffer(BUFFER_CAPACITY)
        self._publish()

    def _merge(self, *, in_background: bool = False) -> None:
        """Merge the frozen buffer into new tables and publish them, with the removals made
        meanwhile; then start the next merge if the buffer filled up in the meantime. Reads
        the tables without the lock: only a merge replaces them, and one runs at a time."""
        try:
            if self._merge_hook is not None:
                self._merge_hook()
            tables, frozen = self._tables, self._frozen
            # Removals from here on are also journalled; applying one twice is harmless.
            merged = tables.merged(*frozen.live())
            lookup = _IdLookup.of(merged.ids)
        except Exception:
            if not in_background:
                with self._lock:
                    self._unfreeze()
                raise
            # The hashes stay searched, back in the buffer; the next add merges again.
            _LOG.exception("merging the index buffer failed")
            with self._lock:
                self._unfreeze()
            return
        with self._lock:
            for removed in self._removed_while_merging:
                merged.alive[lookup.rows(removed)] = False
            self._tables, self._lookup = merged, lookup
            self._frozen, self._merging = _empty_segment(), False
            self._removed_while_merging = []
            self._publish()
            self._merge_done.notify_all()
            if self._background and self._buffered >= self._merge_at:
                self._freeze()
                self._start_merge()
        del tables, frozen, merged
        _release_free_memory()

    def _unfreeze(self) -> None:
        """After a failed merge: the frozen hashes go back before the buffer's."""
        hashes, ids = self._frozen.live()
        n = self._buffered
        keep = self._buffer_alive[:n]
        pending = (
            np.concatenate([hashes, self._buffer_hashes[:n][keep]]),
            np.concatenate([ids, self._buffer_ids[:n][keep]]),
        )
        self._new_buffer(max(BUFFER_CAPACITY, len(pending[1])))
        end = len(pending[1])
        self._buffer_hashes[:end], self._buffer_ids[:end] = pending
        self._buffer_alive[:end] = True
        self._buffered = end
        self._frozen, self._merging = _empty_segment(), False
        self._removed_while_merging = []
        self._publish()
        self._merge_done.notify_all()

    def wait_merged(self) -> None:
        """Return once no merge is running (a merge started meanwhile included)."""
        with self._lock:
            while self._merging:
                self._merge_done.wait()

    def contains(self, ids: Ids) -> npt.NDArray[np.bool_]:
        """Whether each id is in the index (and not removed)."""
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            table_rows, frozen_rows, buffer_rows = self._locate(ids)
            present = np.concatenate(
                [
                    self._tables.ids[table_rows],
                    self._frozen.ids[frozen_rows],
                    self._buffer_ids[buffer_rows],
                ]
            )
        return np.isin(ids, present)

    def remove(self, ids: Ids) -> int:
        """Remove hashes by id, at once; returns how many were present."""
        ids = np.asarray(ids, dtype=np.int64)
        with self._lock:
            table_rows, frozen_rows, buffer_rows = self._locate(ids)
            self._tables.alive[table_rows] = False
            self._frozen.alive[frozen_rows] = False
            self._buffer_alive[buffer_rows] = False
            if self._merging:
                self._removed_while_merging.append(ids.copy())
            return len(table_rows) + len(frozen_rows) + len(buffer_rows)

    def _locate(self, ids: Ids) -> tuple[Rows, Rows, Rows]:
        """Rows of live entries with these ids: in the tables, the frozen buffer, the buffer."""
        rows = self._lookup.rows(ids)
        rows = rows[self._tables.alive[rows]]
        frozen = self._frozen
        frozen_rows = np.flatnonzero(np.isin(frozen.ids, ids) & frozen.alive)
        buffered = self._buffer_ids[: self._buffered]
        buffer_rows = np.flatnonzero(np.isin(buffered, ids) & self._buffer_alive[: self._buffered])
        return rows, frozen_rows, buffer_rows

    def search(self, queries: Words, threshold: int = 31) -> Matches:
        """Every stored hash within ``threshold`` bits of each query (exact)."""
        queries = _checked_hashes(queries)
        if not 0 <= threshold <= BITS:
            raise ValueError(f"threshold must be 0 to {BITS}, got {threshold}")
        snapshot = self._snapshot
        tables = snapshot.tables
        found = tables.candidates(queries, threshold)
        if found is None:
            query, rows, distances = _scan(tables.hashes, tables.alive, queries, threshold)
        else:
            query, rows = found
            distances = _distances(tables.hashes, rows, queries, query)
            keep = (distances <= threshold) & np.take(tables.alive, rows)
            query, rows, distances = query[keep], rows[keep], distances[keep]
            # A hash found through several chunks appears once per chunk.
            _, first = np.unique(query * len(tables.hashes) + rows, return_index=True)
            query, rows, distances = query[first], rows[first], distances[first]
        parts = [(query, np.take(tables.ids, rows), distances, np.take(tables.hashes, rows, 0))]
        for segment in (snapshot.frozen, snapshot.buffer):
            if len(segment.ids):
                seg_query, seg_rows, seg_distances = _scan(
                    segment.hashes, segment.alive, queries, threshold
                )
                parts.append(
                    (seg_query, segment.ids[seg_rows], seg_distances, segment.hashes[seg_rows])
                )
        return _sorted_matches(*(np.concatenate(column) for column in zip(*parts, strict=True)))

    def search_dihedral(self, variants: Words, threshold: int = 31) -> Matches:
        """Search with all eight rotations and flips of each query, ``(q, 8, 4)``.

        Each stored hash is reported once per query, at its smallest distance to any variant,
        with ``variant`` saying which.
        """
        variants = np.asarray(variants)
        if variants.ndim != 3 or variants.shape[1:] != (8, WORDS):
            raise ValueError(f"dihedral queries are (q, 8, {WORDS}) arrays, got {variants.shape}")
        flat = self.search(variants.reshape(-1, WORDS), threshold)
        query, variant = np.divmod(flat.query, 8)
        order = np.lexsort((variant, flat.distances, flat.ids, query))
        key = np.stack([query[order], flat.ids[order]])
        is_first = np.ones(len(order), dtype=np.bool_)
        is_first[1:] = np.any(key[:, 1:] != key[:, :-1], axis=0)
        first = order[is_first]
        return _sorted_matches(
            query[first], flat.ids[first], flat.distances[first], flat.hashes[first], variant[first]
        )

    def save(self, path: str | os.PathLike[str], meta: Mapping[str, object] | None = None) -> None:
        """Write the index to one file that ``load`` memory-maps, with ``meta`` (JSON values)
        in its header for ``read_meta``; written to a temporary file (mode 0600) and renamed,
        so that a reader never sees part of one. Waits for a running merge, then writes one
        consistent state: the tables, and the buffer as it stood, without merging it."""
        self.capture().save(path, meta)

    def capture(self) -> SavedState:
        """The index as it stands now, which ``SavedState.save`` writes later (the slow part):
        for a caller that must know what the file holds, such as a snapshot's log position,
        and so captures while nothing changes the index. Waits for a running merge."""
        with self._lock:
            while self._merging:
                self._merge_done.wait()
            tables = self._tables
            alive = tables.alive.copy()  # removals flip the live one
            n = self._buffered
            keep = self._buffer_alive[:n]
            pending_hashes, pending_ids = self._buffer_hashes[:n][keep], self._buffer_ids[:n][keep]
        return SavedState(tables, alive, pending_hashes, pending_ids)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, verify: bool = True, background_merge: bool = True
    ) -> HashIndex:
        """Open a saved index, memory-mapping its tables; it can be searched and changed (the
        file is never written). With ``verify``, every array is checked against the checksum
        written with it first: a flipped bit raises ``IndexFileError``, as a truncated or
        malformed file does."""
        header, arrays = _read_arrays(Path(path))
        widths = header.get("widths")
        try:
            if not isinstance(widths, list):
                raise TypeError("no list of widths")
            layout = Layout(tuple(int(w) for w in widths))
        except (TypeError, ValueError, OverflowError) as exc:
            raise IndexFileError(f"{path}: invalid chunk layout ({exc})") from None
        table_starts = _table_starts(layout)
        count = len(arrays["hashes"])
        pending = len(arrays["pending_ids"])
        expected = {
            "hashes": (count, WORDS),
            "ids": (count,),
            "alive": (count,),
            "offsets": (table_starts[-1],),
            "postings": (count * len(layout.widths),),
            "pending_hashes": (pending, WORDS),
            "pending_ids": (pending,),
        }
        for name, shape in expected.items():
            if arrays[name].shape != shape:
                raise IndexFileError(f"{path}: {name} has shape {arrays[name].shape}, not {shape}")
        if verify:
            _verify_checksums(Path(path), header, arrays)
        index = cls(background_merge=background_merge)
        index._tables = _Tables(
            layout,
            arrays["hashes"],
            arrays["ids"],
            np.array(arrays["alive"]),  # writable: removals flip it
            arrays["offsets"],
            arrays["postings"],
            table_starts,
        )
        index._lookup = _IdLookup.of(index._tables.ids)
        meta = header.get("meta", {})
        index.meta = meta if isinstance(meta, dict) else {}
        index._publish()
        if pending:
            try:
                index.add(np.array(arrays["pending_hashes"]), np.array(arrays["pending_ids"]))
            except ValueError as exc:  # ids repeated: not a file that save wrote
                raise IndexFileError(f"{path}: corrupt buffer ({exc})") from None
        return index


@dataclass(frozen=True, slots=True)
class SavedState:
    """What ``HashIndex.capture`` took: the tables, their liveness then, and the buffer's live
    hashes; ``save`` writes them as ``HashIndex.save`` does."""

    tables: _Tables
    alive: npt.NDArray[np.bool_]
    pending_hashes: Words
    pending_ids: Ids

    def save(self, path: str | os.PathLike[str], meta: Mapping[str, object] | None = None) -> None:
        """Write this state to ``path`` (see ``HashIndex.save``)."""
        tables = self.tables
        arrays = {
            "hashes": tables.hashes,
            "ids": tables.ids,
            "alive": self.alive,
            "offsets": tables.offsets,
            "postings": tables.postings,
            "pending_hashes": self.pending_hashes,
            "pending_ids": self.pending_ids,
        }
        header: dict[str, object] = {"widths": list(tables.layout.widths), "meta": dict(meta or {})}
        _write_arrays(Path(path), header, arrays)


def read_meta(path: str | os.PathLike[str]) -> dict[str, object]:
    """The ``meta`` an index file was saved with (its header only: cheap); ``IndexFileError``
    for a file that is not an index."""
    header = _read_header(Path(path))[0]
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise IndexFileError(f"{path}: corrupt header")
    return meta


def _release_free_memory() -> None:
    """Hand memory freed by a build back to the OS. glibc keeps freed heap pages mapped, which
    after building a 10-million-hash index leaves about 170 MiB of dead weight resident."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC: Final = _load_libc()


def _checked_hashes(hashes: Words) -> Words:
    array = np.asarray(hashes)
    if array.ndim != 2 or array.shape[1] != WORDS or array.dtype != np.uint64:
        raise ValueError(
            f"hashes are (n, {WORDS}) uint64 arrays (see rempart.hashing.pack), "
            f"got {array.dtype} {array.shape}"
        )
    return array


def _distances(hashes: Words, rows: Rows, queries: Words, query: Rows) -> Rows:
    """Hamming distance from each ``hashes[rows[i]]`` to ``queries[query[i]]``."""
    return _popcount_rows(np.take(hashes, rows, axis=0) ^ np.take(queries, query, axis=0))


def _popcount_rows(words: Words) -> Rows:
    # Four 16-bit popcounts summed by one multiply: much faster than .sum(axis=1).
    counts = np.bitwise_count(words).astype(np.uint16).view(np.uint64).reshape(-1)
    return ((counts * np.uint64(0x0001_0001_0001_0001)) >> np.uint64(48)).astype(np.int64)


_SCAN_BLOCK: Final = 1 << 20  # query-row pairs per block: bounds a scan's scratch memory


def _scan(
    hashes: Words, alive: npt.NDArray[np.bool_], queries: Words, threshold: int
) -> tuple[Rows, Rows, Rows]:
    """Brute force: every live (query, row) pair within ``threshold``, with its distance."""
    found: list[tuple[Rows, Rows, Rows]] = []
    step = max(1, _SCAN_BLOCK // max(len(queries), 1))
    for start in range(0, len(hashes), step):
        block = hashes[start : start + step]
        pairs = (queries[:, None, :] ^ block[None, :, :]).reshape(-1, WORDS)
        distances = _popcount_rows(pairs).reshape(len(queries), len(block))
        near = (distances <= threshold) & alive[start : start + step][None, :]
        query, rows = np.nonzero(near)
        found.append((query.astype(np.int64), rows + start, distances[query, rows]))
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return (
        np.concatenate([part[0] for part in found]),
        np.concatenate([part[1] for part in found]),
        np.concatenate([part[2] for part in found]),
    )


def _sorted_matches(
    query: Rows, ids: Ids, distances: Rows, hashes: Words, variant: Rows | None = None
) -> Matches:
    order = np.lexsort((ids, distances, query))
    return Matches(
        query[order],
        ids[order],
        distances[order],
        hashes[order],
        None if variant is None else variant[order],
    )


_DTYPES: Final = {
    "hashes": "<u8",
    "ids": "<i8",
    "alive": "|b1",
    "offsets": "<u4",
    "postings": "<u4",
    "pending_hashes": "<u8",
    "pending_ids": "<i8",
}
_V1_ARRAYS: Final = ("hashes", "ids", "alive", "offsets", "postings")
_MAX_HEADER: Final = 1 << 20


def _write_arrays(path: Path, fields: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
    """One file: the magic, the JSON header (array offsets, shapes and CRC-32s), the arrays,
    each aligned; written to a unique temporary file, synced, then renamed over ``path``."""
    entries: dict[str, dict[str, object]] = {}
    widest = {
        name: {"offset": 2**63, "shape": list(a.shape), "crc32": 2**32}
        for name, a in arrays.items()
    }
    bound = len(json.dumps({"version": _FORMAT_VERSION, **fields, "arrays": widest}).encode())
    if bound > _MAX_HEADER:
        raise ValueError("index header too large")
    position = -(-(len(_MAGIC) + 8 + bound) // 4096) * 4096
    for name, array in arrays.items():
        position = -(-position // _ALIGN) * _ALIGN
        entries[name] = {"offset": position, "shape": list(array.shape)}
        position += array.size * np.dtype(_DTYPES[name]).itemsize
    descriptor, partial = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )  # mode 0600, a name no other writer uses
    try:
        with os.fdopen(descriptor, "wb") as out:
            for name, array in arrays.items():
                out.seek(int(entries[name]["offset"]))  # type: ignore[call-overload]
                data = np.ascontiguousarray(array, dtype=_DTYPES[name])
                entries[name]["crc32"] = zlib.crc32(data.data)
                data.tofile(out)
            out.truncate(position)
            header = json.dumps({"version": _FORMAT_VERSION, **fields, "arrays": entries})
            out.seek(0)
            out.write(_MAGIC + len(header).to_bytes(8, "little") + header.encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _read_header(path: Path) -> tuple[dict[str, object], int]:
    """The header of an index file, and the file's size."""
    try:
        with open(path, "rb") as file:
            return _header_of(path, file)
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot read ({exc.strerror})") from None


def _header_of(path: Path, file: BinaryIO) -> tuple[dict[str, object], int]:
    try:
        size = os.fstat(file.fileno()).st_size
        start = file.read(len(_MAGIC) + 8)
        if start[: len(_MAGIC)] != _MAGIC:
            raise IndexFileError(f"{path}: not a Rempart index file")
        length = int.from_bytes(start[len(_MAGIC) :], "little")
        header = json.loads(file.read(min(length, _MAX_HEADER)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise IndexFileError(f"{path}: corrupt header") from None
    if not isinstance(header, dict) or header.get("version") not in (1, _FORMAT_VERSION):
        raise IndexFileError(f"{path}: unsupported index version")
    return header, size


def _read_arrays(path: Path) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    """The header and the arrays, memory-mapped, all from one opening of the file (another
    process may replace the file meanwhile: its arrays never mix with these)."""
    try:
        with open(path, "rb") as file:
            header, size = _header_of(path, file)
            return header, _map_arrays(path, file, header, size)
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot read ({exc.strerror})") from None


def _map_arrays(
    path: Path, file: BinaryIO, header: dict[str, object], size: int
) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, dtype in _DTYPES.items():
        if header["version"] == 1 and name not in _V1_ARRAYS:
            arrays[name] = np.empty((0, WORDS) if name == "pending_hashes" else 0, dtype=dtype)
            continue
        try:
            entry = header["arrays"][name]  # type: ignore[index]
            offset, shape = int(entry["offset"]), tuple(int(n) for n in entry["shape"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise IndexFileError(f"{path}: header does not describe {name}") from None
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if offset < 0 or any(n < 0 for n in shape) or offset + nbytes > size:
            raise IndexFileError(f"{path}: truncated ({name} runs past the end of the file)")
        arrays[name] = (
            np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=shape)
            if nbytes
            else np.empty(shape, dtype=dtype)
        )
    return arrays


def _verify_checksums(path: Path, header: dict[str, object], arrays: dict[str, np.ndarray]) -> None:
    """Every array's CRC-32 as written (about 0.2 s a GB, and it reads the file into the page
    cache, which the first searches then find there). A version-1 file has none to check."""
    if header["version"] == 1:
        return
    entries = header["arrays"]
    for name, array in arrays.items():
        try:
            expected = int(entries[name]["crc32"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError, OverflowError):
            raise IndexFileError(f"{path}: header has no checksum for {name}") from None
        if zlib.crc32(np.ascontiguousarray(array).data) != expected:
            raise IndexFileError(f"{path}: checksum mismatch in {name} (the file is corrupt)")
