"""Exact (MD5, SHA-256) bank entries: stored, counted, followed through the change log by a
running matcher, kept across a snapshot, and read and written as python-threatexchange does
(each test on SQLite and on PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import event
from threatexchange.exchanges.impl.file_api import (
    FileCollaborationConfig,
    LocalFileSignalExchangeAPI,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.sha256 import VideoSHA256Signal

from rempart.errors import BankError
from rempart.matching.banks import BankMatcher, Banks, HashListFormat, Record, write_records
from rempart.matching.banks.snapshot import IndexSnapshots
from rempart.store import Store

PDQ = "1e2feb89414c343c1027c4d1c386bbc4cd613e30d8f16adf91b7584a2265b1f5"
FILE = b"the bytes of a file someone reported"
MD5 = hashlib.md5(FILE).hexdigest()
SHA256 = hashlib.sha256(FILE).hexdigest()
OTHER_MD5 = hashlib.md5(b"another file").hexdigest()


def found(matcher: BankMatcher, md5: str | None = MD5, sha256: str | None = None) -> set[str]:
    return {f"{m.bank}:{m.kind}" for m in matcher.match_file_digests(md5, sha256)}


def test_a_digest_is_added_checked_and_counted(store: Store) -> None:
    banks = Banks(store)
    banks.create("ncmec", source="ncmec")
    report = banks.add_digest("ncmec", "MD5", MD5.upper(), source_ref="case 7")
    assert report.added == 1
    assert banks.add_digest("ncmec", "md5", MD5).already_present == 1
    banks.add_digest("ncmec", "sha256", SHA256)
    banks.add("ncmec", PDQ)
    for algorithm, digest in [
        ("md5", "00"),
        ("sha256", MD5),
        ("crc32", "0" * 8),
        ("md5", "g" * 32),
    ]:
        with pytest.raises(BankError):
            banks.add_digest("ncmec", algorithm, digest)
    (listed,) = banks.list()
    assert (listed.images, listed.videos, listed.digests) == (1, 0, 2)
    assert listed.to_json()["digests"] == 2
    stats = banks.stats("ncmec").to_json()
    assert (stats["active"], stats["images"], stats["md5"], stats["sha256"]) == (3, 1, 1, 1)
    (entry,) = [e for e in banks.entries("ncmec") if e.kind == "md5"]
    assert (entry.hash, entry.source_ref) == (MD5, "case 7")


def test_imported_records_are_checked_and_withdrawn_by_kind(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    records = [Record(1, SHA256.upper(), kind="sha256"), Record(2, MD5, kind="md5")]
    assert banks.import_records("b", records, origin="t", fmt=HashListFormat.PYTX).added == 2
    assert {e.hash for e in banks.entries("b")} == {SHA256, MD5}
    bad = [Record(1, OTHER_MD5, kind="md5"), Record(2, "not hex", kind="md5")]
    with pytest.raises(BankError, match="invalid md5 digest"):
        banks.import_records("b", bad, origin="t", fmt=HashListFormat.PYTX)
    assert OTHER_MD5 not in {e.hash for e in banks.entries("b")}, "all or nothing"
    # A withdrawal names its kind: an MD5 record never withdraws a SHA-256 entry.
    gone = [Record(1, MD5, kind="md5", withdrawn=True)]
    assert banks.import_records("b", gone, origin="t", fmt=HashListFormat.PYTX).withdrawn == 1
    assert {e.hash for e in banks.entries("b")} == {SHA256}
    report = banks.withdraw("b", digests=[("sha256", SHA256), ("md5", OTHER_MD5)])
    assert (report.withdrawn, report.not_found) == (1, (f"md5:{OTHER_MD5}",))
    with pytest.raises(BankError, match="unknown digest algorithm"):
        banks.withdraw("b", digests=[("sha1", "0" * 40)])


def test_a_running_matcher_follows_adds_withdrawals_and_bank_states(store: Store) -> None:
    banks = Banks(store)
    banks.create("ncmec", source="ncmec")
    banks.create("other")
    banks.add_digest("ncmec", "md5", MD5)
    matcher = BankMatcher(store, refresh_interval=None)
    assert found(matcher) == {"ncmec:md5"}
    (match,) = matcher.match_digest("MD5", MD5.upper())
    assert (match.hash, match.distance, match.kind) == (MD5, 0, "md5")
    assert match.category.value == "child_sexual_abuse"
    assert match.to_json()["kind"] == "md5"
    assert "variant" not in match.to_json()
    assert not matcher.match_digest("sha256", MD5)
    assert not found(matcher, OTHER_MD5)
    banks.add_digest("other", "md5", MD5)
    banks.add_digest("other", "sha256", SHA256)
    matcher.refresh()
    assert found(matcher, MD5, SHA256) == {"ncmec:md5", "other:md5", "other:sha256"}
    assert matcher.digests == 3
    banks.withdraw("ncmec", digests=[("md5", MD5)])
    matcher.refresh()
    assert found(matcher) == {"other:md5"}, "a withdrawn digest stops matching at once"
    assert matcher.digests == 2
    # Only a whole digest of the algorithm named matches: not with spaces, another length
    # or another algorithm's name.
    for algorithm, digest in [
        ("md5", " ".join([MD5[:16], MD5[16:]])),
        ("md5", MD5[:30]),
        ("sha1", MD5),
        ("sha256", MD5),
        ("md5", "z" * 32),
    ]:
        assert not matcher.match_digest(algorithm, digest), (algorithm, digest)
    banks.update("other", enabled=False)
    matcher.refresh()
    assert found(matcher, MD5, SHA256) == set()
    banks.update("other", enabled=True)
    (entry,) = [e for e in banks.entries("ncmec", include_withdrawn=True) if e.kind == "md5"]
    assert banks.reinstate("ncmec", [entry.entry_id]) == 1
    matcher.refresh()
    assert found(matcher, MD5, SHA256) == {"ncmec:md5", "other:md5", "other:sha256"}
    # A matcher of some banks holds theirs only; the digests of no bytes never match.
    assert found(BankMatcher(store, ["other"], refresh_interval=None)) == {"other:md5"}
    banks.add_digest("other", "md5", hashlib.md5(b"").hexdigest())
    assert not matcher.match_file_digests(hashlib.md5(b"").hexdigest(), None)


def test_a_matcher_from_a_snapshot_holds_the_digests(store: Store, tmp_path: Path) -> None:
    banks = Banks(store)
    banks.create("b")
    banks.add_digest("b", "md5", MD5)
    banks.add_digest("b", "md5", OTHER_MD5)
    snapshots = IndexSnapshots(tmp_path)
    assert snapshots.write(BankMatcher(store, refresh_interval=None))
    banks.withdraw("b", digests=[("md5", OTHER_MD5)])
    banks.add_digest("b", "sha256", SHA256)
    started = IndexSnapshots(tmp_path).open(store)
    assert found(started, MD5, SHA256) == {"b:md5", "b:sha256"}
    assert not found(started, OTHER_MD5)


def test_pytx_file_format_round_trip(store: Store, tmp_path: Path) -> None:
    banks = Banks(store)
    banks.create("b")
    # A file as python-threatexchange writes its signals ("<get_name()> <signal>").
    written = tmp_path / "pytx.txt"
    written.write_text(
        f"{VideoMD5Signal.get_name()} {MD5}\n{VideoSHA256Signal.get_name()} {SHA256}\npdq {PDQ}\n"
    )
    with open(written, "rb") as stream:
        report = banks.import_list("b", stream, origin="pytx", fmt=HashListFormat.PYTX)
    assert (report.added, report.skipped) == (3, {})
    # Exported again, python-threatexchange's own file collaboration reads every signal back.
    exported = tmp_path / "export.txt"
    with open(exported, "w") as stream:
        assert write_records(banks.entries("b"), HashListFormat.PYTX, stream) == 3
    config = FileCollaborationConfig(
        name="b", api="local_file", enabled=True, filename=str(exported)
    )
    (delta,) = LocalFileSignalExchangeAPI(config).fetch_iter([], None)
    assert set(delta.updates) == {("video_md5", MD5), ("video_sha256", SHA256), ("pdq", PDQ)}
    assert VideoMD5Signal.validate_signal_str(MD5) == MD5
    # CSV and JSON Lines carry them too, and read back as the same entries.
    for fmt in (HashListFormat.CSV, HashListFormat.JSONL):
        out = io.StringIO()
        write_records(banks.entries("b"), fmt, out)
        banks.create(f"copy-{fmt}")
        again = banks.import_list(
            f"copy-{fmt}", io.BytesIO(out.getvalue().encode()), origin="t", fmt=fmt
        )
        assert again.added == 3
        copied = {(e.kind, e.hash) for e in banks.entries(f"copy-{fmt}")}
        assert copied == {("md5", MD5), ("sha256", SHA256), ("image", PDQ)}
    out = io.StringIO()
    assert write_records(banks.entries("b"), HashListFormat.HEX, out) == 1  # PDQ only


def test_an_upload_scanned_as_bytes_matches_its_digests(store: Store, testdata: Path) -> None:
    """What ``/v1/scan`` does with an upload: an image's and a video's own digests match."""
    from rempart.policy import load_policy
    from rempart.scan import Scanner
    from tests import videos

    image = (testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    clip = videos.encode(videos.scenes(testdata, ("bridge", "coffee")))
    banks = Banks(store)
    banks.create("hotline", source="ncmec")
    banks.add_digest("hotline", "md5", hashlib.md5(image).hexdigest())
    banks.add_digest("hotline", "sha256", hashlib.sha256(clip).hexdigest())
    scanner = Scanner([], load_policy("default"), matcher=BankMatcher(store))
    for data, kind in ((image, "md5"), (clip, "sha256")):
        result = scanner.scan_bytes(data, name="upload")
        kinds = [s.evidence.get("kind") for s in result.signals if s.name == "bank.match"]
        assert kinds == [kind]
        assert result.verdict.action.value == "block"


def test_active_counts_of_every_bank_are_one_query(store: Store) -> None:
    """What /m/index/status reads on every call: entries by kind over all banks, in one
    query of the entries whatever the number of banks (not a count per bank)."""
    banks = Banks(store)
    digests = [hashlib.md5(bytes([n])).hexdigest() for n in range(12)]
    for n, digest in enumerate(digests):
        banks.create(f"bank{n}", enabled=n % 2 == 0)
        banks.add_digest(f"bank{n}", "md5", digest)
    banks.add_digest("bank0", "sha256", SHA256)
    banks.add("bank1", PDQ)
    gone = banks.find("bank2", "md5", digests[2])
    assert gone is not None
    banks.withdraw("bank2", entry_ids=[gone.entry_id], reason="test")
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        counts = banks.active_counts()
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert counts == {"image": 1, "video": 0, "md5": 11, "sha256": 1}
    assert len([s for s in statements if "bank_entries" in s]) == 1, statements
