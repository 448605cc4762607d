"""Pixelation hides flagged regions (and whole thumbnails) and leaves the rest untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rempart.scan.pixelate import hidden_regions, pixelate
from rempart.signals import Region, Signal
from tests.images import skimage_rgb


def distinct_blocks(pixels: np.ndarray) -> int:
    return len({tuple(row) for row in pixels.reshape(-1, pixels.shape[-1])})


def test_a_region_becomes_a_coarse_mosaic_and_the_rest_is_untouched() -> None:
    original = Image.fromarray(skimage_rgb("astronaut"))
    region = Region(200, 100, 160, 120)
    result = np.asarray(pixelate(original, [region], cells=8, margin=0.0))
    before = np.asarray(original)
    inside = result[100:220, 200:360]
    assert distinct_blocks(inside) <= 8 * 6
    assert distinct_blocks(before[100:220, 200:360]) > 1000
    outside = np.ones(before.shape[:2], bool)
    outside[100:220, 200:360] = False
    np.testing.assert_array_equal(result[outside], before[outside])


def test_margin_widens_the_hidden_area() -> None:
    original = Image.fromarray(skimage_rgb("coffee"))
    result = np.asarray(pixelate(original, [Region(100, 100, 100, 100)], margin=0.2))
    assert not np.array_equal(result[85, 150], np.asarray(original)[85, 150])


def test_a_whole_thumbnail() -> None:
    original = Image.fromarray(skimage_rgb("chelsea"))
    result = np.asarray(pixelate(original, cells=6))
    assert distinct_blocks(result) <= 6 * 5
    assert result.shape == np.asarray(original).shape


def test_the_input_is_not_changed() -> None:
    original = Image.fromarray(skimage_rgb("rocket"))
    copy = np.asarray(original).copy()
    pixelate(original)
    np.testing.assert_array_equal(np.asarray(original), copy)
    with pytest.raises(ValueError, match="cells"):
        pixelate(original, cells=0)


def test_which_regions_are_hidden() -> None:
    signals = [
        Signal("nudity.exposed.buttocks", 0.9, "nudity", "1", region=Region(10, 10, 20, 20)),
        Signal("nudity.covered.genitalia_f", 0.9, "nudity", "1", region=Region(40, 40, 20, 20)),
        Signal("nudity.face", 0.9, "nudity", "1", region=Region(0, 0, 5, 5)),
        Signal("nudity.covered.feet", 0.9, "nudity", "1", region=Region(0, 0, 5, 5)),
        Signal("provenance.c2pa.manifest", 1.0, "provenance", "1"),
    ]
    assert hidden_regions(signals, width=25, height=25, scale=0.5) == [
        Region(5, 5, 10, 10),
        Region(20, 20, 5, 5),
    ]
