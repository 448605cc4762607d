"""PDQ end to end (file -> hash, decode included) against pdqhash with Pillow decoding.

Builds (once, cached in .bench-cache/) a few hundred JPEGs of 0.3 to 12 megapixels from the
shared test images and scikit-image's sample images, then in one run measures:

- end to end: ``rempart.hashing.hash_files`` on N threads, against ``pdqhash.compute`` on
  ``Image.open(path).convert("RGB")`` in a pool of N processes (its best setup: it holds the GIL);
- compute only: hashing already-decoded RGB arrays, one core each;
- fidelity: Rempart's hash against the reference pipeline on the same files (full decode,
  the reference CLI's 512 x 512 nearest-neighbour step, the C++ code via pdqhash).

Run: ``make bench`` (or ``python benchmarks/pdq_throughput.py --count 300 --jobs 2``).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import pdqhash
import skimage.data
from PIL import Image
from rich.console import Console
from rich.progress import track
from rich.table import Table

from rempart.hashing import FileHashes, hamming, hash_files, pack, pdq_hash

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "testdata"
CACHE = ROOT / ".bench-cache" / "pdq-corpus"
SKIMAGE_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "cat", "immunohistochemistry")
console = Console()
T = TypeVar("T")


def sources() -> list[Image.Image]:
    images = [Image.open(p).convert("RGB") for p in sorted(SHARED.rglob("*.jpg"))]
    images += [
        Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in SKIMAGE_SAMPLES
    ]
    return images


def build_corpus(count: int) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = [CACHE / f"{i:04d}.jpg" for i in range(count)]
    missing = [p for p in wanted if not p.exists()]
    if missing:
        rng = random.Random(20261122)
        pool = sources()
        plan = [
            (rng.choice(pool), rng.uniform(0.3e6, 12e6), rng.choice((80, 85, 90, 95)))
            for _ in wanted
        ]
        for path, (image, pixels, quality) in track(
            list(zip(wanted, plan, strict=True)), description="Building corpus", console=console
        ):
            if path in missing:
                height = int((pixels * image.height / image.width) ** 0.5)
                width = int(height * image.width / image.height)
                image.resize((width, height), Image.Resampling.BICUBIC).save(path, quality=quality)
    return wanted


def peer_hash(path: Path) -> tuple[str, int]:
    bits, quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return _hex(bits), int(quality)


def reference_hash(path: Path) -> tuple[str, int]:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    rows = np.arange(512) * rgb.shape[0] // 512
    cols = np.arange(512) * rgb.shape[1] // 512
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb[rows][:, cols]))
    return _hex(bits), int(quality)


def _hex(bits: np.ndarray) -> str:
    return f"{int(''.join(str(int(b)) for b in bits), 2):064x}"


def timed(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="JPEGs in the corpus")
    parser.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="cores for each side"
    )
    parser.add_argument(
        "--compute-sample", type=int, default=24, help="images for the compute-only run"
    )
    args = parser.parse_args()

    paths = build_corpus(args.count)
    megapixels = sum(np.prod(Image.open(p).size) for p in paths) / 1e6
    console.print(
        f"{len(paths)} JPEGs, {megapixels / len(paths):.1f} MP on average, {args.jobs} cores each"
    )

    files = [str(p) for p in paths]
    list(hash_files(files[:4], jobs=args.jobs))  # warm caches and imports
    ours_s, ours = timed(lambda: list(hash_files(files, jobs=args.jobs)))
    with ProcessPoolExecutor(args.jobs) as pool:
        list(pool.map(peer_hash, paths[:4]))
        peer_s, _ = timed(lambda: list(pool.map(peer_hash, paths, chunksize=2)))
        references = list(pool.map(reference_hash, paths, chunksize=2))

    sample = [np.asarray(Image.open(p).convert("RGB")) for p in paths[: args.compute_sample]]
    ours_compute_s, _ = timed(lambda: [pdq_hash(rgb) for rgb in sample])
    peer_compute_s, _ = timed(lambda: [pdqhash.compute(rgb) for rgb in sample])

    distances: Counter[int] = Counter()
    for result, (reference, quality) in zip(ours, references, strict=True):
        assert isinstance(result, FileHashes), result
        if quality >= 80:
            distances[int(hamming(pack([result.pdq]), pack([reference]))[0])] += 1

    table = Table("measure", "rempart", "pdqhash + Pillow", "ratio", title="PDQ throughput")
    table.add_row(
        "end to end, images/s",
        f"{len(paths) / ours_s:.1f}",
        f"{len(paths) / peer_s:.1f}",
        f"{peer_s / ours_s:.1f}x",
    )
    table.add_row(
        "compute only (decoded RGB), images/s, 1 core",
        f"{len(sample) / ours_compute_s:.1f}",
        f"{len(sample) / peer_compute_s:.1f}",
        f"{peer_compute_s / ours_compute_s:.1f}x",
    )
    console.print(table)
    histogram = ", ".join(f"{d}: {n}" for d, n in sorted(distances.items()))
    console.print(
        f"Fidelity to the reference pipeline, images of quality >= 80 ({sum(distances.values())}): "
        f"distance -> count {{{histogram}}}; max {max(distances)}"
    )


if __name__ == "__main__":
    main()
