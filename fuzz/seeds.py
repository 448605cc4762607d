"""Write the media and video targets' generated seeds: ``python fuzz/seeds.py`` (re-run after
changing it).

Small synthetic images (noise, gradients, flat shapes) in every format Rempart decodes, tiny
videos in every container and codec it decodes (with the ``video`` extra, PyAV), and damaged
variants of them: each file name says what is wrong with it. Reproducers the fuzzer
found are committed beside them by hand, under ``crash-*`` names, and never rewritten here.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent
MEDIA = ROOT / "corpus" / "media"
VIDEO = ROOT / "corpus" / "video"


def _noise(width: int, height: int, *, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = len(mode)
    pixels = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    return Image.fromarray(pixels[:, :, 0] if bands == 1 else pixels, mode)


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _frames(count: int, size: tuple[int, int] = (8, 8)) -> list[Image.Image]:
    return [_noise(*size, seed=i) for i in range(count)]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_declaring(width: int, height: int) -> bytes:
    """A decompression bomb's header: a tiny file declaring ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)


def _interlaced_png(image: Image.Image) -> bytes:
    """``image`` (RGB) as an Adam7-interlaced PNG, which Pillow reads but does not write: seven
    passes of sub-images, each row with filter type 0 (PNG specification, 8.2)."""
    pixels = np.asarray(image.convert("RGB"))
    raw = b""
    passes = ((0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2))
    for top, left, down, across in (*passes, (1, 0, 2, 1)):  # (top, left, row step, column step)
        part = pixels[top::down, left::across]
        if part.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in part)
    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def _flip(data: bytes, at: int, mask: int = 0xFF) -> bytes:
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


def _gif_growing_frame() -> bytes:
    """A GIF whose second frame lies outside the 8x8 screen, at 4000x4000: Pillow grows the
    canvas to hold it, so the second frame has 16 million pixels where the first had 64."""
    data = bytearray(_encode(_frames(1)[0], "GIF"))
    # Second image descriptor: left=top=3992, 8x8 (a frame placed far outside the screen).
    trailer = data.rindex(b"\x3b")
    descriptor_at = data.index(b"\x2c")
    first_frame = bytes(data[descriptor_at:trailer])
    moved = b"\x2c" + struct.pack("<HHHH", 3992, 3992, 8, 8) + first_frame[9:]
    return bytes(data[:trailer]) + moved + b"\x3b"


def _tiff_two_pages_second_huge() -> bytes:
    """A two-page TIFF whose second page declares 60000x60000 pixels."""
    data = bytearray(_encode(_frames(2)[0], "TIFF", save_all=True, append_images=_frames(2)[1:]))
    # The second IFD's width tag (256, SHORT or LONG): rewrite the first after the first IFD.
    order = "<" if data[:2] == b"II" else ">"
    first_ifd = struct.unpack(order + "I", data[4:8])[0]
    entries = struct.unpack(order + "H", data[first_ifd : first_ifd + 2])[0]
    next_at = first_ifd + 2 + 12 * entries
    second_ifd = struct.unpack(order + "I", data[next_at : next_at + 4])[0]
    count = struct.unpack(order + "H", data[second_ifd : second_ifd + 2])[0]
    for i in range(count):
        at = second_ifd + 2 + 12 * i
        tag, kind = struct.unpack(order + "HH", data[at : at + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = struct.pack(order + ("H" if kind == 3 else "I"), 60000)
            data[at + 8 : at + 8 + len(value)] = value
    return bytes(data)


def _tiff_bad_ifd() -> bytes:
    """A TIFF whose first IFD offset points past the end of the file."""
    data = _encode(_noise(8, 8), "TIFF")
    order = "<" if data[:2] == b"II" else ">"
    return data[:4] + struct.pack(order + "I", len(data) + 1000) + data[8:]


def _tiff_ifd_entries_garbage() -> bytes:
    """A TIFF whose IFD entries' types and counts are overwritten with 0xFF."""
    data = bytearray(_encode(_noise(8, 8), "TIFF"))
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(3):
        at = ifd + 2 + 12 * i + 2
        data[at : at + 6] = b"\xff" * 6
    return bytes(data)


def _heic() -> bytes | None:
    try:
        import pillow_heif
    except ImportError:
        return None
    pillow_heif.register_heif_opener()
    return _encode(_noise(16, 16), "HEIF", quality=50)


def seeds() -> dict[str, bytes]:
    """Every generated seed, by file name."""
    rgb = _noise(16, 12)
    jpeg = _encode(rgb, "JPEG", quality=80)
    png = _encode(rgb, "PNG")
    gif = _encode(_frames(3)[0], "GIF", save_all=True, append_images=_frames(3)[1:])
    apng = _encode(_frames(3)[0], "PNG", save_all=True, append_images=_frames(3)[1:])
    webp = _encode(_frames(2)[0], "WEBP", save_all=True, append_images=_frames(2)[1:])
    tiff = _encode(_frames(3)[0], "TIFF", save_all=True, append_images=_frames(3)[1:])
    avif = _encode(_noise(16, 16), "AVIF", quality=50)
    # Taller than a JPEG's band and its margin (media.decode_band), so that decoding stops early.
    tall = _noise(16, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0131] = "a generator"
    found: dict[str, bytes] = {
        "good.jpg": jpeg,
        "good-exif-orientation-6.jpg": _encode(rgb, "JPEG", exif=exif.tobytes()),
        "good-grey.jpg": _encode(_noise(16, 12, mode="L"), "JPEG"),
        "good-tall.jpg": _encode(tall, "JPEG", quality=80),
        "good-tall-progressive.jpg": _encode(tall, "JPEG", quality=80, progressive=True),
        "good-tall-restart-markers.jpg": _encode(tall, "JPEG", quality=80, restart_marker_rows=1),
        "good.png": png,
        "good-tall-interlaced.png": _interlaced_png(tall),
        "good-16-bit-grey.png": _encode(
            Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000), "PNG"
        ),
        "good-palette-transparency.png": _encode(_noise(8, 8).convert("P"), "PNG", transparency=0),
        "good-rgba.png": _encode(_noise(8, 8, mode="RGBA"), "PNG"),
        "good-text-chunks.png": png[:-12]
        + _png_chunk(b"tEXt", b"parameters\0a cat\nSteps: 20, Sampler: Euler")
        + _png_chunk(b"tEXt", b'prompt\0{"1": {"class_type": "CLIPTextEncode"}}')
        + png[-12:],
        "good-animated.apng": apng,
        "good-animated.gif": gif,
        "good-animated.webp": webp,
        "good.bmp": _encode(rgb, "BMP"),
        "good-three-pages.tiff": tiff,
        "good.avif": avif,
        "truncated-half.jpg": jpeg[: len(jpeg) // 2],
        "truncated-header.png": png[:40],
        "truncated-frames.gif": gif[: len(gif) * 2 // 3],
        "truncated.tiff": tiff[: len(tiff) // 2],
        "truncated.avif": avif[: len(avif) // 2],
        "flipped-ihdr-bit-depth.png": _flip(png, 24),
        "flipped-sof-precision.jpg": _flip(jpeg, jpeg.index(b"\xff\xc0") + 4),
        "flipped-logical-screen.gif": _flip(gif, 6),
        "flipped-box-size.avif": _flip(avif, 3),
        "bomb-header-50000x50000.png": _png_declaring(50000, 50000),
        "bomb-header-65535x1.png": _png_declaring(65535, 1),
        "zero-width.png": _png_declaring(0, 8),
        "gif-second-frame-4000x4000.gif": _gif_growing_frame(),
        "tiff-second-page-60000x60000.tiff": _tiff_two_pages_second_huge(),
        "tiff-ifd-offset-past-end.tiff": _tiff_bad_ifd(),
        "tiff-ifd-entries-garbage.tiff": _tiff_ifd_entries_garbage(),
    }
    heic = _heic()
    if heic is not None:
        found["good.heic"] = heic
        found["truncated.heic"] = heic[: len(heic) // 2]
        found["flipped-ftyp-size.heic"] = _flip(heic, 3)
    return found


def _video(codec: str, fmt: str, *, frames: int = 8, pix_fmt: str = "yuv420p") -> bytes:
    """``frames`` frames of 16x16 noise at 4 a second (a keyframe every 4)."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=4, options={"g": "4"})
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 16, 16, pix_fmt
        pictures = [np.asarray(frame) for frame in _frames(frames, (16, 16))]
        for pixels in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def video_seeds() -> dict[str, bytes]:
    """The video target's seeds, by file name (none without PyAV)."""
    try:
        import av  # noqa: F401 - only to know whether the video extra is installed
    except ImportError:
        return {}
    if str(ROOT.parent) not in sys.path:  # the tests' hostile videos, run as a script too
        sys.path.insert(0, str(ROOT.parent))
    from tests import hostile_videos as hostile

    mp4 = _video("libx264", "mp4")
    mkv = _video("libx264", "matroska")
    avi = _video("mpeg4", "avi")
    duration_at = mkv.index(b"\x44\x89\x88") + 3  # Segment Duration, an 8-byte float (ms)
    return {
        "good-h264.mp4": mp4,
        "good-h264.mkv": mkv,
        "good-vp9.webm": _video("libvpx-vp9", "webm"),
        "good-vp8.webm": _video("libvpx", "webm"),
        "good-mpeg4.avi": avi,
        "codec-mjpeg.avi": _video("mjpeg", "avi", pix_fmt="yuvj420p"),
        "truncated-half.mp4": mp4[: len(mp4) // 2],
        "truncated-half.mkv": mkv[: len(mkv) // 2],
        "flipped-mdat.mp4": _flip(mp4, mp4.index(b"mdat") + 64),
        "mkv-duration-1e15-ms.mkv": mkv[:duration_at]
        + struct.pack(">d", 1e15)
        + mkv[duration_at + 8 :],
        "mp4-stts-declaring-1e6-frames.mp4": hostile.declaring_frames(mp4, 10**6),
        "avi-strh-declaring-1e6-frames.avi": hostile.avi_declaring_frames(avi, 10**6),
        "mp4-sps-declaring-100000x100000.mp4": hostile.declaring_size(mp4, 100_000, 100_000),
        "mp4-track-without-samples.mp4": hostile.without_samples(mp4),
        "mp4-samples-of-0-bytes.mp4": hostile.with_empty_samples(mp4),
        "mp4-elst-replaying-8-times.mp4": hostile.looping(mp4, 8),
        "mp4-elst-replaying-1000-times.mp4": hostile.looping(mp4, 1000),
        "mkv-seekhead-seeking-itself.mkv": hostile.matroska_seeking_itself(mkv),
        "mkv-without-clusters.mkv": hostile.matroska_without_clusters(mkv),
    }


def write(folder: Path = MEDIA, make: Callable[[], dict[str, bytes]] = seeds) -> None:
    """Write the seeds into ``folder`` (files of other names, the reproducers, stay)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in make().items():
        (folder / name).write_bytes(data)
        print(f"{len(data):>7,}  {folder.relative_to(ROOT.parent) / name}")


if __name__ == "__main__":
    write()
    write(VIDEO, video_seeds)
    sys.exit(0)
