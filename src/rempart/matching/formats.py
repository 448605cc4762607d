"""The names of the hash-list file formats, on their own (no hashing, no database behind
them) so the command line can offer them at once. What each format is:
``rempart.matching.banks.formats``."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["EXPORT_FORMATS", "HashListFormat"]


class HashListFormat(StrEnum):
    """A hash-list file format (see ``rempart.matching.banks.formats``)."""

    HEX = "hex"
    PYTX = "pytx"
    CSV = "csv"
    JSONL = "jsonl"
    TE = "te"
    STOPNCII = "stopncii"


EXPORT_FORMATS: Final = tuple(f for f in HashListFormat if f is not HashListFormat.STOPNCII)
"""The formats banks export to (StopNCII's is read, never written)."""
