"""Finding faces: RetinaFace in ONNX Runtime at 640 pixels (the default) against dlib's HOG
detector at 1280 (``REMPART_FACE_DETECTOR=dlib``, the peer), on the same scenes in the same
run: recall and images/s.

The scenes are those the tests compose (``tests/detectors/face_scenes.py``): faces cut from
the shared photos of adults, scaled to 5-35% of the short side, tilted up to 30 degrees, a
quarter cut by the frame, 1 to 4 to a scene of 0.5-3 MP on backgrounds with no face, saved as
JPEG. Each finder reads every scene from its bytes (decoded at the side it searches, as a
scan that runs it decodes), one thread.
Target (issue 22): at least 3x dlib's throughput at equal or better recall.

Run: ``make bench`` (or ``python benchmarks/faces_bench.py --count 200``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' scene composer

from rempart.detectors import Picture  # noqa: E402 - after the path above
from rempart.detectors.faces import DlibFaceFinder, FaceFinder, RetinaFaceFinder  # noqa: E402
from rempart.media import load_bytes  # noqa: E402
from tests.detectors.face_scenes import Scene, compose, recall  # noqa: E402
from tests.images import encode  # noqa: E402

console = Console()


def measure(finder: FaceFinder, scenes: list[Scene], files: list[bytes]) -> tuple[float, float]:
    """Recall and images/s of ``finder`` over the scenes, from their bytes, after a warm-up."""
    finder.find(Picture(load_bytes(files[0]), decode_side=finder.max_side))
    started = time.perf_counter()
    found = [finder.find(Picture(load_bytes(data), decode_side=finder.max_side)) for data in files]
    elapsed = time.perf_counter() - started
    boxes = [[face.box.to_json() for face in faces] for faces in found]
    return recall(scenes, boxes), len(files) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="scenes to compose")
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    args = parser.parse_args()
    scenes = compose(args.testdata / "faces", args.count, seed=22)
    files = [encode(Image.fromarray(scene.rgb), "JPEG", quality=90) for scene in scenes]
    faces = sum(len(scene.faces) for scene in scenes)
    console.print(f"{len(scenes)} scenes, {faces} faces")
    ours = measure(RetinaFaceFinder(), scenes, files)
    theirs = measure(DlibFaceFinder(), scenes, files)
    table = Table("finder", "recall", "images/s", "ratio")
    table.add_row("RetinaFace, ONNX Runtime, 640 px", f"{ours[0]:.3f}", f"{ours[1]:.1f}", "")
    table.add_row("dlib HOG, 1280 px (peer)", f"{theirs[0]:.3f}", f"{theirs[1]:.1f}", "")
    ratio = ours[1] / theirs[1]
    met = "met" if ratio >= 3 and ours[0] >= theirs[0] else "NOT met"
    table.add_row("RetinaFace / dlib", f"{ours[0] - theirs[0]:+.3f}", "", f"{ratio:.1f}x ({met})")
    console.print(table)


if __name__ == "__main__":
    main()
