"""``Media.decode_band``: the top rows of the first frame as stored, pixel for pixel what a full
decode gives, decoded without the rest where the format allows (JPEG, non-interlaced PNG), and
refused as ``MediaError`` when damaged, like ``decode``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageFile

from fuzz.targets import CORPUS
from rempart.errors import MediaError, MediaErrorCode
from rempart.media import band_rows, load_bytes
from tests.images import encode, jpeg_with_orientation, skimage_rgb

BAND = 100_000


def source(mode: str = "RGB") -> Image.Image:
    """A 1000 x 700 photograph (tiled, so that no side is a multiple of 8)."""
    tiled = np.tile(skimage_rgb("astronaut"), (2, 2, 1))[:700, :1000]
    return Image.fromarray(tiled).convert(mode)


def stored(data: bytes) -> NDArray[np.uint8]:
    """Every pixel as stored, decoded by Pillow directly (no orientation), as RGB or L."""
    image = Image.open(io.BytesIO(data))
    if image.mode.startswith("I;16"):
        return (np.asarray(image) >> 8).astype(np.uint8)
    return np.asarray(image if image.mode == "L" else image.convert("RGB"))


@pytest.fixture
def loaded_heights(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The heights of the images Pillow decodes meanwhile: what decoding stopped at."""
    heights: list[int] = []
    load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        if self.tile:  # not decoded yet (a later load is a no-op)
            heights.append(self.height)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return heights


def test_band_rows() -> None:
    assert band_rows(1024, 1024, 512 * 512) == 256
    assert band_rows(1000, 700, BAND) == 96  # 100 rows fit; a multiple of 8
    assert band_rows(3000, 2000, 512 * 512) == 80
    assert band_rows(512, 300, 512 * 512) == 300  # the whole image when it has no more
    assert band_rows(100_000, 50, 1) == 8  # never less than one row of 8 x 8 blocks


@pytest.mark.parametrize(
    ("mode", "fmt", "options", "decoded_rows"),
    [
        ("RGB", "JPEG", {"quality": 95}, 96 + 32),  # 4:2:0, a margin of one tall MCU row
        ("RGB", "JPEG", {"quality": 95, "subsampling": 0}, 96 + 32),
        ("RGB", "JPEG", {"quality": 90, "progressive": True}, 96 + 32),
        ("RGB", "JPEG", {"quality": 80, "restart_marker_blocks": 5}, 96 + 32),
        ("L", "JPEG", {"quality": 95}, 96 + 32),
        ("CMYK", "JPEG", {"quality": 95}, 96 + 32),
        ("RGB", "PNG", {}, 96),
        ("L", "PNG", {}, 96),
        ("RGBA", "PNG", {}, 96),
        ("P", "PNG", {}, 96),
        ("RGB", "WEBP", {"lossless": True}, 700),  # no early stop: decoded whole, then cut
        ("RGB", "TIFF", {}, 700),
        ("RGB", "BMP", {}, 700),
    ],
)
def test_the_band_is_the_full_decodes_top_rows(
    mode: str,
    fmt: str,
    options: dict[str, object],
    decoded_rows: int,
    loaded_heights: list[int],
) -> None:
    media = load_bytes(encode(source(mode), fmt, **options))
    full = np.asarray(media.decode())
    del loaded_heights[:]
    band = media.decode_band(BAND)
    assert loaded_heights == [decoded_rows]
    assert band.mode == ("L" if mode == "L" else "RGB")
    assert band.size == (1000, 96)
    assert np.array_equal(np.asarray(band), full[:96])


def test_sixteen_bit_greyscale_band_keeps_its_range() -> None:
    values = (np.arange(300 * 200, dtype=np.uint32).reshape(200, 300) % 65536).astype(np.uint16)
    media = load_bytes(encode(Image.fromarray(values), "PNG"))
    band = media.decode_band(300 * 16)
    assert band.mode == "L"
    assert np.array_equal(np.asarray(band), np.asarray(media.decode())[:16])


def test_a_small_image_is_its_own_band(loaded_heights: list[int]) -> None:
    media = load_bytes(encode(source().resize((200, 150)), "JPEG", quality=95))
    del loaded_heights[:]
    band = media.decode_band(BAND)
    assert loaded_heights == [150]
    assert np.array_equal(np.asarray(band), np.asarray(media.decode()))


def test_the_band_is_in_stored_order_not_upright() -> None:
    """Orientation 6 shows the stored pixels turned a quarter: the band is the stored top."""
    data = jpeg_with_orientation(source(), 6)
    media = load_bytes(data)
    assert (media.width, media.height) == (700, 1000)  # as shown
    band = np.asarray(media.decode_band(BAND))
    assert band.shape == (96, 1000, 3)
    assert np.array_equal(band, stored(data)[:96])
    assert not np.array_equal(band[:, :700], np.asarray(media.decode())[:96])


@pytest.mark.parametrize(
    "name",
    sorted(path.name for path in (CORPUS / "media").glob("good*") if path.suffix != ".heic"),
)
def test_every_good_seed_gives_its_stored_top_rows(name: str) -> None:
    """Interlaced PNG, APNG, GIF, animated WebP, TIFF pages: each format's path, early or not."""
    data = (CORPUS / "media" / name).read_bytes()
    media = load_bytes(data)
    band = np.asarray(media.decode_band(1))
    expected = stored(data)
    assert band.shape[0] == min(8, expected.shape[0])
    assert np.array_equal(band, expected[: band.shape[0]])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_file_cut_off_within_its_band_is_truncated(fmt: str) -> None:
    data = encode(source(), fmt)
    for cut in (200, len(data) // 50):
        with pytest.raises(MediaError) as caught:
            load_bytes(data[:cut]).decode_band(BAND)
        assert caught.value.code is MediaErrorCode.TRUNCATED, cut


def test_a_jpeg_cut_off_below_its_band_still_gives_the_band() -> None:
    """What shows that the rows below the band were never decoded: ``decode`` refuses the
    file, the band is all there (a scan's up-front decode is what reports it truncated)."""
    data = encode(source(), "JPEG", quality=95)
    for cut in (len(data) // 2, len(data) - 2):
        media = load_bytes(data[:cut])
        with pytest.raises(MediaError) as caught:
            media.decode()
        assert caught.value.code is MediaErrorCode.TRUNCATED
        assert np.array_equal(np.asarray(media.decode_band(BAND)), stored(data)[:96])


def test_a_jpeg_whose_markers_the_walk_cannot_follow_is_decoded_whole(
    loaded_heights: list[int],
) -> None:
    """Bytes between two segments, which Pillow and libjpeg skip: the frame header is not
    rewritten on a guess, the image is decoded whole, and the band is still right."""
    data = encode(source(), "JPEG", quality=95)
    at = data.index(b"\xff\xdb")  # the first quantisation table, before the frame header
    media = load_bytes(data[:at] + b"\x00junk" + data[at:])
    del loaded_heights[:]
    band = np.asarray(media.decode_band(BAND))
    assert loaded_heights == [700]
    assert np.array_equal(band, stored(data)[:96])


def test_a_segment_running_past_the_end_is_a_media_error() -> None:
    data = encode(source(), "JPEG", quality=95)
    with pytest.raises(MediaError):
        load_bytes(data[:2] + b"\xff\xef\xff\xff" + data[2:]).decode_band(BAND)


@pytest.mark.parametrize("raised", [IndexError("list index out of range"), RuntimeError("boom")])
def test_any_exception_from_the_decoder_becomes_corrupt(
    monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    for fmt in ("JPEG", "PNG", "WEBP"):
        media = load_bytes(encode(source(), fmt))

        def fail(self: ImageFile.ImageFile) -> None:
            raise raised

        monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
        with pytest.raises(MediaError) as caught:
            media.decode_band(BAND)
        assert caught.value.code is MediaErrorCode.CORRUPT
        assert caught.value.__cause__ is raised
        monkeypatch.undo()
