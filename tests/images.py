"""Benign and hostile image files generated for tests (nothing here is read from disk)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image


def gradient(width: int = 96, height: int = 64, *, seed: int = 0) -> Image.Image:
    """A smooth, textured RGB test image: PDQ quality well above 50."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 127 + 60 * np.sin(x / (width / 7)) * np.cos(y / (height / 5))
    blobs = rng.normal(0, 1, (16, 16)).astype(np.float32)
    big = np.kron(blobs, np.ones((height // 16 + 1, width // 16 + 1), np.float32))[:height, :width]
    channels = [base + 50 * big, base - 40 * big, 255 - base + 30 * big]
    return Image.fromarray(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """Encode ``image`` in ``fmt`` with Pillow."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its CRC (PNG specification, section 5.3)."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def gif_with_frames(count: int) -> bytes:
    """An animated GIF of ``count`` distinct 2x2 frames (a few kilobytes)."""
    frames = [Image.new("L", (2, 2), (i * 37) % 256) for i in range(count)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], optimize=False)


def jpeg_with_app1(payload: bytes, image: Image.Image | None = None) -> bytes:
    """A JPEG with an APP1 segment holding ``payload`` (for EXIF and XMP tests)."""
    data = encode(image or gradient(), "JPEG", quality=90)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def jpeg_with_orientation(image: Image.Image, orientation: int) -> bytes:
    """A JPEG of ``image`` whose EXIF says to display it with ``orientation`` (1-8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


# Benign photographs and drawings bundled with scikit-image (no people but the astronaut).
SKIMAGE_IMAGES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "coins",
    "immunohistochemistry",
)


def skimage_rgb(name: str) -> np.ndarray:
    """A scikit-image sample image as RGB uint8."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    return np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3]
