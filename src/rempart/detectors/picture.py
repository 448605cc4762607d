"""``Picture``: one image as every detector of a run reads it, decoded once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rempart.hashing import FileHashes, hash_media
from rempart.media import Media
from rempart.signals import Region

__all__ = ["DETECT_MAX_SIDE", "RGB", "Picture"]

T = TypeVar("T")
RGB = NDArray[np.uint8]

DETECT_MAX_SIDE: Final = 1280
"""Longest side of the pixels detectors see: enough for a face of 80 pixels (the HOG face
detector's smallest) in a 16:1 crowd shot's worth of width, a quarter of a 12 MP photo's cost."""


class Picture:
    """One image as the detectors see it: its ``Media``, and its pixels decoded once.

    Every detector in a run reads the same ``Picture``. The image is decoded once, at the
    largest size any of them needs (``decode_side``; a JPEG at a reduced DCT scale), and each
    detector takes it at its own size (``pixels(max_side)``), resized from that one decode.
    Work one detector shares with another (the faces found, say) is kept in ``shared``.
    Regions detectors report are in the image's own pixels: map boxes with ``region``.
    ``decoded``: pixels decoded elsewhere (a video's sampled frame), used as the one decode;
    no size larger than theirs is ever decoded.
    """

    def __init__(
        self,
        media: Media,
        *,
        path: str = "",
        decode_side: int | None = DETECT_MAX_SIDE,
        decoded: RGB | None = None,
    ) -> None:
        self.media = media
        self.path = path
        self.decode_side = decode_side
        self._done: dict[object, Any] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._lock = threading.Lock()
        self._given = decoded is not None
        if decoded is not None:
            self._done["decoded"] = self._done["raw"] = decoded

    def pixels(self, max_side: int | None = DETECT_MAX_SIDE) -> RGB:
        """Upright RGB pixels, the long side at most ``max_side`` (None: full resolution).

        Raises ``MediaError`` when the image cannot be decoded (a truncated file, say).
        """
        side = self._side(max_side)
        pixels: RGB = self._once(("pixels", side), lambda: self._decode(side))
        return pixels

    def full_pixels(self) -> RGB:
        """Upright RGB pixels at full resolution."""
        return self.pixels(None)

    def region(self, box: Region, pixels: RGB) -> Region:
        """A box in ``pixels`` (from ``pixels()``) mapped to the image's own pixels."""
        scale = self.media.width / pixels.shape[1]
        return box.scaled(scale, width=self.media.width, height=self.media.height)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed once per picture and kept under ``key``."""
        return self._once(("shared", key), compute)

    def _once(self, key: object, compute: Callable[[], T]) -> T:
        """Compute once per key; other keys go on meanwhile (one detector finding faces does
        not hold up another reading pixels)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                self._done[key] = compute()
            result: T = self._done[key]
            return result

    def _side(self, max_side: int | None) -> int | None:
        longest = max(self.media.width, self.media.height)
        return None if max_side is None or max_side >= longest else max_side

    def _decode(self, side: int | None) -> RGB:
        base = self.decoded()
        largest = max(base.shape[:2])
        wanted = max(self.media.width, self.media.height) if side is None else side
        if wanted < largest:
            image = Image.fromarray(base)  # resize the one decode
            image.thumbnail((wanted, wanted), Image.Resampling.BILINEAR)
            return _rgb(image)
        if wanted == largest or self._given:
            return base  # given pixels are all there is: none larger to decode
        # Larger than any detector declared (decode_side): a decode of its own.
        return _rgb(self.media.decode(min_side=self._min_side(side)))

    def decoded(self) -> RGB:
        """The one decode, before any resizing: upright RGB, a JPEG at the smallest DCT scale
        that still gives ``decode_side`` pixels on the long side."""
        return self._once("decoded", lambda: _rgb_array(self._raw()))

    def hashes(self) -> FileHashes:
        """The file's digests and PDQ hashes with the 8 rotations and flips, computed once,
        exactly as ``rempart hash --dihedral`` computes them (``hash_media``), from this
        picture's decode wherever the hash's own would be the same."""
        return self._once("hashes", self._hash)

    def _hash(self) -> FileHashes:
        full = self.media.decode_scale(self._decode_min_side()) == 1
        return hash_media(
            self.media, path=self.path, dihedral=True, full_pixels=self._raw() if full else None
        )

    def _raw(self) -> NDArray[np.uint8]:
        """The decode as ``Media.decode`` gives it: RGB, or L for a grayscale source."""
        return self._once(
            "raw", lambda: np.asarray(self.media.decode(min_side=self._decode_min_side()))
        )

    def _decode_min_side(self) -> int | None:
        return self._min_side(self._side(self.decode_side))

    def _min_side(self, side: int | None) -> int | None:
        """The short side that gives a long side of ``side`` (None: full resolution)."""
        if side is None:
            return None
        shortest = min(self.media.width, self.media.height)
        return max(1, side * shortest // max(self.media.width, self.media.height))


def _rgb(image: Image.Image) -> RGB:
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _rgb_array(pixels: NDArray[np.uint8]) -> RGB:
    return pixels if pixels.ndim == 3 else _rgb(Image.fromarray(pixels))
