"""Small file-system steps that several rooms need to make their writes durable."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["sync_folder"]


def sync_folder(folder: Path) -> None:
    """Make a file's creation or renaming in ``folder`` durable (fsync of the folder itself:
    without it, a rename can be lost in a power cut even though the file's bytes were synced)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
