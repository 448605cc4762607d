"""``rempart scan --engine ray`` against the local engine on the same web-sized photos, on this
machine: Ray's overhead (target: Ray at 0.8x the local engine or better).

Both run the same ``ScanJob`` with every installed detector but identity (as ``rempart scan``
does by default) and the default policy. Local: ``Scanner`` with a job per core. Ray: a Ray
started here with one CPU per core (as a one-node cluster would be, so not counted), then
``RayJudge`` with one actor per CPU. Each figure is end to end for one job, models loaded
included (a Ray job's actors load them in their constructors; the local scanner on first use).

The photos are the web-sized ones ``web_corpus.py`` makes from the shared test images (0.5-6
megapixels, JPEG at quality 80-95), as ``scan_bench.py`` reads.

Run: ``python benchmarks/scale_ray.py`` (300 photos) or ``--quick`` (30).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rempart.config import load_settings
from rempart.detectors import default_registry
from rempart.policy import load_policy
from rempart.scan import ScanJob, Scanner
from rempart.scan.fingerprint import run_fingerprint
from rempart.scan.ray_engine import LOOPBACK, RayJudge, ScannerRecipe
from web_corpus import web_corpus

ROOT = Path(__file__).resolve().parents[1]
FULL, QUICK = 300, 30
TARGET = 0.8


def detector_names() -> list[str]:
    return default_registry(load_settings(os.environ)).installed(leave_out=("identity",))


def local(files: list[str], names: list[str]) -> float:
    """Seconds for the local engine's job over ``files``."""
    started = time.perf_counter()
    scanner = Scanner.from_registry(
        default_registry(load_settings(os.environ)), load_policy("default"), names=names
    )
    outcome = ScanJob(scanner, files, jobs=len(os.sched_getaffinity(0))).run(io.StringIO())
    assert outcome.summary.judged == len(files)
    return time.perf_counter() - started


def on_ray(files: list[str], names: list[str], database: str) -> float:
    """Seconds for the Ray engine's job over ``files`` (actors started and models loaded)."""
    recipe = ScannerRecipe.of(os.environ, database, load_policy("default"), names)
    started = time.perf_counter()
    job = ScanJob(RayJudge(recipe), files, fingerprint=run_fingerprint(recipe.build()), jobs=1)
    outcome = job.run(io.StringIO())
    assert outcome.summary.judged == len(files)
    return time.perf_counter() - started


def run(console: Console, quick: bool = False) -> list[tuple[str, str]]:
    """Rows (measure, result with the peer and the ratio)."""
    os.environ.update(LOOPBACK)  # before Ray is imported: its processes on loopback only
    import ray

    files = [str(path) for path in web_corpus(QUICK if quick else FULL)]
    names = detector_names()
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    cores = len(os.sched_getaffinity(0))
    console.print(f"{len(files)} photos, detectors {', '.join(names)}, {cores} cores")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ray.init(
            num_cpus=cores,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            _temp_dir=folder,
        )
    try:
        local_seconds = local(files, names)
        ray_seconds = on_ray(files, names, f"sqlite:///{folder}/none.db")
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    local_rate, ray_rate = len(files) / local_seconds, len(files) / ray_seconds
    ratio = ray_rate / local_rate
    verdict = "meets" if ratio >= TARGET else "misses"
    return [
        (
            f"scan, --engine local ({len(files)} photos, 0.5-6 MP)",
            f"{local_rate:.2f} images/s ({local_seconds:.1f} s, models loaded included)",
        ),
        (
            f"scan, --engine ray ({cores} actors)",
            f"{ray_rate:.2f} images/s ({ray_seconds:.1f} s): {ratio:.2f}x the local engine "
            f"({verdict} the {TARGET}x target)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} photos, not {FULL}")
    arguments = parser.parse_args()
    console = Console()
    table = Table("measure", "result", title="Ray engine against the local engine")
    for row in run(console, quick=arguments.quick):
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
