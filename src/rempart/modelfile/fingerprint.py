"""A model's fingerprint: SHA-256 over the sorted digests of each tensor's dtype, shape and
bytes, so that names, order, offsets and metadata never count (a renamed, reordered or
stripped copy keeps it). One-element tensors (a LoRA's ``.alpha``, which conversions fold
into a config) are left out. ``s1:`` hashes three 256-byte slices of each tensor, ``f1:``
every byte."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Final

from rempart.modelfile.model import STORAGE_DTYPE, FingerprintMode, Tensor
from rempart.modelfile.source import Source, truncated

__all__ = ["SAMPLE_BYTES", "fingerprint"]

SAMPLE_BYTES: Final = 256
"""Bytes of each slice (first, middle, last) of a tensor the sampled fingerprint reads."""
_CHUNK_BYTES: Final = 1 << 20
_PREFIX: Final = {FingerprintMode.SAMPLED: "s1:", FingerprintMode.FULL: "f1:"}


def fingerprint(source: Source, tensors: Iterable[Tensor], mode: FingerprintMode) -> str | None:
    """The fingerprint of ``tensors`` read from ``source``; None in mode ``none`` or when no
    tensor of more than one element is left."""
    if mode is FingerprintMode.NONE:
        return None
    digests = sorted(_digest(source, tensor, mode) for tensor in tensors if _counts(tensor))
    if not digests:
        return None
    return _PREFIX[mode] + hashlib.sha256(b"".join(digests)).hexdigest()


def _counts(tensor: Tensor) -> bool:
    """Whether a tensor is in the fingerprint: more than one element (a storage, whose shape is
    its size in bytes, when over 8 bytes: more than one element of any dtype)."""
    if tensor.dtype == STORAGE_DTYPE:
        return tensor.end - tensor.start > 8
    return math.prod(tensor.shape) > 1


def _digest(source: Source, tensor: Tensor, mode: FingerprintMode) -> bytes:
    length = tensor.end - tensor.start
    digest = hashlib.sha256(f"{tensor.dtype}|{tensor.shape}|{length}|".encode())
    for offset, size in _spans(tensor.start, length, mode):
        data = source.read(offset, size)
        if len(data) < size:
            raise truncated(f"tensor {tensor.name!r} ends past the end of the file")
        digest.update(data)
    return digest.digest()


def _spans(start: int, length: int, mode: FingerprintMode) -> Iterable[tuple[int, int]]:
    """The (offset, size) slices a mode reads of a tensor of ``length`` bytes at ``start``."""
    if mode is FingerprintMode.FULL:
        return (
            (at, min(_CHUNK_BYTES, start + length - at))
            for at in range(start, start + length, _CHUNK_BYTES)
        )
    if length <= 3 * SAMPLE_BYTES:
        return [(start, length)] if length else []
    middle = start + (length - SAMPLE_BYTES) // 2
    end = start + length - SAMPLE_BYTES
    return [(start, SAMPLE_BYTES), (middle, SAMPLE_BYTES), (end, SAMPLE_BYTES)]
