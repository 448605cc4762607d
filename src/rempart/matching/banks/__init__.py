"""Hash banks: lists of PDQ hashes with provenance, their file formats, and matching."""

from rempart.errors import BankError, BankExistsError, ImportLineError, UnknownBankError
from rempart.matching.banks.bank import (
    Bank,
    Banks,
    BankStats,
    ImportReport,
    WithdrawReport,
    last_change,
)
from rempart.matching.banks.formats import (
    EXPORT_FORMATS,
    HashListFormat,
    Record,
    Skipped,
    guess_format,
    read_records,
    sniff_format,
    write_records,
)
from rempart.matching.banks.matcher import BankMatch, BankMatcher, ImageMatch, match_images

__all__ = [
    "EXPORT_FORMATS",
    "Bank",
    "BankError",
    "BankExistsError",
    "BankMatch",
    "BankMatcher",
    "BankStats",
    "Banks",
    "HashListFormat",
    "ImageMatch",
    "ImportLineError",
    "ImportReport",
    "Record",
    "Skipped",
    "UnknownBankError",
    "WithdrawReport",
    "guess_format",
    "last_change",
    "match_images",
    "read_records",
    "sniff_format",
    "write_records",
]
