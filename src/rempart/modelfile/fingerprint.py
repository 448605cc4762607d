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
from typing import TYPE_CHECKING, Final

from rempart.modelfile.model import STORAGE_DTYPE, FingerprintMode, Tensor
from rempart.modelfile.source import Source, truncated

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["SAMPLE_BYTES", "fingerprint"]

SAMPLE_BYTES: Final = 256
"""Bytes of each slice (first, middle, last) of a tensor the sampled fingerprint reads."""
_CHUNK_BYTES: Final = 1 << 20
_GAP_BYTES: Final = 32 << 10  # about what two reads' system calls cost, in bytes copied
_WINDOW_BYTES: Final = 256 << 10
_PREFIX: Final = {FingerprintMode.SAMPLED: "s1:", FingerprintMode.FULL: "f1:"}


def fingerprint(source: Source, tensors: Iterable[Tensor], mode: FingerprintMode) -> str | None:
    """The fingerprint of ``tensors`` read from ``source``; None in mode ``none`` or when no
    tensor of more than one element is left."""
    if mode is FingerprintMode.NONE:
        return None
    counted = sorted((tensor for tensor in tensors if _counts(tensor)), key=itemgetter(3))
    if not counted:
        return None
    if mode is FingerprintMode.FULL:
        digests = [_whole(source, tensor) for tensor in counted]
    else:
        digests = list(_sampled(source, counted))
    return _PREFIX[mode] + hashlib.sha256(b"".join(sorted(digests))).hexdigest()


def _counts(tensor: Tensor) -> bool:
    """Whether a tensor is in the fingerprint: more than one element (a storage, whose shape is
    its size in bytes, when over 8 bytes: more than one element of any dtype)."""
    if tensor.dtype == STORAGE_DTYPE:
        return tensor.end - tensor.start > 8
    return math.prod(tensor.shape) > 1


def _hash(tensor: Tensor) -> _Hash:
    """A tensor's digest, begun with what it is: dtype, shape and length."""
    return hashlib.sha256(f"{tensor.dtype}|{tensor.shape}|{tensor.end - tensor.start}|".encode())


def _whole(source: Source, tensor: Tensor) -> bytes:
    """A tensor's digest over every byte, read a megabyte at a time."""
    digest = _hash(tensor)
    for at in range(tensor.start, tensor.end, _CHUNK_BYTES):
        size = min(_CHUNK_BYTES, tensor.end - at)
        data = source.read(at, size)
        _check(tensor, data, size)
        digest.update(data)
    return digest.digest()


def _sampled(source: Source, tensors: Sequence[Tensor]) -> Iterator[bytes]:
    """Each tensor's digest over its first, middle and last ``SAMPLE_BYTES`` (all of a short
    one). A small tensor is read whole, and a run of small neighbours in one read of up to
    ``_WINDOW_BYTES`` (a LoRA's: a header of thousands of tensors costs tens of reads, not
    thousands); a big tensor's three slices are read each alone."""
    first = 0
    while first < len(tensors):
        last = first
        if _small(tensors[first]):
            while last + 1 < len(tensors) and _joins(
                tensors[first], tensors[last], tensors[last + 1]
            ):
                last += 1
            begin = tensors[first].start
            window = source.read(begin, tensors[last].end - begin)
            for tensor in tensors[first : last + 1]:
                yield _digest(tensor, [(window, begin)] * 3)
        else:
            tensor = tensors[first]
            yield _digest(tensor, [(source.read(a, b - a), a) for a, b in _slices(tensor)])
        first = last + 1


def _small(tensor: Tensor) -> bool:
    """A tensor read whole: reading its bytes between the slices costs less than two reads."""
    return tensor.end - tensor.start <= _GAP_BYTES


def _joins(first: Tensor, last: Tensor, after: Tensor) -> bool:
    """Whether ``after`` joins the run ``first``..``last``: small, near, and the run within
    ``_WINDOW_BYTES``."""
    return (
        _small(after)
        and after.start - last.end <= _GAP_BYTES
        and after.end - first.start <= _WINDOW_BYTES
    )


def _digest(tensor: Tensor, windows: Sequence[tuple[bytes, int]]) -> bytes:
    """A tensor's sampled digest, its slices cut from ``windows``: (bytes, where they begin)
    for each slice in turn."""
    digest = _hash(tensor)
    for (a, b), (window, at) in zip(_slices(tensor), windows, strict=False):
        data = window[a - at : b - at]
        _check(tensor, data, b - a)
        digest.update(data)
    return digest.digest()


def _slices(tensor: Tensor) -> list[tuple[int, int]]:
    """The (start, end) byte ranges the sampled fingerprint reads of a tensor."""
    start, length = tensor.start, tensor.end - tensor.start
    if length <= 3 * SAMPLE_BYTES:
        return [(start, tensor.end)]
    middle = start + (length - SAMPLE_BYTES) // 2
    return [(s, s + SAMPLE_BYTES) for s in (start, middle, tensor.end - SAMPLE_BYTES)]


def _check(tensor: Tensor, data: bytes, size: int) -> None:
    if len(data) < size:
        raise truncated(f"tensor {tensor.name!r} ends past the end of the file")
