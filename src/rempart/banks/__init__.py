"""Hash banks: lists of PDQ hashes with provenance, their file formats, and matching."""

from rempart.banks.bank import (
    Bank,
    BankError,
    BankExistsError,
    Banks,
    BankStats,
    ImportReport,
    UnknownBankError,
    WithdrawReport,
)
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
from rempart.banks.matcher import BankMatch, BankMatcher, match_record

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
    "ImportLineError",
    "ImportReport",
    "Record",
    "Skipped",
    "UnknownBankError",
    "WithdrawReport",
    "guess_format",
    "match_record",
    "read_records",
    "write_records",
]
