"""Git LFS pointers: the small text file a repository holds in place of a large one
(``version https://git-lfs.github.com/spec/v1``, ``oid sha256:<hex>``, ``size <n>``)."""

from __future__ import annotations

import re
from typing import Final

from rempart.modelfile.model import LfsPointer, ModelFile, ModelFormat
from rempart.modelfile.source import Source, corrupt

__all__ = ["MAX_POINTER_BYTES", "is_lfs_pointer", "read_lfs_pointer"]

MAX_POINTER_BYTES: Final = 1024
"""Git LFS's own bound: a larger file is never a pointer."""
_VERSION: Final = b"version https://git-lfs.github.com/spec/"
_MAX_SIZE: Final = 2**63 - 1  # Git LFS's sizes are signed 64-bit numbers
_OID: Final = re.compile(r"sha256:[0-9a-f]{64}")


def is_lfs_pointer(head: bytes) -> bool:
    """Whether ``head`` starts as a pointer's first line."""
    return head.startswith(_VERSION[:16])


def read_lfs_pointer(source: Source) -> ModelFile:
    """The pointer's object id and declared size."""
    if source.size > MAX_POINTER_BYTES:
        raise corrupt(f"a Git LFS pointer of {source.size:,} bytes (at most {MAX_POINTER_BYTES})")
    data = source.read(0, source.size)
    if not data.startswith(_VERSION):
        raise corrupt("the file starts as a Git LFS pointer but not with its spec's version")
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines()[1:]:
        key, _, value = line.partition(" ")
        fields.setdefault(key, value.strip())
    oid, size = fields.get("oid", ""), fields.get("size", "")
    if not _OID.fullmatch(oid) or not size.isdigit() or not size.isascii():
        raise corrupt("a Git LFS pointer without an oid sha256:<64 hex> and a size")
    if int(size) > _MAX_SIZE:
        raise corrupt(f"a Git LFS pointer whose size {size:.40} is past Git LFS's 2**63")
    pointer = LfsPointer(oid, int(size))
    return ModelFile(format=ModelFormat.LFS_POINTER, size=pointer.size, metadata={}, lfs=pointer)
