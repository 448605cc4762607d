"""Stable Diffusion's invisible watermarks: the ``dwtDct`` method of the invisible-watermark
library, as the reference scripts and diffusers apply it to every image they generate.

The method (invisible-watermark's ``EmbedMaxDct``): convert to YUV, take the U plane, one level
of Haar DWT, and cut its approximation band into 4 x 4 blocks; block ``n`` carries bit
``n mod length`` of the message in the DCT coefficient of largest magnitude (DC excluded),
quantised with step 36 so that its remainder is about 1/4 of a step for a 0 and 3/4 for a 1.
Decoding reads every block's bit and takes each message bit's majority.

Generators differ in two ways this decoder covers: some hand the encoder RGB where it expects
BGR (then the mark is in what is really the V-like plane), and some encode 8-bit pixels, others
floats. So each image is read in both colour orders, from float and from 8-bit-rounded planes,
and the best agreement with each known message is reported. A message is found when its bits
agree at least ``MIN_AGREEMENT`` of the time; ``benchmarks/watermark_fpr.py`` measures how often
unmarked images reach that. Resizing or cropping off the 8-pixel grid destroys this mark, so
its absence says nothing.

Blocks are numbered in row order over the whole image, 2 x 2 pixels of the band per pixel of
the U plane, so each 8-pixel-tall strip of full-width rows holds the next run of blocks: the
top rows of an image (``Media.decode_band``), a whole number of 8-pixel rows tall, carry the
message numbered exactly as the whole image does, with fewer blocks voting for each bit. The
provenance detector reads such a band, not the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MARKS",
    "MIN_AGREEMENT",
    "MIN_SIDE",
    "WatermarkReading",
    "message_bits",
    "read_watermarks",
]

SCALE: Final = 36.0  # the quantisation step invisible-watermark uses on the U plane
BLOCK: Final = 4
MIN_SIDE: Final = 256
"""Images smaller than this are not marked by the reference pipelines, and too few blocks
would carry each bit to read it."""


def message_bits(message: bytes | int, *, length: int | None = None) -> NDArray[np.uint8]:
    """The bits a message is embedded as: bytes most significant bit first, or an integer of
    ``length`` bits (invisible-watermark's ``bytes`` and ``bits`` types)."""
    if isinstance(message, bytes):
        return np.unpackbits(np.frombuffer(message, dtype=np.uint8))
    if length is None:
        raise ValueError("an integer message needs its length in bits")
    return np.array([(message >> (length - 1 - i)) & 1 for i in range(length)], dtype=np.uint8)


MARKS: Final = {
    # scripts/txt2img.py of Stable Diffusion 1.x: WatermarkEncoder with 'bytes'.
    "StableDiffusionV1": message_bits(b"StableDiffusionV1"),
    # Stable Diffusion 2.x's scripts.
    "SDV2": message_bits(b"SDV2"),
    # SDXL (generative-models and diffusers): 48 bits.
    "SDXL": message_bits(0xB3EC907BB19E, length=48),
}
"""The messages Stable Diffusion's reference pipelines embed, by name."""

MIN_AGREEMENT: Final = {"StableDiffusionV1": 0.80, "SDV2": 0.90, "SDXL": 0.85}
"""Fraction of a message's bits that must agree for it to count as found: at least 109 of
136, 29 of 32 and 41 of 48 bits. If an unmarked image's bits were coin flips, a reading would
reach these with probability about 1e-12, 1.3e-6 and 3e-7 (four readings per image); in fact
unmarked photographs read mostly zeros, and ``benchmarks/watermark_fpr.py`` measures the rate
on them. A JPEG re-encode at quality 95 keeps about 85-95% of the bits, so these still find it.
"""


@dataclass(frozen=True, slots=True)
class WatermarkReading:
    """How well an image's watermark bits agree with one known message.

    Attributes:
        mark: the message's name (``SDXL``).
        agreement: fraction of its bits read back, at the best of the four readings.
        channel_order: ``bgr`` (the encoder was given BGR, as intended) or ``rgb``.
        depth: ``float`` or ``uint8``, the plane the best reading came from.
        found: agreement reached ``MIN_AGREEMENT`` for this message.
    """

    mark: str
    agreement: float
    channel_order: str
    depth: str
    found: bool


def read_watermarks(
    rgb: NDArray[np.uint8], *, image_size: tuple[int, int] | None = None
) -> list[WatermarkReading]:
    """Read every known mark from RGB pixels as the encoder wrote them; empty when the image
    is smaller than ``MIN_SIDE`` on a side.

    ``image_size``: when ``rgb`` is the top band of a larger image (full width, a multiple of
    8 rows), that image's ``(width, height)``, which ``MIN_SIDE`` applies to; by default
    ``rgb`` is the whole image.
    """
    height, width = rgb.shape[:2]
    if min(image_size or (width, height)) < MIN_SIDE:
        return []
    pixels = rgb[: height // 4 * 4, : width // 4 * 4]
    best: dict[str, WatermarkReading] = {}
    for order, weights in _U_WEIGHTS.items():
        # float32 is exact enough: the plane's values are within +-128, steps of 1/1000.
        plane = pixels @ weights
        # The 8-bit path rounds the plane to whole numbers (+128, never clipped: |U| < 112).
        for depth, values in (("float", plane), ("uint8", np.rint(plane))):
            block_bits = _block_bits(values)
            for mark, bits in MARKS.items():
                agreement = _agreement(block_bits, bits)
                if mark not in best or agreement > best[mark].agreement:
                    found = agreement >= MIN_AGREEMENT[mark]
                    best[mark] = WatermarkReading(mark, agreement, order, depth, found)
    return list(best.values())


def _u_weights(blue_is: int) -> NDArray[np.float32]:
    """Weights on (R, G, B) of OpenCV's BGR2YUV U = 0.492 (B - Y), Y = 0.299 R + 0.587 G +
    0.114 B, when the channel at index ``blue_is`` is taken for blue."""
    red_is = 2 - blue_is
    weights = np.zeros(3, np.float64)
    weights[blue_is] += 0.492
    weights[red_is] -= 0.492 * 0.299
    weights[1] -= 0.492 * 0.587
    weights[blue_is] -= 0.492 * 0.114
    return weights.astype(np.float32)


# "bgr": the encoder was handed BGR, as intended; "rgb": it was handed RGB as if it were BGR,
# so what it took for blue was red.
_U_WEIGHTS: Final = {"bgr": _u_weights(2), "rgb": _u_weights(0)}


def _dct_matrix(size: int) -> NDArray[np.float64]:
    """The orthonormal DCT-II matrix (what OpenCV's ``cv2.dct`` computes on a block)."""
    k = np.arange(size)[:, None]
    n = np.arange(size)[None, :]
    matrix = np.sqrt(2 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    matrix[0] /= np.sqrt(2)
    result: NDArray[np.float64] = matrix
    return result


# A 4 x 4 block's 2-D DCT as one 16 x 16 product on the flattened block (C X C^T = kron(C, C) x).
_DCT2: Final = np.kron(_dct_matrix(BLOCK), _dct_matrix(BLOCK)).astype(np.float32)


def _block_bits(plane: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The bit each 4 x 4 block of the plane's Haar approximation band carries, in row order."""
    approximation = (
        plane[0::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 0::2] + plane[1::2, 1::2]
    ) / 2
    rows, cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    blocks = (
        approximation[: rows * BLOCK, : cols * BLOCK]
        .reshape(rows, BLOCK, cols, BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(-1, BLOCK * BLOCK)
    )
    coefficients = blocks @ _DCT2.T
    strongest = np.abs(coefficients[:, 1:]).max(axis=1)  # the DC coefficient never carries it
    bits: NDArray[np.uint8] = (np.mod(strongest, SCALE) > SCALE / 2).astype(np.uint8)
    return bits


def _agreement(block_bits: NDArray[np.uint8], message: NDArray[np.uint8]) -> float:
    """Majority vote of the blocks carrying each message bit, compared with the message."""
    length = len(message)
    if len(block_bits) < length:
        return 0.0
    carried = np.arange(len(block_bits)) % length  # block n carries bit n mod length
    votes = np.bincount(carried, weights=block_bits, minlength=length) / np.bincount(
        carried, minlength=length
    )
    # invisible-watermark's rule: a bit is 1 when its mean vote, times 255, exceeds 127.
    return float(np.mean((votes * 255 > 127).astype(np.uint8) == message))
