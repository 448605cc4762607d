"""The match index at scale: start-up from a snapshot against a rebuild, and add latency with
the background merge against the synchronous one, at 10 million hashes (quick: 200,000).

Measured, in one run on this machine:

- **Rebuild** (the peer of a snapshot start): ``HashIndex.build`` from the 10M hashes as arrays,
  timed; plus reading the entries from the database, which is timed end to end
  (``BankMatcher``) on a real SQLite database of ``DB_ENTRIES`` entries (cached in
  .bench-cache/) and scaled to 10M by its rate per row: importing 10M rows into SQLite on each
  run would take longer than the whole benchmark may. The figure says which part is which.
- **Start from a snapshot**: ``HashIndex.load`` of the 10M file (open, check every array's
  CRC-32, memory-map) and a replay of 1,000 adds and 100 withdrawals, until searchable; with
  the file in the page cache (a restart) and evicted from it first (``posix_fadvise``
  DONTNEED on that file only: a cold boot reads it from disk). End to end on the database of
  ``DB_ENTRIES`` entries too: ``IndexSnapshots.open`` (header, log check, load, replay)
  against ``BankMatcher`` reading every row.
- **Add latency including merges**: 20,000 single-hash ``add`` calls on the 10M index, each
  timed (p50, p99, max); the buffer fills every 4,096, so about five merges happen. Peer: the
  same index with ``background_merge=False``, where the add that fills the buffer merges it
  itself (the code path before this change).

Run: ``python benchmarks/scale_index.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rempart.matching.banks import BankMatcher, Banks, HashListFormat, read_records
from rempart.matching.banks.snapshot import IndexSnapshots
from rempart.matching.index import BUFFER_CAPACITY, HashIndex
from rempart.store import Store

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache" / "scale-index"
FULL, QUICK = 10_000_000, 200_000
ADDS, QUICK_ADDS = 20_000, 6_000
DB_ENTRIES, QUICK_DB_ENTRIES = 200_000, 20_000
REPLAY_ADDS, REPLAY_WITHDRAWALS = 1_000, 100
TARGET_START_S, TARGET_ADD_MS = 5.0, 5.0


def hashes(count: int, seed: int = 0) -> np.ndarray:
    """``count`` random packed hashes, cached as .npy when large."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"hashes-{count}-{seed}.npy"
    if path.exists():
        cached: np.ndarray = np.load(path, mmap_mode="r")
        return cached
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1 << 64, size=(count, 4), dtype=np.uint64)
    if count >= 1_000_000:
        np.save(path, data)
    return data


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def evict(path: Path) -> None:
    """Drop ``path``'s pages from the page cache (that file only), as after a reboot."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


def start_from(path: Path, extra: np.ndarray, size: int) -> float:
    """Seconds from opening the snapshot to a searchable index with the changes replayed."""
    start = time.perf_counter()
    index = HashIndex.load(path)
    index.add(extra, np.arange(size, size + len(extra), dtype=np.int64))
    index.remove(np.arange(0, REPLAY_WITHDRAWALS * 7, 7, dtype=np.int64))
    index.search(extra[:1], 31)
    elapsed = time.perf_counter() - start
    index.wait_merged()
    return elapsed


def add_latencies(
    index: HashIndex, new: np.ndarray, first_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Milliseconds of each single-hash add, merges included; and whether a merge was
    running when it started."""
    taken = np.empty(len(new))
    merging = np.zeros(len(new), dtype=np.bool_)
    for i in range(len(new)):
        merging[i] = index._merging
        start = time.perf_counter_ns()
        index.add(new[i : i + 1], np.array([first_id + i]))
        taken[i] = (time.perf_counter_ns() - start) / 1e6
    index.wait_merged()
    return taken, merging


def scheduler_noise(seconds: float = 2.0) -> tuple[float, float]:
    """The longest pause of a loop that only reads the clock, and the share of the time lost
    to pauses over 1 ms: how long this machine leaves a runnable thread waiting for a core."""
    gaps = []
    last = start = time.perf_counter()
    while last - start < seconds:
        now = time.perf_counter()
        if now - last > 0.001:
            gaps.append(now - last)
        last = now
    return 1000 * max(gaps, default=0.0), sum(gaps) / seconds


def spread(latencies: np.ndarray) -> str:
    p50, p99 = np.percentile(latencies, [50, 99])
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {latencies.max():.1f} ms"


def bank_database(entries: int) -> Path:
    """A SQLite database with one bank of ``entries`` random hashes, built once."""
    path = CACHE / f"banks-{entries}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        store = Store.open(f"sqlite:///{partial}")
        banks = Banks(store)
        banks.create("victims", threshold=31)
        lines = "\n".join(bytes(h).hex() for h in hashes(entries, seed=7).astype(">u8"))
        records = read_records(io.StringIO(lines), HashListFormat.HEX)
        banks.import_records("victims", records, origin="bench", fmt=HashListFormat.HEX)
        store.close()
        partial.rename(path)
    return path


def run(console: Console, quick: bool = False) -> list[tuple[str, str]]:
    """The rows of the index's scale benchmark: (measure, result with its peer and ratio)."""
    size = QUICK if quick else FULL
    adds = QUICK_ADDS if quick else ADDS
    db_entries = QUICK_DB_ENTRIES if quick else DB_ENTRIES
    rows: list[tuple[str, str]] = []
    label = f"{size:,}"
    with tempfile.TemporaryDirectory(prefix="rempart-scale-index-") as folder:
        work = Path(folder)
        # --- end to end on a real database ---
        console.print(f"[dim]database of {db_entries:,} entries[/dim]")
        store = Store.open(f"sqlite:///{bank_database(db_entries)}")
        try:
            db_rebuild, matcher = timed(lambda: BankMatcher(store, refresh_interval=None))
            assert isinstance(matcher, BankMatcher)
            snapshots = IndexSnapshots(work)
            assert snapshots.write(matcher)
            del matcher
            gc.collect()
            db_build, _ = timed(
                lambda: HashIndex.build(hashes(db_entries, 7), np.arange(db_entries))
            )
            db_open, _ = timed(lambda: IndexSnapshots(work).open(store))
        finally:
            store.close()
        per_row = max(db_rebuild - db_build, 0.0) / db_entries
        rows.append(
            (
                f"start, SQLite bank of {db_entries:,} (end to end)",
                f"snapshot {db_open:.2f} s vs rebuild {db_rebuild:.2f} s "
                f"({db_rebuild / db_open:.1f}x faster)",
            )
        )
        # --- at size: rebuild from arrays against snapshot start ---
        console.print(f"[dim]{label} hashes: build[/dim]")
        data = np.ascontiguousarray(hashes(size))
        build_s, built = timed(lambda: HashIndex.build(data, np.arange(size, dtype=np.int64)))
        assert isinstance(built, HashIndex)
        path = work / "bench.snapshot"
        started = time.perf_counter()
        built.save(path, {"seq": size})
        save_s = time.perf_counter() - started
        del built
        gc.collect()
        rebuild_s = build_s + per_row * size
        extra = hashes(REPLAY_ADDS, seed=3)
        console.print(f"[dim]{label} hashes: start from the snapshot[/dim]")
        warm = start_from(path, extra, size)
        evict(path)
        cold = start_from(path, extra, size)
        gc.collect()
        verify_s, _ = timed(lambda: HashIndex.load(path, verify=True))
        no_verify_s, _ = timed(lambda: HashIndex.load(path, verify=False))
        gc.collect()
        size_mb = path.stat().st_size / 2**20
        rows.append(
            (
                f"start at {label} hashes, snapshot in page cache",
                f"{warm:.2f} s (target < {TARGET_START_S:.0f} s) vs rebuild {rebuild_s:.1f} s "
                f"({rebuild_s / warm:.0f}x faster); rebuild = build {build_s:.1f} s measured + "
                f"rows {per_row * size:.1f} s at the rate measured on {db_entries:,}",
            )
        )
        rows.append(
            (
                f"start at {label} hashes, snapshot read from disk",
                f"{cold:.2f} s (target < {TARGET_START_S:.0f} s) vs rebuild {rebuild_s:.1f} s "
                f"({rebuild_s / cold:.0f}x faster)",
            )
        )
        rows.append(
            (
                f"snapshot file at {label} hashes",
                f"{size_mb:,.0f} MiB, written in {save_s:.1f} s; CRC-32 check "
                f"{verify_s - no_verify_s:.2f} s of a {verify_s:.2f} s load",
            )
        )
        # --- add latency, merges included ---
        new = hashes(adds, seed=5)
        results = {}
        for case in ("background", "synchronous", "no merge"):
            console.print(f"[dim]{label} hashes: {adds:,} adds, {case}[/dim]")
            index = HashIndex.load(path, background_merge=case != "synchronous")
            if case == "no merge":  # the floor: the same adds, the buffer never merged
                index._merge_at = 2**62
            results[case] = add_latencies(index, new, 2 * size)
            assert len(index) == size + adds
            assert len(index.search(new[-3:], 0)) == 3
            del index
            gc.collect()
        pause_ms, lost = scheduler_noise()
        merges = adds // BUFFER_CAPACITY
        ours, during = results["background"]
        peer, floor = results["synchronous"][0], results["no merge"][0]
        rows += [
            (
                f"add at {label} hashes, background merge ({adds:,} adds, {merges} merges)",
                f"{spread(ours)} (target p99 and max < {TARGET_ADD_MS:.0f} ms); "
                f"{during.mean():.0%} of the adds ran during a merge: {spread(ours[during])}",
            ),
            (
                f"add at {label} hashes, synchronous merge (peer)",
                f"{spread(peer)}; p99 {np.percentile(peer, 99) / np.percentile(ours, 99):.1f}x, "
                f"max {peer.max() / ours.max():.0f}x ours",
            ),
            (
                f"add at {label} hashes, never merged (this machine's floor)",
                f"{spread(floor)}; just after, a thread that only reads the clock paused up to "
                f"{pause_ms:.0f} ms and lost {lost:.0%} of its time waiting for a core",
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} hashes, not {FULL:,}")
    args = parser.parse_args()
    console = Console()
    table = Table("measure", "result")
    for measure, result in run(console, quick=args.quick):
        table.add_row(measure, result)
    console.print(table)


if __name__ == "__main__":
    main()
