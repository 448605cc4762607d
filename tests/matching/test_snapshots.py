"""Index snapshots on a real database (SQLite and PostgreSQL): a matcher started from one
matches exactly as one rebuilt from the database; a snapshot behind the log is replayed; a
damaged, foreign or future one is detected and rebuilt, never served."""

from __future__ import annotations

import fcntl
import io
import logging
import time
from pathlib import Path

import numpy as np
import pytest

from rempart.config import load_settings
from rempart.errors import IndexFileError
from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks, HashListFormat, read_records
from rempart.matching.banks.snapshot import IndexSnapshots
from rempart.matching.index import BUFFER_CAPACITY, HashIndex, read_meta
from rempart.runtime import Runtime
from rempart.store import Store

WAIT_S = 60


def random_hex(rng: np.random.Generator, count: int) -> list[str]:
    return [bytes(row).hex() for row in rng.integers(0, 256, size=(count, 32), dtype=np.uint8)]


def near(hex_hash: str, bits: int, rng: np.random.Generator) -> str:
    value = bytearray(bytes.fromhex(hex_hash))
    for bit in rng.choice(256, bits, replace=False):
        value[bit // 8] ^= 1 << (bit % 8)
    return value.hex()


def fill(store: Store, name: str, hashes: list[str], **settings: object) -> None:
    banks = Banks(store)
    if name not in {bank.name for bank in banks.list()}:
        banks.create(name, **settings)  # type: ignore[arg-type]
    records = read_records(io.StringIO("\n".join(hashes)), HashListFormat.HEX)
    banks.import_records(name, records, origin="test", fmt=HashListFormat.HEX)


def matches(matcher: BankMatcher, queries: list[str]) -> set[tuple[int, str, int, int]]:
    return {
        (q, match.bank, match.entry_id, match.distance)
        for q, found in enumerate(matcher.match(pack(queries)))
        for match in found
    }


@pytest.fixture
def banked(store: Store) -> tuple[Store, list[str]]:
    """Two banks: more entries than the index buffer holds (tables and a buffer), some
    withdrawn."""
    rng = np.random.default_rng(31)
    first, second = random_hex(rng, BUFFER_CAPACITY + 300), random_hex(rng, 200)
    fill(store, "victims", first, threshold=31)
    fill(store, "review", second, threshold=20)
    Banks(store).withdraw("victims", hashes=first[:10])
    return store, first + second


def queries_for(hashes: list[str], seed: int = 32) -> list[str]:
    rng = np.random.default_rng(seed)
    picked = [hashes[int(i)] for i in rng.choice(len(hashes), 60, replace=False)]
    return [*hashes[:12], *(near(h, int(rng.integers(0, 40)), rng) for h in picked)]


def test_a_matcher_from_its_snapshot_matches_as_a_rebuilt_one(
    banked: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, hashes = banked
    rebuilt = BankMatcher(store, refresh_interval=None)
    rebuilt.index.add(pack(random_hex(np.random.default_rng(3), 5)), np.arange(5) + (1 << 50))
    rebuilt.index.remove(np.arange(5) + (1 << 50))  # a buffer with removed rows in it
    snapshots = IndexSnapshots(tmp_path)
    assert snapshots.due(rebuilt)
    assert snapshots.write(rebuilt)
    assert not snapshots.due(rebuilt)
    path = snapshots.path()
    assert path == tmp_path / "index" / "banks-all.snapshot"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert read_meta(path)["seq"] == rebuilt.seq
    started = IndexSnapshots(tmp_path).open(store)
    assert started.seq == rebuilt.seq
    assert len(started) == len(rebuilt) == len(hashes) - 10
    queries = queries_for(hashes)
    expected = matches(rebuilt, queries)
    assert {q for q, *_ in expected} >= set(range(10, 12)), "the queries do match"
    assert not {q for q, *_ in expected} & set(range(10)), "withdrawn entries do not"
    assert matches(started, queries) == expected
    # A snapshot of some banks only is another file, and holds those banks only.
    some = BankMatcher(store, ["review"], refresh_interval=None)
    assert snapshots.write(some)
    assert snapshots.path(["review"]) != path
    assert matches(snapshots.open(store, ["review"]), queries) == matches(some, queries)


def test_a_snapshot_behind_the_log_is_replayed(
    banked: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, hashes = banked
    snapshots = IndexSnapshots(tmp_path)
    assert snapshots.write(BankMatcher(store, refresh_interval=None))
    rng = np.random.default_rng(33)
    banks = Banks(store)
    added = random_hex(rng, 50)
    fill(store, "victims", added)
    fill(store, "late", random_hex(rng, 20))  # a bank created after the snapshot
    banks.withdraw("victims", hashes=[hashes[20], hashes[21], added[0]])
    withdrawn = {e.hash: e.entry_id for e in banks.entries("victims", include_withdrawn=True)}
    banks.reinstate("victims", [withdrawn[hashes[0]], withdrawn[hashes[1]]])  # withdrawn before
    banks.update("review", threshold=5)  # states are read from the database, not the file
    started = IndexSnapshots(tmp_path).open(store)
    rebuilt = BankMatcher(store, refresh_interval=None)
    assert started.seq == rebuilt.seq > int(read_meta(snapshots.path())["seq"])  # type: ignore[call-overload]
    queries = [*queries_for(hashes + added), hashes[20], hashes[21], added[0], added[1]]
    found = matches(started, queries)
    assert found == matches(rebuilt, queries)
    last = len(queries) - 4
    assert {q for q, *_ in found} & {last, last + 1, last + 2} == set(), "withdrawn: no match"
    assert (last + 3, "victims") in {(q, bank) for q, bank, *_ in found}


@pytest.mark.parametrize("damage", ["truncated", "bit flipped", "emptied"])
def test_a_damaged_snapshot_is_rebuilt_never_served(
    banked: tuple[Store, list[str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    store, hashes = banked
    assert IndexSnapshots(tmp_path).write(BankMatcher(store, refresh_interval=None))
    path = IndexSnapshots(tmp_path).path()
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) - 1000]
    elif damage == "bit flipped":
        data[len(data) // 2] ^= 0x04
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    snapshots = IndexSnapshots(tmp_path)
    with pytest.raises(IndexFileError):
        snapshots.open(store)
    with caplog.at_level(logging.WARNING, logger="rempart.matching.banks.snapshot"):
        matcher = snapshots.load(store)
    assert "index snapshot not used" in caplog.text
    assert "rebuilding from the database" in caplog.text
    queries = queries_for(hashes)
    assert matches(matcher, queries) == matches(BankMatcher(store, refresh_interval=None), queries)
    assert snapshots.due(matcher), "a rebuilt index is written again"
    assert snapshots.write(matcher)
    assert matches(IndexSnapshots(tmp_path).open(store), queries) == matches(matcher, queries)


def other_database(tmp_path: Path, changes: int) -> Store:
    """A database with other hashes in a bank of the same name, whose log has ``changes``
    entries after the bank's creation."""
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    fill(other, "victims", random_hex(np.random.default_rng(34), changes), threshold=31)
    return other


def seq_of(store: Store) -> int:
    return BankMatcher(store, refresh_interval=None).seq


def test_a_snapshot_of_another_database_is_detected(
    banked: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, hashes = banked
    # The same positions in the log, other content: a snapshot of the other database.
    other = other_database(tmp_path, BUFFER_CAPACITY + 300 - 1)
    try:
        elsewhere = BankMatcher(other, refresh_interval=None)
        assert elsewhere.seq <= seq_of(store)
        assert IndexSnapshots(tmp_path).write(elsewhere)
    finally:
        other.close()
    with pytest.raises(IndexFileError, match="not the one the snapshot was taken at"):
        IndexSnapshots(tmp_path).open(store)
    matcher = IndexSnapshots(tmp_path).load(store)
    queries = queries_for(hashes)
    assert matches(matcher, queries) == matches(BankMatcher(store, refresh_interval=None), queries)


def test_a_snapshot_beyond_the_log_is_refused(
    banked: tuple[Store, list[str]], tmp_path: Path
) -> None:
    store, _ = banked
    other = other_database(tmp_path, BUFFER_CAPACITY + 900)
    try:
        elsewhere = BankMatcher(other, refresh_interval=None)
        assert elsewhere.seq > seq_of(store)
        assert IndexSnapshots(tmp_path).write(elsewhere)
    finally:
        other.close()
    with pytest.raises(IndexFileError, match="the log ends at"):
        IndexSnapshots(tmp_path).open(store)


def test_one_process_writes_at_a_time(banked: tuple[Store, list[str]], tmp_path: Path) -> None:
    store, _ = banked
    matcher = BankMatcher(store, refresh_interval=None)
    first, second = IndexSnapshots(tmp_path), IndexSnapshots(tmp_path)
    first.lock_path.parent.mkdir(parents=True)
    with open(first.lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker is writing
        assert not first.write(matcher)
    assert not first.path().exists()
    assert first.write(matcher)
    # The second worker finds the file the first just wrote: it takes it as its own.
    assert second.due(matcher)
    assert not second.write(matcher)
    assert not second.due(matcher)
    assert not list(first.folder.glob(".*.partial"))


def test_a_runtime_writes_its_snapshot_and_starts_from_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path)})
    store = Store.open(settings.database_url)
    hashes = random_hex(np.random.default_rng(35), 100)
    fill(store, "victims", hashes)
    store.close()
    first = Runtime(settings, Store.open(settings.database_url))
    first.start()
    try:
        path = IndexSnapshots(tmp_path).path()
        deadline = time.monotonic() + WAIT_S
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.exists(), "a rebuilt index is written at once"
    finally:
        first.close()
    second = Runtime(settings, Store.open(settings.database_url))
    with caplog.at_level(logging.INFO, logger="rempart.matching.banks.snapshot"):
        second.start()
        try:
            deadline = time.monotonic() + WAIT_S
            while not second.ready and time.monotonic() < deadline:
                time.sleep(0.05)
            matcher = second.require_matcher()
            assert "index loaded from its snapshot" in caplog.text
            found = {(q, bank, distance) for q, bank, _, distance in matches(matcher, hashes[:5])}
            assert found == {(q, "victims", 0) for q in range(5)}
        finally:
            second.close()


def test_a_runtime_with_snapshots_off_writes_none(tmp_path: Path) -> None:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path), "REMPART_INDEX_SNAPSHOTS": "0"})
    assert not settings.index_snapshots
    runtime = Runtime(settings, Store.open(settings.database_url))
    runtime.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not runtime.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.ready
    finally:
        runtime.close()  # the loader has ended: it keeps no snapshot
    assert not (tmp_path / "index").exists()


def test_a_snapshot_folder_that_cannot_be_looked_in_is_rebuilt_from_the_database(
    banked: tuple[Store, list[str]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``<data dir>/index`` a file (or a folder without permission): the index is built from
    the database, as for any snapshot that cannot be used; the server would otherwise retry
    the same snapshot for ever and never become ready."""
    store, hashes = banked
    (tmp_path / "index").write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="rempart.matching.banks.snapshot"):
        matcher = IndexSnapshots(tmp_path).load(store)
    assert "index snapshot not used" in caplog.text
    queries = queries_for(hashes)
    assert matches(matcher, queries) == matches(BankMatcher(store, refresh_interval=None), queries)


def test_a_snapshot_holds_no_change_past_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh on the follower thread while the snapshot is written must not put a change
    past the snapshot's position into it: a database restored to that position (whose log
    entry there is the same) would then be served an entry it does not have."""
    import sqlite3
    import threading

    from rempart.matching.banks import snapshot as snapshot_module

    rng = np.random.default_rng(41)
    store = Store.open(f"sqlite:///{tmp_path / 'live.db'}")
    fill(store, "victims", random_hex(rng, 50), threshold=31)
    matcher = BankMatcher(store, refresh_interval=None)
    with (
        sqlite3.connect(tmp_path / "live.db") as live,
        sqlite3.connect(tmp_path / "backup.db") as backup,
    ):
        live.backup(backup)  # the database as it stands at the matcher's position
    late = random_hex(rng, 1)

    original = snapshot_module._log_entry
    raced: list[bool] = []

    def racing_log_entry(connection, seq):  # type: ignore[no-untyped-def]
        if not raced:  # the follower thread applies a new change meanwhile
            raced.append(True)
            fill(store, "victims", late)
            follower = threading.Thread(target=matcher.refresh)
            follower.start()
            follower.join(WAIT_S)
        return original(connection, seq)

    monkeypatch.setattr(snapshot_module, "_log_entry", racing_log_entry)
    assert IndexSnapshots(tmp_path / "data").write(matcher)
    monkeypatch.setattr(snapshot_module, "_log_entry", original)
    assert matcher.match(pack(late)) != [[]], "the live matcher has the late entry"

    restored = Store.open(f"sqlite:///{tmp_path / 'backup.db'}")
    try:
        resumed = IndexSnapshots(tmp_path / "data").load(restored)
        assert resumed.match(pack(late)) == [[]], "an entry the database does not have"
    finally:
        restored.close()
        store.close()


def test_a_snapshot_after_a_rebuild_holds_no_change_past_its_position(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild reads the log position, then the entries: on PostgreSQL (read committed) an
    import committed in between is in the index but past the position. The snapshot written
    at once after a rebuild must not hold it under that position (a database restored there
    would be served an entry it does not have)."""
    rng = np.random.default_rng(43)
    fill(store, "victims", random_hex(rng, 50), threshold=31)
    late = random_hex(rng, 1)
    original = BankMatcher._load_banks
    raced: list[bool] = []

    def racing_load_banks(self: BankMatcher, connection: object) -> None:
        if not raced:  # between the position read and the entries read
            raced.append(True)
            fill(store, "victims", late)
        original(self, connection)  # type: ignore[arg-type]

    monkeypatch.setattr(BankMatcher, "_load_banks", racing_load_banks)
    snapshots = IndexSnapshots(tmp_path / "data")
    matcher = snapshots.load(store)
    monkeypatch.setattr(BankMatcher, "_load_banks", original)
    assert raced
    assert snapshots.write(matcher)
    path = snapshots.path()
    position = read_meta(path)["seq"]
    assert isinstance(position, int)
    if position < seq_of(store):  # the late import is past the snapshot's position
        assert not len(HashIndex.load(path).search(pack(late), 0)), "a change past its seq"


def test_an_entry_withdrawn_by_the_import_that_added_it_is_never_served(
    store: Store, tmp_path: Path
) -> None:
    """An import that adds a hash and then withdraws it logs the withdrawal before the add:
    a follower, and a server starting from a snapshot it wrote, must not serve the entry a
    rebuild (rightly) leaves out."""
    import json

    from rempart.matching.banks import HashListFormat as Format

    rng = np.random.default_rng(44)
    fill(store, "victims", random_hex(rng, 20), threshold=31)
    follower = BankMatcher(store, refresh_interval=None)
    hashed = random_hex(rng, 1)[0]
    lines = [{"hash": hashed}, {"hash": hashed, "withdrawn_at": "2026-01-01T00:00:00Z"}]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    records = read_records(io.StringIO(text), Format.JSONL)
    Banks(store).import_records("victims", records, origin="test", fmt=Format.JSONL)
    follower.refresh()
    assert BankMatcher(store, refresh_interval=None).match(pack([hashed])) == [[]]
    assert follower.match(pack([hashed])) == [[]], "the follower serves a withdrawn entry"
    assert IndexSnapshots(tmp_path / "data").write(follower)
    resumed = IndexSnapshots(tmp_path / "data").open(store)
    assert resumed.match(pack([hashed])) == [[]], "the snapshot serves a withdrawn entry"
