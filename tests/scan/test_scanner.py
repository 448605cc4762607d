"""``Scanner``: the scan contract, one decode shared by hash and detectors, bank matches and
verdicts, and the mosaic thumbnails of flagged images."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rempart.detectors import FakeDetector, default_registry
from rempart.hashing import FileHashes, hamming, hash_path, pack
from rempart.matching.banks import BankMatcher, Banks
from rempart.media import Media, MediaFailure
from rempart.policy import load_policy
from rempart.scan import THUMBNAIL_CELLS, Scanner, ScanResult, VideoResult
from rempart.signals import Signal
from rempart.store import Store
from tests.images import encode, gradient, png_declaring


def hostile_folder(tmp_path: Path, testdata: Path) -> list[str]:
    """Good photos and hostile files side by side, in a stable order."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(testdata / "faces" / "obama.jpg", folder / "a-obama.jpg")
    shutil.copy(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg", folder / "b-bridge.jpg")
    (folder / "c-truncated.jpg").write_bytes(encode(gradient(400, 300), "JPEG")[:700])
    (folder / "d-text.jpg").write_bytes(b"<html>not an image</html>")
    (folder / "e-empty.png").write_bytes(b"")
    (folder / "f-bomb.png").write_bytes(png_declaring(60_000, 60_000))
    (folder / "g-photo.png").write_bytes(encode(gradient(640, 480, seed=3), "PNG"))
    return sorted(str(path) for path in folder.iterdir())


def distance(a: str, b: str) -> int:
    return int(hamming(pack([a]), pack([b]))[0])


def scan(scanner: Scanner, paths: list[str]) -> list[ScanResult | MediaFailure]:
    found = list(scanner.scan(paths, jobs=2))
    assert not any(isinstance(result, VideoResult) for result in found), "images only here"
    return [result for result in found if not isinstance(result, VideoResult)]


def test_a_folder_mixing_good_and_hostile_files(tmp_path: Path, testdata: Path) -> None:
    paths = hostile_folder(tmp_path, testdata)
    results = scan(Scanner([], load_policy("default")), paths)
    assert [r.path for r in results] == paths
    errors = {Path(r.path).name: r.error.code.value for r in results if isinstance(r, MediaFailure)}
    assert errors == {
        "c-truncated.jpg": "truncated",
        "d-text.jpg": "unsupported_format",
        "e-empty.png": "empty",
        "f-bomb.png": "too_many_pixels",
    }
    judged = [r for r in results if isinstance(r, ScanResult)]
    assert len(judged) == 3
    for result in judged:
        record = result.to_json()
        assert set(record) == {
            "path",
            "sha256",
            "md5",
            "pdq",
            "quality",
            "width",
            "height",
            "verdict",
            "signals",
        }
        assert record["verdict"]["action"] == "allow"
        assert record["verdict"]["policy"]["name"] == "default"
        alone = hash_path(result.path)
        assert isinstance(alone, FileHashes)
        assert record["sha256"] == alone.sha256
        assert record["md5"] == alone.md5
        assert distance(record["pdq"], alone.pdq) <= 8, "the shared decode hashes like rempart hash"


def test_the_shared_decode_hashes_within_the_standard_of_the_reference(testdata: Path) -> None:
    with open(testdata / "pdq" / "expected-reference-hashes.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    paths = [str(testdata / "pdq" / row["path"]) for row in rows]
    results = scan(Scanner([], load_policy("default")), paths)
    distances = {
        row["path"]: distance(result.hashes.pdq, row["pdq_hex"])
        for row, result in zip(rows, results, strict=True)
        if isinstance(result, ScanResult) and result.hashes.quality >= 80
    }
    assert len(distances) >= 12
    assert max(distances.values()) <= 10, distances


def test_one_decode_per_image_serves_every_detector_and_the_hash_where_it_can(
    testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every detector reads one shared decode (here at 640 pixels, what nudity and faces
    search). The hash reuses it where it is at full scale (obama.jpg); where it is reduced
    below what PDQ reads (biden.jpg, 970 x 2204, decoded at half scale), the hash decodes the
    luma alone, at its own scale, as ``rempart hash`` does."""
    decodes: list[tuple[str, bool]] = []
    real = Media.decode

    def counting(self: Media, **options: Any) -> Image.Image:
        decodes.append((f"{self.width}x{self.height}", bool(options.get("luma_only"))))
        return real(self, **options)

    monkeypatch.setattr(Media, "decode", counting)
    registry = default_registry()
    detectors = [registry.create("nudity"), registry.create("faces")]
    paths = [str(testdata / "faces" / name) for name in ("obama.jpg", "biden.jpg")]
    results = scan(Scanner(detectors, load_policy("default")), paths)
    assert all(isinstance(r, ScanResult) for r in results)
    assert {s.detector for r in results for s in r.signals} == {"nudity", "faces"}  # type: ignore[union-attr]
    assert sorted(decodes) == [("910x1137", False), ("970x2204", False), ("970x2204", True)]


def test_signals_become_a_verdict_and_flagged_items_get_a_mosaic(
    tmp_path: Path, testdata: Path
) -> None:
    photo = str(testdata / "faces" / "biden.jpg")
    other = str(testdata / "faces" / "obama.jpg")
    minor = Signal("face.minor", 0.9, "fake", "1")
    nude = Signal("nudity.exposed.buttocks", 0.8, "fake", "1")
    detector = FakeDetector({photo: [minor, nude]})
    results = scan(Scanner([detector], load_policy("survey"), thumbnails=True), [photo, other])
    flagged, clean = results
    assert isinstance(flagged, ScanResult)
    assert isinstance(clean, ScanResult)
    assert flagged.verdict.action.value == "block"
    assert flagged.verdict.reasons[0].rule == "minor-sexualised"
    assert [s.name for s in flagged.signals] == ["face.minor", "nudity.exposed.buttocks"]
    assert clean.verdict.action.value == "allow"
    assert clean.thumbnail is None, "only flagged images get a thumbnail"
    assert flagged.thumbnail is not None
    mosaic = Image.open(io.BytesIO(flagged.thumbnail))
    assert mosaic.format == "PNG"
    assert max(mosaic.size) <= THUMBNAIL_CELLS


def test_without_report_no_thumbnail_is_made(testdata: Path) -> None:
    photo = str(testdata / "faces" / "biden.jpg")
    detector = FakeDetector({photo: [Signal("nudity.exposed.anus", 0.9, "fake", "1")]})
    (result,) = scan(Scanner([detector], load_policy("strict")), [photo])
    assert isinstance(result, ScanResult)
    assert result.verdict.action.value == "block"
    assert result.thumbnail is None


def test_bank_matches_block_rotated_copies_too(
    store: Store, tmp_path: Path, testdata: Path
) -> None:
    original = testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg"
    rotated = tmp_path / "rotated.png"
    Image.open(original).rotate(90, expand=True).save(rotated)
    unrelated = testdata / "faces" / "obama.jpg"
    hashed = hash_path(str(original))
    assert isinstance(hashed, FileHashes)
    banks = Banks(store)
    banks.create("known")
    banks.add("known", hashed.pdq)
    scanner = Scanner([], load_policy("default"), matcher=BankMatcher(store))
    results = scan(scanner, [str(original), str(rotated), str(unrelated)])
    actions = [r.verdict.action.value for r in results if isinstance(r, ScanResult)]
    assert actions == ["block", "block", "allow"]
    first, second, _ = results
    assert isinstance(first, ScanResult)
    assert isinstance(second, ScanResult)
    match = first.signals[0]
    assert (match.name, match.value, match.detector) == ("bank.match", "known", "bank")
    assert match.evidence["distance"] <= 31
    assert second.signals[0].evidence["variant"] != "original"
    reason = first.verdict.reasons[0]
    assert (reason.rule, reason.category.name) == ("known-image", "non_consensual_intimate_imagery")


def test_a_withdrawn_hash_no_longer_blocks(store: Store, testdata: Path) -> None:
    original = str(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg")
    hashed = hash_path(original)
    assert isinstance(hashed, FileHashes)
    banks = Banks(store)
    banks.create("known")
    banks.add("known", hashed.pdq)
    matcher = BankMatcher(store, refresh_interval=0)
    scanner = Scanner([], load_policy("default"), matcher=matcher)
    assert scan(scanner, [original])[0].verdict.action.value == "block"  # type: ignore[union-attr]
    banks.withdraw("known", hashes=[hashed.pdq], reason="test")
    assert scan(scanner, [original])[0].verdict.action.value == "allow"  # type: ignore[union-attr]


@pytest.mark.parametrize("jobs", [1, 3])
def test_results_keep_input_order_across_batches(tmp_path: Path, jobs: int) -> None:
    paths = []
    for index in range(37):
        path = tmp_path / f"{index:02}.png"
        path.write_bytes(encode(gradient(64 + index, 48, seed=index), "PNG"))
        paths.append(str(path))
    scanner = Scanner([], load_policy("default"), batch_size=8)
    results = list(scanner.scan(paths, jobs=jobs))
    assert [r.path for r in results] == paths
    assert [r.width for r in results if isinstance(r, ScanResult)] == [64 + i for i in range(37)]
