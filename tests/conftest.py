"""Shared fixtures: the shared test data folder, and a factory for small generated images."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata() -> Path:
    """``../shared/testdata``, which CI places beside the project."""
    if not TESTDATA.is_dir():
        pytest.fail(f"shared test data not found at {TESTDATA}; clone the project beside shared/")
    return TESTDATA
