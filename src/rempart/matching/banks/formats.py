"""Hash-list files: the formats banks import and export, and what each line may hold.

Formats, and who else reads or writes them:

- ``hex``: one hash per line. python-threatexchange reads it (``threatexchange match -H``, a
  ``local_file`` collaboration with ``--signal-type pdq``) and writes it
  (``threatexchange dataset -P -S -s pdq``).
- ``pytx``: ``pdq <hash>`` per line, one space between: python-threatexchange's ``local_file``
  collaboration grammar, and what ``threatexchange hash`` and ``dataset -P -S`` print. Lines of
  other signal types (``video_md5 ...``) are skipped and counted.
- ``csv``: a header row, then one hash per row. The hash column is ``hash``, ``pdq``,
  ``signal_str`` (python-threatexchange's ``dataset --csv``) or ``indicator`` (ThreatExchange's
  CSV export); a ``signal_type``/``type`` column, when present, must say PDQ or the row is
  skipped. Optional: ``quality``, ``source_ref``, ``note``.
- ``jsonl``: one object per line with ``hash`` or ``pdq`` (so ``rempart hash`` output imports
  as is), and optional ``quality``, ``source_ref``, ``note``, ``withdrawn_at``.
- ``te``: the ``.te`` files of HMA 1.0 and older python-threatexchange: headerless CSV of
  ``hash,indicator_id,descriptor_id,timestamp,tags``.
- ``stopncii``: StopNCII's ``FetchHashes`` responses, as a JSON document with ``hashRecords``
  or JSON Lines of records (``signalType``, ``hashValue``, ``hashStatus``, ``caseNumbers``).
  Records whose status is ``Withdrawn`` or ``Deleted`` withdraw the hash. Import only.

Hashes are written as lowercase hex, the only case python-threatexchange accepts.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TextIO

from rempart.errors import ImportLineError
from rempart.hashing.hash256 import from_hex
from rempart.matching.formats import EXPORT_FORMATS, HashListFormat

__all__ = [
    "EXPORT_FORMATS",
    "HashListFormat",
    "ImportLineError",
    "Record",
    "Skipped",
    "guess_format",
    "read_records",
    "write_records",
]

MAX_LINE_CHARS: Final = 65_536
PDQ_TYPE_NAMES: Final = frozenset({"pdq", "hash_pdq", "imagepdq", "photo_pdq"})
_STOPNCII_WITHDRAWN: Final = frozenset({"withdrawn", "deleted"})
_MAX_TEXT: Final = 512


@dataclass(frozen=True, slots=True)
class Record:
    """One hash read from a file, with what the file says about it."""

    line: int
    hash: str
    quality: int | None = None
    source_ref: str | None = None
    note: str | None = None
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line that holds no PDQ hash on purpose (another signal type); counted, not an error."""

    line: int
    reason: str


def guess_format(name: str, first_line: str) -> HashListFormat:
    """The format of a file from its name and first non-blank line."""
    lower = name.lower()
    if lower.endswith(".te"):
        return HashListFormat.TE
    if lower.endswith((".jsonl", ".ndjson")):
        return HashListFormat.JSONL
    if lower.endswith(".json"):
        return HashListFormat.STOPNCII
    if lower.endswith(".csv"):
        has_header = not _looks_like_hash(first_line.split(",", 1)[0])
        return HashListFormat.CSV if has_header else HashListFormat.TE
    stripped = first_line.strip()
    if stripped.startswith("{"):
        return HashListFormat.STOPNCII if "hashValue" in stripped else HashListFormat.JSONL
    if " " in stripped:
        return HashListFormat.PYTX
    return HashListFormat.HEX


def sniff_format(stream: TextIO, name: str = "") -> HashListFormat:
    """The format of a seekable text ``stream`` from its file ``name`` (if any) and its first
    non-blank line, read without consuming the stream; ``ImportLineError`` for text that is
    not UTF-8."""
    try:
        first = next((line for line in iter(lambda: stream.readline(4096), "") if line.strip()), "")
    except UnicodeDecodeError:
        raise ImportLineError(1, "the hash list is not UTF-8 text") from None
    stream.seek(0)
    return guess_format(name, first)


def read_records(stream: TextIO, fmt: HashListFormat) -> Iterator[Record | Skipped]:
    """Parse ``stream``; raise ``ImportLineError`` at the first invalid line."""
    lines = _numbered_lines(stream)
    if fmt is HashListFormat.HEX:
        for number, line in lines:
            yield Record(number, _hash(number, line))
    elif fmt is HashListFormat.PYTX:
        yield from _read_pytx(lines)
    elif fmt is HashListFormat.CSV:
        yield from _read_csv(lines)
    elif fmt is HashListFormat.JSONL:
        for number, line in lines:
            yield _json_record(number, _json_object(number, line))
    elif fmt is HashListFormat.TE:
        yield from _read_te(lines)
    else:
        yield from _read_stopncii(lines)


def _numbered_lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    number = 0
    while True:
        try:
            line = stream.readline(MAX_LINE_CHARS + 1)
        except UnicodeDecodeError:
            raise ImportLineError(number + 1, "not UTF-8 text") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            raise ImportLineError(number, f"line longer than {MAX_LINE_CHARS} characters")
        if "\x00" in line:
            raise ImportLineError(number, "holds a NUL byte: not a text file")
        if line.strip():  # blank lines mean nothing in any format; numbers still count them
            yield number, line.rstrip("\r\n")


def _looks_like_hash(text: str) -> bool:
    try:
        from_hex(text)
    except ValueError:
        return False
    return True


def _hash(number: int, text: object) -> str:
    if not isinstance(text, str):
        raise ImportLineError(number, f"the hash must be a string, got {type(text).__name__}")
    try:
        return from_hex(text).hex()
    except ValueError as exc:
        raise ImportLineError(number, f"invalid PDQ hash: {exc}") from None


def _quality(number: int, value: object) -> int | None:
    if value is None or value == "":
        return None
    problem = f"quality must be a whole number 0 to 100, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ImportLineError(number, problem)
    try:
        quality = int(value)
    except ValueError:
        raise ImportLineError(number, problem) from None
    if not 0 <= quality <= 100:
        raise ImportLineError(number, problem)
    return quality


def _text(number: int, field: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise ImportLineError(number, f"{field} must be text, got {type(value).__name__}")
    text = str(value)
    if len(text) > _MAX_TEXT:
        raise ImportLineError(number, f"{field} is longer than {_MAX_TEXT} characters")
    return text


def _read_pytx(lines: Iterable[tuple[int, str]]) -> Iterator[Record | Skipped]:
    for number, line in lines:
        stripped = line.strip()
        signal_type, separator, value = stripped.partition(" ")
        if not separator:
            raise ImportLineError(number, "expected '<signal type> <hash>', e.g. 'pdq <64 hex>'")
        if signal_type.lower() not in PDQ_TYPE_NAMES:
            yield Skipped(number, f"signal type {signal_type}")
            continue
        yield Record(number, _hash(number, value))


_CSV_HASH: Final = ("hash", "pdq", "signal_str", "indicator")
_CSV_TYPE: Final = ("signal_type", "type")


def _read_csv(lines: Iterable[tuple[int, str]]) -> Iterator[Record | Skipped]:
    numbered = iter(lines)
    first = next(numbered, None)
    if first is None:
        return
    number, line = first
    header = [name.strip().lower() for name in _csv_row(number, line)]
    hash_column = next((name for name in _CSV_HASH if name in header), None)
    if hash_column is None:
        raise ImportLineError(
            number, f"the header has no hash column (one of {', '.join(_CSV_HASH)})"
        )
    type_column = next((name for name in _CSV_TYPE if name in header), None)
    for number, line in numbered:
        cells = _csv_row(number, line)
        if len(cells) != len(header):
            raise ImportLineError(number, f"{len(cells)} columns, the header has {len(header)}")
        row = dict(zip(header, cells, strict=False))
        if type_column and row[type_column].strip().lower() not in PDQ_TYPE_NAMES:
            yield Skipped(number, f"signal type {row[type_column].strip()}")
            continue
        yield Record(
            number,
            _hash(number, row[hash_column]),
            quality=_quality(number, row.get("quality", "").strip()),
            source_ref=_text(number, "source_ref", row.get("source_ref")),
            note=_text(number, "note", row.get("note")),
        )


def _csv_row(number: int, line: str) -> list[str]:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration) as exc:
        raise ImportLineError(number, f"not a CSV row ({exc})") from None


def _read_te(lines: Iterable[tuple[int, str]]) -> Iterator[Record]:
    for number, line in lines:
        cells = _csv_row(number, line)
        if len(cells) != 5:
            raise ImportLineError(
                number, "a .te row is hash,indicator_id,descriptor_id,timestamp,tags"
            )
        value, indicator, _descriptor, _timestamp, tags = cells
        yield Record(
            number,
            _hash(number, value),
            source_ref=_text(number, "indicator_id", f"te:{indicator}" if indicator else None),
            note=_text(number, "tags", tags),
        )


def _json_object(number: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportLineError(number, f"not JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ImportLineError(number, "each line must be a JSON object")
    return value


def _json_record(number: int, obj: dict[str, Any]) -> Record:
    if "error" in obj:
        raise ImportLineError(number, "a record of a file that could not be hashed")
    value = obj.get("hash", obj.get("pdq"))
    if value is None:
        raise ImportLineError(number, "no 'hash' or 'pdq' field")
    return Record(
        number,
        _hash(number, value),
        quality=_quality(number, obj.get("quality")),
        source_ref=_text(number, "source_ref", obj.get("source_ref")),
        note=_text(number, "note", obj.get("note")),
        withdrawn=obj.get("withdrawn_at") is not None,
    )


def _read_stopncii(lines: Iterable[tuple[int, str]]) -> Iterator[Record | Skipped]:
    numbered = list(lines)
    text = "\n".join(line for _, line in numbered).strip()
    if text.startswith("{") and '"hashRecords"' in text.split("\n", 1)[0] + text[:4096]:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportLineError(exc.lineno, f"not JSON ({exc.msg})") from None
        records = document.get("hashRecords") if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise ImportLineError(1, "a FetchHashes response needs a 'hashRecords' list")
        # A document has no line per record: number records from 1 instead.
        for index, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                raise ImportLineError(index, "each hash record must be a JSON object")
            yield _stopncii_record(index, record)
        return
    for number, line in numbered:
        yield _stopncii_record(number, _json_object(number, line))


def _stopncii_record(number: int, record: dict[str, Any]) -> Record | Skipped:
    signal_type = str(record.get("signalType", ""))
    if signal_type.lower() not in PDQ_TYPE_NAMES:
        return Skipped(number, f"signal type {signal_type or 'missing'}")
    status = str(record.get("hashStatus", "Active")).lower()
    cases = record.get("caseNumbers") or {}
    case_ids = ",".join(sorted(str(case) for case in cases)) if isinstance(cases, dict) else ""
    return Record(
        number,
        _hash(number, record.get("hashValue")),
        source_ref=_text(number, "caseNumbers", f"stopncii:{case_ids}" if case_ids else None),
        withdrawn=status in _STOPNCII_WITHDRAWN,
    )


@dataclass(frozen=True, slots=True)
class ExportRow:
    """What an export writes about one entry."""

    entry_id: int
    hash: str
    quality: int | None
    added_at: datetime
    import_id: int
    source_ref: str | None
    note: str | None
    withdrawn_at: datetime | None


_CSV_COLUMNS: Final = ("hash", "quality", "source_ref", "note", "added_at", "withdrawn_at")


def write_records(rows: Iterable[ExportRow], fmt: HashListFormat, out: TextIO) -> int:
    """Write ``rows`` to ``out`` in ``fmt``; returns how many were written."""
    if fmt is HashListFormat.STOPNCII:
        raise ValueError("stopncii is an import format only")
    count = 0
    writer = csv.writer(out, lineterminator="\n")
    if fmt is HashListFormat.CSV:
        writer.writerow(_CSV_COLUMNS)
    for row in rows:
        count += 1
        if fmt is HashListFormat.HEX:
            out.write(row.hash + "\n")
        elif fmt is HashListFormat.PYTX:
            out.write(f"pdq {row.hash}\n")
        elif fmt is HashListFormat.CSV:
            writer.writerow([row.hash, *_optional_fields(row)])
        elif fmt is HashListFormat.TE:
            stamp = row.added_at.strftime("%Y-%m-%dT%H:%M:%S+0000")
            writer.writerow([row.hash, row.entry_id, row.import_id, stamp, row.note or ""])
        else:
            record = dict(
                zip(("hash", *_CSV_COLUMNS[1:]), (row.hash, *_optional_fields(row)), strict=False)
            )
            record = {"entry_id": row.entry_id, **record}
            out.write(json.dumps({k: v for k, v in record.items() if v != ""}) + "\n")
    return count


def _optional_fields(row: ExportRow) -> tuple[object, ...]:
    return (
        "" if row.quality is None else row.quality,
        row.source_ref or "",
        row.note or "",
        row.added_at.isoformat(),
        row.withdrawn_at.isoformat() if row.withdrawn_at else "",
    )
