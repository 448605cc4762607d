"""One way to hash a picture: a scan's record carries exactly the PDQ hash (and its 8 rotations
and flips) that ``rempart hash`` gives the same file, whatever size its detectors decode at.

Checked on every image of the shared PDQ test data, and on a photo-sized JPEG made here (an
upscaled bridge), which ``rempart hash`` decodes at a reduced DCT scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from rempart.detectors import FakeDetector
from rempart.hashing import FileHashes, hash_path
from rempart.hashing.pdq import DECODE_MIN_SIDE
from rempart.media import load_path
from rempart.policy import load_policy
from rempart.scan import Scanner, ScanResult
from tests.cli.invoke import run

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@pytest.fixture(scope="module")
def images(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    shared = sorted(
        str(path) for path in (testdata / "pdq").rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES
    )
    assert len(shared) >= 25
    large = tmp_path_factory.mktemp("large") / "bridge-4000.jpg"
    with Image.open(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg") as bridge:
        bridge.resize((4000, 2510), Image.Resampling.BICUBIC).save(large, quality=90)
    assert load_path(str(large)).decode_scale(DECODE_MIN_SIDE) > 1  # a reduced decode
    return [*shared, str(large)]


@pytest.mark.parametrize("side", [None, 1280, 256], ids=["full", "detectors", "small"])
def test_a_scan_hashes_as_rempart_hash_does(images: list[str], side: int | None) -> None:
    scanner = Scanner([FakeDetector(max_side=side)], load_policy("default"))
    results = list(scanner.scan(images, jobs=2))
    assert len(results) == len(images)
    for path, result in zip(images, results, strict=True):
        assert isinstance(result, ScanResult), path
        expected = hash_path(path, dihedral=True)
        assert isinstance(expected, FileHashes), path
        assert (result.hashes.pdq, result.hashes.quality) == (expected.pdq, expected.quality), path
        assert result.hashes.dihedral == expected.dihedral, path
        assert result.hashes.sha256 == expected.sha256


def test_the_commands_agree(images: list[str], tmp_path: Path) -> None:
    env = {"REMPART_DATA_DIR": str(tmp_path / "data")}
    hashed_status, hashed, _ = run(env, "hash", *images)
    scanned_status, scanned, _ = run(env, "scan", *images, "-d", "provenance")
    assert (hashed_status, scanned_status) == (0, 0)
    by_hash = {record["path"]: record["pdq"] for record in map(json.loads, hashed.splitlines())}
    by_scan = {record["path"]: record["pdq"] for record in map(json.loads, scanned.splitlines())}
    assert by_scan == by_hash
    assert len(by_hash) == len(images)
