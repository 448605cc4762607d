"""The index's background merge: an add never waits for one, a search never sees a half-merged
index (each hash once, none missing), and a removal made during a merge stays removed."""

from __future__ import annotations

import json
import logging
import random
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from rempart.errors import IndexFileError
from rempart.matching.index import BUFFER_CAPACITY, HashIndex, _inserted, read_meta
from tests.matching.test_index import brute_force, found, random_hashes

Words = np.ndarray
WAIT_S = 60  # only ever reached when something is broken: a test fails instead of hanging


@contextmanager
def merge_held(index: HashIndex) -> Iterator[threading.Event]:
    """Hold every merge of ``index`` at its start until the block ends; yields the event set
    when a merge is waiting there."""
    waiting, release = threading.Event(), threading.Event()

    def hook() -> None:
        waiting.set()
        assert release.wait(WAIT_S)

    index._merge_hook = hook
    try:
        yield waiting
    finally:
        release.set()
        index.wait_merged()
        index._merge_hook = None


def add_one_by_one(index: HashIndex, db: Words, ids: np.ndarray) -> None:
    for row in range(len(db)):
        index.add(db[row : row + 1], ids[row : row + 1])


def test_adds_go_on_while_a_merge_is_held() -> None:
    rng = np.random.default_rng(21)
    base = 3000
    db = random_hashes(rng, base + 3 * BUFFER_CAPACITY + 7)
    ids = np.arange(len(db), dtype=np.int64) * 3 + 1
    index = HashIndex.build(db[:base], ids[:base])
    with merge_held(index) as waiting:
        add_one_by_one(index, db[base : base + BUFFER_CAPACITY], ids[base : base + BUFFER_CAPACITY])
        assert waiting.wait(WAIT_S), "a full buffer starts a merge"
        # The merge cannot go on until the block ends, so none of these adds can have waited
        # for it: the fresh buffer grows past its capacity instead.
        add_one_by_one(index, db[base + BUFFER_CAPACITY :], ids[base + BUFFER_CAPACITY :])
        assert index._merging, "the merge is still held"
        assert len(index) == len(db)
        queries = np.concatenate([db[:: len(db) // 40], db[-5:]])
        assert found(index, queries, 31) == brute_force(db, ids, queries, 31)
        assert index.contains(ids).all()
    # The buffer filled again during the merge: a second merge followed; both are done now.
    assert not index._merging
    assert len(index._tables.ids) >= base + 3 * BUFFER_CAPACITY
    assert found(index, db[-50:], 31) == brute_force(db, ids, db[-50:], 31)


def test_a_removal_during_a_merge_stays_removed() -> None:
    rng = np.random.default_rng(22)
    base = 2000
    db = random_hashes(rng, base + BUFFER_CAPACITY + 100)
    ids = np.arange(len(db), dtype=np.int64) + 10
    index = HashIndex.build(db[:base], ids[:base])
    with merge_held(index) as waiting:
        add_one_by_one(index, db[base:], ids[base:])
        assert waiting.wait(WAIT_S)
        # One from the tables, two from the frozen buffer, one from the fresh buffer; one of
        # the frozen ones is added again at once (a reinstated entry).
        removed = ids[[5, base + 1, base + 2, len(db) - 1]]
        assert index.remove(removed) == 4
        index.add(db[base + 2 : base + 3], ids[base + 2 : base + 3])
        assert not index.contains(removed[[0, 1, 3]]).any()
    gone = np.isin(ids, removed[[0, 1, 3]])
    assert not index.contains(removed[[0, 1, 3]]).any()
    assert index.contains(ids[~gone]).all()
    assert len(index) == len(db) - 3
    queries = db[np.flatnonzero(np.isin(ids, removed))]
    assert found(index, queries, 10) == brute_force(db[~gone], ids[~gone], queries, 10)


def test_an_id_added_again_and_merged_can_be_removed_again() -> None:
    rng = np.random.default_rng(23)
    db = random_hashes(rng, 3 * BUFFER_CAPACITY)
    ids = np.arange(len(db), dtype=np.int64)
    index = HashIndex.build(db[:BUFFER_CAPACITY], ids[:BUFFER_CAPACITY])
    index.remove(ids[7:8])
    index.add(db[7:8], ids[7:8])
    index.add(db[BUFFER_CAPACITY:], ids[BUFFER_CAPACITY:])  # a bulk add: merged at once
    assert len(np.flatnonzero(index._tables.ids == 7)) == 2, "a dead row and a live one"
    assert index.remove(ids[7:8]) == 1
    assert found(index, db[7:8], 0) == set()
    assert not index.contains(ids[7:8]).any()


@pytest.mark.parametrize("background_merge", [True, False])
def test_concurrent_adds_removals_and_searches_stay_exact(background_merge: bool) -> None:
    rng = np.random.default_rng(24)
    base, later = 5000, 4 * BUFFER_CAPACITY
    db = random_hashes(rng, base + later)
    ids = np.arange(len(db), dtype=np.int64) * 2 + 1
    stable = np.arange(0, base, 2)  # rows never removed: every search must find them
    stable_rows = set(stable.tolist())
    removable = np.zeros(len(db), dtype=np.bool_)
    removable[1:base:2] = removable[base::3] = True
    index = HashIndex.build(db[:base], ids[:base], background_merge=background_merge)
    state = threading.Lock()
    removed: set[int] = set()
    added = base
    done = threading.Event()
    problems: list[str] = []

    def write() -> None:
        nonlocal added
        order = random.Random(5)
        try:
            while added < len(db):
                step = order.choice([1, 1, 1, 7, 40])
                index.add(db[added : added + step], ids[added : added + step])
                with state:
                    added = min(added + step, len(db))
                pick = [r for r in (order.randrange(added) for _ in range(3)) if removable[r]]
                removable[pick] = False
                index.remove(ids[pick])
                with state:
                    removed.update(ids[pick].tolist())
        finally:
            done.set()

    def read(seed: int) -> None:
        pick = np.random.default_rng(seed)
        while not done.is_set() and not problems:
            with state:
                gone = np.array(sorted(removed), dtype=np.int64)
                upto = added
            rows = np.concatenate([pick.choice(stable, 20), pick.integers(0, upto, 20)])
            if len(gone):
                gone_rows = (pick.choice(gone, min(len(gone), 20)) - 1) // 2
                rows = np.concatenate([rows, gone_rows])
            queries = db[rows]
            matches = index.search(queries, 8)
            triples = list(zip(matches.query.tolist(), matches.ids.tolist(), strict=True))
            if len(set(triples)) != len(triples):
                problems.append("a hash was reported twice")
            hits, gone_ids = set(triples), set(gone.tolist())
            for q, row in enumerate(rows.tolist()):
                if row in stable_rows and (q, int(ids[row])) not in hits:
                    problems.append(f"stored hash {ids[row]} was missed")
                if int(ids[row]) in gone_ids and (q, int(ids[row])) in hits:
                    problems.append(f"removed hash {ids[row]} was found")

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read, args=(seed,)) for seed in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 5)
    assert not problems, problems[:5]
    index.wait_merged()
    alive = ~np.isin(ids, np.array(sorted(removed), dtype=np.int64))
    assert len(index) == int(alive.sum())
    queries = np.concatenate([db[::97], db[-30:]])
    assert found(index, queries, 31) == brute_force(db[alive], ids[alive], queries, 31)
    if background_merge:
        assert len(index._tables.ids) > base, "merges ran"


def test_a_failed_merge_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(25)
    db = random_hashes(rng, BUFFER_CAPACITY + 10)
    ids = np.arange(len(db), dtype=np.int64)
    index = HashIndex()
    failed = threading.Event()

    def hook() -> None:
        failed.set()
        raise MemoryError("no room for the merged tables")

    index._merge_hook = hook
    with caplog.at_level(logging.ERROR, logger="rempart.matching.index"):
        add_one_by_one(index, db[:BUFFER_CAPACITY], ids[:BUFFER_CAPACITY])
        assert failed.wait(WAIT_S)
        index.wait_merged()
    assert "merging the index buffer failed" in caplog.text
    index._merge_hook = None
    add_one_by_one(index, db[BUFFER_CAPACITY:], ids[BUFFER_CAPACITY:])  # retries the merge
    index.wait_merged()
    assert len(index) == len(db)
    assert found(index, db[::50], 0) == brute_force(db, ids, db[::50], 0)


def test_save_waits_for_a_merge_and_keeps_the_buffer(tmp_path: Path) -> None:
    rng = np.random.default_rng(26)
    db = random_hashes(rng, 1000 + BUFFER_CAPACITY + 30)
    ids = np.arange(len(db), dtype=np.int64) + 5
    index = HashIndex.build(db[:1000], ids[:1000])
    path = tmp_path / "bank.idx"
    with merge_held(index) as waiting:
        add_one_by_one(index, db[1000:], ids[1000:])
        assert waiting.wait(WAIT_S)
        saver = threading.Thread(target=index.save, args=(path, {"seq": 12}))
        saver.start()
    saver.join(WAIT_S)
    assert read_meta(path) == {"seq": 12}
    loaded = HashIndex.load(path)
    assert len(loaded) == len(db)
    assert found(loaded, db[::40], 31) == brute_force(db, ids, db[::40], 31)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["bank.idx"], "no temporary file is left"


@pytest.mark.parametrize(
    "array", ["hashes", "ids", "alive", "offsets", "postings", "pending_hashes", "pending_ids"]
)
def test_a_flipped_bit_in_any_array_is_detected(tmp_path: Path, array: str) -> None:
    rng = np.random.default_rng(27)
    path = tmp_path / "bank.idx"
    index = HashIndex.build(random_hashes(rng, BUFFER_CAPACITY), np.arange(BUFFER_CAPACITY))
    index.add(random_hashes(rng, 9), np.arange(9) + 10**6)  # in the buffer: pending arrays
    index.save(path)
    header = json.loads(
        path.read_bytes()[16 : 16 + int.from_bytes(path.read_bytes()[8:16], "little")]
    )
    entry = header["arrays"][array]
    data = bytearray(path.read_bytes())
    data[entry["offset"] + 5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileError, match=f"checksum mismatch in {array} "):
        HashIndex.load(path)


def test_without_background_merging_the_add_that_fills_the_buffer_merges_it() -> None:
    rng = np.random.default_rng(28)
    db = random_hashes(rng, BUFFER_CAPACITY + 1)
    ids = np.arange(len(db), dtype=np.int64)
    index = HashIndex(background_merge=False)
    merged_by: list[str] = []
    index._merge_hook = lambda: merged_by.append(threading.current_thread().name)
    add_one_by_one(index, db, ids)
    assert merged_by == [threading.current_thread().name], "merged by the caller, once"
    assert not index._merging
    assert len(index._tables.ids) == len(db)


def test_the_merge_inserts_postings_as_numpy_does() -> None:
    rng = np.random.default_rng(29)
    for trial in range(200):
        array = rng.integers(0, 1000, int(rng.integers(0, 40))).astype(np.uint32)
        positions = rng.integers(0, len(array) + 1, int(rng.integers(0, 15)))
        if trial % 2:
            positions = np.sort(positions)
        values = rng.integers(0, 1000, len(positions)).astype(np.uint32)
        assert np.array_equal(
            _inserted(array, positions.astype(np.int64), values),
            np.insert(array, positions, values),
        )


def _rewrite_header(path: Path, change: object) -> None:
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[8:16], "little")
    header = json.loads(data[16 : 16 + length])
    text = change(header) if callable(change) else None
    raw = (text if isinstance(text, str) else json.dumps(header)).encode()
    data[8:16] = len(raw).to_bytes(8, "little")
    data[16 : 16 + len(raw)] = raw
    path.write_bytes(bytes(data))


def _set(*keys: str, value: object) -> object:
    def change(header: dict[str, object]) -> None:
        target: object = header
        for key in keys[:-1]:
            target = target[key]  # type: ignore[index]
        target[keys[-1]] = value  # type: ignore[index]

    return change


def _duplicate_pending_id(path: Path) -> None:
    """A pending id equal to a table's, with its checksum made to fit."""
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[8:16], "little")
    header = json.loads(data[16 : 16 + length])
    pending = header["arrays"]["pending_ids"]
    offset = pending["offset"]
    data[offset : offset + 8] = (0).to_bytes(8, "little")  # id 0 is in the tables
    count = pending["shape"][0]
    pending["crc32"] = zlib.crc32(bytes(data[offset : offset + 8 * count]))
    path.write_bytes(bytes(data))
    _rewrite_header(path, lambda h: json.dumps({**h, "arrays": header["arrays"]}))


@pytest.mark.parametrize(
    "damage",
    [
        _set("arrays", "hashes", "offset", value=float("inf")),
        _set("arrays", "ids", "crc32", value=float("inf")),
        _set("widths", value=[float("inf")]),
        lambda header: "[" * 5000,
        "duplicate pending id",
    ],
    ids=["offset", "crc32", "widths", "nested", "pending"],
)
def test_a_malformed_header_is_an_index_file_error(tmp_path: Path, damage: object) -> None:
    """Whatever the header holds, loading raises ``IndexFileError`` (which a snapshot's
    reader handles by rebuilding), never another exception that stops a server's start."""
    rng = np.random.default_rng(29)
    path = tmp_path / "bank.idx"
    index = HashIndex.build(random_hashes(rng, BUFFER_CAPACITY), np.arange(BUFFER_CAPACITY))
    index.add(random_hashes(rng, 9), np.arange(9) + 10**6)
    index.save(path)
    if damage == "duplicate pending id":
        _duplicate_pending_id(path)
    else:
        _rewrite_header(path, damage)
    with pytest.raises(IndexFileError):
        HashIndex.load(path)


def test_a_merge_thread_that_cannot_start_leaves_nothing_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where no thread can start (a process at its limit), the buffer stays searched, and
    ``save``, ``capture`` and ``wait_merged`` do not wait for a merge that never runs."""
    rng = np.random.default_rng(30)
    db = random_hashes(rng, BUFFER_CAPACITY + 5)
    ids = np.arange(len(db), dtype=np.int64)
    index = HashIndex()
    thread = threading.Thread

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr("rempart.matching.index.threading.Thread", NoThread)
    add_one_by_one(index, db, ids)
    waiter = thread(target=index.wait_merged, daemon=True)
    waiter.start()
    waiter.join(5)
    assert not waiter.is_alive(), "waits for a merge that never runs"
    assert len(index) == len(db)
    assert found(index, db[::50], 0) == brute_force(db, ids, db[::50], 0)
    monkeypatch.undo()
    index.add(random_hashes(rng, 1), np.array([10**6]))  # a thread starts: merged now
    index.wait_merged()
    assert len(index) == len(db) + 1
