"""Hash-list files: every format round-trips, and every malformed line is named."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from rempart.errors import ImportLineError
from rempart.matching.banks import (
    EXPORT_FORMATS,
    HashListFormat,
    Record,
    Skipped,
    guess_format,
    read_records,
    write_records,
)
from rempart.matching.banks.formats import ExportRow

A = "1e2feb89414c343c1027c4d1c386bbc4cd613e30d8f16adf91b7584a2265b1f5"
B = "c4647159c324c9859b810e766ec9d28663ca828dd5f4b3b2e4b06ce60741c7a8"


def read(text: str, fmt: HashListFormat) -> list[Record | Skipped]:
    return list(read_records(io.StringIO(text), fmt))


def rows() -> list[ExportRow]:
    added = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    return [
        ExportRow(1, A, 90, added, 1, "case-17", "from a victim, via the desk", None),
        ExportRow(2, B, None, added, 1, None, None, None),
    ]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_every_export_format_reads_back(fmt: HashListFormat) -> None:
    out = io.StringIO()
    assert write_records(rows(), fmt, out) == 2
    records = [r for r in read(out.getvalue(), fmt) if isinstance(r, Record)]
    assert [r.hash for r in records] == [A, B]
    if fmt in (HashListFormat.CSV, HashListFormat.JSONL):
        assert (records[0].quality, records[0].source_ref) == (90, "case-17")
        assert records[0].note == "from a victim, via the desk"
    if fmt is HashListFormat.TE:
        assert records[0].source_ref == "te:1"


def test_pytx_format_is_what_python_threatexchange_reads() -> None:
    out = io.StringIO()
    write_records(rows(), HashListFormat.PYTX, out)
    # threatexchange's local_file collaboration: "<type> <hash>", one space, lowercase hex.
    assert out.getvalue() == f"pdq {A}\npdq {B}\n"
    records = read(f"pdq {A.upper()}\r\nvideo_md5 {'0' * 32}\n\n", HashListFormat.PYTX)
    assert records == [Record(1, A), Skipped(2, "signal type video_md5")]


def test_csv_of_python_threatexchange_dataset_command() -> None:
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{A},mylist,INVESTIGATION_SEED,\r\n"
        f"video_md5,{'0' * 32},mylist,INVESTIGATION_SEED,\r\n"
    )
    records = read(text, HashListFormat.CSV)
    assert records == [Record(2, A), Skipped(3, "signal type video_md5")]


def test_jsonl_reads_rempart_hash_output() -> None:
    line = json.dumps({"path": "a.jpg", "sha256": "00", "md5": "00", "pdq": A, "quality": 100})
    assert read(line + "\n", HashListFormat.JSONL) == [Record(1, A, quality=100)]


def test_stopncii_responses_add_and_withdraw() -> None:
    document = {
        "count": 3,
        "hashRecords": [
            {
                "signalType": "ImagePDQ",
                "hashValue": A,
                "hashStatus": "Active",
                "caseNumbers": {"c1": "Active"},
            },
            {
                "signalType": "ImagePDQ",
                "hashValue": B,
                "hashStatus": "Withdrawn",
                "caseNumbers": {},
            },
            {"signalType": "VideoMD5", "hashValue": "0" * 32, "hashStatus": "Active"},
        ],
    }
    records = read(json.dumps(document, indent=2), HashListFormat.STOPNCII)
    assert records == [
        Record(1, A, source_ref="stopncii:c1"),
        Record(2, B, withdrawn=True),
        Skipped(3, "signal type VideoMD5"),
    ]
    lines = "\n".join(json.dumps(r) for r in document["hashRecords"][:2])  # type: ignore[index]
    assert [r.hash for r in read(lines, HashListFormat.STOPNCII) if isinstance(r, Record)] == [A, B]


@pytest.mark.parametrize(
    ("text", "fmt", "line", "reason"),
    [
        (f"{A}\n{A[:-1]}\n", HashListFormat.HEX, 2, "64 hex digits, got 63"),
        (f"{A}\n\n{A[:-1]}g\n", HashListFormat.HEX, 3, "only hex digits"),
        (f"pdq {A}\npdq\n", HashListFormat.PYTX, 2, "expected '<signal type> <hash>'"),
        ("name,size\nx,1\n", HashListFormat.CSV, 1, "no hash column"),
        (f"hash,quality\n{A},101\n", HashListFormat.CSV, 2, "quality must be a whole number"),
        (f"hash,quality\n{A},90,extra\n", HashListFormat.CSV, 2, "3 columns, the header has 2"),
        (f'{{"hash": "{A}"}}\n[1, 2]\n', HashListFormat.JSONL, 2, "JSON object"),
        ('{"hash": 12}\n', HashListFormat.JSONL, 1, "must be a string"),
        (
            '{"path": "x", "error": {"code": "truncated"}}\n',
            HashListFormat.JSONL,
            1,
            "could not be hashed",
        ),
        ("{not json\n", HashListFormat.JSONL, 1, "not JSON"),
        (f"{A},1,2\n", HashListFormat.TE, 1, "a .te row is"),
        (f'{{"hash": "{A}", "note": "{"x" * 600}"}}\n', HashListFormat.JSONL, 1, "longer than 512"),
        (f"{A}\x00\n", HashListFormat.HEX, 1, "NUL byte"),
    ],
)
def test_malformed_lines_are_named(text: str, fmt: HashListFormat, line: int, reason: str) -> None:
    with pytest.raises(ImportLineError, match=reason) as caught:
        read(text, fmt)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line} (byte ")


def test_a_huge_line_is_refused_without_reading_it_whole() -> None:
    with pytest.raises(ImportLineError, match="line longer than"):
        read("f" * 10_000_000, HashListFormat.HEX)


@pytest.mark.parametrize(
    ("name", "first", "expected"),
    [
        ("list.txt", A, HashListFormat.HEX),
        ("list.txt", f"pdq {A}", HashListFormat.PYTX),
        ("bank.csv", "hash,quality", HashListFormat.CSV),
        ("123.hash_pdq.te", f"{A},1,2,mine,", HashListFormat.TE),
        ("legacy.csv", f"{A},1,2,mine,", HashListFormat.TE),
        ("hashes.jsonl", "{}", HashListFormat.JSONL),
        ("page.json", "{", HashListFormat.STOPNCII),
        ("-", f'{{"pdq": "{A}"}}', HashListFormat.JSONL),
    ],
)
def test_guess_format(name: str, first: str, expected: HashListFormat) -> None:
    assert guess_format(name, first) is expected
