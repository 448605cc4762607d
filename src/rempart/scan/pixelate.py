"""Pixelation: hide what a person reviewing an image must not see.

Every place Rempart shows an image to a person (a report's thumbnail, a reviewer's page) goes
through here. A region is replaced by a coarse mosaic of at most ``cells`` blocks along its
longer side, whatever its size, after being widened by ``margin`` so that the edges of a
detection do not peek out. ``hidden_regions`` picks what to hide from a picture's signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from PIL import Image

from rempart.signals import Region, Signal

__all__ = ["DEFAULT_CELLS", "HIDDEN_PREFIXES", "hidden_regions", "mosaic", "pixelate"]

DEFAULT_CELLS: Final = 8
DEFAULT_MARGIN: Final = 0.15
HIDDEN_PREFIXES: Final = ("nudity.exposed.", "nudity.covered.genitalia", "nudity.covered.anus")
"""Signals whose regions are always hidden from a person."""


def pixelate(
    image: Image.Image,
    regions: Iterable[Region] | None = None,
    *,
    cells: int = DEFAULT_CELLS,
    margin: float = DEFAULT_MARGIN,
) -> Image.Image:
    """A copy of ``image`` with each region (the whole image when ``regions`` is None)
    pixelated into at most ``cells`` blocks along its longer side."""
    if cells < 1:
        raise ValueError(f"cells must be at least 1, got {cells}")
    result = image.copy()
    boxes = (
        [Region(0, 0, image.width, image.height)]
        if regions is None
        else [_widen(region, margin, image.width, image.height) for region in regions]
    )
    for box in boxes:
        if box.width < 1 or box.height < 1:
            continue
        area = (box.x, box.y, box.x + box.width, box.y + box.height)
        cover = mosaic(result.crop(area), cells=cells)
        result.paste(cover.resize((box.width, box.height), Image.Resampling.NEAREST), area[:2])
    return result


def mosaic(image: Image.Image, *, cells: int = DEFAULT_CELLS) -> Image.Image:
    """``image`` reduced to at most ``cells`` pixels along its longer side, each the mean of
    the block it covers: a mosaic to show scaled up, holding nothing finer."""
    if cells < 1:
        raise ValueError(f"cells must be at least 1, got {cells}")
    step = max(image.width, image.height) / cells
    size = (max(1, round(image.width / step)), max(1, round(image.height / step)))
    return image.resize(size, Image.Resampling.BOX)


def hidden_regions(
    signals: Iterable[Signal], *, width: int, height: int, scale: float = 1.0
) -> list[Region]:
    """The regions of the signals a person must not see, in a ``width`` x ``height`` image
    shown at ``scale`` times the size the detectors reported in."""
    return [
        signal.region.scaled(scale, width=width, height=height)
        for signal in signals
        if signal.region is not None and signal.name.startswith(HIDDEN_PREFIXES)
    ]


def _widen(region: Region, margin: float, width: int, height: int) -> Region:
    grow_x, grow_y = round(region.width * margin), round(region.height * margin)
    left, top = max(region.x - grow_x, 0), max(region.y - grow_y, 0)
    right = min(region.x + region.width + grow_x, width)
    bottom = min(region.y + region.height + grow_y, height)
    return Region(left, top, max(right - left, 0), max(bottom - top, 0))
