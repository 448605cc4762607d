"""A scan's JSON Lines output: what an earlier run of the same output already judged, so that
``--resume`` skips it, and the writer that makes each record durable as it is written."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rempart.errors import ScanOutputError
from rempart.policy import PolicyRef

__all__ = [
    "Previous",
    "ScanOutputError",
    "close_output",
    "open_output",
    "read_previous",
    "sample",
    "write_record",
]


@dataclass
class Previous:
    """The records an earlier run wrote, by path, and how many bytes of the file hold whole
    records (a run killed mid-line leaves a partial one, which resuming drops)."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0


def read_previous(path: Path, policy: PolicyRef) -> Previous:
    """The records already in ``path`` (none when it does not exist).

    Raises ``ScanOutputError`` when a record is not a scan record, or was judged by another
    policy or policy version: its verdicts would not be comparable with the new ones.
    """
    previous = Previous()
    if not path.exists():
        return previous
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.endswith(b"\n"):
                break  # cut short by a kill: redone
            record = _record(path, number, line)
            _check_policy(path, number, record, policy)
            previous.records[record["path"]] = record
            previous.size += len(line)
    return previous


def open_output(path: Path, previous: Previous | None) -> IO[str]:
    """``path`` for writing: truncated to the whole records of ``previous`` and appended to
    when resuming, emptied otherwise."""
    if previous is None:
        return path.open("w", encoding="utf-8")
    stream = path.open("a", encoding="utf-8")
    stream.truncate(previous.size)
    return stream


def write_record(stream: IO[str], record: dict[str, Any]) -> None:
    """Write one record as a line and flush it, so a killed run loses at most the line being
    written."""
    stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    stream.flush()


def close_output(stream: IO[str]) -> None:
    """Flush the output file to disk and close it."""
    stream.flush()
    os.fsync(stream.fileno())
    stream.close()


def sample(files: Sequence[str], size: int, *, seed: int) -> list[str]:
    """``size`` files drawn at random without replacement, in their original order; the same
    ``seed`` draws the same files, so a resumed sample is the same sample."""
    if size < 1:
        raise ValueError(f"a sample needs at least 1 file, got {size}")
    if size >= len(files):
        return list(files)
    chosen = set(random.Random(seed).sample(range(len(files)), size))
    return [path for index, path in enumerate(files) if index in chosen]


def _record(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScanOutputError(f"{path}:{number}: not a JSON record ({exc}); cannot resume") from exc
    if not isinstance(record, dict) or not isinstance(record.get("path"), str):
        raise ScanOutputError(f"{path}:{number}: not a scan record (no 'path'); cannot resume")
    if "verdict" not in record and "error" not in record:
        raise ScanOutputError(f"{path}:{number}: neither a verdict nor an error; cannot resume")
    return record


def _check_policy(path: Path, number: int, record: dict[str, Any], policy: PolicyRef) -> None:
    if "verdict" not in record:
        return
    used = record["verdict"].get("policy", {})
    if used != policy.to_json():
        raise ScanOutputError(
            f"{path}:{number} was judged by policy {used.get('name')} {used.get('version')} "
            f"({used.get('digest')}), not {policy.name} {policy.version} ({policy.digest}); "
            "resume with the same policy, or write to a new output"
        )
