"""Fuzz target: a model file's bytes as the audit and its endpoint read them.

``parse_model`` (format, header, pickle opcodes, GGUF key/values), the same bytes as a card
(``read_card``) and as a sidecar (``read_sidecar``). Only ``ModelFileError`` may escape.
"""

from __future__ import annotations

import contextlib

from rempart.errors import ModelFileError
from rempart.modelfile import parse_model, read_card, read_sidecar

# A small limit: a fuzzer's inputs are small, and a large header only slows the search.
MAX_HEADER_BYTES = 1 << 20


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as a model file's first bytes, a card and a sidecar."""
    with contextlib.suppress(ModelFileError):
        parse_model(data, max_header_bytes=MAX_HEADER_BYTES)
    read_card(data)
    with contextlib.suppress(ModelFileError):
        read_sidecar(data)
