"""A scan's JSON Lines output: checked before any work, its first line the run fingerprint,
what an earlier run of the same output already judged (so that ``--resume`` skips it), and
the writer that makes each record durable as it is written."""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from rempart.errors import ScanOutputError
from rempart.policy import PolicyRef
from rempart.scan.fingerprint import HEADER_KEY, fingerprint_differences
from rempart.walk import json_line, path_key

__all__ = [
    "STDOUT",
    "Previous",
    "ScanOutputError",
    "check_destination",
    "close_output",
    "json_record",
    "open_output",
    "read_previous",
    "record_key",
    "sample",
    "write_record",
]

T = TypeVar("T")

RESUME: Final = "cannot resume"
STDOUT: Final = "-"
"""The output that means standard output, as ``--out -``."""


@dataclass
class Previous:
    """The records an earlier run wrote, by the raw bytes of their path; the fingerprint of
    that run (None for an output written before there was one); and how many bytes of the
    file hold whole lines (a run killed mid-line leaves a partial one, which resuming drops)."""

    records: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    size: int = 0


def check_destination(path: Path, what: str, *, replaced: bool = False) -> None:
    """Raise ``ScanOutputError`` now, before any work, when ``path`` cannot be written: a
    folder, in a folder that does not exist, or not writable. ``replaced``: the file is
    written beside it and renamed (a report), so its folder must be writable too."""
    if path.is_dir():
        raise ScanOutputError(f"{what} {path} is a folder; name a file in it")
    folder = path.parent
    if not folder.is_dir():
        raise ScanOutputError(f"{what} {path}: there is no folder {folder}; create it first")
    exists = path.exists()
    if exists and not os.access(path, os.W_OK):
        raise ScanOutputError(f"{what} {path} cannot be written (permission denied)")
    if (replaced or not exists) and not os.access(folder, os.W_OK | os.X_OK):
        raise ScanOutputError(f"{what} {path}: cannot write in {folder} (permission denied)")


def read_previous(
    path: Path, policy: PolicyRef, fingerprint: Mapping[str, Any] | None = None
) -> Previous:
    """The records already in ``path`` (none when it does not exist or is no regular file).

    Raises ``ScanOutputError`` when a line is not a scan record, when the output was made
    by another run than ``fingerprint`` describes (naming what differs), or, for an output
    without a fingerprint, when a record was judged by another policy or policy version: its
    verdicts would not be comparable with the new ones.
    """
    previous = Previous()
    if not path.is_file():
        return previous
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.endswith(b"\n"):
                break  # cut short by a kill: redone
            record = json_record(path, number, line)
            if number == 1 and HEADER_KEY in record:
                previous.fingerprint = _check_fingerprint(path, record, fingerprint)
            else:
                _check_record(path, number, record)
                _check_policy(path, number, record, policy)
                previous.records[record_key(path, number, record)] = record
            previous.size += len(line)
    return previous


def record_key(output: Path, number: int, record: Mapping[str, Any]) -> bytes:
    """The raw bytes of a record's path: from ``path_bytes`` when the name was not UTF-8."""
    if "path_bytes" not in record:
        return path_key(record["path"])
    try:
        return base64.b64decode(record["path_bytes"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ScanOutputError(
            f"{output}:{number}: path_bytes is not base64; cannot resume"
        ) from exc


def open_output(
    path: Path, previous: Previous | None, header: Mapping[str, Any] | None = None
) -> IO[str]:
    """``path`` for writing: truncated to the whole lines of ``previous`` and appended to when
    resuming, emptied otherwise; ``header`` is written first into an output that has no line
    yet."""
    if previous is not None and previous.size:
        stream = path.open("a", encoding="utf-8")
        stream.truncate(previous.size)
        return stream
    stream = path.open("w", encoding="utf-8")
    if header is not None:
        write_record(stream, dict(header))
    return stream


def write_record(stream: IO[str], record: dict[str, Any]) -> None:
    """Write one record as a line (as ``json_line`` writes it) and flush it, so
    a killed run loses at most the line being written."""
    stream.write(json_line(record))
    stream.flush()


def close_output(stream: IO[str]) -> None:
    """Flush the output, to the disk when it is a file (``/dev/null`` and a pipe have no disk
    to reach), and close it."""
    stream.flush()
    if stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
        os.fsync(stream.fileno())
    stream.close()


def sample(files: Sequence[T], size: int, *, seed: int) -> list[T]:
    """``size`` files drawn at random without replacement, in their original order; the same
    ``seed`` draws the same files, so a resumed sample is the same sample."""
    if size < 1:
        raise ValueError(f"a sample needs at least 1 file, got {size}")
    if size >= len(files):
        return list(files)
    chosen = set(random.Random(seed).sample(range(len(files)), size))
    return [path for index, path in enumerate(files) if index in chosen]


def json_record(
    path: Path, number: int, line: bytes, *, kind: str = "a scan record", then: str = RESUME
) -> dict[str, Any]:
    """Line ``number`` of the output ``path`` as a JSON object; ``ScanOutputError`` saying
    it is not JSON or not ``kind``, and what ``then`` (by default: no resuming)."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ScanOutputError(f"{path}:{number}: not a JSON record ({exc}); {then}") from exc
    if not isinstance(record, dict):
        raise ScanOutputError(f"{path}:{number}: not {kind}; {then}")
    return record


def _check_record(path: Path, number: int, record: dict[str, Any]) -> None:
    if not isinstance(record.get("path"), str):
        raise ScanOutputError(f"{path}:{number}: not a scan record (no 'path'); cannot resume")
    if "verdict" not in record and "error" not in record:
        raise ScanOutputError(f"{path}:{number}: neither a verdict nor an error; cannot resume")


def _check_fingerprint(
    path: Path, header: dict[str, Any], fingerprint: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The earlier run's fingerprint; ``ScanOutputError`` naming what differs from this run's."""
    earlier = header[HEADER_KEY]
    if not isinstance(earlier, dict):
        raise ScanOutputError(f"{path}:1: not a scan's fingerprint; cannot resume")
    if fingerprint is not None:
        differences = fingerprint_differences(earlier, fingerprint)
        if differences:
            raise ScanOutputError(
                f"{path} was written by another run ({'; '.join(differences)}); resume as "
                "that run was made, or write to a new output"
            )
    return earlier


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
