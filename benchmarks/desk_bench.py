"""The desk: hashing a photo in the browser.

12-megapixel JPEGs (4,000 x 3,000, made here from the shared photos and scikit-image's
samples) are hashed in the page by ``pdq.js`` in Debian's chromium (WebGL2 on SwiftShader,
the software renderer, as on a machine without a GPU), from the file's bytes to the answer;
the peer is ``rempart hash`` on the same files in the same run (Python, one file at a time).
Targets: median under 0.5 s, max 1.5 s on 2 cores; the page's scripts under 60 KB.

Run: ``make bench`` (or ``python benchmarks/desk_bench.py --count 12``).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

import skimage.data
from PIL import Image
from rich.console import Console
from rich.table import Table

from rempart.hashing import FileHashes, hamming, hash_path, pack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.desk.browser import STATIC, Site, launch, missing_browser  # noqa: E402

SHARED = ROOT.parent / "shared" / "testdata"
SKIMAGE_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
PAGE_SCRIPTS = ("pdq.js", "report.js")
console = Console()


def twelve_megapixel_jpegs(count: int, folder: Path) -> list[Path]:
    """``count`` JPEGs of 4,000 x 3,000 (quality 85 to 95), written into ``folder``."""
    sources = [Image.open(p).convert("RGB") for p in sorted(SHARED.glob("pdq/bridge-mods/*.jpg"))]
    sources += [Image.fromarray(getattr(skimage.data, n)()) for n in SKIMAGE_SAMPLES]
    paths = []
    for index in range(count):
        image = sources[index % len(sources)].resize((4000, 3000), Image.Resampling.BICUBIC)
        path = folder / f"{index:03d}.jpg"
        image.save(path, quality=85 + 5 * (index % 3))
        paths.append(path)
    return paths


def in_the_page(paths: list[Path]) -> list[dict[str, object]]:
    """The worker's answers, each with the seconds from posting the file to its answer."""
    site = Site()
    try:
        with launch() as browser:
            page = site.open(browser, "/pages/hash.html")
            messages = [{"url": site.put(p.name, p.read_bytes()), "name": p.name} for p in paths]
            page.evaluate("(messages) => hashAll(messages.slice(0, 1))", messages)  # warm up
            answers: list[dict[str, object]] = page.evaluate(
                "(messages) => hashAll(messages)", messages
            )
            return answers
    finally:
        site.close()


def with_rempart_hash(paths: list[Path]) -> tuple[list[float], list[FileHashes]]:
    """``rempart hash``'s work on each file, and the seconds each took."""
    hash_path(str(paths[0]))  # warm up
    seconds, results = [], []
    for path in paths:
        started = time.perf_counter()
        result = hash_path(str(path))
        seconds.append(time.perf_counter() - started)
        assert isinstance(result, FileHashes), result
        results.append(result)
    return seconds, results


def browser_hashing(count: int) -> None:
    """Print the browser's seconds per photo against ``rempart hash``, and the scripts' size."""
    reason = missing_browser()
    if reason is not None:
        console.print(f"[yellow]Browser hashing skipped: {reason}")
        return
    with tempfile.TemporaryDirectory() as folder:
        paths = twelve_megapixel_jpegs(count, Path(folder))
        answers = in_the_page(paths)
        peer_seconds, peer = with_rempart_hash(paths)
    failed = [a for a in answers if not a["ok"]]
    assert not failed, failed
    page_seconds = [float(str(a["seconds"])) for a in answers]
    distances = [
        int(hamming(pack([str(a["hash"])]), pack([p.pdq]))[0])
        for a, p in zip(answers, peer, strict=True)
    ]
    table = Table(
        "12-MP JPEG, seconds", "in the page (pdq.js)", "rempart hash", "ratio",
        title=f"Hashing a photo in the browser ({count} photos, path: {answers[0]['path']})",
    )  # fmt: skip
    for name, measure in (("median", statistics.median), ("max", max)):
        ours, theirs = measure(page_seconds), measure(peer_seconds)
        table.add_row(name, f"{ours:.3f}", f"{theirs:.3f}", f"{ours / theirs:.1f}x")
    console.print(table)
    console.print(
        f"Distance to rempart hash: median {statistics.median(distances)}, max {max(distances)}"
    )
    raw = sum((STATIC / name).stat().st_size for name in PAGE_SCRIPTS)
    packed = sum(len(gzip.compress((STATIC / name).read_bytes())) for name in PAGE_SCRIPTS)
    console.print(
        f"The hash page's scripts ({' + '.join(PAGE_SCRIPTS)}): {raw / 1000:.1f} KB, "
        f"{packed / 1000:.1f} KB gzipped"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="12-MP JPEGs to hash")
    args = parser.parse_args()
    browser_hashing(args.count)


if __name__ == "__main__":
    main()
