"""Shared fixtures: the shared test data, benign pictures, and databases (SQLite and
PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from rempart.detectors import Picture
from rempart.media import load_bytes, load_file
from rempart.store import Store
from tests import postgres
from tests.images import SKIMAGE_IMAGES, encode, skimage_rgb

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata``, which CI places beside the project."""
    if not TESTDATA.is_dir():
        pytest.fail(f"shared test data not found at {TESTDATA}; clone the project beside shared/")
    return TESTDATA


def picture_of(rgb: np.ndarray, fmt: str = "PNG", *, path: str = "") -> Picture:
    """A ``Picture`` of RGB pixels encoded in ``fmt``."""
    return Picture(load_bytes(encode(Image.fromarray(rgb), fmt)), path=path)


@pytest.fixture(scope="session")
def benign_pictures(testdata: Path) -> list[Picture]:
    """Every benign image at hand: the shared photos and scikit-image's samples."""
    files = sorted((testdata / "faces").glob("*.jpg")) + sorted(
        (testdata / "pdq" / "bridge-mods").glob("*.jpg")
    )
    pictures = [Picture(load_file(path), path=str(path)) for path in files]
    pictures += [picture_of(skimage_rgb(name), path=name) for name in SKIMAGE_IMAGES]
    return pictures


@pytest.fixture(scope="session")
def face_pictures(testdata: Path) -> dict[str, Picture]:
    """The shared photos of two adult public figures, by file name."""
    return {
        path.name: Picture(load_file(path), path=str(path))
        for path in sorted((testdata / "faces").glob("*.jpg"))
    }


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a real PostgreSQL server started for this session.

    Skipped where PostgreSQL is not installed, except under TEST_REQUIRE_POSTGRES=1 (CI),
    where its absence fails the run.
    """
    if postgres.binaries() is None:
        if os.environ.get("TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (TEST_REQUIRE_POSTGRES=1) but not installed")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with postgres.temporary_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty Rempart database: SQLite in a temporary folder, then PostgreSQL
    (where the audit log, which refuses TRUNCATE, keeps the entries of earlier tests)."""
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'rempart.db'}")
    else:
        opened = Store.open(request.getfixturevalue("postgres_url"))
        with opened.write() as connection:
            connection.execute(
                text(
                    "TRUNCATE bank_changes, bank_entries, bank_imports, banks, "
                    "person_embeddings, protected_persons, api_keys RESTART IDENTITY CASCADE"
                )
            )
    yield opened
    opened.close()
