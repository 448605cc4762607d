"""GGUF (llama.cpp's format, versions 2 and 3): the magic, counts, the header's typed
key/values and the tensor infos, read through a bounded cursor; every count and length is
checked against the bytes that could hold it before anything is allocated."""

from __future__ import annotations

import math
import struct
from typing import Any, Final

from rempart.modelfile.model import ModelFile, ModelFormat, Tensor
from rempart.modelfile.source import Cursor, Source, corrupt, truncated

__all__ = ["GGML_TYPES", "MAX_ARRAY_ITEMS", "is_gguf", "read_gguf"]

MAX_ARRAY_ITEMS: Final = 10_000
"""Items kept of an array value (a tokenizer's vocabulary holds 150,000): the first ones."""
_VERSIONS: Final = (2, 3)
_MAX_DIMS: Final = 8  # GGML has 4
_MAX_NESTING: Final = 4
_DEFAULT_ALIGNMENT: Final = 32
# GGUF value type -> struct format of one value (strings and arrays are read apart).
_SCALARS: Final = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING: Final = 8
_ARRAY: Final = 9
GGML_TYPES: Final = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
}
"""GGML tensor type -> (name, elements per block, bytes per block), as ggml defines them."""


def is_gguf(head: bytes) -> bool:
    """GGUF's magic."""
    return head[:4] == b"GGUF"


def read_gguf(source: Source, *, max_header_bytes: int, whole: bool) -> ModelFile:
    """A GGUF file's key/values (``metadata``) and tensors; ``whole``: the source is the whole
    file, so each tensor must lie inside it."""
    cursor = Cursor(source, limit=max_header_bytes, what="the GGUF file")
    _, version, tensor_count, kv_count = struct.unpack("<4sIQQ", cursor.take(24))
    if version not in _VERSIONS:
        raise corrupt(f"GGUF version {version} (Rempart reads versions 2 and 3)")
    _check_count(cursor, kv_count, 13, "key/values")  # key length, type, one byte
    warnings: list[str] = []
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = _string(cursor)
        metadata[key] = _value(cursor, _uint32(cursor), key, warnings, 0)
    _check_count(cursor, tensor_count, 24, "tensors")  # name length, dims, type, offset
    infos = [_tensor_info(cursor) for _ in range(tensor_count)]
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment < 1:
        warnings.append(f"general.alignment: {alignment!r:.40} is not a positive number; 32 used")
        alignment = _DEFAULT_ALIGNMENT
    data_start = -(-cursor.position // alignment) * alignment
    tensors = [_tensor(info, data_start, warnings) for info in infos]
    if whole:
        for tensor in tensors:
            if tensor.end > source.size:
                raise truncated(f"tensor {tensor.name!r} ends past the end of the file")
    return ModelFile(
        format=ModelFormat.GGUF,
        size=source.size if whole else max([source.size, *(t.end for t in tensors)]),
        metadata=metadata,
        tensors=tuple(tensors),
        warnings=tuple(warnings),
    )


def _check_count(cursor: Cursor, count: int, least_bytes: int, what: str) -> None:
    """Refuse a count of items that the rest of the file could not hold."""
    needed = count * least_bytes
    if needed > cursor.remaining:
        if needed > max(cursor.limit, cursor.source.size):
            raise corrupt(f"the GGUF header declares {count:,} {what}: more than any file holds")
        raise truncated(f"the GGUF header declares {count:,} {what}, the file ends before them")


def _uint32(cursor: Cursor) -> int:
    return int(struct.unpack("<I", cursor.take(4))[0])


def _uint64(cursor: Cursor) -> int:
    return int(struct.unpack("<Q", cursor.take(8))[0])


def _string(cursor: Cursor) -> str:
    length = _uint64(cursor)
    _check_count(cursor, length, 1, "bytes of a string")
    return cursor.take(length).decode("utf-8", "replace")


def _value(cursor: Cursor, kind: int, key: str, warnings: list[str], depth: int) -> Any:
    if kind in _SCALARS:
        layout = "<" + _SCALARS[kind]
        return struct.unpack(layout, cursor.take(struct.calcsize(layout)))[0]
    if kind == _STRING:
        return _string(cursor)
    if kind == _ARRAY and depth < _MAX_NESTING:
        return _array(cursor, key, warnings, depth)
    raise corrupt(f"GGUF key {key!r}: value type {kind} is not one GGUF defines")


def _array(cursor: Cursor, key: str, warnings: list[str], depth: int) -> list[Any]:
    kind, count = _uint32(cursor), _uint64(cursor)
    kept = min(count, MAX_ARRAY_ITEMS)
    if count > MAX_ARRAY_ITEMS:
        warnings.append(f"{key}: {count:,} items, the first {MAX_ARRAY_ITEMS:,} kept")
    if kind in _SCALARS:
        size = struct.calcsize("<" + _SCALARS[kind])
        _check_count(cursor, count, size, f"items of {key!r}")
        items = list(struct.unpack(f"<{kept}{_SCALARS[kind]}", cursor.take(kept * size)))
        cursor.skip((count - kept) * size)
        return items
    _check_count(cursor, count, 8 if kind == _STRING else 12, f"items of {key!r}")
    items = []
    for index in range(count):
        item = _value(cursor, kind, key, warnings, depth + 1)
        if index < kept:
            items.append(item)
    return items


def _tensor_info(cursor: Cursor) -> tuple[str, tuple[int, ...], int, int]:
    name = _string(cursor)
    dims_count = _uint32(cursor)
    if dims_count > _MAX_DIMS:
        raise corrupt(f"GGUF tensor {name!r} declares {dims_count:,} dimensions")
    dims = struct.unpack(f"<{dims_count}Q", cursor.take(8 * dims_count))
    kind, offset = struct.unpack("<IQ", cursor.take(12))
    return name, tuple(int(d) for d in dims), int(kind), int(offset)


def _tensor(
    info: tuple[str, tuple[int, ...], int, int], data_start: int, warnings: list[str]
) -> Tensor:
    """A tensor info's absolute place; its size from its GGML type's blocks."""
    name, dims, kind, offset = info
    start = data_start + offset
    known = GGML_TYPES.get(kind)
    if known is None:
        warnings.append(f"{name}: unknown GGML type {kind}; its size is taken as 0")
        return Tensor(name, f"type{kind}", dims, start, start)
    dtype, block, block_bytes = known
    elements = math.prod(dims)
    if elements % block:
        raise corrupt(f"GGUF tensor {name!r}: {elements:,} elements are not whole {dtype} blocks")
    return Tensor(name, dtype, dims, start, start + elements // block * block_bytes)
