"""rempart.media: every supported format decodes, limits hold, and hostile input is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rempart.errors import MediaError, MediaErrorCode
from rempart.media import FORMATS, MediaLimits, load_bytes, load_file
from tests.images import (
    encode,
    gif_with_frames,
    gradient,
    jpeg_with_app1,
    jpeg_with_orientation,
    png_chunk,
    png_declaring,
)


def code_of(data: bytes, limits: MediaLimits | None = None) -> MediaErrorCode:
    def load_and_decode() -> None:
        load_bytes(data, limits=limits or MediaLimits()).decode()

    with pytest.raises(MediaError) as caught:
        load_and_decode()
    assert caught.value.message, "every error needs a message a person can read"
    return caught.value.code


@pytest.mark.parametrize(
    ("fmt", "options", "expected"),
    [
        ("JPEG", {"quality": 90}, "jpeg"),
        ("PNG", {}, "png"),
        ("WEBP", {"lossless": True}, "webp"),
        ("GIF", {}, "gif"),
        ("BMP", {}, "bmp"),
        ("TIFF", {}, "tiff"),
        ("AVIF", {"quality": 90}, "avif"),
        ("HEIF", {"quality": 90}, "heic"),
    ],
)
def test_every_supported_format_decodes(
    fmt: str, options: dict[str, object], expected: str
) -> None:
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    source = gradient(80, 48)
    media = load_bytes(encode(source, fmt, **options))
    image = media.decode()
    assert media.format == expected
    assert expected in FORMATS
    assert (media.width, media.height) == (80, 48) == image.size
    assert image.mode == "RGB"
    # Lossy codecs blur; the picture must still be the same picture.
    error = np.abs(np.asarray(image, np.int16) - np.asarray(source, np.int16)).mean()
    assert error < 12


def test_apng_and_gif_frames_decode_in_order() -> None:
    frames = [Image.new("RGB", (16, 16), (value, 0, 0)) for value in (10, 120, 240)]
    for fmt in ("PNG", "GIF"):
        data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
        media = load_bytes(data)
        assert media.frame_count == 3
        reds = [np.asarray(frame.convert("RGB"))[0, 0, 0] for frame in media.frames()]
        assert [abs(int(r) - v) <= 8 for r, v in zip(reds, (10, 120, 240), strict=True)] == [
            True
        ] * 3


def test_exif_orientation_is_applied() -> None:
    source = gradient(90, 40)
    upright = np.asarray(source)
    # Orientation 6: the stored image must be rotated 90 degrees clockwise to display.
    stored = source.transpose(Image.Transpose.ROTATE_90)
    media = load_bytes(jpeg_with_orientation(stored, 6))
    assert media.orientation == 6
    assert (media.width, media.height) == (90, 40)
    shown = np.asarray(media.decode(), np.int16)
    assert shown.shape == upright.shape
    right = np.abs(shown - upright).mean()
    wrong = np.abs(shown - upright[::-1, ::-1]).mean()  # what the opposite rotation shows
    assert right < 20 < wrong


def test_reduced_jpeg_decode_keeps_min_side() -> None:
    media = load_bytes(encode(gradient(2000, 1700), "JPEG", quality=90))
    reduced = media.decode(min_side=400)
    assert reduced.size == (500, 425)  # 1/4 scale: 1/8 would fall under 400
    assert reduced.mode == "RGB"
    luma = media.decode(min_side=400, luma_only=True)
    assert (luma.size, luma.mode) == ((500, 425), "L")
    full = media.decode()
    assert full.size == (2000, 1700)


def test_non_jpeg_is_never_reduced() -> None:
    media = load_bytes(encode(gradient(900, 900), "PNG"))
    assert media.decode(min_side=100, luma_only=True).size == (900, 900)


def test_raw_metadata_is_exposed_untouched() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "steps: 20, sampler: Euler")
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    media = load_bytes(encode(gradient(), "PNG", pnginfo=info))
    assert media.metadata.text == {"parameters": "steps: 20, sampler: Euler"}
    assert media.metadata.xmp == xmp

    exif = Image.Exif()
    exif[0x0131] = "Rempart test"  # Software
    jpeg = load_bytes(encode(gradient(), "JPEG", exif=exif.tobytes()))
    assert b"Rempart test" in (jpeg.metadata.exif or b"")


def test_sixteen_bit_greyscale_keeps_its_range() -> None:
    values = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    image = Image.fromarray(values)
    decoded = load_bytes(encode(image, "PNG")).decode()
    assert decoded.mode == "L"
    assert int(np.asarray(decoded).max()) == int(values.max()) >> 8


def test_cmyk_jpeg_decodes_to_rgb() -> None:
    media = load_bytes(encode(gradient().convert("CMYK"), "JPEG"))
    assert media.decode(min_side=10, luma_only=True).mode == "RGB"


# --- hostile input -------------------------------------------------------------------------


def test_zero_bytes_is_empty() -> None:
    assert code_of(b"") is MediaErrorCode.EMPTY


def test_truncated_jpeg() -> None:
    data = encode(gradient(400, 300), "JPEG", quality=90)
    assert code_of(data[: len(data) // 2]) is MediaErrorCode.TRUNCATED
    assert code_of(data[:300]) is MediaErrorCode.TRUNCATED


def test_truncated_png() -> None:
    data = encode(gradient(400, 300), "PNG")
    assert code_of(data[: len(data) // 2]) is MediaErrorCode.TRUNCATED


def test_text_named_jpg_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_text("this is not a photo\n")
    with pytest.raises(MediaError) as caught:
        load_file(path)
    assert caught.value.code is MediaErrorCode.UNSUPPORTED_FORMAT
    assert "text" in caught.value.message


def test_png_declaring_50000_squared_is_refused_before_decoding() -> None:
    assert code_of(png_declaring(50000, 50000)) is MediaErrorCode.TOO_MANY_PIXELS


def test_pixel_limit_is_configurable() -> None:
    data = encode(gradient(100, 100), "PNG")
    assert code_of(data, MediaLimits(max_pixels=9_999)) is MediaErrorCode.TOO_MANY_PIXELS
    assert load_bytes(data, limits=MediaLimits(max_pixels=10_000)).width == 100


def test_gif_with_thousands_of_frames() -> None:
    data = gif_with_frames(3000)
    assert code_of(data) is MediaErrorCode.TOO_MANY_FRAMES
    assert load_bytes(data, limits=MediaLimits(max_frames=3000)).frame_count == 3000


def test_byte_limit() -> None:
    data = encode(gradient(), "PNG")
    assert code_of(data, MediaLimits(max_bytes=len(data) - 1)) is MediaErrorCode.TOO_LARGE


def test_byte_limit_reads_no_more_than_needed(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(b"\x89PNG" + b"\x00" * 10_000)
    with pytest.raises(MediaError) as caught:
        load_file(path, limits=MediaLimits(max_bytes=1_000))
    assert caught.value.code is MediaErrorCode.TOO_LARGE


def test_compressed_text_chunk_bomb() -> None:
    bomb = png_chunk(b"zTXt", b"comment\x00\x00" + __import__("zlib").compress(b"A" * 200_000_000))
    data = encode(gradient(), "PNG")
    data = data[:33] + bomb + data[33:]  # after IHDR
    code = code_of(data)
    assert code in (MediaErrorCode.TOO_LARGE, MediaErrorCode.CORRUPT)


@pytest.mark.parametrize(
    "payload",
    [
        b"Exif\x00\x00" + b"\x13\x37" * 20,  # no TIFF header at all
        b"Exif\x00\x00II*\x00\xff\xff\x00\x00" + b"\x00" * 10,  # IFD offset past the end
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x01" * 30,  # 65535 entries claimed
    ],
)
def test_corrupt_exif_still_decodes_with_a_warning(payload: bytes) -> None:
    # Refusing the image would let anyone dodge a hash list by damaging its EXIF.
    media = load_bytes(jpeg_with_app1(payload))
    assert media.orientation == 1
    assert [w.code for w in media.warnings] == ["corrupt_metadata"]
    assert media.decode().size == (96, 64)


def test_exif_orientation_zero_is_silently_upright() -> None:
    media = load_bytes(jpeg_with_orientation(gradient(), 0))
    assert (media.orientation, media.warnings) == (1, ())


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
            "EPS (would run Ghostscript)",
        ),
        (b"P6\n4 4\n255\n" + b"\x80" * 48, "PPM"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
    ],
)
def test_formats_outside_the_list_are_refused(data: bytes, what: str) -> None:
    assert code_of(data) is MediaErrorCode.UNSUPPORTED_FORMAT, what


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as missing:
        load_file(tmp_path / "absent.jpg")
    assert missing.value.code is MediaErrorCode.NOT_FOUND
    with pytest.raises(MediaError) as folder:
        load_file(tmp_path)
    assert folder.value.code is MediaErrorCode.UNREADABLE


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        MediaLimits(max_frames=0)


def test_png_chunks_after_the_pixels_are_read_without_decoding() -> None:
    """Text and EXIF a PNG holds after its pixels (as some tools write them) are metadata, and
    the orientation applies; a compressed text chunk there inflates to at most 1 MiB."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    late = (
        png_chunk(b"tEXt", b"parameters\x00a lighthouse")
        + png_chunk(b"zTXt", b"Comment\x00\x00" + __import__("zlib").compress(b"zipped"))
        + png_chunk(b"iTXt", b"Title\x00\x00\x00en\x00\x00caf\xc3\xa9")
        + png_chunk(b"eXIf", exif.tobytes()[6:])
        + png_chunk(b"zTXt", b"bomb\x00\x00" + __import__("zlib").compress(b"A" * 50_000_000))
    )
    data = encode(gradient(96, 64), "PNG")
    data = data[:-12] + late + data[-12:]  # before IEND
    media = load_bytes(data)
    assert media.metadata.text["parameters"] == "a lighthouse"
    assert media.metadata.text["Comment"] == "zipped"
    assert media.metadata.text["Title"] == "café"
    assert len(media.metadata.text["bomb"]) == 1 << 20
    assert (media.orientation, media.width, media.height) == (6, 64, 96)
