"""A scan's output: checked before any work, its first line the run fingerprint, what an
earlier run of the same output already judged (so that ``--resume`` skips it), and the writer
that makes each record durable as it is written.

JSON Lines by default; or Parquet (``ParquetShards``): a folder of shards ``part-NNNNN.parquet``
of up to ``SHARD_ROWS`` rows each, one row per file with the record's fields as columns (the
nested ones, ``verdict``, ``signals`` and ``error``, as JSON text), the run fingerprint in each
shard's metadata. A shard is written beside its name and renamed once whole, so a killed run
leaves whole shards only; ``--resume`` reads their keys and goes on with the next shard."""

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
from rempart.files import sync_folder
from rempart.policy import PolicyRef
from rempart.scan.fingerprint import HEADER_KEY, fingerprint_differences
from rempart.walk import json_line, path_key

__all__ = [
    "FORMATS",
    "SHARD_ROWS",
    "STDOUT",
    "ParquetShards",
    "Previous",
    "ScanOutputError",
    "check_destination",
    "check_folder",
    "close_output",
    "json_record",
    "open_output",
    "read_previous",
    "read_previous_shards",
    "record_key",
    "record_of",
    "row_of",
    "sample",
    "write_record",
]

T = TypeVar("T")

RESUME: Final = "cannot resume"
STDOUT: Final = "-"
"""The output that means standard output, as ``--out -``."""
FORMATS: Final = ("jsonl", "parquet")
SHARD_ROWS: Final = 1000
"""Rows of a Parquet shard (the last one of a run may hold fewer)."""
_SHARD: Final = "part-{:05d}.parquet"
_SHARD_GLOB: Final = "part-*.parquet"
_META_KEY: Final = HEADER_KEY.encode()
# The record's fields as columns: text and whole numbers as they are, what is nested as JSON
# text; any other field (an audit's) in ``other``, as a JSON object.
_TEXT: Final = ("path", "path_bytes", "sha256", "md5", "pdq")
_NUMBERS: Final = ("quality", "width", "height")
_NESTED: Final = ("verdict", "signals", "error")


@dataclass
class Previous:
    """The records an earlier run wrote, by the raw bytes of their path; the fingerprint of
    that run (None for an output written before there was one); and how many bytes of the
    file hold whole lines (a run killed mid-line leaves a partial one, which resuming drops)."""

    records: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    size: int = 0
    shards: int = 0
    """Parquet: the shards an earlier run wrote (the next one is numbered after them)."""


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


def write_record(stream: IO[str] | ParquetShards, record: dict[str, Any]) -> None:
    """Write one record as a line (as ``json_line`` writes it) and flush it, so
    a killed run loses at most the line being written; to Parquet, as a row of the shard
    being filled."""
    if isinstance(stream, ParquetShards):
        stream.add(record)
        return
    stream.write(json_line(record))
    stream.flush()


def close_output(stream: IO[str] | ParquetShards) -> None:
    """Flush the output, to the disk when it is a file (``/dev/null`` and a pipe have no disk
    to reach), and close it."""
    if isinstance(stream, ParquetShards):
        stream.close()
        return
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
    if not isinstance(record.get("verdict", {}), dict):
        raise ScanOutputError(f"{path}:{number}: a verdict that is not an object; cannot resume")


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


def check_folder(path: Path, what: str) -> None:
    """Raise ``ScanOutputError`` now when ``path`` cannot be a folder of shards: a file, in a
    folder that does not exist, or not writable; or when pyarrow is not installed."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ScanOutputError(
            "--format parquet needs pyarrow, which the 'parquet' extra installs: "
            "pip install 'rempart[parquet]'"
        ) from exc
    if path.exists() and not path.is_dir():
        raise ScanOutputError(f"{what} {path} is a file; --format parquet writes a folder")
    folder = path if path.is_dir() else path.parent
    if not folder.is_dir():
        raise ScanOutputError(f"{what} {path}: there is no folder {folder}; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ScanOutputError(f"{what} {path}: cannot write in {folder} (permission denied)")


class ParquetShards:
    """A folder of Parquet shards being written: records gather into a shard of
    ``SHARD_ROWS`` rows, written whole (beside its name, then renamed) when full and at
    ``close``. ``previous``: what an earlier run of the folder left (resuming); otherwise its
    shards are removed first."""

    def __init__(
        self,
        folder: Path,
        fingerprint: Mapping[str, Any] | None,
        previous: Previous | None = None,
        *,
        rows: int = SHARD_ROWS,
    ) -> None:
        self.folder = folder
        self.fingerprint = dict(fingerprint) if fingerprint is not None else None
        self.rows = rows
        self._pending: list[dict[str, Any]] = []
        folder.mkdir(exist_ok=True)
        for partial in folder.glob(f".{_SHARD_GLOB}.partial"):
            partial.unlink()  # a shard a killed run did not finish
        if previous is None:
            for shard in folder.glob(_SHARD_GLOB):
                shard.unlink()
        self._next = _next_shard(folder) if previous is not None else 0

    def add(self, record: dict[str, Any]) -> None:
        """One record, as a row of the shard being filled; the shard is written when full."""
        self._pending.append(row_of(record))
        if len(self._pending) >= self.rows:
            self._write()

    def flush(self) -> None:
        """Write what is gathered as a shard (none when nothing is)."""
        self._write()

    def close(self) -> None:
        """Write the last shard."""
        self._write()

    def _write(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = _schema(pa)
        if self.fingerprint is not None:
            schema = schema.with_metadata({_META_KEY: json.dumps(self.fingerprint)})
        table = pa.Table.from_pylist(self._pending, schema=schema)
        name = self.folder / _SHARD.format(self._next)
        partial = name.with_name(f".{name.name}.partial")
        pq.write_table(table, partial)
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, name)
        sync_folder(self.folder)
        self._next += 1
        self._pending = []


def read_previous_shards(
    folder: Path, policy: PolicyRef, fingerprint: Mapping[str, Any] | None = None
) -> Previous:
    """The records in the shards of ``folder`` (none when it has none), as ``read_previous``
    reads a JSON Lines output, with the same refusals; a shard that cannot be read is
    refused, naming it (a run leaves none: each is renamed once whole)."""
    previous = Previous()
    if not folder.is_dir():
        return previous
    import pyarrow as pa
    import pyarrow.parquet as pq

    for shard in sorted(folder.glob(_SHARD_GLOB)):
        try:
            table = pq.read_table(shard)
            rows = table.to_pylist()
        except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
            # UnicodeDecodeError: a column name that is not UTF-8, as pyarrow decodes it.
            raise ScanOutputError(f"{shard}: not a Parquet shard ({exc}); cannot resume") from exc
        metadata = table.schema.metadata or {}
        if _META_KEY in metadata:
            try:
                header = {HEADER_KEY: json.loads(metadata[_META_KEY])}
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise ScanOutputError(
                    f"{shard}: its fingerprint is not JSON ({exc}); cannot resume"
                ) from exc
            earlier = _check_fingerprint(shard, header, fingerprint)
            previous.fingerprint = previous.fingerprint or earlier
        for number, row in enumerate(rows, start=1):
            try:
                record = record_of(row)
            except (TypeError, ValueError, RecursionError) as exc:
                raise ScanOutputError(
                    f"{shard}:{number}: not a scan record ({exc}); cannot resume"
                ) from exc
            _check_record(shard, number, record)
            _check_policy(shard, number, record, policy)
            previous.records[record_key(shard, number, record)] = record
        previous.shards += 1
    return previous


def row_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a Parquet row: its path as ``json_line`` writes it (with ``path_bytes``
    for a name that is not UTF-8), nested fields as JSON text, other fields in ``other``."""
    written = json.loads(json_line(dict(record)))
    row: dict[str, Any] = {name: written.pop(name, None) for name in (*_TEXT, *_NUMBERS)}
    for name in _NESTED:
        value = written.pop(name, None)
        row[name] = None if value is None else json.dumps(value, ensure_ascii=False)
    row["other"] = json.dumps(written, ensure_ascii=False) if written else None
    return row


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The record a Parquet row holds: the JSON Lines record, field for field."""
    record: dict[str, Any] = {}
    for name in (*_TEXT, *_NUMBERS):
        if row.get(name) is not None:
            record[name] = row[name]
    for name in ("verdict", "signals", "error"):
        if row.get(name) is not None:
            record[name] = json.loads(row[name])
    if row.get("other") is not None:
        record.update(json.loads(row["other"]))
    return record


def _schema(pa: Any) -> Any:
    return pa.schema(
        [(name, pa.string()) for name in _TEXT]
        + [(name, pa.int64()) for name in _NUMBERS]
        + [(name, pa.string()) for name in (*_NESTED, "other")]
    )


def _next_shard(folder: Path) -> int:
    stems = [shard.stem.removeprefix("part-") for shard in folder.glob(_SHARD_GLOB)]
    numbers = [int(stem) for stem in stems if stem.isascii() and stem.isdigit()]
    return max(numbers, default=-1) + 1
