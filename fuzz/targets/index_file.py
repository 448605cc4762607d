"""Fuzz target ``index_file``: bytes read as a match index snapshot (``HashIndex.load``, its
checksums verified, and ``read_meta``), as a server reads ``<data dir>/index/`` at start. Only
``IndexFileError`` may escape, and what loads must search: a snapshot is never served half
read."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress

import numpy as np

from rempart.matching.index import HashIndex, IndexFileError, read_meta


def fuzz_one(data: bytes) -> None:
    """Write ``data`` to a file, then open it as an index and search what it holds."""
    descriptor, name = tempfile.mkstemp(suffix=".snapshot")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        with suppress(IndexFileError):
            read_meta(name)
        try:
            index = HashIndex.load(name, background_merge=False)
        except IndexFileError:
            return
        queries = np.zeros((1, 4), dtype=np.uint64)
        found = index.search(queries, 31)
        assert len(found) <= len(index) + 1
        del index, found  # the memory map, before the file goes
    finally:
        os.unlink(name)
