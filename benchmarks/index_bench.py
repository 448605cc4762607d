"""Rempart's multi-index hashing against faiss, at 1M and 10M PDQ hashes, in one run.

Peers, each in its own process so that its memory can be measured alone:

- faiss ``IndexBinaryMultiHash(256, 16, 16)`` with ``nflip = 31 // 16``: what HMA and
  python-threatexchange use for PDQ (exact at distance 31: one 16-bit chunk is within 1);
- faiss ``IndexBinaryFlat``: brute force, the ground truth for recall.

Data: ``uniform`` (random hashes) and ``clustered`` (families of near-duplicates, each member
a few bits from its family's first hash, as real banks hold). Queries: half near a stored
hash (8 to 24 bits flipped), half random. Dihedral queries are 8 hashes, one of them near a
stored hash, as an image's 8 rotations and flips would be.

Measured: build time; resident memory of the index (RSS after building and dropping the
input, minus RSS before loading it); single-query and dihedral throughput, one thread each,
one call per query; recall against brute force, and whether anything beyond the threshold
came back; Rempart's add and withdraw latency for single hashes on the built index.

Run: ``make bench`` (or ``python benchmarks/index_bench.py --sizes 1000000 10000000``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache" / "index"
THRESHOLD = 31
METHODS = ("rempart", "faiss-multihash", "faiss-flat")
console = Console(stderr=True)


def flip_bits(words: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip ``counts[i]`` random bits (with replacement, so at most that many) of each row."""
    words = words.copy()
    rows = np.arange(len(words))
    for step in range(int(counts.max(initial=0))):
        active = rows[counts > step]
        position = rng.integers(0, 256, len(active))
        bit = np.uint64(1) << (np.uint64(63) - (position % 64).astype(np.uint64))
        words[active, position // 64] ^= bit
    return words


def dataset(kind: str, size: int, queries: int) -> tuple[Path, Path, Path]:
    """Stored hashes, single queries and dihedral queries, cached as .npy files."""
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = tuple(CACHE / f"{kind}-{size}-{part}.npy" for part in ("db", "q", "dq"))
    if all(p.exists() for p in paths):
        return paths  # type: ignore[return-value]
    rng = np.random.default_rng(size + len(kind))

    def random_hashes(n: int) -> np.ndarray:
        return rng.integers(0, 1 << 64, size=(n, 4), dtype=np.uint64)

    if kind == "uniform":
        db = random_hashes(size)
    else:
        # Family sizes are geometric (most 1-3, some dozens); members sit 0-12 bits away.
        sizes = np.minimum(rng.geometric(0.2, size), 100)
        family = np.repeat(np.arange(size), sizes)[:size]
        bases = random_hashes(int(family.max()) + 1)
        db = flip_bits(bases[family], rng.integers(0, 13, size), rng)
    near = flip_bits(
        db[rng.integers(0, size, queries // 2)], rng.integers(8, 25, queries // 2), rng
    )
    single = np.concatenate([near, random_hashes(queries - len(near))])
    dihedral_count = max(queries // 4, 1)
    dihedral = random_hashes(dihedral_count * 8).reshape(dihedral_count, 8, 4)
    dihedral[:, 0] = flip_bits(
        db[rng.integers(0, size, dihedral_count)], rng.integers(8, 25, dihedral_count), rng
    )
    for path, array in zip(paths, (db, single, dihedral), strict=True):
        np.save(path, array)
    return paths  # type: ignore[return-value]


def to_bytes(words: np.ndarray) -> np.ndarray:
    """Packed big-endian words as the (n, 32) uint8 codes faiss takes."""
    return words.astype(">u8").view(np.uint8).reshape(len(words), 32)


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def run_one(method: str, db_path: str, q_path: str, dq_path: str) -> dict[str, Any]:
    """In a child process: build one index, measure it, return figures and results."""
    baseline = rss()
    db = np.load(db_path)
    queries, dihedral = np.load(q_path), np.load(dq_path)
    started = time.perf_counter()
    index: Any
    if method == "rempart":
        from rempart.matching.index import HashIndex

        index = HashIndex.build(db, np.arange(len(db), dtype=np.int64))
    else:
        import faiss

        faiss.omp_set_num_threads(1)
        codes = to_bytes(db)
        if method == "faiss-flat":
            index = faiss.IndexBinaryFlat(256)
        else:
            index = faiss.IndexBinaryMultiHash(256, 16, 16)
            index.nflip = THRESHOLD // 16
        index.add(codes)
        del codes
    build = time.perf_counter() - started
    size = len(db)
    del db
    memory = rss() - baseline - queries.nbytes - dihedral.nbytes

    def search(batch: np.ndarray) -> list[list[int]]:
        if method == "rempart":
            found = index.search(batch, THRESHOLD)
            return [found.for_query(i).ids.tolist() for i in range(len(batch))]
        lims, _, ids = index.range_search(to_bytes(batch), THRESHOLD + 1)  # faiss: d < radius
        return [sorted(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(batch))]

    started = time.perf_counter()
    single = [search(queries[i : i + 1])[0] for i in range(len(queries))]
    single_rate = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    if method == "rempart":
        dihedral_found = [
            sorted(index.search_dihedral(dihedral[i : i + 1], THRESHOLD).ids.tolist())
            for i in range(len(dihedral))
        ]
    else:
        dihedral_found = [
            sorted({i for hits in search(dihedral[q]) for i in hits}) for q in range(len(dihedral))
        ]
    dihedral_rate = len(dihedral) / (time.perf_counter() - started)
    result: dict[str, Any] = {
        "method": method,
        "size": size,
        "build_s": build,
        "memory_bytes": memory,
        "single_per_s": single_rate,
        "dihedral_per_s": dihedral_rate,
        "single": [sorted(s) for s in single],
        "dihedral": dihedral_found,
    }
    if method == "rempart":
        result.update(update_latencies(index, size))
    return result


def update_latencies(index: Any, size: int) -> dict[str, Any]:
    """Add then withdraw single hashes on the built index, timing each call."""
    rng = np.random.default_rng(7)
    fresh = rng.integers(0, 1 << 64, size=(10_000, 4), dtype=np.uint64)
    adds, removes = [], []
    for i in range(len(fresh)):
        started = time.perf_counter()
        index.add(fresh[i : i + 1], np.array([size + i]))
        adds.append(time.perf_counter() - started)
    for i in rng.permutation(size)[:2000]:
        started = time.perf_counter()
        index.remove(np.array([i]))
        removes.append(time.perf_counter() - started)
    figures = {}
    for name, times in (("add", adds), ("withdraw", removes)):
        figures[f"{name}_p50_ms"] = float(np.percentile(times, 50) * 1000)
        figures[f"{name}_p99_ms"] = float(np.percentile(times, 99) * 1000)
        figures[f"{name}_max_ms"] = float(np.max(times) * 1000)
    return figures


def measure(method: str, paths: tuple[Path, Path, Path]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", method, *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def recall(found: list[list[int]], truth: list[list[int]]) -> tuple[float, int]:
    """Share of true matches found, and how many results were not true matches."""
    expected = sum(len(t) for t in truth)
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    extra = sum(len(set(f) - set(t)) for f, t in zip(found, truth, strict=True))
    return (hits / expected if expected else 1.0), extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--kinds", nargs="+", default=["uniform", "clustered"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    table = Table(title=f"Exact PDQ search within {THRESHOLD} bits, one thread")
    for column in (
        "data",
        "method",
        "build s",
        "memory MiB",
        "single q/s",
        "dihedral q/s",
        "recall",
        "extra",
        "x faiss-mh single",
        "x faiss-mh dihedral",
    ):
        table.add_column(column, justify="right")
    summary = []
    for size in args.sizes:
        for kind in args.kinds:
            paths = dataset(kind, size, args.queries)
            results = {}
            for method in METHODS:
                console.print(f"{kind} {size:,}: {method}...")
                results[method] = measure(method, paths)
            truth = results["faiss-flat"]
            peer = results["faiss-multihash"]
            for method, result in results.items():
                single_recall, single_extra = recall(result["single"], truth["single"])
                dihedral_recall, dihedral_extra = recall(result["dihedral"], truth["dihedral"])
                table.add_row(
                    f"{kind} {size:,}",
                    method,
                    f"{result['build_s']:.1f}",
                    f"{result['memory_bytes'] / 2**20:.0f}",
                    f"{result['single_per_s']:.0f}",
                    f"{result['dihedral_per_s']:.0f}",
                    f"{min(single_recall, dihedral_recall):.4f}",
                    str(single_extra + dihedral_extra),
                    f"{result['single_per_s'] / peer['single_per_s']:.1f}",
                    f"{result['dihedral_per_s'] / peer['dihedral_per_s']:.1f}",
                )
                figures = {k: v for k, v in result.items() if k not in ("single", "dihedral")}
                summary.append({"data": kind, **figures, "recall": single_recall})
            rempart = results["rempart"]
            console.print(
                f"  rempart add p50/p99/max {rempart['add_p50_ms']:.3f}/"
                f"{rempart['add_p99_ms']:.3f}/{rempart['add_max_ms']:.1f} ms, withdraw "
                f"{rempart['withdraw_p50_ms']:.3f}/{rempart['withdraw_p99_ms']:.3f}/"
                f"{rempart['withdraw_max_ms']:.1f} ms"
            )
    Console(width=180).print(table)
    for row in summary:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
