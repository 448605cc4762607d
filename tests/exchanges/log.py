"""The record log every fake exchange serves from: appends in blocks, so that a million hashes
cost one list and a page is a slice computed when it is asked for."""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import overload


@dataclass(frozen=True, slots=True)
class Event:
    """One change an exchange serves: ``value`` of ``signal_type`` added or deleted."""

    seq: int
    """The position in the log (a record id where the API has one)."""
    signal_type: str
    value: str
    deleted: bool
    time: int
    """The exchange's timestamp of the change (see ``Clock``)."""


Clock = Callable[[int, int], int]
"""``clock(last, count)``: the stamp of the first of ``count`` new changes, from the last stamp
given (0 at first). A log whose clock ``steps`` stamps each change one more than the one before
(an order a checkpoint splits exactly); otherwise every change of a call shares the stamp."""


@dataclass(frozen=True, slots=True)
class _Block:
    start: int
    signal_type: str
    values: Sequence[str]
    deleted: bool
    time: int
    step: int

    def stamp(self, seq: int) -> int:
        return self.time + (seq - self.start) * self.step

    @property
    def last_time(self) -> int:
        return self.stamp(self.start + len(self.values) - 1)


class EntryLog:
    """Changes in the order they happened, with non-decreasing stamps."""

    def __init__(self, clock: Clock, *, steps: bool) -> None:
        self._clock = clock
        self._step = 1 if steps else 0
        self._blocks: list[_Block] = []
        self._starts: list[int] = []
        self._times: list[int] = []
        self._latest: dict[tuple[str, str], int] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.size = 0

    def append(self, signal_type: str, values: Sequence[str], *, deleted: bool = False) -> int:
        """Log ``values`` (kept, not copied) added, or deleted; returns the first one's seq."""
        if not values:
            return self.size
        with self._lock:
            last = self._blocks[-1].last_time if self._blocks else 0
            time = self._clock(last, len(values))
            block = _Block(self.size, signal_type, values, deleted, time, self._step)
            self._blocks.append(block)
            self._starts.append(block.start)
            self._times.append(block.time)
            if len(values) < 1000:  # what add/delete name; bulk values are unique by contract
                for offset, value in enumerate(values):
                    self._latest[signal_type, value] = block.start + offset
                    if not deleted:
                        self._ids.setdefault((signal_type, value), block.start + offset)
            self.size += len(values)
            return block.start

    def first_id(self, signal_type: str, value: str) -> int:
        """The seq ``value`` was first added at (its record id); KeyError if never added."""
        found = self._ids.get((signal_type, value))
        if found is not None:
            return found
        for block in self._blocks:
            if block.signal_type == signal_type and not block.deleted:
                try:
                    return block.start + list(block.values).index(value)
                except ValueError:
                    continue
        raise KeyError(value)

    def event(self, seq: int) -> Event:
        """The change at ``seq``."""
        block = self._blocks[bisect.bisect_right(self._starts, seq) - 1]
        value = block.values[seq - block.start]
        return Event(seq, block.signal_type, value, block.deleted, block.stamp(seq))

    def events(self, start: int, stop: int) -> list[Event]:
        """The changes in ``[start, stop)`` that a later change of the same hash does not
        supersede (an exchange serves a hash's current state)."""
        found: list[Event] = []
        latest = self._latest
        stop = min(stop, self.size)
        index = bisect.bisect_right(self._starts, max(start, 0)) - 1
        while start < stop and index < len(self._blocks):
            block = self._blocks[index]
            end = min(stop, block.start + len(block.values))
            values = block.values[start - block.start : end - block.start]
            for seq, value in enumerate(values, start):
                if latest.get((block.signal_type, value), seq) == seq:
                    event = Event(seq, block.signal_type, value, block.deleted, block.stamp(seq))
                    found.append(event)
            start, index = end, index + 1
        return found

    def after_time(self, time: int) -> int:
        """The seq of the first change stamped later than ``time``."""
        index = bisect.bisect_right(self._times, time) - 1
        if index < 0:
            return 0
        block = self._blocks[index]
        if block.step and time < block.last_time:
            return block.start + (time - block.time) // block.step + 1
        return block.start + len(block.values)

    def from_time(self, time: int) -> int:
        """The seq of the first change stamped ``time`` or later."""
        return self.after_time(time - 1)

    def last_time(self, stop: int) -> int:
        """The stamp of the change just before ``stop`` (0 for none)."""
        return self.event(stop - 1).time if stop > 0 else 0


class GeneratedHashes(Sequence[str]):
    """``count`` distinct hex digests made on demand (``sha256`` of ``salt`` and the index, cut
    to ``hex_digits``): a million of them cost nothing until a page serves them."""

    def __init__(self, count: int, *, hex_digits: int = 64, salt: str = "") -> None:
        self._count = count
        self._digits = hex_digits
        self._salt = salt.encode()

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        index %= self._count
        return hashlib.sha256(self._salt + str(index).encode()).hexdigest()[: self._digits]
