"""Hash-list files: every format round-trips, and every malformed line is named."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rempart.errors import ImportLineError
from rempart.matching.banks import (
    EXPORT_FORMATS,
    HashListFormat,
    Record,
    Skipped,
    guess_format,
    read_records,
    sniff_format,
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
    records = read(
        f"pdq {A.upper()}\r\nvideo_md5 {'0A' * 16}\n\nurl https://example.org/\n",
        HashListFormat.PYTX,
    )
    assert records == [
        Record(1, A),
        Record(2, "0a" * 16, kind="md5"),
        Skipped(4, "signal type url"),
    ]


def test_csv_of_python_threatexchange_dataset_command() -> None:
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{A},mylist,INVESTIGATION_SEED,\r\n"
        f"video_md5,{'0' * 32},mylist,INVESTIGATION_SEED,\r\n"
        "url,https://example.org/,mylist,INVESTIGATION_SEED,\r\n"
    )
    records = read(text, HashListFormat.CSV)
    assert records == [Record(2, A), Record(3, "0" * 32, kind="md5"), Skipped(4, "signal type url")]


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
        Record(3, "0" * 32, kind="md5"),  # StopNCII's video hashes: exact entries
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


def read_bytes(data: bytes, fmt: HashListFormat) -> list[Record | Skipped]:
    return list(read_records(io.BytesIO(data), fmt))


def refusal(data: bytes, fmt: HashListFormat) -> ImportLineError:
    with pytest.raises(ImportLineError) as caught:
        read_bytes(data, fmt)
    return caught.value


@pytest.mark.parametrize("fmt", list(HashListFormat))
def test_a_byte_that_is_not_utf8_is_named_by_line_and_offset(fmt: HashListFormat) -> None:
    # Far past the first line and the text decoder's chunk, where a text stream placed it at
    # line 1 (or at the chunk's end) whatever the line.
    lines = [f"{A}\n".encode()] * 2000
    data = b"".join(lines) + b"\xff\n"
    if fmt is HashListFormat.HEX:
        error = refusal(data, fmt)
        assert (error.line, error.offset) == (2001, 2000 * 65)
        assert str(error) == "line 2001 (byte 130000): byte 0xff is not UTF-8 text"
    # Whatever the format, a bad byte raises the project's error, never UnicodeDecodeError.
    assert isinstance(refusal(b"pdq \xc3\x28\n", fmt), ImportLineError)


def test_the_offset_is_of_the_bad_byte_after_a_bom_and_multibyte_text() -> None:
    data = b"\xef\xbb\xbfhash,note\n" + f"{A},caf\u00e9 ".encode() + b"\xe2\x82\n"
    error = refusal(data, HashListFormat.CSV)
    # 3 (BOM) + 10 (header) + 64 + 1 + 6 ("café ") bytes before the truncated sequence.
    assert (error.line, error.offset) == (2, 84)


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (b'{"hash": 1' + b"0" * 5000 + b"}\n", HashListFormat.JSONL, "not JSON that can be read"),
        (b"[" * 60_000 + b"\n", HashListFormat.JSONL, "nested too deeply"),
        (b'{"hashRecords": ' + b"[" * 60_000, HashListFormat.STOPNCII, "nested too deeply"),
        (
            f'{{"hash": "{A}", "note": "\\ud800"}}\n'.encode(),
            HashListFormat.JSONL,
            "note holds a lone surrogate",
        ),
        (
            f'{{"signalType": "pdq","hashValue": "{A}", "caseNumbers": {{"\\udfff": 0}}}}'.encode(),
            HashListFormat.STOPNCII,
            "caseNumbers holds a lone surrogate",
        ),
        (
            f'{{"signalType": "pdq", "hashValue": "{A}", "hashStatus": []}}\n'.encode(),
            HashListFormat.STOPNCII,
            "hashStatus must be text",
        ),
    ],
)
def test_hostile_json_is_refused_with_the_line(
    data: bytes, fmt: HashListFormat, reason: str
) -> None:
    error = refusal(data, fmt)
    assert reason in error.reason
    assert (error.line, error.offset) == (1, 0)


def test_a_json_document_error_names_its_own_line_and_byte() -> None:
    data = b'\n{"hashRecords": [\r\n  {"signalType": "pdq", "hashValue": "x"},,\n]}\n'
    error = refusal(data, HashListFormat.STOPNCII)
    # Line 3 starts at byte 1 + 19 (CRLF counted); the second comma is its 43rd character.
    assert (error.line, error.offset) == (3, 20 + 42)
    document = b'{"hashRecords": [{"signalType": "pdq", "hashValue": "x"}]}'
    record = refusal(document, HashListFormat.STOPNCII)
    assert record.reason.startswith("hash record 1: invalid PDQ hash")


def test_other_signal_types_are_counted_under_a_readable_name() -> None:
    data = f"pdq {A}\nurl_md5 x\n\x1b[31mred x\n".encode()
    assert [r.reason for r in read_bytes(data, HashListFormat.PYTX) if isinstance(r, Skipped)] == [
        "signal type url_md5",
        "signal type (unreadable)",
    ]


def test_sniffing_a_binary_stream_rewinds_and_refuses_bad_bytes() -> None:
    stream = io.BytesIO(f"\n\npdq {A}\n".encode())
    assert sniff_format(stream) is HashListFormat.PYTX
    assert stream.tell() == 0
    with pytest.raises(ImportLineError, match=r"line 2 \(byte 1\): byte 0xfe"):
        sniff_format(io.BytesIO(b"\n\xfe\n"), "list.txt")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), fmt=st.sampled_from(list(HashListFormat)))
def test_any_bytes_import_or_raise_the_projects_error(data: bytes, fmt: HashListFormat) -> None:
    error = None
    try:
        for chosen in (fmt, sniff_format(io.BytesIO(data), "list.txt")):
            for record in read_bytes(data, chosen):
                if isinstance(record, Record):
                    assert len(record.hash) == 64
    except ImportLineError as caught:  # anything else escaping fails the test
        error = caught
    if error is not None:
        assert 1 <= error.line <= data.count(b"\n") + 1
        assert error.offset is not None
        assert 0 <= error.offset <= len(data)


def test_vpdq_lines_of_python_threatexchange_import_as_videos() -> None:
    from rempart.hashing.vpdq import VpdqFeature
    from rempart.matching.banks import features_to_pytx, video_key

    # vpdq_to_json's output: "<hash>,<quality>,<timestamp>" with its timestamps to 3
    # significant digits ("{:.3}": 1.0e+02 past 99 s), and its older frame-number object.
    signal = json.dumps([f"{A},100,0.0", f"{B},87,1.0", f"{A},60,1e+02"])
    old = json.dumps({"0": {"quality": 100, "hash": A, "timestamp": 0.0}})
    text = f"vpdq {signal}\npdq {B}\nvpdq {old}\n"
    first, image, second = read(text, HashListFormat.PYTX)
    expected = (
        VpdqFeature(A, 100, 0, 0.0),
        VpdqFeature(B, 87, 1, 1.0),
        VpdqFeature(A, 60, 2, 100.0),
    )
    assert isinstance(first, Record)
    assert (first.features, first.hash) == (expected, video_key(expected))
    assert image == Record(2, B)
    assert isinstance(second, Record)
    assert second.features == (VpdqFeature(A, 100, 0, 0.0),)
    assert features_to_pytx(expected) == json.dumps(
        [f"{A},100,0.000", f"{B},87,1.000", f"{A},60,100.000"]
    )
    quoted = '"' + signal.replace('"', '""') + '"'  # as csv.writer quotes it
    csv_text = f"signal_type,signal_str,md5\nvpdq,{quoted},{'ab' * 16}\n"
    (from_csv,) = read(csv_text, HashListFormat.CSV)
    assert isinstance(from_csv, Record)
    assert (from_csv.features, from_csv.md5) == (expected, "ab" * 16)


def test_a_reference_vpdq_file_is_one_video() -> None:
    from rempart.hashing.vpdq import VpdqFeature, format_features

    features = [VpdqFeature(A, 100, 0, 0.0), VpdqFeature(B, 90, 30, 1.0)]
    text = format_features(features)
    assert guess_format("clip.vpdq.txt", "") is HashListFormat.VPDQ
    assert guess_format("anything", text.splitlines()[0]) is HashListFormat.VPDQ
    (record,) = read(text, HashListFormat.VPDQ)
    assert isinstance(record, Record)
    assert record.features == tuple(features)
    with pytest.raises(ImportLineError, match="no frame"):
        read("\n", HashListFormat.VPDQ)
    assert HashListFormat.VPDQ not in EXPORT_FORMATS
