"""What the command-line tests share: a private data folder for each test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command run in a test: its own, empty data folder."""
    return {"REMPART_DATA_DIR": str(tmp_path / "data")}
