"""Safe image loading: the only module in Rempart that opens files or image bytes.

Every image a platform receives is hostile until decoded within limits. ``load_file`` and
``load_bytes`` read and check an input (size, format, pixels, frames) without decoding its
pixels; ``Media.decode`` then decodes the first frame, applies the EXIF orientation and, for
JPEG, decodes at a reduced DCT scale when the caller needs only a small image; ``Media.decode_band``
decodes only the top rows at full resolution (what a watermark reader needs). Anything
wrong raises ``MediaError`` with a reason code; Pillow's, pillow-heif's and the OS's
exceptions never escape raw: on damaged bytes a decoder may raise anything (``TypeError``,
``IndexError``, ``struct.error``, ``AssertionError``...), so every call into them goes
through ``_decoding``, which keeps only ``MemoryError`` and what is not an ``Exception``.

Don't call ``PIL.Image.open`` elsewhere in Rempart: a plugin Pillow would otherwise try
(EPS runs Ghostscript, for one) is exactly what an attacker reaches for.
"""

from __future__ import annotations

import importlib
import io
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from rempart.errors import MediaError, MediaErrorCode, media_os_error

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "STDIN",
    "Media",
    "MediaFailure",
    "MediaLimits",
    "MediaWarning",
    "Metadata",
    "band_rows",
    "exif_tags",
    "load_bytes",
    "load_file",
    "load_path",
    "load_stream",
]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
"""64 MiB: above the largest photo a phone or camera produces, below what a bomb needs."""

DEFAULT_MAX_PIXELS: Final = 150_000_000
"""150 megapixels per frame: a 108 MP phone photo passes; a 50000x50000 header does not."""

DEFAULT_MAX_FRAMES: Final = 1000
"""Animated GIF/APNG/WebP frames, or TIFF pages."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What an input may cost before Rempart refuses it.

    Attributes:
        max_bytes: size of the encoded file.
        max_pixels: width x height of one frame, checked from the header before decoding.
        max_frames: frames of an animation or pages of a TIFF.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"MediaLimits.{name} must be at least 1")


DEFAULT_LIMITS: Final = MediaLimits()

# Pillow plugin name -> Rempart's format name. Only these plugins are ever tried.
_PLUGIN_FORMATS: Final = {
    "JPEG": "jpeg",
    "MPO": "jpeg",  # phones' multi-picture JPEGs; the first picture is the photo
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tiff",
    "AVIF": "avif",
    "HEIF": "heic",
}
FORMATS: Final = tuple(sorted(set(_PLUGIN_FORMATS.values())))
"""The formats Rempart decodes (HEIC needs the ``heif`` extra)."""

_JPEG_BAND_MARGIN: Final = 32
"""Rows decoded below a JPEG's band and dropped: the tallest MCU row (4x vertical chroma
subsampling), so the band's last rows get their chroma upsampled from the same neighbours as in
a full decode, and come out identical to it."""
# SOF markers whose height can be lowered: baseline, extended and progressive Huffman coding.
_JPEG_SOF_BANDED: Final = (0xC0, 0xC1, 0xC2)
# The other SOF markers (lossless, hierarchical, arithmetic): decoded whole. C4, C8 and CC
# are DHT, JPG and DAC, not frame headers.
_JPEG_SOF_OTHER: Final = frozenset(range(0xC3, 0xD0)) - {0xC4, 0xC8, 0xCC}
_HEIF_BRANDS: Final = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_JPEG_SCALES: Final = (8, 4, 2)
_EXIF_ORIENTATION_TAG: Final = 0x0112
_EXIF_IFD_TAG: Final = 0x8769
# EXIF orientation (EXIF 2.32, tag 0x0112) -> the transposition that shows the image upright.
_ORIENTATION_TRANSPOSE: Final[Mapping[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_open_lock = threading.Lock()
_plugins_lock = threading.Lock()
_plugins_ready = False
_heif_ready = False
# Pillow's plugins for the formats of ``_PLUGIN_FORMATS``, and no other.
_PLUGIN_MODULES: Final = (
    "JpegImagePlugin",
    "MpoImagePlugin",
    "PngImagePlugin",
    "WebPImagePlugin",
    "GifImagePlugin",
    "BmpImagePlugin",
    "TiffImagePlugin",
    "AvifImagePlugin",
)


@dataclass(frozen=True, slots=True)
class MediaWarning:
    """Something wrong with an input that did not stop it from being decoded."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Metadata:
    """Raw metadata exactly as stored in the file, for detectors to interpret.

    Attributes:
        exif: the EXIF block (TIFF structure, starting ``Exif\\0\\0`` in JPEG), or None.
        xmp: the XMP packet as bytes, or None.
        text: PNG ``tEXt``/``zTXt``/``iTXt`` chunks (and GIF comments) by keyword.
        icc_profile: the embedded ICC colour profile, or None.
    """

    exif: bytes | None = None
    xmp: bytes | None = None
    text: Mapping[str, str] = field(default_factory=dict)
    icc_profile: bytes | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """An image that passed the limits: its bytes, format, size and metadata, not yet decoded.

    Attributes:
        data: the encoded bytes, as received.
        format: one of ``FORMATS``.
        width: displayed width, after EXIF orientation.
        height: displayed height, after EXIF orientation.
        frame_count: frames of an animation or pages of a TIFF (1 for a still image).
        orientation: the EXIF orientation applied on decode (1 when absent or unreadable).
        metadata: raw EXIF, XMP, text chunks and ICC profile.
        warnings: problems that did not prevent decoding, such as corrupt EXIF.
        limits: the limits it was checked against, applied again when decoding frames.
    """

    data: bytes = field(repr=False)
    format: str
    width: int
    height: int
    frame_count: int
    orientation: int
    metadata: Metadata = field(repr=False)
    warnings: tuple[MediaWarning, ...] = ()
    limits: MediaLimits = field(default=DEFAULT_LIMITS, repr=False)

    def decode(self, *, min_side: int | None = None, luma_only: bool = False) -> Image.Image:
        """Decode the first frame, upright, as an ``RGB`` or ``L`` image.

        ``min_side``: the caller needs no more than this many pixels on each side, so a JPEG
        may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, far cheaper than a
        full decode and a resize), never below ``min_side`` on either side.
        ``luma_only``: the caller reads only luminance, so a reduced JPEG may be decoded to
        its Y channel alone (mode ``L``), skipping chroma. Otherwise grayscale sources come
        back as ``L`` and everything else as ``RGB``.
        """
        with _pillow_warnings():  # already reported by load_bytes
            image = _open(self.data)
        scale = self.decode_scale(min_side)
        with _decoding():
            if scale > 1:
                # Only when reduced: at full scale, RGB then luma is what the PDQ reference does.
                size = (image.width // scale, image.height // scale)
                image.draft("L" if luma_only else "RGB", size)
            image.load()
            return _normalise(_orient(image, self.orientation))

    def decode_band(self, max_pixels: int) -> Image.Image:
        """The top ``band_rows`` rows of the first frame, full width and resolution, as ``RGB``
        or ``L``: about ``max_pixels`` pixels, or the whole frame when it has no more.

        JPEG (baseline or progressive, Huffman-coded) and non-interlaced PNG stop decoding
        below the band, so a band costs about what its pixels do; other formats are decoded
        whole and cut. Either way the band is the full decode's top rows, pixel for pixel.
        The rows are the stored ones, before EXIF orientation: a watermark is embedded in the
        array the encoder wrote, and an orientation tag added later (a lossless rotate) moves
        where it is shown, not where it is stored. A file damaged or cut off within the band
        raises ``MediaError``, as ``decode`` does; one cut off below it may still give its
        band (a JPEG does), so the band is no check of the whole file.
        """
        with _pillow_warnings():  # already reported by load_bytes
            image = _open(self.data)
        width, height = image.size
        rows = band_rows(width, height, max_pixels)
        if rows < height:
            image = self._banded(image, rows)
        with _decoding():
            image.load()
            return _normalise(image if image.height == rows else image.crop((0, 0, width, rows)))

    def _banded(self, image: ImageFile.ImageFile, rows: int) -> ImageFile.ImageFile:
        """``image`` set to decode little more than its top ``rows`` rows, or as it is where
        its format or layout cannot be cut short (then the whole frame is decoded)."""
        width, height = image.size
        if len(image.tile) != 1 or image.tile[0].extents != (0, 0, width, height):
            return image
        tile = image.tile[0]
        if image.format in ("JPEG", "MPO") and rows + _JPEG_BAND_MARGIN < height:
            # libjpeg decodes from the top but cannot stop early on its own (it insists on the
            # rows the frame header declares), so the header is made to declare fewer; past
            # them it skips each scan's remaining data to the next marker, decoding none of it.
            declared = rows + _JPEG_BAND_MARGIN
            shortened = _jpeg_with_height(self.data, declared)
            if shortened is None:
                return image
            with _pillow_warnings():
                short = _open(shortened)
            if short.size != (width, declared) or short.mode != image.mode:
                return image  # a header Pillow and this walk read differently: no shortcut
            return short
        if image.format == "PNG" and self.frame_count == 1 and not image.info.get("interlace"):
            # PNG rows are filtered and compressed in order: the decoder stops once the tile
            # it was given is full, and the rest of the IDAT data is never inflated.
            image._size = (width, rows)
            image.tile = [tile._replace(extents=(0, 0, width, rows))]
        return image

    def decode_scale(self, min_side: int | None) -> int:
        """The scale ``decode(min_side=...)`` decodes at: 1 (every pixel), or 2, 4 or 8 for a
        JPEG large enough to keep ``min_side`` on each side at that reduction."""
        if min_side is None or self.format != "jpeg":
            return 1
        ratio = min(self.width // min_side, self.height // min_side)
        return next((scale for scale in _JPEG_SCALES if ratio >= scale), 1)

    def frames(self) -> Iterator[Image.Image]:
        """Decode every frame in order, each upright and as ``RGB`` or ``L``.

        Each frame meets the limits the first met: a GIF frame may grow the canvas and a TIFF
        page has its own size, so a small first frame says nothing of the next one's pixels.
        """
        with _pillow_warnings():
            image = _open(self.data)
        for index in range(min(self.frame_count, self.limits.max_frames)):
            with _decoding():
                image.seek(index)
                _check_pixels(image.size, self.limits, f"frame {index + 1}")
                image.load()
                frame = _normalise(_orient(image, self.orientation))
            yield frame


@dataclass(frozen=True, slots=True)
class MediaFailure:
    """An input that could not be used as an image, and why: one bad file in a batch gives
    this record instead of stopping the batch."""

    path: str
    error: MediaError

    def to_json(self) -> dict[str, Any]:
        """The JSON Lines record: ``{"path", "error": {"code", "message"}}``."""
        return {
            "path": self.path,
            "error": {"code": self.error.code.value, "message": self.error.message},
        }


def band_rows(width: int, height: int, max_pixels: int) -> int:
    """The rows of ``Media.decode_band(max_pixels)`` for a frame of ``width`` x ``height``: a
    multiple of 8 (the watermark's block height), at least 8, within ``max_pixels`` pixels, or
    every row when the frame has no more."""
    rows = max(8, max_pixels // max(width, 1) // 8 * 8)
    return min(rows, height)


STDIN: Final = "-"
"""The path that means standard input, as in every Unix tool (name a file ``./-``)."""


def load_path(path: str, *, limits: MediaLimits = DEFAULT_LIMITS) -> Media:
    """Read a file, or standard input for ``-`` (see ``load_bytes``)."""
    if path == STDIN:
        return load_stream(sys.stdin.buffer, name="standard input", limits=limits)
    return load_file(path, limits=limits)


def load_file(path: str | Path, *, limits: MediaLimits = DEFAULT_LIMITS) -> Media:
    """Read an image file within ``limits`` and check it (see ``load_bytes``)."""
    try:
        with open(path, "rb") as stream:
            data = _read_bounded(stream, limits.max_bytes, str(path))
    except OSError as exc:
        raise media_os_error(path, exc) from exc
    return load_bytes(data, limits=limits)


def load_stream(stream: IO[bytes], *, name: str, limits: MediaLimits = DEFAULT_LIMITS) -> Media:
    """Read an image from an open binary stream (standard input, an upload) within ``limits``."""
    return load_bytes(_read_bounded(stream, limits.max_bytes, name), limits=limits)


def load_bytes(data: bytes, *, limits: MediaLimits = DEFAULT_LIMITS) -> Media:
    """Check encoded image bytes against ``limits`` and read their header and metadata.

    Pixels are not decoded here (``Media.decode`` does that), so a truncated body is only
    found then; everything the header can reveal (format, size, frame count) is checked now.
    """
    if not data:
        raise MediaError(MediaErrorCode.EMPTY, "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise MediaError(
            MediaErrorCode.TOO_LARGE,
            f"the file is {len(data):,} bytes, over the limit of {limits.max_bytes:,}; "
            "raise REMPART_MEDIA_MAX_BYTES to accept it",
        )
    with _pillow_warnings() as caught, _decoding():
        image = _open(data, limits)
        late = _late_chunks(image, data)
        orientation, exif_warning = _read_orientation(image, late)
        metadata = _read_metadata(image, late)
        frame_count = _count_frames(image, limits)
    # Pillow reports some EXIF damage only as a warning; surface it, once.
    pillow_warnings = [
        MediaWarning("corrupt_metadata", str(w.message).strip())
        for w in caught
        if "exif" in str(w.message).lower()
    ]
    media_warnings = [exif_warning] if exif_warning else pillow_warnings[:1]
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return Media(
        data=data,
        format=_PLUGIN_FORMATS[str(image.format)],
        width=width,
        height=height,
        frame_count=frame_count,
        orientation=orientation,
        metadata=metadata,
        warnings=tuple(media_warnings),
        limits=limits,
    )


def exif_tags(exif: bytes) -> dict[int, object]:
    """The tags of an EXIF block (IFD0 and the Exif sub-IFD, merged), by tag number.

    Raises ``MediaError`` (``corrupt``) when the block cannot be parsed.
    """
    tags = Image.Exif()
    try:
        with _pillow_warnings():
            tags.load(exif)
            merged: dict[int, object] = dict(tags)
            merged.update(tags.get_ifd(_EXIF_IFD_TAG))
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's TIFF reader raises anything on a damaged IFD
        raise MediaError(
            MediaErrorCode.CORRUPT, f"the EXIF block is unreadable: {_detail(exc)}"
        ) from exc
    if not merged and len(exif) > 8:  # Pillow gives up on a broken IFD silently
        raise MediaError(MediaErrorCode.CORRUPT, "the EXIF block holds no readable tag")
    return merged


def _read_bounded(stream: IO[bytes], max_bytes: int, name: str) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise MediaError(
            MediaErrorCode.TOO_LARGE,
            f"{name} is over the limit of {max_bytes:,} bytes; "
            "raise REMPART_MEDIA_MAX_BYTES to accept it",
        )
    return data


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn whatever a decoder raises on bad bytes into ``MediaError``.

    Pillow and pillow-heif document ``OSError``, but damaged files make them raise
    ``TypeError``, ``IndexError``, ``struct.error``, ``AssertionError``, ``RuntimeError``
    and more; one bad file in a batch must cost one error record, never the batch. Only
    ``MemoryError`` and what is not an ``Exception`` (Ctrl-C, exit) go through.
    """
    try:
        yield
    except (MediaError, MemoryError):
        raise
    except Image.DecompressionBombError as exc:
        raise MediaError(MediaErrorCode.TOO_MANY_PIXELS, _pixels_message(str(exc))) from exc
    except Exception as exc:
        raise _decode_error(exc) from exc


@contextmanager
def _pillow_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Collect Pillow's warnings (corrupt EXIF, for one) instead of letting them print.

    ``warnings.catch_warnings`` changes process-wide state, hence the lock; it only ever
    wraps header parsing, never pixel decoding, so threads still decode in parallel.
    """
    with _open_lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _open(data: bytes, limits: MediaLimits | None = None) -> ImageFile.ImageFile:
    """Open ``data`` with the allowed plugins only; check pixels when ``limits`` is given."""
    _load_plugins(data)
    formats = [name for name in _PLUGIN_FORMATS if name in Image.OPEN]
    with _decoding():
        try:
            image = Image.open(io.BytesIO(data), formats=formats)
        except UnidentifiedImageError as exc:
            raise _unidentified(data, formats) from exc
    if not isinstance(image, ImageFile.ImageFile):  # pragma: no cover - Pillow contract
        raise MediaError(MediaErrorCode.UNSUPPORTED_FORMAT, _unsupported_message(data))
    if limits is not None:
        _check_pixels(image.size, limits, "the header")
    return image


def _check_pixels(size: tuple[int, int], limits: MediaLimits, where: str) -> None:
    """Refuse a frame of no pixels or of more than ``limits.max_pixels``, before decoding it."""
    width, height = size
    if width < 1 or height < 1:
        raise MediaError(MediaErrorCode.CORRUPT, f"{where} declares {width}x{height}")
    if width * height > limits.max_pixels:
        raise MediaError(
            MediaErrorCode.TOO_MANY_PIXELS,
            f"{where} declares {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {limits.max_pixels:,}; raise REMPART_MEDIA_MAX_PIXELS to accept it",
        )


def _load_plugins(data: bytes) -> None:
    """Load the plugins of the formats Rempart decodes, once, before any thread opens; HEIF's
    (when installed) only once a file says it is HEIF, as importing it costs a command's
    start-up time."""
    global _plugins_ready, _heif_ready
    with _plugins_lock:
        if not _plugins_ready:
            for module in _PLUGIN_MODULES:
                with suppress(ImportError):  # AVIF in a Pillow built without it
                    importlib.import_module(f"PIL.{module}")
            _plugins_ready = True
        if not _heif_ready and _is_heif(data):
            try:
                import pillow_heif
            except ImportError:
                pass
            else:
                pillow_heif.register_heif_opener()
            _heif_ready = True


def _is_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _unidentified(data: bytes, formats: list[str]) -> MediaError:
    """Why no plugin opened ``data``: a format Rempart does not read, or a file that starts as
    one it does (its signature) but whose header is damaged or cut off."""
    claimed = next((name for name in formats if _accepts(name, data[:16])), None)
    if claimed is None:
        return MediaError(MediaErrorCode.UNSUPPORTED_FORMAT, _unsupported_message(data))
    return MediaError(
        MediaErrorCode.CORRUPT,
        f"the file starts as {_PLUGIN_FORMATS[claimed].upper()} but its header cannot be "
        f"read: it is damaged or cut off ({len(data):,} bytes)",
    )


def _accepts(plugin: str, prefix: bytes) -> bool:
    """Whether Pillow's ``plugin`` recognises ``prefix`` as its signature (a string answer is
    Pillow's note that it would, were it built with that format's library)."""
    accept = Image.OPEN[plugin][1]
    try:
        result = accept(prefix) if accept is not None else False
    except Exception:  # an accept function is a signature check; a failing one is a "no"
        return False
    return bool(result) and not isinstance(result, str)


def _pixels_message(detail: str) -> str:
    return f"{detail.split(',')[0]}: refused as a possible decompression bomb"


def _unsupported_message(data: bytes) -> str:
    if _is_heif(data) and "HEIF" not in Image.OPEN:
        return (
            "this is a HEIC image; install the heif extra to decode it: pip install 'rempart[heif]'"
        )
    head = data[:16]
    kind = (
        "text" if head.isascii() and all(32 <= b < 127 or b in b"\t\r\n" for b in head) else "data"
    )
    return (
        f"not an image in a supported format (the file starts like {kind}: {head[:8]!r}); "
        f"supported: {', '.join(FORMATS)}"
    )


def _detail(exc: BaseException) -> str:
    """The library's own words, and the exception's type where they are not an ``OSError``'s
    (``TypeError: ...`` tells a maintainer which bug of the decoder the file reached)."""
    words = str(exc).strip()
    if isinstance(exc, OSError) and words:
        return words
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


def _decode_error(exc: BaseException) -> MediaError:
    detail = _detail(exc)
    if isinstance(exc, EOFError) or "truncated" in detail.lower():
        return MediaError(
            MediaErrorCode.TRUNCATED,
            f"the file ends before the image does ({detail}); it was cut off in transfer",
        )
    if "decompressed data too large" in detail.lower():
        return MediaError(MediaErrorCode.TOO_LARGE, f"a compressed chunk is too large ({detail})")
    return MediaError(MediaErrorCode.CORRUPT, f"the image data is corrupt: {detail}")


def _read_orientation(image: Image.Image, late: _LateChunks) -> tuple[int, MediaWarning | None]:
    raw = image.info.get("exif") or late.exif
    try:
        if image.format == "PNG":  # getexif() would decode the pixels to find a late eXIf
            exif = Image.Exif()
            if raw:
                exif.load(raw)
        else:
            exif = image.getexif()
        value = exif.get(_EXIF_ORIENTATION_TAG, 1)
    except MemoryError:
        raise
    except Exception as exc:  # damaged EXIF: Pillow's TIFF reader raises anything
        return 1, MediaWarning(
            "corrupt_metadata", f"EXIF unreadable, orientation ignored: {_detail(exc)}"
        )
    if raw and len(raw) > 8 and not exif:
        return 1, MediaWarning("corrupt_metadata", "EXIF block present but unreadable")
    if value in (0, 1):  # 0 means "unspecified", as some editors write it
        return 1, None
    if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE:  # a tuple or list: no
        return int(value), None
    return 1, MediaWarning(
        "corrupt_metadata", f"EXIF orientation {value!r:.40} is not 1-8; ignored"
    )


def _count_frames(image: Image.Image, limits: MediaLimits) -> int:
    with _decoding():
        count = int(getattr(image, "n_frames", 1))
    if count > limits.max_frames:
        raise MediaError(
            MediaErrorCode.TOO_MANY_FRAMES,
            f"{count:,} frames, over the limit of {limits.max_frames:,}; "
            "raise REMPART_MEDIA_MAX_FRAMES to accept it",
        )
    return count


def _read_metadata(image: Image.Image, late: _LateChunks) -> Metadata:
    info = image.info
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp") or late.text.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    text: dict[str, str] = {}
    if image.format == "PNG":
        text.update((str(key), value) for key, value in info.items() if isinstance(value, str))
        text.update(late.text)
        text.pop("XML:com.adobe.xmp", None)
    if isinstance(info.get("comment"), bytes):
        text["comment"] = info["comment"].decode("utf-8", "replace")
    exif = info.get("exif") or late.exif
    icc = info.get("icc_profile")
    return Metadata(
        exif=exif if isinstance(exif, bytes) and exif else None,
        xmp=xmp if isinstance(xmp, bytes) and xmp else None,
        text=text,
        icc_profile=icc if isinstance(icc, bytes) and icc else None,
    )


@dataclass(frozen=True, slots=True)
class _LateChunks:
    """What a PNG holds after its pixels: text chunks and an eXIf chunk. Pillow reads them
    only by decoding the image (``text``, ``getexif``); the chunk list gives them without."""

    text: dict[str, str] = field(default_factory=dict)
    exif: bytes | None = None


_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS: Final = (b"tEXt", b"zTXt", b"iTXt")
_MAX_PNG_TEXT: Final = 1 << 20  # a text chunk inflates to at most this many bytes
# All of them together, as Pillow bounds the chunks before the pixels (MAX_TEXT_MEMORY): else
# a 64 MiB file of small zTXt chunks under distinct keywords inflates to gigabytes.
_MAX_PNG_TEXT_TOTAL: Final = 8 << 20


def _late_chunks(image: Image.Image, data: bytes) -> _LateChunks:
    """The text and eXIf chunks after a PNG's first IDAT (PNG specification, 11.3), walking
    chunk headers only. A damaged chunk list ends the walk; it is not an error."""
    if image.format != "PNG":
        return _LateChunks()
    text: dict[str, str] = {}
    exif: bytes | None = None
    at, seen_pixels, budget = len(_PNG_SIGNATURE), False, _MAX_PNG_TEXT_TOTAL
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if len(body) < length or kind == b"IEND":
            break
        seen_pixels = seen_pixels or kind == b"IDAT"
        if seen_pixels and kind in _PNG_TEXT_CHUNKS and budget > 0:
            found = _png_text_chunk(kind, body, min(budget, _MAX_PNG_TEXT))
            if found is not None:
                text[found[0]] = found[1]
                budget -= len(found[1])
        elif seen_pixels and kind == b"eXIf" and exif is None:
            exif = b"Exif\x00\x00" + body  # as Pillow stores it
        at += 12 + length
    return _LateChunks(text, exif)


def _png_text_chunk(kind: bytes, body: bytes, limit: int) -> tuple[str, str] | None:
    keyword, _, rest = body.partition(b"\0")
    key = keyword.decode("latin-1")
    if kind == b"tEXt":
        return key, rest.decode("latin-1")
    if kind == b"zTXt":
        text = _inflate(rest[1:], limit)
        return None if text is None else (key, text.decode("latin-1"))
    # iTXt: compression flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return None
    compressed, fields = rest[0], rest[2:]
    _, _, fields = fields.partition(b"\0")
    _, _, text_bytes = fields.partition(b"\0")
    raw = _inflate(text_bytes, limit) if compressed else text_bytes
    return None if raw is None else (key, raw.decode("utf-8", "replace"))


def _inflate(data: bytes, limit: int) -> bytes | None:
    """zlib data inflated to at most ``limit`` bytes (None when corrupt)."""
    try:
        return zlib.decompressobj().decompress(data, limit)
    except zlib.error:
        return None


def _jpeg_with_height(data: bytes, height: int) -> bytes | None:
    """``data`` with its frame header (SOF) declaring ``height`` rows, walking the marker
    segments before it; None where no baseline or progressive frame header comes before the
    first scan (another coding, or a damaged marker list)."""
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
            continue
        if marker in (0xDA, 0xD9) or marker in _JPEG_SOF_OTHER:
            return None
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_SOF_BANDED:
            if length < 8 or at + 9 > len(data):
                return None
            # SOF: length (2 bytes), sample precision (1), then the height (2).
            return data[: at + 5] + height.to_bytes(2, "big") + data[at + 7 :]
        at += 2 + length
    return None


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENTATION_TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def _normalise(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        # 16-bit greyscale: keep the high byte rather than clipping everything above 255.
        return Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
    if image.mode in ("1", "LA", "La"):
        return image.convert("L")
    return image.convert("RGB")
