"""The names of the hash-list file formats and of bank categories, on their own (no hashing,
no database behind them) so the command line can offer them at once. What each format is:
``rempart.matching.banks.formats``."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = [
    "CHILD_PROTECTION_SOURCES",
    "EXPORT_FORMATS",
    "BankCategory",
    "HashListFormat",
    "category_for_source",
    "stored_category",
]


class HashListFormat(StrEnum):
    """A hash-list file format (see ``rempart.matching.banks.formats``)."""

    HEX = "hex"
    PYTX = "pytx"
    CSV = "csv"
    JSONL = "jsonl"
    TE = "te"
    STOPNCII = "stopncii"
    VPDQ = "vpdq"


EXPORT_FORMATS: Final = tuple(
    f for f in HashListFormat if f not in (HashListFormat.STOPNCII, HashListFormat.VPDQ)
)
"""The formats banks export to (StopNCII's is read, never written; a reference vPDQ file is
one video, read as such)."""


class BankCategory(StrEnum):
    """What a bank's images are, so that a match says so (a policy's ``bank_categories`` may
    still name another category for a bank)."""

    NCII = "ncii"
    """Intimate imagery shared without consent (StopNCII's lists, a victim's own hashes)."""
    CHILD_SEXUAL_ABUSE = "child_sexual_abuse"
    """Sexual abuse material of children (NCMEC, IWF, Thorn, C3P/Project Arachnid lists)."""
    SEXUAL_DEEPFAKE = "sexual_deepfake"
    """Generated or altered sexual imagery of real people."""
    DEMO = "demo"
    """A demonstration or test bank: matches are labelled so, not as a harm."""
    OTHER = "other"
    """Known images of another kind the platform acts on."""


CHILD_PROTECTION_SOURCES: Final = frozenset(
    {"ncmec", "iwf", "thorn", "c3p", "arachnid", "projectarachnid", "inhope", "cybertip"}
)
"""Bank sources (lowercase, letters and digits only) that are child-protection hash lists."""


def category_for_source(source: str) -> BankCategory:
    """The category a bank from ``source`` has unless told otherwise: child sexual abuse for
    a child-protection list (``CHILD_PROTECTION_SOURCES``), else NCII, which every bank
    match was before banks declared a category."""
    key = "".join(char for char in source.lower() if char.isascii() and char.isalnum())
    if key in CHILD_PROTECTION_SOURCES:
        return BankCategory.CHILD_SEXUAL_ABUSE
    return BankCategory.NCII


def stored_category(value: str) -> BankCategory:
    """A category as the database holds it; one a newer Rempart wrote and this one does not
    know reads as ``other``, so that an older worker still matches the bank."""
    try:
        return BankCategory(value)
    except ValueError:
        return BankCategory.OTHER
