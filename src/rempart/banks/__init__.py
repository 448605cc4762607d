"""Hash banks: lists of PDQ hashes with provenance, their file formats, and matching."""

from rempart.banks.bank import Bank, BankError, Banks, BankStats, ImportReport, WithdrawReport
from rempart.banks.formats import (
    EXPORT_FORMATS,
    HashListFormat,
    ImportLineError,
    Record,
    Skipped,
    guess_format,
    read_records,
    write_records,
)
from rempart.banks.matcher import BankMatch, BankMatcher

__all__ = [
    "EXPORT_FORMATS",
    "Bank",
    "BankError",
    "BankMatch",
    "BankMatcher",
    "BankStats",
    "Banks",
    "HashListFormat",
    "ImportLineError",
    "ImportReport",
    "Record",
    "Skipped",
    "WithdrawReport",
    "guess_format",
    "read_records",
    "write_records",
]
