"""PDQ, Meta's perceptual hash for photos: 256 bits and a quality score from 0 to 100.

The algorithm (Meta's "PDQ" paper and C++ reference, facebook/ThreatExchange ``pdq/cpp``):
luminance Y = 0.299 R + 0.587 G + 0.114 B; a tent filter made of two passes of 1-D box
filters along each axis (Jarosz), window ceil(side / 128); decimation to 64 x 64 at
``int((i + 0.5) * side / 64)``; a quality score from the 64 x 64 gradients; the 16 x 16
low-frequency block (frequencies 1..16) of the 2-D DCT-II; one bit per coefficient, set when
it is above the median. The reference command-line hasher (``pdqio.cpp``) first resizes any
image with a side over 512 to 512 x 512 by nearest neighbour (CImg's default), and the
published reference hashes include that step, so this module does too.

Why this is fast: the tent filter is linear and separable, and decimation reads only 64 rows
and 64 columns of its output, so each output pixel depends on a handful of input rows and
columns known in advance. ``_axis_plan`` precomputes them (and their weights) once per image
side; hashing then gathers about 64 x 7 x 64 x 7 pixels instead of filtering the whole image.
The result equals the reference's filter up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.hashing.hash256 import to_hex

__all__ = [
    "DECODE_MIN_SIDE",
    "DIHEDRAL_NAMES",
    "MATCH_THRESHOLD",
    "MIN_QUALITY",
    "PdqDihedral",
    "PdqHash",
    "pdq_hash",
    "pdq_hash_dihedral",
]

MATCH_THRESHOLD: Final = 31
"""Meta's recommended operating point: two PDQ hashes match at Hamming distance <= 31."""

MIN_QUALITY: Final = 50
"""Hashes of quality <= 49 are too featureless to act on (Meta's recommendation)."""

REFERENCE_SIDE: Final = 512
"""``DOWNSAMPLE_DIMS`` in the reference ``pdqio.cpp``: larger images are resized to this."""

DECODE_MIN_SIDE: Final = 768
"""The smallest side a reduced JPEG decode may have before hashing.

JPEG DCT scaling averages blocks where the reference samples single pixels. Keeping 1.5x
the reference's 512 keeps the two within 4 bits on photos of quality >= 80 (measured by
``benchmarks/pdq_throughput.py``); 512 let aliasing-prone images drift by up to 24 bits.
"""

DIHEDRAL_NAMES: Final = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)
"""The order of ``PdqDihedral.hashes``, the reference's order and names."""

_MIN_SIDE: Final = 5  # MIN_HASHABLE_DIM in the reference: smaller images hash to zero
_OUT: Final = 64
_DCT_SIZE: Final = 16
_LUMA: Final = (np.float32(0.299), np.float32(0.587), np.float32(0.114))

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A PDQ hash and its quality (0-100; below ``MIN_QUALITY`` it is not worth acting on)."""

    hash: bytes
    quality: int

    @property
    def hex(self) -> str:
        """The hash as 64 hex digits, the form every PDQ hash list uses."""
        return to_hex(self.hash)


@dataclass(frozen=True, slots=True)
class PdqDihedral:
    """The hashes of the 8 rotations and flips of one image, in ``DIHEDRAL_NAMES`` order."""

    hashes: tuple[bytes, ...]
    quality: int

    @property
    def original(self) -> PdqHash:
        """The hash of the image as it is."""
        return PdqHash(self.hashes[0], self.quality)

    @property
    def hex(self) -> tuple[str, ...]:
        """The 8 hashes as hex."""
        return tuple(to_hex(h) for h in self.hashes)


Pixels = npt.NDArray[np.uint8]


def pdq_hash(pixels: Pixels, *, downsample: bool = True) -> PdqHash:
    """Hash 8-bit pixels: ``(height, width)`` luminance or ``(height, width, 3)`` RGB.

    ``np.asarray(media.decode(min_side=DECODE_MIN_SIDE, luma_only=True))`` is the intended
    input (see ``rempart.hashing.files.hash_media``). ``downsample``: first resize a larger
    image to ``REFERENCE_SIDE``, as the reference's image hasher does; False filters the pixels
    as they are, as vPDQ's C++ does with each video frame.
    """
    dct, quality = _dct16(_checked(pixels), downsample=downsample)
    return PdqHash(_bits(dct[None])[0], quality)


def pdq_hash_dihedral(pixels: Pixels) -> PdqDihedral:
    """Hash an image and its 7 other rotations and flips, from one DCT."""
    dct, quality = _dct16(_checked(pixels))
    return PdqDihedral(tuple(_bits(_dihedral(dct))), quality)


def _checked(pixels: Pixels) -> Pixels:
    if pixels.dtype != np.uint8 or not (
        pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)
    ):
        raise ValueError(
            f"PDQ hashes uint8 arrays of shape (h, w) or (h, w, 3), got {pixels.dtype} "
            f"{pixels.shape}; convert the image to RGB or L first"
        )
    return pixels


def _dct16(pixels: Pixels, *, downsample: bool = True) -> tuple[Floats, int]:
    """The 16 x 16 DCT block and the quality of an image's luminance."""
    height, width = pixels.shape[:2]
    if height < _MIN_SIDE or width < _MIN_SIDE:
        return np.zeros((_DCT_SIZE, _DCT_SIZE), np.float32), 0
    resized = downsample and (height > REFERENCE_SIDE or width > REFERENCE_SIDE)
    row_index, row_weight = _axis_plan(height, resized)
    col_index, col_weight = _axis_plan(width, resized)
    # Two one-axis takes copy whole rows first: far faster than one 4-D fancy index. Where
    # the columns' taps are about as many as the image's columns (a video frame filtered at
    # full size: 64 fewer), they are taken after the filter along rows, from 64 rows rather
    # than a thousand: gathering columns costs twice the luma of what it leaves out.
    block = pixels.take(row_index.ravel(), axis=0)
    columns_first = 2 * col_index.size < width
    if columns_first:
        block = block.take(col_index.ravel(), axis=1)
    luma = _luma(block).reshape(_OUT, row_index.shape[1], -1)
    along_rows = np.einsum("ak,akw->aw", row_weight, luma)
    if not columns_first:
        along_rows = along_rows.take(col_index.ravel(), axis=1)
    small = np.einsum("abl,bl->ab", along_rows.reshape(_OUT, _OUT, -1), col_weight)
    dct_matrix = _dct_matrix()
    return dct_matrix @ small @ dct_matrix.T, _quality(small)


def _luma(block: npt.NDArray[np.uint8]) -> Floats:
    if block.ndim == 2:  # already luminance: a greyscale image or a JPEG's Y channel
        return block.astype(np.float32)
    # Each channel converted as it is multiplied (exact: uint8 -> float32), the products
    # summed in the reference's order, without a float copy of all three channels.
    luma: Floats = np.multiply(block[..., 0], _LUMA[0], dtype=np.float32)
    luma += np.multiply(block[..., 1], _LUMA[1], dtype=np.float32)
    luma += np.multiply(block[..., 2], _LUMA[2], dtype=np.float32)
    return luma


@lru_cache(maxsize=4096)
def _axis_plan(side: int, resized: bool) -> tuple[npt.NDArray[np.intp], Floats]:
    """For each of the 64 output positions along an axis: source pixels and tent weights."""
    length = REFERENCE_SIDE if resized else side
    taps, weight = _tent_taps(length)
    # Nearest neighbour, corner-aligned, as CImg's resize(..., interpolation_type=1).
    source = (np.arange(length) * side) // length
    return source[taps], weight


@lru_cache(maxsize=1024)
def _tent_taps(length: int) -> tuple[npt.NDArray[np.intp], Floats]:
    """The tent filter's taps at the 64 decimation points of an axis of ``length`` pixels."""
    window = (length + 2 * _OUT - 1) // (2 * _OUT)  # computeJaroszFilterWindowSize
    box = _box_matrix(length, window)
    tent = box @ box  # PDQ_NUM_JAROSZ_XY_PASSES = 2
    rows = tent[((np.arange(_OUT) + 0.5) * length / _OUT).astype(np.intp)]
    support = int((rows > 0).sum(axis=1).max())
    index = np.zeros((_OUT, support), np.intp)  # unused taps point at pixel 0 with weight 0
    weight = np.zeros((_OUT, support), np.float32)
    for out, row in enumerate(rows):
        taps = np.flatnonzero(row)
        index[out, : taps.size] = taps
        weight[out, : taps.size] = row[taps]
    return index, weight


def _box_matrix(length: int, window: int) -> npt.NDArray[np.float64]:
    """The reference's 1-D box filter as a matrix: a centred mean, truncated at the edges."""
    half = (window + 2) // 2
    before, after = window - half, half - 1
    matrix = np.zeros((length, length))
    for out in range(length):
        low, high = max(0, out - before), min(length - 1, out + after)
        matrix[out, low : high + 1] = 1.0 / (high - low + 1)
    return matrix


@lru_cache(maxsize=1)
def _dct_matrix() -> Floats:
    """Rows 1..16 of the 64-point DCT-II matrix, scaled by sqrt(2/64), as the reference."""
    frequency = np.arange(1, _DCT_SIZE + 1)[:, None]
    position = np.arange(_OUT)[None, :]
    matrix = np.sqrt(2.0 / _OUT) * np.cos(np.pi / 2.0 / _OUT * frequency * (2 * position + 1))
    result: Floats = matrix.astype(np.float32)
    return result


def _quality(small: Floats) -> int:
    """The reference's image-domain quality: quantised gradient sum / 90, capped at 100."""
    scale, full = np.float32(100), np.float32(255)
    vertical = np.trunc((small[:-1, :] - small[1:, :]) * scale / full)
    horizontal = np.trunc((small[:, :-1] - small[:, 1:]) * scale / full)
    gradient_sum = int(
        np.abs(vertical).sum(dtype=np.int64) + np.abs(horizontal).sum(dtype=np.int64)
    )
    return min(100, gradient_sum // 90)


def _dihedral(dct: Floats) -> Floats:
    """The DCT blocks of the 8 rotations and flips, from sign changes and transposition.

    Mirroring an axis negates its odd frequencies (here even indices, since index i holds
    frequency i + 1); rotating by 90 degrees is a transposition plus one mirror.
    """
    odd = np.where(np.arange(_DCT_SIZE) % 2 == 1, 1, -1).astype(np.float32)
    by_row, by_col = odd[:, None], odd[None, :]
    both = by_row * by_col
    return np.stack(
        [
            dct,
            (dct * by_col).T,
            dct * both,
            (dct * by_row).T,
            dct * by_row,
            dct * by_col,
            dct.T,
            (dct * both).T,
        ]
    )


def _bits(blocks: Floats) -> list[bytes]:
    """One hash per 16 x 16 block: bit ``16 i + j`` set when coefficient (i, j) > median."""
    flat = blocks.reshape(len(blocks), -1)
    # The reference's Torben median of 256 values is the 128th smallest.
    median = np.partition(flat, 127, axis=1)[:, 127:128]
    bits = flat > median
    # Bit k is worth 2**k; hex and bytes are big-endian, so bit 255 leads.
    packed = np.packbits(bits[:, ::-1], axis=1)
    return [row.tobytes() for row in packed]
