"""Hash-list files: the formats banks import and export, and what each line may hold.

Formats, and who else reads or writes them:

- ``hex``: one hash per line. python-threatexchange reads it (``threatexchange match -H``, a
  ``local_file`` collaboration with ``--signal-type pdq``) and writes it
  (``threatexchange dataset -P -S -s pdq``).
- ``pytx``: ``<signal type> <signal>`` per line, one space between: python-threatexchange's
  ``local_file`` collaboration grammar, and what ``threatexchange hash`` and ``dataset -P -S``
  print. ``pdq <hash>`` is an image; ``vpdq <JSON>`` a video, its signal python-threatexchange's
  ``vpdq_to_json``: a JSON list of ``"<hash>,<quality>,<timestamp>"`` strings, one per frame
  (the older ``{"<frame>": {"hash", "quality", "timestamp"}}`` object is read too).
  ``video_md5 <hex>`` and ``video_sha256 <hex>`` (python-threatexchange's ``VideoMD5Signal``
  and ``VideoSHA256Signal``; ``photo_md5``, ``photo_sha256``, ``md5``, ``sha256`` too:
  ``PYTX_KINDS``) are exact entries: a file's digest, matched by a set lookup. Lines of other
  signal types are skipped and counted.
- ``csv``: a header row, then one hash per row. The hash column is ``hash``, ``pdq``,
  ``signal_str`` (python-threatexchange's ``dataset --csv``) or ``indicator`` (ThreatExchange's
  CSV export); a ``signal_type``/``type`` column, when present, must say PDQ (an image), vPDQ
  (a video, the hash column holding its JSON as in ``pytx``) or an MD5 or SHA-256 type (an
  exact entry, the hash column its digest) or the row is skipped. Optional: ``quality``,
  ``source_ref``, ``note``, and ``md5``, ``sha256`` of a video's file.
- ``jsonl``: one object per line with ``hash`` or ``pdq`` (so ``rempart hash`` output imports
  as is), or ``vpdq`` for a video (its JSON as in ``pytx``, as a string or a list), and
  optional ``quality``, ``source_ref``, ``note``, ``withdrawn_at``, ``md5``, ``sha256``. An
  exact entry is ``{"kind": "md5"|"sha256", "hash": <hex digest>}`` (or its ``signal_type``
  a pytx MD5 or SHA-256 type).
- ``vpdq``: one video's features in the reference's text format (``vpdq-hash-video``'s
  output, ``rempart.hashing.vpdq.format_features``): the whole file is one video. Import only.
- ``te``: the ``.te`` files of HMA 1.0 and older python-threatexchange: headerless CSV of
  ``hash,indicator_id,descriptor_id,timestamp,tags``.
- ``stopncii``: StopNCII's ``FetchHashes`` responses, as a JSON document with ``hashRecords``
  or JSON Lines of records (``signalType``, ``hashValue``, ``hashStatus``, ``caseNumbers``).
  Records whose status is ``Withdrawn`` or ``Deleted`` withdraw the hash; a ``VideoMD5``
  record is an exact MD5 entry. Import only.

Hashes are written as lowercase hex, the only case python-threatexchange accepts. ``hex`` and
``te`` hold PDQ hashes only: an export to them leaves a bank's videos and exact entries out.
Exact entries are written as ``video_md5`` and ``video_sha256``, the names python-threatexchange
reads (it has no image MD5 type).

Any bytes may be given to an import: what is not a valid list raises ``ImportLineError`` naming
the line and the byte offset (of the bad byte, or of the line's start), never another
exception. Read from a binary stream, as the command line and the server do, so that offsets
and line numbers are exact; a text stream's undecodable bytes are only placed at a line.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import IO, Any, Final, TextIO

from rempart.errors import BankError, ImportLineError
from rempart.hashing.hash256 import from_hex
from rempart.hashing.vpdq import VpdqFeature, parse_feature
from rempart.matching.formats import EXPORT_FORMATS, HashListFormat

__all__ = [
    "DIGEST_KINDS",
    "EXPORT_FORMATS",
    "IMAGE",
    "IMAGE_ONLY_FORMATS",
    "MAX_VIDEO_FRAMES",
    "MD5",
    "MD5_TYPE_NAMES",
    "PYTX_KINDS",
    "PYTX_MD5",
    "PYTX_SHA256",
    "SHA256",
    "SHA256_TYPE_NAMES",
    "VIDEO",
    "HashListFormat",
    "ImportLineError",
    "Record",
    "Skipped",
    "check_digest",
    "check_video",
    "features_from_pytx",
    "features_to_pytx",
    "guess_format",
    "read_records",
    "sniff_format",
    "video_key",
    "write_records",
]

MAX_LINE: Final = 2 * 1024 * 1024
"""The longest line read, in bytes (in characters from a text stream), its line break
included: a ``vpdq`` line of a video of 6 hours at one frame a second (about 85 bytes a
frame)."""
IMAGE: Final = "image"
VIDEO: Final = "video"
MD5: Final = "md5"
SHA256: Final = "sha256"
"""The kinds of bank entries (``bank_entries.kind``): a PDQ hash, a video's vPDQ features, or
an exact digest of a file's bytes (its ``hash`` the lowercase hex digest)."""
DIGEST_KINDS: Final = (MD5, SHA256)
_DIGEST_LENGTH: Final = MappingProxyType({MD5: 32, SHA256: 64})
_HEX: Final = re.compile(r"[0-9a-f]+")
PYTX_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "pdq": IMAGE,
        "md5": MD5,
        "photo_md5": MD5,
        "video_md5": MD5,
        "sha256": SHA256,
        "photo_sha256": SHA256,
        "video_sha256": SHA256,
    }
)
"""python-threatexchange's signal type names (what HMA's API, a ``pytx`` list and an
exchange's signals call them) and the bank entry kind each is held as: the one table the
importers, the exchanges' fetches and ``serve --hma-compat`` read. ``vpdq`` is a video, read
by its own parser."""
PDQ_TYPE_NAMES: Final = frozenset(
    {name for name, kind in PYTX_KINDS.items() if kind == IMAGE}
    | {"hash_pdq", "imagepdq", "photo_pdq"}
)
VPDQ_TYPE_NAMES: Final = frozenset({"vpdq", "hash_video_vpdq", "video_vpdq", "videovpdq"})
"""python-threatexchange's ``VPDQSignal`` (``vpdq``), ThreatExchange's indicator type
(``HASH_VIDEO_VPDQ``) and their spellings."""
MD5_TYPE_NAMES: Final = frozenset(
    {name for name, kind in PYTX_KINDS.items() if kind == MD5}
    | {"hash_md5", "hash_video_md5", "videomd5", "photomd5"}
)
SHA256_TYPE_NAMES: Final = frozenset(
    {name for name, kind in PYTX_KINDS.items() if kind == SHA256}
    | {"hash_sha256", "hash_video_sha256", "videosha256"}
)
"""``PYTX_KINDS``' exact types, ThreatExchange's indicator types (``HASH_VIDEO_MD5``,
``HASH_MD5``...) and StopNCII's ``VideoMD5``: exact entries."""
PYTX_MD5: Final = "video_md5"
PYTX_SHA256: Final = "video_sha256"
"""The signal types an export writes exact entries as: python-threatexchange's own names."""
# python-threatexchange's VPDQ_TIMESTAMP_PRECISION: its timestamps are kept to 3 decimals.
_TIMESTAMP_DIGITS: Final = 3
_STOPNCII_WITHDRAWN: Final = frozenset({"withdrawn", "deleted"})
_MAX_TEXT: Final = 512
_MAX_LABEL: Final = 40  # a signal type named in a skip reason; longer ones are not named
_BOM: Final = b"\xef\xbb\xbf"
_DOCUMENT_PEEK: Final = 4096  # characters from the first non-blank line: a document says so


@dataclass(frozen=True, slots=True)
class Record:
    """One hash read from a file, with what the file says about it. A video's ``hash`` is its
    ``video_key``, and ``features`` its vPDQ features; ``md5``/``sha256`` its file's."""

    line: int
    hash: str
    quality: int | None = None
    source_ref: str | None = None
    note: str | None = None
    withdrawn: bool = False
    features: tuple[VpdqFeature, ...] | None = None
    md5: str | None = None
    sha256: str | None = None
    kind: str = IMAGE
    """``image`` (a PDQ hash; a video's record is told by its ``features``), or ``md5`` /
    ``sha256``: an exact entry, ``hash`` the file's lowercase hex digest."""


def video_key(features: Iterable[VpdqFeature]) -> str:
    """What identifies a video's features in a bank: a SHA-256 of its frames' hashes,
    qualities and timestamps (not the frame numbers, which python-threatexchange's lists
    leave out), so that one video read from any format is held once."""
    digest = hashlib.sha256()
    for f in features:
        digest.update(f"{f.hex},{f.quality},{f.timestamp:.{_TIMESTAMP_DIGITS}f}\n".encode())
    return digest.hexdigest()


def features_to_pytx(features: Iterable[VpdqFeature]) -> str:
    """A video's signal as python-threatexchange writes it (``vpdq_to_json``): a JSON list of
    ``"<hash>,<quality>,<timestamp>"``; timestamps with 3 decimals, which it reads."""
    return json.dumps(
        [f"{f.hex},{f.quality},{f.timestamp:.{_TIMESTAMP_DIGITS}f}" for f in features]
    )


MAX_VIDEO_FRAMES: Final = 6 * 3600
"""Frames of one banked video: 6 hours at vPDQ's frame a second. Every frame of a candidate
is compared with every frame of the query, so a list cannot bank a video of millions."""

# A CSV row of a 6-hour video's vPDQ is one field over csv's default limit (128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))


def check_video(features: Sequence[VpdqFeature]) -> None:
    """Check ``features`` are one bankable video's: one frame or more, at most the limit
    (``ValueError`` saying which)."""
    if not features:
        raise ValueError("a vPDQ signal with no frame")
    if len(features) > MAX_VIDEO_FRAMES:
        raise ValueError(
            f"a video of {len(features):,} frames; a bank holds at most {MAX_VIDEO_FRAMES:,} "
            "(6 hours at a frame a second)"
        )


def features_from_pytx(value: object) -> list[VpdqFeature]:
    """A video's features from python-threatexchange's signal (``json_to_vpdq``), as JSON
    text or already parsed: a list of ``"<hash>,<quality>,<timestamp>"`` (frames numbered in
    order), or its older object of frame number to ``{"hash", "quality", "timestamp"}``.
    ``ValueError`` saying what is wrong; at least one frame."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            raise ValueError(f"not JSON ({str(exc).split(':')[0]})") from None
    if isinstance(value, list):
        features = [_compact_feature(number, item) for number, item in enumerate(value)]
    elif isinstance(value, dict):
        features = [_old_feature(frame, item) for frame, item in value.items()]
    else:
        raise ValueError("a vPDQ signal is a JSON list of 'hash,quality,timestamp' strings")
    check_video(features)
    return features


def _compact_feature(number: int, item: object) -> VpdqFeature:
    if isinstance(item, dict):  # a frame as an object, e.g. {"hash", "quality", "timestamp"}
        return _old_feature(str(item.get("frame_number", number)), item)
    if not isinstance(item, str):
        raise ValueError(f"frame {number}: not a 'hash,quality,timestamp' string")
    parts = item.split(",")
    try:
        if len(parts) != 3:
            raise ValueError(f"3 comma-separated fields expected, got {len(parts)}")
        hex_hash, quality, timestamp = parts
        return VpdqFeature(hex_hash.strip().lower(), int(quality), number, _seconds(timestamp))
    except ValueError as exc:
        raise ValueError(f"frame {number}: {exc}") from None


def _old_feature(frame: object, item: object) -> VpdqFeature:
    try:
        if not isinstance(item, dict) or not isinstance(frame, str):
            raise ValueError("not a {'hash', 'quality', 'timestamp'} object")
        hex_hash = item.get("hash", item.get("pdq", item.get("hex")))
        quality, timestamp = item.get("quality"), item.get("timestamp")
        if (
            not isinstance(hex_hash, str)
            or not isinstance(quality, int)
            or isinstance(quality, bool)
        ):
            raise ValueError("a hash string and a whole-number quality expected")
        if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
            raise ValueError("a timestamp in seconds expected")
        return VpdqFeature(hex_hash.lower(), quality, int(frame), _seconds(str(timestamp)))
    except ValueError as exc:
        raise ValueError(f"frame {_short(frame)}: {exc}") from None


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"a timestamp is a finite number of seconds, got {_short(text)}")
    return round(value, _TIMESTAMP_DIGITS)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line that holds no PDQ hash on purpose (another signal type); counted, not an error."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a hash list: its number from 1, the byte offset of its start, its text
    without the line break."""

    number: int
    offset: int
    text: str

    def error(self, reason: str, *, at: int = 0) -> ImportLineError:
        """``reason`` at this line, ``at`` characters into it."""
        return ImportLineError(self.number, reason, offset=self.offset + _utf8_len(self.text[:at]))


def guess_format(name: str, first_line: str) -> HashListFormat:
    """The format of a file from its name and first non-blank line."""
    lower = name.lower()
    if lower.endswith(".vpdq") or lower.endswith(".vpdq.txt") or _looks_like_feature(first_line):
        return HashListFormat.VPDQ
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


def sniff_format(stream: IO[bytes] | TextIO, name: str = "") -> HashListFormat:
    """The format of a seekable ``stream`` (bytes or text) from its file ``name`` (if any) and
    its first non-blank line, read without consuming the stream; ``ImportLineError`` when
    that line is not UTF-8 text or too long."""
    first = next((line.text for line in _lines(stream) if line.text.strip()), "")
    stream.seek(0)
    return guess_format(name, first)


def read_records(stream: IO[bytes] | TextIO, fmt: HashListFormat) -> Iterator[Record | Skipped]:
    """Parse ``stream`` (bytes or text); raise ``ImportLineError`` at the first invalid line."""
    if fmt is HashListFormat.STOPNCII:
        yield from _read_stopncii(_lines(stream))
        return
    lines = (line for line in _lines(stream) if line.text.strip())
    if fmt is HashListFormat.VPDQ:
        yield _read_vpdq(lines)
    elif fmt is HashListFormat.HEX:
        for line in lines:
            yield Record(line.number, _hash(line, line.text))
    elif fmt is HashListFormat.PYTX:
        yield from _read_pytx(lines)
    elif fmt is HashListFormat.CSV:
        yield from _read_csv(lines)
    elif fmt is HashListFormat.JSONL:
        for line in lines:
            yield _json_record(line, _json_object(line))
    else:
        yield from _read_te(lines)


def _lines(stream: IO[bytes] | TextIO) -> Iterator[Line]:
    """Every line of ``stream``, blank ones too (numbers count them), checked: UTF-8, no NUL,
    at most ``MAX_LINE`` long."""
    number = offset = 0
    while True:
        try:
            raw: bytes | str = stream.readline(MAX_LINE + 1)
        except UnicodeDecodeError:  # a text stream: where in the line is not known
            raise ImportLineError(number + 1, "not UTF-8 text", offset=offset) from None
        if not raw:
            return
        number += 1
        # ``readline`` stopped at the limit (in bytes, or characters of a text stream).
        if len(raw) > MAX_LINE:
            raise ImportLineError(number, f"line longer than {MAX_LINE} bytes", offset=offset)
        if isinstance(raw, bytes):
            text, size = _decode(number, offset, raw), len(raw)
        else:
            text, size = raw.removeprefix("\ufeff") if number == 1 else raw, _utf8_len(raw)
        line = Line(number, offset, text.rstrip("\r\n"))
        if "\x00" in line.text:
            raise line.error("holds a NUL byte: not a text file", at=line.text.index("\x00"))
        yield line
        offset += size


def _decode(number: int, offset: int, raw: bytes) -> str:
    body = raw[len(_BOM) :] if offset == 0 and raw.startswith(_BOM) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = offset + len(raw) - len(body) + exc.start
        reason = f"byte 0x{body[exc.start]:02x} is not UTF-8 text"
        raise ImportLineError(number, reason, offset=where) from None


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _looks_like_hash(text: str) -> bool:
    try:
        from_hex(text)
    except ValueError:
        return False
    return True


def _looks_like_feature(text: str) -> bool:
    try:
        parse_feature(text)
    except ValueError:
        return False
    return True


def _hash(line: Line, text: object) -> str:
    if not isinstance(text, str):
        raise line.error(f"the hash must be a string, got {type(text).__name__}")
    try:
        return from_hex(text).hex()
    except ValueError as exc:
        raise line.error(f"invalid PDQ hash: {exc}") from None


def _quality(line: Line, value: object) -> int | None:
    if value is None or value == "":
        return None
    problem = f"quality must be a whole number 0 to 100, got {_short(value)}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise line.error(problem)
    try:
        quality = int(value)
    except ValueError:  # not a number, or more digits than Python converts
        raise line.error(problem) from None
    if not 0 <= quality <= 100:
        raise line.error(problem)
    return quality


def _text(line: Line, field: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise line.error(f"{field} must be text, got {type(value).__name__}")
    text = str(value)
    if len(text) > _MAX_TEXT:
        raise line.error(f"{field} is longer than {_MAX_TEXT} characters")
    # JSON may escape half of a surrogate pair ("\ud800"): no UTF-8 text, nor database, holds it.
    surrogate = next((char for char in text if "\ud800" <= char <= "\udfff"), None)
    if surrogate is not None:
        raise line.error(f"{field} holds a lone surrogate ({surrogate!r}): not Unicode text")
    return text


def _short(value: object) -> str:
    """``value`` as an error message quotes it: its repr, cut to a few dozen characters."""
    text = repr(value) if isinstance(value, str | int | float | bool) or value is None else "?"
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 3] + "..."


def _skipped(number: int, signal_type: object) -> Skipped:
    """A record of another signal type, counted under its name when that is a short word."""
    if signal_type is None or signal_type == "":
        return Skipped(number, "signal type missing")
    name = signal_type if isinstance(signal_type, str) else ""
    readable = name.isprintable() and name.isascii() and 0 < len(name) <= _MAX_LABEL
    return Skipped(number, f"signal type {name if readable else '(unreadable)'}")


def _read_pytx(lines: Iterable[Line]) -> Iterator[Record | Skipped]:
    for line in lines:
        signal_type, separator, value = line.text.strip().partition(" ")
        if not separator:
            raise line.error("expected '<signal type> <hash>', e.g. 'pdq <64 hex>'")
        kind = signal_type.lower()
        if kind in VPDQ_TYPE_NAMES:
            yield _video(line, value)
        elif kind in PDQ_TYPE_NAMES:
            yield Record(line.number, _hash(line, value))
        elif (exact := _exact_kind(kind)) is not None:
            yield Record(line.number, _exact(line, exact, value), kind=exact)
        else:
            yield _skipped(line.number, signal_type)


def _exact_kind(signal_type: object) -> str | None:
    """``md5`` or ``sha256`` for a signal type of an exact digest, else None."""
    name = signal_type.lower() if isinstance(signal_type, str) else ""
    if name in MD5_TYPE_NAMES:
        return MD5
    if name in SHA256_TYPE_NAMES:
        return SHA256
    return None


def _exact(line: Line, kind: str, value: object) -> str:
    """An exact entry's digest as lowercase hex; ``ImportLineError`` when it is not one."""
    digest = _digest(line, kind, value)
    if digest is None:
        raise line.error(f"no {kind} digest")
    return digest


def _video(line: Line, signal: object, *, number: int | None = None, **fields: Any) -> Record:
    """A video's record from its python-threatexchange signal (``features_from_pytx``)."""
    try:
        features = tuple(features_from_pytx(signal))
    except ValueError as exc:
        raise line.error(f"invalid vPDQ signal: {exc}") from None
    return Record(
        line.number if number is None else number,
        video_key(features),
        features=features,
        md5=_digest(line, MD5, fields.pop("md5", None)),
        sha256=_digest(line, SHA256, fields.pop("sha256", None)),
        **fields,
    )


def _digest(line: Line, kind: str, value: object) -> str | None:
    """A file digest (``kind`` MD5 or SHA-256) as lowercase hex, or None when not given."""
    if value is None or value == "":
        return None
    try:
        return check_digest(kind, value if isinstance(value, str) else "")
    except BankError:
        raise line.error(f"{kind} is not a hex digest of its length: {_short(value)}") from None


def check_digest(algorithm: str, digest: str) -> str:
    """``digest`` as an exact entry holds it (lowercase hex) when it is a hex digest of
    ``algorithm``'s length (``md5``: 32, ``sha256``: 64); else ``BankError`` saying why. The
    one check of a digest, wherever one comes from (a list, an exchange, the API)."""
    kind = algorithm.lower() if isinstance(algorithm, str) else ""
    length = _DIGEST_LENGTH.get(kind)
    if length is None:
        raise BankError(f"unknown digest algorithm {algorithm!r}; choose md5 or sha256")
    value = digest.strip().lower() if isinstance(digest, str) else ""
    if len(value) != length or not _HEX.fullmatch(value):
        raise BankError(f"invalid {kind} digest: {length} hex digits expected")
    return value


def _read_vpdq(lines: Iterable[Line]) -> Record:
    """The reference's hash file: every line a frame of one video."""
    features = []
    first: Line | None = None
    for line in lines:
        first = first or line
        try:
            features.append(parse_feature(line.text))
        except ValueError as exc:
            raise line.error(str(exc)) from None
    if first is None:
        raise ImportLineError(1, "a vPDQ hash file with no frame", offset=0)
    try:
        check_video(features)
    except ValueError as exc:
        raise first.error(str(exc)) from None
    return Record(first.number, video_key(features), features=tuple(features))


_CSV_HASH: Final = ("hash", "pdq", "signal_str", "indicator")
_CSV_TYPE: Final = ("signal_type", "type")


def _read_csv(lines: Iterable[Line]) -> Iterator[Record | Skipped]:
    numbered = iter(lines)
    first = next(numbered, None)
    if first is None:
        return
    header = [name.strip().lower() for name in _csv_row(first)]
    hash_column = next((name for name in _CSV_HASH if name in header), None)
    if hash_column is None:
        raise first.error(f"the header has no hash column (one of {', '.join(_CSV_HASH)})")
    type_column = next((name for name in _CSV_TYPE if name in header), None)
    for line in numbered:
        cells = _csv_row(line)
        if len(cells) != len(header):
            raise line.error(f"{len(cells)} columns, the header has {len(header)}")
        row = dict(zip(header, cells, strict=False))
        kind = row[type_column].strip() if type_column else "pdq"
        if kind.lower() in VPDQ_TYPE_NAMES:
            yield _video(line, row[hash_column], **_video_fields(line, row))
            continue
        if (exact := _exact_kind(kind)) is not None:
            yield Record(
                line.number,
                _exact(line, exact, row[hash_column]),
                source_ref=_text(line, "source_ref", row.get("source_ref")),
                note=_text(line, "note", row.get("note")),
                kind=exact,
            )
            continue
        if kind.lower() not in PDQ_TYPE_NAMES:
            yield _skipped(line.number, kind)
            continue
        yield Record(
            line.number,
            _hash(line, row[hash_column]),
            quality=_quality(line, row.get("quality", "").strip()),
            source_ref=_text(line, "source_ref", row.get("source_ref")),
            note=_text(line, "note", row.get("note")),
        )


def _video_fields(line: Line, row: dict[str, Any]) -> dict[str, Any]:
    """What a video's row or object may say besides its signal."""
    return {
        "source_ref": _text(line, "source_ref", row.get("source_ref")),
        "note": _text(line, "note", row.get("note")),
        "md5": row.get("md5"),
        "sha256": row.get("sha256"),
    }


def _csv_row(line: Line) -> list[str]:
    try:
        return next(csv.reader([line.text]))
    except (csv.Error, StopIteration) as exc:
        raise line.error(f"not a CSV row ({exc})") from None


def _read_te(lines: Iterable[Line]) -> Iterator[Record]:
    for line in lines:
        cells = _csv_row(line)
        if len(cells) != 5:
            raise line.error("a .te row is hash,indicator_id,descriptor_id,timestamp,tags")
        value, indicator, _descriptor, _timestamp, tags = cells
        yield Record(
            line.number,
            _hash(line, value),
            source_ref=_text(line, "indicator_id", f"te:{indicator}" if indicator else None),
            note=_text(line, "tags", tags),
        )


def _json(lines: list[Line], text: str) -> Any:
    """``text``, the ``lines`` joined, parsed; any failure an ``ImportLineError`` at the line
    and byte where it happened."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        before = text[: exc.pos]
        line = lines[min(before.count("\n"), len(lines) - 1)]
        raise line.error(f"not JSON ({exc.msg})", at=exc.pos - before.rfind("\n") - 1) from None
    except ValueError as exc:  # a number of more digits than Python converts
        raise lines[0].error(f"not JSON that can be read ({str(exc).split(':')[0]})") from None
    except RecursionError:
        raise lines[0].error("JSON nested too deeply") from None


def _json_object(line: Line) -> dict[str, Any]:
    value = _json([line], line.text)
    if not isinstance(value, dict):
        raise line.error("each line must be a JSON object")
    return value


def _json_record(line: Line, obj: dict[str, Any]) -> Record:
    if "error" in obj:
        raise line.error("a record of a file that could not be hashed")
    if "vpdq" in obj:
        return _video(
            line,
            obj["vpdq"],
            withdrawn=obj.get("withdrawn_at") is not None,
            **_video_fields(line, obj),
        )
    exact = _exact_kind(obj.get("kind")) or _exact_kind(obj.get("signal_type"))
    if exact is not None:
        return Record(
            line.number,
            _exact(line, exact, obj.get("hash")),
            source_ref=_text(line, "source_ref", obj.get("source_ref")),
            note=_text(line, "note", obj.get("note")),
            withdrawn=obj.get("withdrawn_at") is not None,
            kind=exact,
        )
    value = obj.get("hash", obj.get("pdq"))
    if value is None:
        raise line.error("no 'hash' or 'pdq' field")
    return Record(
        line.number,
        _hash(line, value),
        quality=_quality(line, obj.get("quality")),
        source_ref=_text(line, "source_ref", obj.get("source_ref")),
        note=_text(line, "note", obj.get("note")),
        withdrawn=obj.get("withdrawn_at") is not None,
    )


def _read_stopncii(lines: Iterator[Line]) -> Iterator[Record | Skipped]:
    """A ``FetchHashes`` document (read whole: it is one JSON value), or JSON Lines of
    records (streamed)."""
    head: list[Line] = []  # up to the first non-blank line and 4096 characters past it
    size = 0
    for line in lines:
        head.append(line)
        size += len(line.text) + 1 if size or line.text.strip() else 0
        if size > _DOCUMENT_PEEK:
            break
    filled = [line for line in head if line.text.strip()]
    if not filled:
        return
    first = filled[0]
    peek = "\n".join(line.text for line in head[first.number - head[0].number :])
    if first.text.lstrip().startswith("{") and '"hashRecords"' in peek[:_DOCUMENT_PEEK]:
        yield from _read_document([*head[first.number - head[0].number :], *lines])
        return
    for line in itertools.chain(head, lines):
        if line.text.strip():
            yield _stopncii_record(line, _json_object(line), line.number)


def _read_document(lines: list[Line]) -> Iterator[Record | Skipped]:
    first = lines[0]
    document = _json(lines, "\n".join(line.text for line in lines))
    records = document.get("hashRecords") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise first.error("a FetchHashes response needs a 'hashRecords' list")
    # A document has no line per record: an error names the record, at the document's start.
    for index, record in enumerate(records, start=1):
        try:
            if not isinstance(record, dict):
                raise first.error("not a JSON object")
            yield _stopncii_record(first, record, index)
        except ImportLineError as exc:
            raise first.error(f"hash record {index}: {exc.reason}") from None


def _stopncii_record(line: Line, record: dict[str, Any], number: int) -> Record | Skipped:
    signal_type = record.get("signalType")
    exact = _exact_kind(signal_type)
    if not isinstance(signal_type, str) or (
        signal_type.lower() not in PDQ_TYPE_NAMES and exact is None
    ):
        return _skipped(number, signal_type)
    status = record.get("hashStatus", "Active")
    if not isinstance(status, str):
        raise line.error(f"hashStatus must be text, got {type(status).__name__}")
    cases = record.get("caseNumbers") or {}
    case_ids = ",".join(sorted(str(case) for case in cases)) if isinstance(cases, dict) else ""
    value = record.get("hashValue")
    return Record(
        number,
        _hash(line, value) if exact is None else _exact(line, exact, value),
        source_ref=_text(line, "caseNumbers", f"stopncii:{case_ids}" if case_ids else None),
        withdrawn=status.lower() in _STOPNCII_WITHDRAWN,
        kind=exact or IMAGE,
    )


@dataclass(frozen=True, slots=True)
class ExportRow:
    """What an export writes about one entry; a video's ``hash`` is its ``video_key``."""

    entry_id: int
    hash: str
    quality: int | None
    added_at: datetime
    import_id: int
    source_ref: str | None
    note: str | None
    withdrawn_at: datetime | None
    features: tuple[VpdqFeature, ...] | None = None
    md5: str | None = None
    sha256: str | None = None
    kind: str = IMAGE
    """``image``, ``video`` or an exact entry's ``md5`` / ``sha256`` (``hash`` its digest)."""


_CSV_COLUMNS: Final = (
    "hash",
    "quality",
    "source_ref",
    "note",
    "added_at",
    "withdrawn_at",
    "signal_type",
    "md5",
    "sha256",
)
IMAGE_ONLY_FORMATS: Final = frozenset({HashListFormat.HEX, HashListFormat.TE})
"""Export formats that hold PDQ hashes only: a bank's videos and exact entries are left out
of them."""
_EXPORT_TYPES: Final = {MD5: PYTX_MD5, SHA256: PYTX_SHA256}


def write_records(rows: Iterable[ExportRow], fmt: HashListFormat, out: TextIO) -> int:
    """Write ``rows`` to ``out`` in ``fmt``; returns how many were written (videos and exact
    entries are not, to a format of ``IMAGE_ONLY_FORMATS``)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"{fmt} is an import format only")
    count = 0
    writer = csv.writer(out, lineterminator="\n")
    if fmt is HashListFormat.CSV:
        writer.writerow(_CSV_COLUMNS)
    for row in rows:
        exact = _EXPORT_TYPES.get(row.kind)
        if (row.features is not None or exact) and fmt in IMAGE_ONLY_FORMATS:
            continue
        count += 1
        signal = row.hash if row.features is None else features_to_pytx(row.features)
        kind = exact or ("pdq" if row.features is None else "vpdq")
        if fmt is HashListFormat.HEX:
            out.write(row.hash + "\n")
        elif fmt is HashListFormat.PYTX:
            out.write(f"{kind} {signal}\n")
        elif fmt is HashListFormat.CSV:
            writer.writerow([signal, *_optional_fields(row), kind, row.md5 or "", row.sha256 or ""])
        elif fmt is HashListFormat.TE:
            stamp = row.added_at.strftime("%Y-%m-%dT%H:%M:%S+0000")
            writer.writerow([row.hash, row.entry_id, row.import_id, stamp, row.note or ""])
        else:
            out.write(json.dumps(_json_row(row)) + "\n")
    return count


def _json_row(row: ExportRow) -> dict[str, object]:
    """An entry as ``jsonl`` writes it: an image's ``hash``, or a video's ``vpdq`` (the list
    python-threatexchange's signal is the JSON of) with its file's digests."""
    record: dict[str, object] = {"entry_id": row.entry_id}
    if row.kind in _EXPORT_TYPES:
        record.update(kind=row.kind, hash=row.hash)
    elif row.features is None:
        record["hash"] = row.hash
    else:
        record["vpdq"] = json.loads(features_to_pytx(row.features))
        record.update(md5=row.md5 or "", sha256=row.sha256 or "")
    record.update(zip(_CSV_COLUMNS[1:6], _optional_fields(row), strict=True))
    return {k: v for k, v in record.items() if v != ""}


def _optional_fields(row: ExportRow) -> tuple[object, ...]:
    return (
        "" if row.quality is None else row.quality,
        row.source_ref or "",
        row.note or "",
        row.added_at.isoformat(),
        row.withdrawn_at.isoformat() if row.withdrawn_at else "",
    )
