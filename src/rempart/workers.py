"""Run a function over many items on a pool of threads, keeping the input order.

Threads rather than processes: decoding (Pillow) and the array work (numpy) release the GIL,
so threads scale across cores without processes' start-up and pickling costs, and a server
can call the same code.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from itertools import islice
from typing import Final, TypeVar

__all__ = ["BULK_GC_THRESHOLD", "batched", "fewer_collections", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

_AHEAD_PER_JOB = 4  # items in flight per thread: enough to hide uneven item costs


def ordered_map(function: Callable[[T], R], items: Iterable[T], *, jobs: int) -> Iterator[R]:
    """Yield ``function(item)`` for each item, in order, running up to ``jobs`` at once.

    Items are consumed lazily with a bounded window, so a million paths never become a
    million pending futures.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="rempart") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= jobs * _AHEAD_PER_JOB:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive runs of at most ``size`` items, taken lazily from any iterable."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


BULK_GC_THRESHOLD: Final = 20_000
"""Allocations between two of the cyclic collector's young collections during bulk work
(Python's default: 700)."""
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None
_gc_set: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections() -> Iterator[None]:
    """While the block runs, Python's cyclic collector runs less often (a young collection
    every ``BULK_GC_THRESHOLD`` allocations at least).

    Bulk work (an exchange's million hashes) makes objects that live until their batch is
    written, and the collector walked them again and again: up to half the time spent making
    a batch's records. The setting is the process's: blocks on several threads share it, and
    the last to end puts the previous one back. Garbage is still collected, later.
    """
    global _gc_users, _gc_saved, _gc_set
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            young = _gc_saved[0]
            # 0 (no automatic collection) and a higher threshold are the application's choice
            _gc_set = (young and max(young, BULK_GC_THRESHOLD), *_gc_saved[1:])
            gc.set_threshold(*_gc_set)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            # what the application set meanwhile stays
            if _gc_users == 0 and _gc_saved is not None and gc.get_threshold() == _gc_set:
                gc.set_threshold(*_gc_saved)
