"""``Picture``: decoded once, at a bounded size, with regions mapped back to the image."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from rempart.detectors import DETECT_MAX_SIDE, Picture
from rempart.errors import MediaError
from rempart.media import load_bytes
from rempart.signals import Region
from tests.images import encode, gradient


def test_large_images_are_reduced_and_regions_map_back() -> None:
    picture = Picture(load_bytes(encode(gradient(3000, 1500), "JPEG", quality=85)))
    pixels = picture.pixels()
    assert pixels.dtype == np.uint8
    assert pixels.shape == (DETECT_MAX_SIDE // 2, DETECT_MAX_SIDE, 3)
    assert picture.region(Region(128, 64, 256, 128), pixels) == Region(300, 150, 600, 300)
    assert picture.full_pixels().shape == (1500, 3000, 3)


def test_each_detector_takes_its_own_size_from_one_decode() -> None:
    picture = Picture(load_bytes(encode(gradient(3000, 1500), "JPEG")), decode_side=1280)
    with mock.patch.object(type(picture.media), "decode", wraps=picture.media.decode) as decode:
        assert picture.pixels(1280).shape == (640, 1280, 3)
        assert picture.pixels(640).shape == (320, 640, 3)
        assert picture.pixels(640) is picture.pixels(640)
    assert decode.call_count == 1
    small_first = Picture(load_bytes(encode(gradient(3000, 1500), "JPEG")), decode_side=640)
    assert small_first.pixels(640).shape == (320, 640, 3)


def test_small_images_keep_their_pixels_and_grey_becomes_rgb() -> None:
    picture = Picture(load_bytes(encode(gradient(200, 100).convert("L"), "PNG")))
    assert picture.pixels().shape == (100, 200, 3)
    assert picture.pixels() is picture.full_pixels()


def test_decoded_once() -> None:
    picture = Picture(load_bytes(encode(gradient(2000, 1000), "JPEG")))
    with mock.patch.object(type(picture.media), "decode", wraps=picture.media.decode) as decode:
        first = picture.pixels()
        assert picture.pixels() is first
    assert decode.call_count == 1


def test_shared_work_is_computed_once() -> None:
    picture = Picture(load_bytes(encode(gradient(), "PNG")))
    calls: list[int] = []

    def compute(value: int) -> int:
        calls.append(value)
        return value

    assert picture.shared("k", lambda: compute(7)) == 7
    assert picture.shared("k", lambda: compute(8)) == 7
    assert calls == [7]


def test_a_truncated_image_fails_when_decoded() -> None:
    data = encode(gradient(400, 300), "JPEG")
    picture = Picture(load_bytes(data[: len(data) // 2]))
    with pytest.raises(MediaError) as caught:
        picture.pixels()
    assert caught.value.code == "truncated"
