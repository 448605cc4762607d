"""Fuzz target: hash-list imports (``rempart bank import``, ``POST /v1/banks/{name}/import``):
the format sniffer and every format's parser, in memory. Only ``RempartError`` may escape, and
what is read must be storable: a hash of 64 hex digits (an MD5 entry's: 32), UTF-8 text, fields
within bounds."""

from __future__ import annotations

import io
from contextlib import suppress
from typing import Final

from rempart.errors import RempartError
from rempart.matching.banks import (
    HashListFormat,
    Record,
    Skipped,
    read_records,
    sniff_format,
    video_key,
)

# File names steer the sniffer as a user's file names do.
NAMES: Final = ("list.txt", "list.csv", "list.json", "list.te", "list.jsonl")
MAX_TEXT: Final = 512


def fuzz_one(data: bytes) -> None:
    """Sniff ``data`` under each file name, then parse it in every format."""
    for name in NAMES:
        with suppress(RempartError):
            sniff_format(io.BytesIO(data), name)
    for fmt in HashListFormat:
        try:
            for record in read_records(io.BytesIO(data), fmt):
                check(record)
        except RempartError:
            pass


def check(record: Record | Skipped) -> None:
    """Fail on a record the database could not store or a report could not print."""
    if isinstance(record, Skipped):
        record.reason.encode("utf-8")
        return
    # An exact entry's hash is its digest (MD5: 32 hex digits); any other's 64 hex digits.
    assert record.kind in ("image", "md5", "sha256")
    assert len(record.hash) == (32 if record.kind == "md5" else 64)
    assert record.features is None or record.kind == "image"
    assert record.hash == record.hash.lower()
    int(record.hash, 16)
    assert record.quality is None or 0 <= record.quality <= 100
    for text in (record.source_ref, record.note):
        if text is not None:
            assert len(text) <= MAX_TEXT
            text.encode("utf-8")  # a lone surrogate raises here, as it did at the insert
    if record.features is not None:  # a video: at least a frame, its digests hex
        assert record.features
        assert record.hash == video_key(record.features)
        for digest, size in ((record.md5, 32), (record.sha256, 64)):
            assert digest is None or (len(digest) == size and int(digest, 16) >= 0)
