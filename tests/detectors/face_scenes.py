"""Scenes composed from the shared photos of adults, for face-finding recall: each face cut
from a single-face photo, scaled, rotated, sometimes cut by the frame, several to a scene, on
backgrounds that hold no face; each scene knows where its faces are.

The tests read recall from these (``recall``); ``benchmarks/faces_bench.py`` measures the same
scenes for speed. The source faces are located once by dlib's HOG detector on the originals
(large, frontal, each found in the detector tests), enlarged to the head and some shoulders.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from tests.images import skimage_rgb

SOURCES = ("biden.jpg", "biden2.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg")
BACKGROUNDS = (
    "coffee",
    "rocket",
    "coins",
    "hubble_deep_field",
    "immunohistochemistry",
    "grass",
    "brick",
)
"""scikit-image samples with no face in them (its ``camera`` and ``astronaut`` have one)."""
MAX_ANGLE = 30.0
"""Largest in-plane rotation composed, in degrees: a tilted head, not an upside-down photo."""


@dataclass(frozen=True, slots=True)
class Scene:
    """A composed image and its faces, each as (centre x, centre y, side) in its pixels."""

    rgb: NDArray[np.uint8]
    faces: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True, slots=True)
class _Source:
    image: Image.Image
    box: tuple[int, int, int, int]  # left, top, right, bottom of the face


@functools.cache
def _sources(folder: Path) -> tuple[_Source, ...]:
    import dlib

    detector = dlib.get_frontal_face_detector()
    found = []
    for name in SOURCES:
        image = Image.open(folder / name).convert("RGB")
        (rectangle,) = detector(np.asarray(image), 1)
        box = (rectangle.left(), rectangle.top(), rectangle.right(), rectangle.bottom())
        found.append(_Source(image, box))
    return tuple(found)


def compose(faces_folder: Path, count: int, *, seed: int = 0) -> list[Scene]:
    """``count`` scenes of 0.5-3 MP with 1 to 4 faces each, from the shared ``faces/`` folder."""
    rng = random.Random(seed)
    sources = _sources(faces_folder)
    backgrounds = [Image.fromarray(skimage_rgb(name)) for name in BACKGROUNDS]
    return [_scene(rng, sources, rng.choice(backgrounds)) for _ in range(count)]


def _scene(rng: random.Random, sources: Sequence[_Source], background: Image.Image) -> Scene:
    pixels = rng.uniform(0.5e6, 3e6)
    ratio = rng.choice((4 / 3, 3 / 2, 1.0, 3 / 4, 16 / 9))
    width = int(math.sqrt(pixels * ratio))
    height = int(width / ratio)
    canvas = background.resize((width, height), Image.Resampling.BICUBIC)
    placed: list[tuple[float, float, float]] = []
    for _ in range(rng.randint(1, 4)):
        side = math.exp(rng.uniform(math.log(0.05), math.log(0.35))) * min(width, height)
        spot = _spot(rng, placed, side, width, height)
        if spot is not None:
            _paste(canvas, rng.choice(sources), spot, side, rng.uniform(-MAX_ANGLE, MAX_ANGLE))
            placed.append((*spot, side))
    return Scene(np.asarray(canvas), tuple(placed))


def _spot(
    rng: random.Random,
    placed: Sequence[tuple[float, float, float]],
    side: float,
    width: int,
    height: int,
) -> tuple[float, float] | None:
    """A centre for a face of ``side`` that keeps clear of the others; a quarter of faces are
    cut by the frame (up to a third of the face outside it)."""
    margin = side / 6 if rng.random() < 0.25 else side
    for _ in range(50):
        x = rng.uniform(margin, width - margin)
        y = rng.uniform(margin, height - margin)
        if all(math.dist((x, y), (px, py)) > 1.6 * (side + ps) for px, py, ps in placed):
            return x, y
    return None


def _paste(
    canvas: Image.Image, source: _Source, centre: tuple[float, float], side: float, angle: float
) -> None:
    """Paste the head around ``source``'s face, scaled so the face is ``side`` pixels, turned
    by ``angle`` degrees, its face centred on ``centre``."""
    left, top, right, bottom = source.box
    face = max(right - left, bottom - top)
    half = face * 0.9  # the head, some hair and some neck
    cx, cy = (left + right) / 2, (top + bottom) / 2
    head = source.image.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    size = max(2, round(2 * half * side / face))
    head = head.resize((size, size), Image.Resampling.LANCZOS)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    head = head.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    corner = (round(centre[0] - head.width / 2), round(centre[1] - head.height / 2))
    canvas.paste(head, corner, mask)


def recall(scenes: Sequence[Scene], found: Sequence[Sequence[Sequence[float]]]) -> float:
    """The share of the scenes' faces that a box found (left, top, width, height) matches: its
    centre inside the face's square and its size within half to twice the face's, one box to
    one face."""
    total = hits = 0
    for scene, boxes in zip(scenes, found, strict=True):
        free = list(boxes)
        for x, y, side in scene.faces:
            total += 1
            for box in free:
                bx, by = box[0] + box[2] / 2, box[1] + box[3] / 2
                size = math.sqrt(box[2] * box[3])
                if abs(bx - x) <= side / 2 and abs(by - y) <= side / 2 and 0.5 <= size / side <= 2:
                    free.remove(box)
                    hits += 1
                    break
    return hits / total if total else 0.0
