"""Safetensors: an 8-byte little-endian length, that many bytes of JSON (each tensor's dtype,
shape and offsets in the data area, and ``__metadata__``: strings), then the data. The header
is read in one bounded read and checked as the safetensors library checks it."""

from __future__ import annotations

import struct
from operator import itemgetter
from typing import Any, Final, TypeGuard

from rempart.modelfile.model import ModelFile, ModelFormat, Tensor
from rempart.modelfile.source import Source, corrupt, too_large, truncated
from rempart.modelfile.values import decode_metadata, load_json

__all__ = ["DTYPE_BITS", "header_length", "is_safetensors", "read_safetensors"]

_LENGTH: Final = 8
_INT: Final = frozenset({int})
_MAX_NUMBER: Final = 2**64 - 1  # the library reads shapes and offsets as 64-bit numbers
DTYPE_BITS: Final = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
"""Bits per element of each dtype the safetensors format names."""


def is_safetensors(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts as a safetensors file: a JSON object
    after the length."""
    return head[_LENGTH : _LENGTH + 1] == b"{"


def header_length(head: bytes) -> int:
    """The header length the first 8 bytes declare."""
    return int(struct.unpack("<Q", head[:_LENGTH])[0])


def read_safetensors(source: Source, *, max_header_bytes: int, whole: bool) -> ModelFile:
    """The header of a safetensors file; ``whole``: ``source`` is the whole file, so every
    tensor must lie inside it (else only the header need be there)."""
    length = header_length(source.read(0, _LENGTH))
    if length > max_header_bytes:
        raise too_large(f"safetensors header ({length:,} bytes)", max_header_bytes)
    if _LENGTH + length > source.size:
        raise truncated(
            f"the safetensors header declares {length:,} bytes, but the file ends after "
            f"{source.size - _LENGTH:,}"
        )
    # Its shape is checked entry by entry below: only __metadata__'s values are walked.
    header, why = load_json(source.read(_LENGTH, length))
    if why is not None:
        raise corrupt(f"the safetensors header is {why}")
    if not isinstance(header, dict):
        raise corrupt(f"the safetensors header is a JSON {type(header).__name__}, not an object")
    data_start = _LENGTH + length
    data_size = source.size - data_start if whole else None
    warnings: list[str] = []
    raw_metadata = header.pop("__metadata__", None) or {}
    if not isinstance(raw_metadata, dict):
        warnings.append(f"__metadata__: not an object ({type(raw_metadata).__name__})")
        raw_metadata = {}
    metadata, metadata_warnings = decode_metadata(raw_metadata)
    warnings += metadata_warnings
    tensors = [_tensor(name, entry, data_start, warnings) for name, entry in header.items()]
    _check_layout(tensors, data_start, data_size)
    return ModelFile(
        format=ModelFormat.SAFETENSORS,
        size=source.size if whole else max(source.size, max((t.end for t in tensors), default=0)),
        metadata=metadata,
        tensors=tuple(tensors),
        warnings=tuple(warnings),
    )


def _tensor(name: str, entry: Any, data_start: int, warnings: list[str]) -> Tensor:
    """One tensor's entry, checked: a dtype, a shape of whole numbers, two offsets in order
    that span as many bytes as the dtype and shape need."""
    if not isinstance(entry, dict):
        raise corrupt(f"tensor {name!r}: its entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise corrupt(f"tensor {name!r}: no dtype")
    if not _naturals(shape):
        raise corrupt(f"tensor {name!r}: the shape {shape!r:.60} is not a list of whole numbers")
    if not _naturals(offsets) or len(offsets) != 2:
        raise corrupt(f"tensor {name!r}: data_offsets {offsets!r:.60} is not two whole numbers")
    begin, end = offsets
    if end > _MAX_NUMBER:
        raise corrupt(f"tensor {name!r}: data_offsets past 2**64")
    if begin > end:
        raise corrupt(f"tensor {name!r}: its data ends ({end:,}) before it begins ({begin:,})")
    bits = DTYPE_BITS.get(dtype)
    if bits is None:
        warnings.append(f"{name}: unknown dtype {dtype!r:.40}; its bytes are kept unchecked")
    else:
        size_bits = _elements(name, shape) * bits
        if size_bits != (end - begin) * 8:
            raise corrupt(
                f"tensor {name!r}: {dtype} {tuple(shape)!s:.80} needs {size_bits / 8:,g} "
                f"bytes, its offsets span {end - begin:,}"
            )
    return Tensor(name, dtype, tuple(shape), data_start + begin, data_start + end)


def _elements(name: str, shape: list[int]) -> int:
    """The product of ``shape``, refused (as the library refuses it) once it passes 2**64:
    huge dimensions multiplied on would cost time quadratic in their number."""
    if shape and max(shape) > _MAX_NUMBER:
        raise corrupt(f"tensor {name!r}: a dimension of its shape is past 2**64")
    if 0 in shape:
        return 0
    elements = 1
    for dimension in shape:
        elements *= dimension
        if elements > _MAX_NUMBER:
            raise corrupt(f"tensor {name!r}: its shape's element count overflows 64 bits")
    return elements


def _naturals(value: Any) -> TypeGuard[list[int]]:
    """A list of whole numbers (never a bool), none negative. Types are compared, not
    ``isinstance``-checked, in C: a header has thousands of these."""
    return type(value) is list and set(map(type, value)) <= _INT and (not value or min(value) >= 0)


def _check_layout(tensors: list[Tensor], data_start: int, data_size: int | None) -> None:
    """No two tensors share a byte, and each lies inside the data area (when it is known)."""
    previous: Tensor | None = None
    for tensor in sorted(tensors, key=itemgetter(3, 4)):  # start, end
        if previous is not None and tensor.start < previous.end:
            raise corrupt(f"tensors {previous.name!r} and {tensor.name!r} overlap")
        if data_size is not None and tensor.end - data_start > data_size:
            raise corrupt(
                f"tensor {tensor.name!r} ends at byte {tensor.end - data_start:,} of a data "
                f"area of {data_size:,}"
            )
        previous = tensor
