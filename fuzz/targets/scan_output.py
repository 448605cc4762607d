"""Fuzz target ``scan_output``: bytes read as the output of an earlier scan that ``--resume``
goes on from, as a JSON Lines file (``read_previous``) and as a Parquet shard
(``read_previous_shards``). Only ``ScanOutputError`` may escape: a hostile or damaged output is
refused with what is wrong, never a library's exception."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Final

from rempart.errors import ScanOutputError
from rempart.policy.verdict import PolicyRef
from rempart.scan.output import read_previous, read_previous_shards

POLICY: Final = PolicyRef("default", "1", "0" * 16)


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as a JSON Lines output, then as the one shard of a Parquet output."""
    with tempfile.TemporaryDirectory() as folder:
        lines = Path(folder) / "scan.jsonl"
        lines.write_bytes(data)
        with suppress(ScanOutputError):
            read_previous(lines, POLICY)
        shards = Path(folder) / "shards"
        shards.mkdir()
        (shards / "part-00000.parquet").write_bytes(data)
        with suppress(ScanOutputError):
            read_previous_shards(shards, POLICY)
