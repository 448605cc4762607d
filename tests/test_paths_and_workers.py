"""The folder walk and the ordered thread pool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.walk import Walk
from rempart.workers import ordered_map


def test_the_walk_is_sorted_skips_hidden_files_and_gives_missing_files_as_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.jpg", ".hidden", "sub/c.jpg"):
        (tmp_path / name).write_bytes(b"\xff\xd8\xff\xe0")
    flat = list(Walk([str(tmp_path), "missing.jpg"]))
    assert [Path(p).name for p in flat if isinstance(p, str)] == ["a.jpg", "b.jpg", "missing.jpg"]
    deep = list(Walk([str(tmp_path)], recursive=True))
    assert [Path(p).name for p in deep if isinstance(p, str)] == ["a.jpg", "b.jpg", "c.jpg"]


def test_ordered_map_keeps_order_and_runs_in_parallel() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def slow(item: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01 * (item % 3))
        with lock:
            active -= 1
        return item * 2

    assert list(ordered_map(slow, range(30), jobs=3)) == [i * 2 for i in range(30)]
    assert peak > 1


def test_ordered_map_reads_input_lazily() -> None:
    consumed = 0

    def items() -> Iterator[int]:
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield i

    results = ordered_map(lambda i: i, items(), jobs=2)
    assert next(results) == 0
    assert consumed <= 2 * 4 + 1


def test_ordered_map_refuses_zero_jobs() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(ordered_map(str, [1], jobs=0))
