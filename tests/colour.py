"""A detector that fires on red pictures, and a policy that blocks what it finds: constructed
detector outputs for tests of what consumes signals (a video's flagged frames, say), with
nothing but plain colours to see."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from rempart.detectors.picture import Picture
from rempart.policy import Policy, parse_policy
from rempart.signals import Region, Signal
from tests.videos import RATE, pan, photo, zoom

RED_POLICY: Final = b"""
policy: red
version: "1"
description: Blocks red pictures.
groups:
  red:
    signals: [colour.red]
    min_score: 0.5
rules:
  - id: red
    when: [red]
    action: block
    category: demo
    reason: The picture is red.
"""

RED: Final = (220, 20, 30)


class RedDetector:
    """``colour.red`` on a picture most of whose pixels are red, its score that share; or,
    given ``gives``, those signals instead (outputs a test constructs, on red frames only)."""

    name = "red"
    version = "red-1"
    max_side = 64

    def __init__(self, gives: Sequence[Signal] | None = None) -> None:
        self.gives = gives

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Signals for each mostly red picture, none for the others."""
        return [self._signals(picture) for picture in pictures]

    def _signals(self, picture: Picture) -> list[Signal]:
        pixels = picture.pixels(self.max_side).astype(int)
        red = (pixels[..., 0] > 150) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
        share = float(red.mean())
        if share <= 0.5:
            return []
        if self.gives is not None:
            return list(self.gives)
        box = picture.region(Region(0, 0, pixels.shape[1], pixels.shape[0]), pixels)
        return [Signal("colour.red", round(share, 4), self.name, self.version, region=box)]


def red_policy() -> Policy:
    return parse_policy(RED_POLICY, source="red.yaml")


def red_scenes(testdata: Path, red: Sequence[int] = (2, 3)) -> list[np.ndarray]:
    """Six seconds at ``RATE``: the bridge panned, then the coffee cup zoomed; the seconds
    in ``red`` are plain red frames instead."""
    frames = [*pan(photo(testdata, "bridge"), 3 * RATE), *zoom(photo(testdata, "coffee"), 3 * RATE)]
    for second in red:
        for index in range(second * RATE, (second + 1) * RATE):
            frames[index] = np.full_like(frames[index], RED)
    return frames


def install_red_plugin(folder: Path) -> Path:
    """``RedDetector`` as an installed package's detector named ``red`` (an entry point in
    ``rempart.detectors``, as installing a wheel leaves it), in ``folder``; return ``folder``."""
    from rempart.detectors import ENTRY_POINT_GROUP

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "red_detector.py").write_text("from tests.colour import RedDetector\n")
    info = folder / "red_detector-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: red-detector\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nred = red_detector:RedDetector\n"
    )
    return folder
