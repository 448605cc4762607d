"""``read_model`` and ``parse_model``: a model file's format from its first bytes, then its
header read by that format's module, and its fingerprint."""

from __future__ import annotations

import os
from dataclasses import replace

from rempart.errors import MediaErrorCode, ModelFileError
from rempart.modelfile.fingerprint import fingerprint as fingerprint_of
from rempart.modelfile.gguf import is_gguf, read_gguf
from rempart.modelfile.lfs import is_lfs_pointer, read_lfs_pointer
from rempart.modelfile.model import (
    DEFAULT_MAX_HEADER_BYTES,
    FingerprintMode,
    ModelFile,
    ModelFormat,
)
from rempart.modelfile.pickles import is_pickle, is_zip, read_pickle, read_zip
from rempart.modelfile.safetensors import header_length, is_safetensors, read_safetensors
from rempart.modelfile.source import BytesSource, FileSource, Source, opened

__all__ = ["parse_model", "read_model"]

_HEAD_BYTES = 16
_FINGERPRINTED = (ModelFormat.SAFETENSORS, ModelFormat.GGUF, ModelFormat.PYTORCH)


def read_model(
    path: str | os.PathLike[str],
    *,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    fingerprint: FingerprintMode = FingerprintMode.SAMPLED,
) -> ModelFile:
    """Read a model file's header (never a weight, never a pickle run) and fingerprint it.

    Raises ``ModelFileError``: ``not_found``, ``unreadable``, ``empty``, ``too_large`` (a
    header over ``max_header_bytes``), ``unsupported_format``, ``truncated``, ``corrupt``.
    """
    with opened(path) as (fd, size):
        source = FileSource(fd, size, str(path))
        model = _read(source, max_header_bytes=max_header_bytes, whole=True)
        if model.format not in _FINGERPRINTED:
            return model
        return replace(model, fingerprint=fingerprint_of(source, model.tensors, fingerprint))


def parse_model(data: bytes, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> ModelFile:
    """Read a model from its first bytes (a safetensors or GGUF header, a Git LFS pointer, a
    pickle), as the endpoint receives them: tensors may lie past them; no fingerprint."""
    return _read(BytesSource(data), max_header_bytes=max_header_bytes, whole=False)


def _read(source: Source, *, max_header_bytes: int, whole: bool) -> ModelFile:
    if source.size == 0:
        raise ModelFileError(MediaErrorCode.EMPTY, "the file is empty (0 bytes)")
    head = source.read(0, _HEAD_BYTES)
    # A safetensors length may start with any byte: the JSON it announces, and fits, decides.
    fits = len(head) > 8 and 8 + header_length(head) <= source.size
    if is_safetensors(head) and fits:
        return read_safetensors(source, max_header_bytes=max_header_bytes, whole=whole)
    if is_zip(head):
        return read_zip(source, max_header_bytes=max_header_bytes, whole=whole)
    if is_gguf(head):
        return read_gguf(source, max_header_bytes=max_header_bytes, whole=whole)
    if is_pickle(head):
        return read_pickle(source, max_header_bytes=max_header_bytes)
    if is_lfs_pointer(head):
        return read_lfs_pointer(source)
    if is_safetensors(head):
        return read_safetensors(source, max_header_bytes=max_header_bytes, whole=whole)
    raise ModelFileError(MediaErrorCode.UNSUPPORTED_FORMAT, _unsupported_message(head))


def _unsupported_message(head: bytes) -> str:
    printable = head.isascii() and all(32 <= b < 127 or b in b"\t\r\n" for b in head)
    return (
        f"not a model file in a supported format (the file starts like "
        f"{'text' if printable else 'data'}: {head[:8]!r}); supported: safetensors, PyTorch "
        "(zip or pickle), GGUF, Git LFS pointers"
    )
