"""The multi-index: exactly what brute force finds, through adds, removals, merges and files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.errors import IndexFileError
from rempart.hashing import hamming, pack
from rempart.matching.index import BUFFER_CAPACITY, HashIndex, Layout

Words = np.ndarray


def brute_force(
    db: Words, ids: np.ndarray, queries: Words, threshold: int
) -> set[tuple[int, int, int]]:
    distances = hamming(queries[:, None], db[None])
    query, row = np.nonzero(distances <= threshold)
    return {(int(q), int(ids[r]), int(distances[q, r])) for q, r in zip(query, row, strict=True)}


def found(index: HashIndex, queries: Words, threshold: int) -> set[tuple[int, int, int]]:
    matches = index.search(queries, threshold)
    triples = list(zip(matches.query, matches.ids, matches.distances, strict=True))
    assert len(set(triples)) == len(triples), "a hash was reported twice"
    return {(int(q), int(i), int(d)) for q, i, d in triples}


def random_hashes(rng: np.random.Generator, count: int) -> Words:
    return rng.integers(0, 1 << 64, size=(count, 4), dtype=np.uint64)


def flipped(row: Words, bits: np.ndarray) -> Words:
    out = row.copy()
    for bit in bits:
        out[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
    return out


def near_copies(rng: np.random.Generator, db: Words, distances: list[int]) -> Words:
    """One query per distance, each exactly that many bits from a random stored hash."""
    return np.stack(
        [flipped(db[rng.integers(len(db))], rng.choice(256, d, replace=False)) for d in distances]
    )


def read_hashes(path: Path) -> Words:
    return pack([line for line in path.read_text().split() if line])


@pytest.mark.parametrize("threshold", [0, 16, 31, 45, 63])
def test_reference_needles_in_haystack(testdata: Path, threshold: int) -> None:
    folder = testdata / "pdq" / "reg-test-input"
    haystack, needles = read_hashes(folder / "haystack.txt"), read_hashes(folder / "needles.txt")
    ids = np.arange(len(haystack), dtype=np.int64) * 7 + 3
    index = HashIndex.build(haystack, ids)
    expected = brute_force(haystack, ids, needles, threshold)
    assert found(index, needles, threshold) == expected
    if threshold == 31:
        assert expected, "the reference needles are meant to have matches at 31"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 3000),
    threshold=st.integers(0, 63),
    spread=st.integers(-3, 3),
)
def test_exact_at_and_around_the_threshold(
    seed: int, size: int, threshold: int, spread: int
) -> None:
    rng = np.random.default_rng(seed)
    # Families of near-duplicates, as banks hold, so buckets are crowded and uneven.
    bases = random_hashes(rng, max(size // 10, 1))
    db = np.stack(
        [
            flipped(bases[rng.integers(len(bases))], rng.choice(256, rng.integers(0, 20), False))
            for _ in range(size)
        ]
    )
    distances = [max(0, min(256, threshold + d)) for d in (-1, 0, 1, spread)]
    queries = np.concatenate([near_copies(rng, db, distances), random_hashes(rng, 2)])
    ids = rng.permutation(size * 3)[:size].astype(np.int64)
    index = HashIndex.build(db, ids)
    assert found(index, queries, threshold) == brute_force(db, ids, queries, threshold)


def test_large_thresholds_fall_back_to_an_exact_scan() -> None:
    rng = np.random.default_rng(5)
    db = random_hashes(rng, 500)
    index = HashIndex.build(db, np.arange(500))
    queries = random_hashes(rng, 3)
    assert found(index, queries, 120) == brute_force(db, np.arange(500), queries, 120)
    assert len(index.search(queries, 256)) == 3 * 500


def test_layout_chunks_read_the_right_bits() -> None:
    rng = np.random.default_rng(9)
    hashes = random_hashes(rng, 20)
    for layout in (
        Layout.for_size(10),
        Layout.for_size(10_000_000),
        Layout((20, 30, 20, 30, 28, 32, 32, 32, 32)),
    ):
        assert sum(layout.widths) == 256
        bits = "".join(f"{int(w):064b}" for w in hashes[3])
        start = 0
        for index, width in enumerate(layout.widths):
            assert layout.chunks(hashes, index)[3] == int(bits[start : start + width], 2)
            start += width
        assert np.array_equal(
            layout.chunks(hashes),
            np.stack([layout.chunks(hashes, i) for i in range(len(layout.widths))], axis=1),
        )


def test_layout_grows_with_the_index() -> None:
    assert Layout.for_size(100).widths == (16,) * 16
    assert Layout.for_size(10_000_000).widths == (20,) * 9 + (19,) * 4


def test_add_remove_and_merge_keep_results_exact() -> None:
    rng = np.random.default_rng(11)
    db = random_hashes(rng, 2 * BUFFER_CAPACITY + 100)
    ids = np.arange(len(db), dtype=np.int64) + 1000
    index = HashIndex()
    # One at a time (the buffer), then a bulk add that forces a merge into the tables.
    for i in range(50):
        index.add(db[i : i + 1], ids[i : i + 1])
    index.add(db[50:], ids[50:])
    assert len(index) == len(db)
    removed = rng.choice(ids, 300, replace=False)
    assert index.remove(removed) == 300
    assert index.remove(removed) == 0, "removing twice changes nothing"
    keep = ~np.isin(ids, removed)
    queries = np.concatenate([db[:5], db[-5:], near_copies(rng, db, [10, 25, 31, 32])])
    assert found(index, queries, 31) == brute_force(db[keep], ids[keep], queries, 31)
    assert len(index) == len(db) - 300
    assert not index.contains(removed).any()
    assert index.contains(ids[keep][:10]).all()


def test_a_removed_id_can_come_back_and_duplicates_are_refused() -> None:
    rng = np.random.default_rng(12)
    db = random_hashes(rng, 10)
    index = HashIndex.build(db, np.arange(10))
    with pytest.raises(ValueError, match="already in the index"):
        index.add(db[:1], np.array([3]))
    with pytest.raises(ValueError, match="unique"):
        index.add(db[:2], np.array([20, 20]))
    index.remove(np.array([3]))
    index.add(db[3:4], np.array([3]))
    assert found(index, db[3:4], 0) == {(0, 3, 0)}


def test_bad_queries_are_refused() -> None:
    index = HashIndex()
    with pytest.raises(ValueError, match="uint64"):
        index.search(np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="threshold"):
        index.search(np.zeros((1, 4), dtype=np.uint64), 300)


def test_dihedral_search_reports_the_nearest_variant_once() -> None:
    rng = np.random.default_rng(13)
    db = random_hashes(rng, 200)
    index = HashIndex.build(db, np.arange(200))
    variants = random_hashes(rng, 8).reshape(1, 8, 4)
    variants[0, 2] = flipped(db[7], np.arange(5))
    variants[0, 5] = flipped(db[7], np.arange(9))
    variants[0, 6] = db[9]
    matches = index.search_dihedral(variants)
    assert list(matches.ids) == [9, 7]
    assert list(matches.distances) == [0, 5]
    assert matches.variant is not None
    assert list(matches.variant) == [6, 2]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    db = random_hashes(rng, 3000)
    ids = np.arange(3000, dtype=np.int64) * 2
    index = HashIndex.build(db[:2900], ids[:2900])
    index.add(db[2900:], ids[2900:])  # still in the buffer: save must include it
    index.remove(ids[:10])
    path = tmp_path / "bank.idx"
    index.save(path)
    loaded = HashIndex.load(path)
    queries = np.concatenate([db[:20], db[-20:]])
    assert found(loaded, queries, 31) == found(index, queries, 31)
    assert len(loaded) == 2990
    loaded.remove(ids[50:51])
    loaded.add(random_hashes(rng, 1), np.array([10**9]))
    assert len(loaded) == 2990
    assert len(HashIndex.load(path)) == 2990, "changes to a loaded index never touch its file"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a Rempart index"),
        (b"PK\x03\x04 a zip file", "not a Rempart index"),
        (b"RMPTIDX1" + (5).to_bytes(8, "little") + b"{oops", "corrupt header"),
    ],
)
def test_load_refuses_what_is_not_an_index(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.idx"
    path.write_bytes(content)
    with pytest.raises(IndexFileError, match=message):
        HashIndex.load(path)


def test_load_refuses_a_truncated_index(tmp_path: Path) -> None:
    path = tmp_path / "bank.idx"
    HashIndex.build(random_hashes(np.random.default_rng(1), 100), np.arange(100)).save(path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IndexFileError, match="truncated"):
        HashIndex.load(path)
    with pytest.raises(IndexFileError, match="cannot read"):
        HashIndex.load(tmp_path / "missing.idx")
