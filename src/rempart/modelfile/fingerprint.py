"""A model's fingerprint: SHA-256 over the sorted digests of each tensor's dtype, shape and
bytes, so that names, order, offsets and metadata never count (a renamed, reordered or
stripped copy keeps it). One-element tensors (a LoRA's ``.alpha``, which conversions fold
into a config) are left out. ``s1:`` hashes three 256-byte slices of each tensor, ``f1:``
every byte."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Final

from rempart.modelfile.model import STORAGE_DTYPE, FingerprintMode, Tensor
from rempart.modelfile.source import Source, truncated

__all__ = ["SAMPLE_BYTES", "fingerprint"]

SAMPLE_BYTES: Final = 256
"""Bytes of each slice (first, middle, last) of a tensor the sampled fingerprint reads."""
_CHUNK_BYTES: Final = 1 << 20
_GAP_BYTES: Final = 16 << 10  # about what a read's system call costs, in bytes copied
_WINDOW_BYTES: Final = 1 << 20
_PREFIX: Final = {FingerprintMode.SAMPLED: "s1:", FingerprintMode.FULL: "f1:"}


def fingerprint(source: Source, tensors: Iterable[Tensor], mode: FingerprintMode) -> str | None:
    """The fingerprint of ``tensors`` read from ``source``; None in mode ``none`` or when no
    tensor of more than one element is left."""
    if mode is FingerprintMode.NONE:
        return None
    counted = sorted((tensor for tensor in tensors if _counts(tensor)), key=itemgetter(3))
    if not counted:
        return None
    spans = [_spans(tensor.start, tensor.end - tensor.start, mode) for tensor in counted]
    slices = iter(_read_spans(source, [span for each in spans for span in each]))
    digests = []
    for tensor, each in zip(counted, spans, strict=True):
        digest = hashlib.sha256(
            f"{tensor.dtype}|{tensor.shape}|{tensor.end - tensor.start}|".encode()
        )
        for _, size in each:
            data = next(slices)
            if len(data) < size:
                raise truncated(f"tensor {tensor.name!r} ends past the end of the file")
            digest.update(data)
        digests.append(digest.digest())
    return _PREFIX[mode] + hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def _counts(tensor: Tensor) -> bool:
    """Whether a tensor is in the fingerprint: more than one element (a storage, whose shape is
    its size in bytes, when over 8 bytes: more than one element of any dtype)."""
    if tensor.dtype == STORAGE_DTYPE:
        return tensor.end - tensor.start > 8
    return math.prod(tensor.shape) > 1


def _spans(start: int, length: int, mode: FingerprintMode) -> list[tuple[int, int]]:
    """The (offset, size) slices a mode reads of a tensor of ``length`` bytes at ``start``."""
    if mode is FingerprintMode.FULL:
        return [
            (at, min(_CHUNK_BYTES, start + length - at))
            for at in range(start, start + length, _CHUNK_BYTES)
        ]
    if length <= 3 * SAMPLE_BYTES:
        return [(start, length)] if length else []
    middle = start + (length - SAMPLE_BYTES) // 2
    end = start + length - SAMPLE_BYTES
    return [(start, SAMPLE_BYTES), (middle, SAMPLE_BYTES), (end, SAMPLE_BYTES)]


def _read_spans(source: Source, spans: Sequence[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes of each of ``spans`` (in file order), read a run of nearby spans at a time:
    one read of up to ``_WINDOW_BYTES`` where spans lie within ``_GAP_BYTES`` of each other
    (a LoRA's small tensors), so that a header of thousands of tensors costs tens of reads,
    not thousands; a span far from the others is read alone."""
    first = 0
    while first < len(spans):
        begin = spans[first][0]
        last = first
        end = begin + spans[first][1]
        while last + 1 < len(spans):
            offset, size = spans[last + 1]
            if offset - end > _GAP_BYTES or offset + size - begin > _WINDOW_BYTES:
                break
            last += 1
            end = max(end, offset + size)
        window = memoryview(source.read(begin, end - begin))
        for offset, size in spans[first : last + 1]:
            yield bytes(window[offset - begin : offset - begin + size])
        first = last + 1
