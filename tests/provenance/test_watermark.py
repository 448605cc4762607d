"""Stable Diffusion's invisible watermarks, embedded by the tests with an independent encoder
(OpenCV and PyWavelets, as the generators build theirs) into benign images: found in both
colour orders and both pixel paths, kept through lossless saves and a quality-95 JPEG, never
found where no mark was put."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from rempart.detectors import Picture
from rempart.detectors.provenance import ProvenanceDetector
from rempart.provenance.watermark import MARKS, message_bits, read_watermarks
from tests.conftest import picture_of
from tests.images import skimage_rgb
from tests.provenance.sd_watermark import embed


def found(rgb: NDArray[np.uint8]) -> list[str]:
    return [reading.mark for reading in read_watermarks(rgb) if reading.found]


def reencoded(rgb: NDArray[np.uint8], fmt: str, **options: object) -> NDArray[np.uint8]:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, fmt, **options)
    return np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))


def test_message_bits() -> None:
    assert list(message_bits(b"\x80\x01")) == [1] + [0] * 14 + [1]
    assert "".join(map(str, MARKS["SDXL"])) == "101100111110110010010000011110111011000110011110"
    assert len(MARKS["StableDiffusionV1"]) == 136
    assert len(MARKS["SDV2"]) == 32


@pytest.mark.parametrize("mark", list(MARKS))
@pytest.mark.parametrize("depth", ["uint8", "float"])
@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_each_mark_is_found_in_each_pipeline(mark: str, depth: str, order: str) -> None:
    marked = embed(skimage_rgb("astronaut"), MARKS[mark], depth=depth, channel_order=order)
    assert found(marked) == [mark]
    reading = next(r for r in read_watermarks(marked) if r.mark == mark)
    assert reading.agreement == 1.0
    assert reading.channel_order == order


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_marks_survive_lossless_saves_and_a_quality_95_jpeg(name: str) -> None:
    for mark in MARKS:
        marked = embed(skimage_rgb(name), MARKS[mark], depth="float")
        assert found(reencoded(marked, "PNG")) == [mark]
        assert found(reencoded(marked, "WEBP", lossless=True)) == [mark]
        assert found(reencoded(marked, "JPEG", quality=95)) == [mark]


def test_resizing_destroys_the_mark() -> None:
    """Why an absent mark never means an image is real."""
    marked = embed(skimage_rgb("coffee"), MARKS["SDXL"])
    half = np.asarray(Image.fromarray(marked).resize((450, 300), Image.Resampling.LANCZOS))
    assert found(half) == []


def test_no_mark_where_none_was_put(benign_pictures: list[Picture]) -> None:
    for picture in benign_pictures:
        assert found(picture.full_pixels()) == [], picture.path


def test_small_images_are_not_read() -> None:
    assert read_watermarks(np.zeros((200, 800, 3), np.uint8)) == []


def test_the_provenance_detector_reports_it() -> None:
    marked = embed(skimage_rgb("chelsea"), MARKS["StableDiffusionV1"], channel_order="rgb")
    (signals,) = ProvenanceDetector().detect([picture_of(marked)])
    (signal,) = signals
    assert (signal.name, signal.value, signal.score) == (
        "provenance.watermark.sd",
        "StableDiffusionV1",
        1.0,
    )
    assert signal.evidence["channel_order"] == "rgb"
