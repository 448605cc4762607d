"""``Deadline``: the CPU time one request's prompt and negative prompt may take to read.

Reading is linear in the prompt's length (issue 17), but its constant is high: a prompt of the
largest accepted size built to be slow takes tens of milliseconds, and the gate must judge any
prompt in under 20. So every loop whose work grows with the prompt ticks a ``Deadline`` it is
passed: a tick is a counter, and every ``_EVERY`` ticks (or after a chunk of work done in one
call, ``check``) the thread's CPU clock is read. Once the deadline has passed, the tick raises
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

__all__ = ["DEFAULT_PROMPT_MS", "NO_DEADLINE", "Deadline", "DeadlinePassed"]

DEFAULT_PROMPT_MS: Final = 15.0
"""CPU milliseconds a request's prompt and negative prompt may take to read, together: under
the gate's 20 ms target (issue 17), with room for the policy and the stopping itself. The
default of the ``gate_prompt_ms`` setting (``rempart.config``), which deployments change."""
_EVERY: Final = 64  # ticks between two readings of the clock (a tick is far cheaper)

_T = TypeVar("_T")


class DeadlinePassed(Exception):  # noqa: N818 - an event, not an error: never leaves rempart.text
    """The reading's deadline has passed. Control flow inside ``rempart.text``: the prompt
    analyser catches it and reports ``text.unread``; it is never raised to a caller."""


class Deadline:
    """Stops the reading of a prompt after ``ms`` milliseconds of ``clock`` (the thread's CPU
    time), counted from its creation; ``ms`` of 0 or less: never."""

    __slots__ = ("_at", "_clock", "_count", "ms", "passed")

    def __init__(self, ms: float, *, clock: Callable[[], float] = time.thread_time) -> None:
        self.ms = ms
        self._clock = clock
        self._at = clock() + ms / 1000 if ms > 0 else math.inf
        self._count = 0
        self.passed = False
        """Whether the deadline was found passed (and ``DeadlinePassed`` raised)."""

    def tick(self) -> None:
        """One step of work done: counted, and every ``_EVERY`` steps, ``check``."""
        self._count += 1
        if not self._count % _EVERY:
            self.check()

    def check(self) -> None:
        """Read the clock now (after a chunk of work): ``DeadlinePassed`` once it has passed."""
        if self._at != math.inf and self._clock() > self._at:
            self.passed = True
            raise DeadlinePassed(f"the prompt's {self.ms:g} ms of reading have passed")

    def over(self, items: Iterable[_T]) -> Iterator[_T]:
        """``items``, a tick for each: for a comprehension whose work grows with the prompt."""
        for item in items:
            self.tick()
            yield item


NO_DEADLINE: Final = Deadline(0)
"""Reads to the end: what a caller gets that passes no deadline (its count is never read)."""
