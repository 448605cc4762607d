"""An independent encoder for Stable Diffusion's dwtDct watermark, for tests only.

It is built the way the generators build theirs, from OpenCV (colour conversion, DCT) and
PyWavelets (Haar DWT), following invisible-watermark's published method, so that Rempart's
numpy decoder is checked against the same building blocks rather than against itself.
``depth="uint8"`` is the reference scripts' path (8-bit planes); ``"float"`` is diffusers'
(float pixels, clamped and rounded at the end). ``channel_order="rgb"`` reproduces pipelines
that hand the encoder RGB where it expects BGR.
"""

from __future__ import annotations

import cv2
import numpy as np
import pywt
from numpy.typing import NDArray

SCALE = 36.0
BLOCK = 4


def embed(
    rgb: NDArray[np.uint8],
    bits: NDArray[np.uint8],
    *,
    depth: str = "uint8",
    channel_order: str = "bgr",
) -> NDArray[np.uint8]:
    """``rgb`` with ``bits`` embedded in its U plane (dwtDct, scale 36), as uint8 RGB."""
    given = rgb[..., ::-1] if channel_order == "bgr" else rgb  # what the encoder is handed
    image = given.astype(np.float32) if depth == "float" else given.copy()
    height, width = image.shape[:2]
    yuv = cv2.cvtColor(image, cv2.COLOR_BGR2YUV)
    plane = yuv[: height // 4 * 4, : width // 4 * 4, 1].astype(np.float64)
    approximation, details = pywt.dwt2(plane, "haar")
    _embed_blocks(approximation, bits)
    restored = pywt.idwt2((approximation, details), "haar")
    if depth == "float":
        yuv[: height // 4 * 4, : width // 4 * 4, 1] = restored
    else:  # the reference writes the float plane back into the uint8 array
        yuv[: height // 4 * 4, : width // 4 * 4, 1] = np.clip(restored, 0, 255).astype(np.uint8)
    marked = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)
    marked = np.clip(np.round(marked), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(marked[..., ::-1] if channel_order == "bgr" else marked)


def _embed_blocks(frame: NDArray[np.float64], bits: NDArray[np.uint8]) -> None:
    rows, cols = frame.shape[0] // BLOCK, frame.shape[1] // BLOCK
    number = 0
    for i in range(rows):
        for j in range(cols):
            window = frame[i * BLOCK : (i + 1) * BLOCK, j * BLOCK : (j + 1) * BLOCK]
            coefficients = cv2.dct(np.ascontiguousarray(window))
            flat = coefficients.flatten()
            position = int(np.argmax(np.abs(flat[1:]))) + 1
            row, col = divmod(position, BLOCK)
            value = coefficients[row, col]
            bit = int(bits[number % len(bits)])
            quantised = (abs(value) // SCALE + 0.25 + 0.5 * bit) * SCALE
            coefficients[row, col] = quantised if value >= 0 else -quantised
            window[:] = cv2.idct(coefficients)
            number += 1
