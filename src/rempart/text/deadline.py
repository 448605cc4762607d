"""``Deadline``: the CPU time one request's prompt and negative prompt may take to read.

Reading is linear in the prompt's length (issue 17), but its constant is high: a prompt of the
largest accepted size built to be slow takes tens or hundreds of milliseconds, and the gate must
judge any prompt in under 20. So every loop whose work grows with the prompt ticks the
``Deadline`` it is passed: a tick counts steps of work (a word, a match, a piece of syntax), and
every ``TICKS_PER_CHECK`` steps the thread's CPU clock is read (a reading is a system call, the
cost of a few hundred steps of counting). Once the deadline has passed, the tick raises
``DeadlinePassed``; ``PromptAnalyser.signals`` catches it, keeps what it had found, and adds
``text.unread``, which a rule no policy can weaken sends to review: a prompt is never allowed
unread.

The clock is the thread's CPU time (``time.thread_time``), not the wall clock, so that other
threads and processes on a busy machine do not make a prompt unread that would have been read.
The deadline is passed down explicitly, not held in a global, so that concurrent requests
each have their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

__all__ = [
    "DEFAULT_PROMPT_MS",
    "NO_DEADLINE",
    "SHORT",
    "TICKS_PER_CHECK",
    "Deadline",
    "DeadlinePassed",
]

DEFAULT_PROMPT_MS: Final = 15.0
"""CPU milliseconds a request's prompt and negative prompt may take to read, together: under
the gate's 20 ms target (issue 17), with room for the policy and the stopping itself. The
default of the ``gate_prompt_ms`` setting (``rempart.config``), which deployments change."""
TICKS_PER_CHECK: Final = 128  # ticks between two readings of the clock (a tick is far cheaper)
SHORT: Final = 256
"""Characters of a text whose words or matches a loop may gather at once, unticked, before it
reads them (a C iterator's items are gathered far faster than they are read in Python)."""

_T = TypeVar("_T")


class DeadlinePassed(Exception):  # noqa: N818 - an event, not an error: never leaves rempart.text
    """The reading's deadline has passed. Control flow inside ``rempart.text``: the prompt
    analyser catches it and reports ``text.unread``; it is never raised to a caller."""


class Deadline:
    """Stops the reading of a prompt after ``ms`` milliseconds of ``clock`` (the thread's CPU
    time), counted from its creation; ``ms`` of 0 or less: never."""

    __slots__ = ("_at", "_clock", "_count", "_next", "ms", "passed")

    def __init__(self, ms: float, *, clock: Callable[[], float] = time.thread_time) -> None:
        self.ms = ms
        self._clock = clock
        self._at = clock() + ms / 1000 if ms > 0 else math.inf
        self._count = 0
        self._next = TICKS_PER_CHECK  # the count at which the clock is read next
        self.passed = False
        """Whether the deadline was found passed (and ``DeadlinePassed`` raised)."""

    def tick(self, steps: int = 1) -> None:
        """``steps`` of work done: counted, and every ``TICKS_PER_CHECK`` steps, ``check``."""
        self._count += steps
        if self._count >= self._next:
            self._next = self._count + TICKS_PER_CHECK
            self.check()

    def check(self) -> None:
        """Read the clock now (after a chunk of work): ``DeadlinePassed`` once it has passed."""
        if self._at != math.inf and self._clock() > self._at:
            self.passed = True
            raise DeadlinePassed(f"the prompt's {self.ms:g} ms of reading have passed")

    def over(self, items: Iterable[_T]) -> Iterable[_T]:
        """``items``, a tick for each: for a loop whose work grows with the prompt. A short
        list, tuple or range (``TICKS_PER_CHECK`` items at most) is counted whole and given as
        it is, so that a short prompt's loops cost next to nothing more; other items are
        counted as they go."""
        if isinstance(items, list | tuple | range) and len(items) <= TICKS_PER_CHECK:
            self._count += len(items)  # tick, inline: a short prompt makes many such loops
            if self._count >= self._next:
                self._next = self._count + TICKS_PER_CHECK
                self.check()
            return items
        return self._counted(items)

    def _counted(self, items: Iterable[_T]) -> Iterator[_T]:
        count = 0
        for item in items:
            count += 1
            if count == TICKS_PER_CHECK:
                self.tick(count)
                count = 0
            yield item
        self.tick(count)


class _Never(Deadline):
    """A deadline that never passes, and costs no counting."""

    __slots__ = ()

    def tick(self, steps: int = 1) -> None:
        pass

    def check(self) -> None:
        pass

    def over(self, items: Iterable[_T]) -> Iterable[_T]:
        return items


NO_DEADLINE: Final[Deadline] = _Never(0)
"""Reads to the end: what a caller gets that passes no deadline."""
