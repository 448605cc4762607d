"""How often Rempart's Stable Diffusion watermark reader finds a mark where none was put
(false positives), and how often it finds one that was (after a lossless save and after a
quality-95 JPEG).

Every image is read as the provenance detector reads it: its top band of
``WATERMARK_BAND_PIXELS`` (``read_band_watermarks``; for pixels already in memory, the same
rows cut from them, which ``Media.decode_band`` gives identically).

Unmarked images: the PDQ benchmark's corpus (JPEGs of 0.3 to 12 MP from the shared photos and
scikit-image's samples), each read from its file and as 4 random crops of 256 to 1024 pixels a
side, the sizes generators output. Marked images: crops of the same (leaving out flat ones,
which cannot carry the mark), marked by the tests' independent encoder (OpenCV and PyWavelets)
with each mark, a random pixel path and colour order each; the quality-95 JPEG is read from
its bytes.

Run: ``python benchmarks/watermark_fpr.py --count 300`` (also part of ``make bench``).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from pdq_throughput import build_corpus
from rempart.detectors.provenance import WATERMARK_BAND_PIXELS, read_band_watermarks
from rempart.media import band_rows, load_bytes, load_file
from rempart.provenance.watermark import MARKS, MIN_AGREEMENT, WatermarkReading, read_watermarks

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.provenance.sd_watermark import embed

console = Console()


def crops(rgb: np.ndarray, rng: random.Random, count: int) -> list[np.ndarray]:
    height, width = rgb.shape[:2]
    result = []
    for _ in range(count):
        side_h = rng.randint(min(256, height), min(1024, height))
        side_w = rng.randint(min(256, width), min(1024, width))
        top, left = rng.randint(0, height - side_h), rng.randint(0, width - side_w)
        result.append(rgb[top : top + side_h, left : left + side_w])
    return result


def jpeg95(rgb: np.ndarray) -> list[WatermarkReading]:
    """The readings of ``rgb`` saved as a quality-95 JPEG, read from the file's bytes."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=95)
    return read_band_watermarks(load_bytes(out.getvalue()))


def in_memory(rgb: np.ndarray) -> list[WatermarkReading]:
    """The readings of pixels held in memory, from the rows the detector's band would be."""
    height, width = rgb.shape[:2]
    band = rgb[: band_rows(width, height, WATERMARK_BAND_PIXELS)]
    return read_watermarks(band, image_size=(width, height))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="corpus images")
    parser.add_argument("--marked", type=int, default=40, help="images to mark")
    args = parser.parse_args()
    rng = random.Random(20261122)
    readings = 0
    false_positives: dict[str, int] = defaultdict(int)
    highest: dict[str, float] = defaultdict(float)
    samples: list[np.ndarray] = []
    for path in build_corpus(args.count):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        pieces = crops(rgb, rng, 4)
        samples += pieces[:1]
        for read in [read_band_watermarks(load_file(path)), *map(in_memory, pieces)]:
            for reading in read:
                highest[reading.mark] = max(highest[reading.mark], reading.agreement)
                false_positives[reading.mark] += reading.found
            readings += 1
    table = Table("mark", "bits", "threshold", "unmarked read", "false positives", "highest")
    for mark, bits in MARKS.items():
        table.add_row(
            mark,
            str(len(bits)),
            f"{MIN_AGREEMENT[mark]:.2f}",
            str(readings),
            str(false_positives[mark]),
            f"{highest[mark]:.3f}",
        )
    console.print(table)

    found: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    # A flat crop (all black or all white: the corpus has some) cannot carry a mark at all.
    textured = [s for s in samples if min(s.shape[:2]) >= 256 and s.std() >= 2]
    for rgb in textured[: args.marked]:
        for mark, bits in MARKS.items():
            depth, order = rng.choice(("uint8", "float")), rng.choice(("bgr", "rgb"))
            marked = embed(np.ascontiguousarray(rgb), bits, depth=depth, channel_order=order)
            for label, read in (("lossless", in_memory(marked)), ("jpeg 95", jpeg95(marked))):
                marks_read = [r.mark for r in read if r.found]
                found[(mark, label)][0] += marks_read == [mark]
                found[(mark, label)][1] += 1
    table = Table("mark", "after", "found", "of")
    for (mark, label), (hits, total) in found.items():
        table.add_row(mark, label, str(hits), str(total))
    console.print(table)


if __name__ == "__main__":
    main()
