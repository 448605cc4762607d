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

from rempart.detectors import FakeDetector, Picture
from rempart.detectors.picture import DETECT_MAX_SIDE
from rempart.detectors.pipeline import decode_side, load_picture
from rempart.detectors.provenance import WATERMARK_BAND_PIXELS, ProvenanceDetector
from rempart.errors import MediaError, MediaErrorCode
from rempart.media import band_rows, load_bytes
from rempart.provenance.watermark import MARKS, MIN_AGREEMENT, message_bits, read_watermarks
from rempart.signals import Signal
from tests.conftest import picture_of
from tests.images import encode, jpeg_with_orientation, skimage_rgb
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


# --- through the detector: the band it reads -----------------------------------------------

EVIDENCE = {"agreement", "channel_order", "depth"}


def marked_at(size: tuple[int, int], mark: str, *, seed: int = 0) -> NDArray[np.uint8]:
    """A benign photograph resized to ``size`` and marked whole, in one of the pipelines."""
    names = ("coffee", "chelsea", "rocket", "astronaut")
    rgb = Image.fromarray(skimage_rgb(names[seed % len(names)])).resize(
        size, Image.Resampling.BICUBIC
    )
    depth, order = ("uint8", "float")[seed % 2], ("bgr", "rgb")[seed // 2 % 2]
    return embed(np.asarray(rgb), MARKS[mark], depth=depth, channel_order=order)


def watermark_signals(picture: Picture) -> list[Signal]:
    (signals,) = ProvenanceDetector().detect([picture])
    return [s for s in signals if s.name.startswith("provenance.watermark")]


def assert_found(picture: Picture, mark: str) -> None:
    (signal,) = watermark_signals(picture)
    assert (signal.name, signal.value) == ("provenance.watermark.sd", mark)
    assert set(signal.evidence) == EVIDENCE
    assert signal.score == pytest.approx(signal.evidence["agreement"], abs=1e-4)
    assert signal.score >= MIN_AGREEMENT[mark]


@pytest.mark.parametrize("size", [(512, 512), (1024, 1024), (1216, 832), (832, 1216), (2048, 2048)])
def test_the_provenance_detector_finds_generator_sizes_from_the_band(size: tuple[int, int]) -> None:
    for seed, mark in enumerate(MARKS):
        marked = marked_at(size, mark, seed=seed + size[0])
        assert_found(picture_of(marked, "PNG"), mark)
        assert_found(Picture(load_bytes(encode(Image.fromarray(marked), "JPEG", quality=95))), mark)


def test_the_provenance_detector_finds_a_large_image_marked_whole() -> None:
    marked = marked_at((4000, 3000), "SDXL", seed=1)
    assert_found(picture_of(marked, "PNG"), "SDXL")
    assert_found(Picture(load_bytes(encode(Image.fromarray(marked), "JPEG", quality=95))), "SDXL")


def test_the_provenance_detector_reads_only_the_band() -> None:
    """Below the band the marked pixels are replaced by unmarked ones: still found, since the
    band alone carries the message; with the band's own rows unmarked, nothing is."""
    marked = marked_at((1024, 1024), "StableDiffusionV1")
    plain = np.asarray(Image.fromarray(skimage_rgb("coffee")).resize((1024, 1024)))
    rows = band_rows(1024, 1024, WATERMARK_BAND_PIXELS)
    assert rows == 256
    below_replaced = np.concatenate([marked[:rows], plain[rows:]])
    assert_found(picture_of(below_replaced), "StableDiffusionV1")
    band_replaced = np.concatenate([plain[:rows], marked[rows:]])
    assert watermark_signals(picture_of(band_replaced)) == []


def test_the_provenance_detector_reads_the_mark_as_stored_whatever_the_orientation() -> None:
    """A lossless rotation by EXIF tag moves where the image shows, not the marked array."""
    marked = marked_at((1216, 832), "SDXL", seed=2)
    picture = Picture(load_bytes(jpeg_with_orientation(Image.fromarray(marked), 6)))
    assert (picture.media.width, picture.media.height) == (832, 1216)
    assert_found(picture, "SDXL")


def test_the_band_needs_the_whole_images_size_for_min_side() -> None:
    marked = marked_at((2048, 2048), "SDV2")
    band = marked[:128]
    assert found(band) == []  # 128 rows alone are under MIN_SIDE
    assert [r.mark for r in read_watermarks(band, image_size=(2048, 2048)) if r.found] == ["SDV2"]
    assert read_watermarks(marked[:128, :200], image_size=(200, 2048)) == []


def test_the_provenance_detector_finds_no_mark_where_none_was_put(
    benign_pictures: list[Picture],
) -> None:
    for picture, signals in zip(
        benign_pictures, ProvenanceDetector().detect(benign_pictures), strict=True
    ):
        assert [s for s in signals if s.name.startswith("provenance.watermark")] == [], picture.path


def test_the_provenance_detector_reports_a_damaged_band() -> None:
    data = encode(Image.fromarray(marked_at((512, 512), "SDXL")), "JPEG", quality=95)
    (signal,) = watermark_signals(Picture(load_bytes(data[:2000])))
    assert (signal.name, signal.value) == ("provenance.watermark.error", "undecodable")


def test_provenance_asks_for_no_shared_pixels_yet_a_damaged_file_fails_up_front() -> None:
    provenance = ProvenanceDetector()
    assert provenance.max_side == 0
    assert decode_side([provenance]) == DETECT_MAX_SIDE  # the decode that finds damage
    assert decode_side([provenance, FakeDetector(max_side=640)]) == 640
    assert decode_side([provenance, FakeDetector(max_side=None)]) is None
    data = encode(Image.fromarray(skimage_rgb("coffee")), "JPEG", quality=95)
    with pytest.raises(MediaError) as caught:
        load_picture(data[: len(data) // 2], side=decode_side([provenance]))
    assert caught.value.code is MediaErrorCode.TRUNCATED
