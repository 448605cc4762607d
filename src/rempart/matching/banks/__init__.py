"""Hash banks: lists of PDQ hashes and vPDQ videos with provenance, their file formats, and
matching."""

from rempart.errors import BankError, BankExistsError, ImportLineError, UnknownBankError
from rempart.matching.banks.bank import (
    Bank,
    Banks,
    BankStats,
    ImportReport,
    VideoThresholds,
    WithdrawReport,
    last_change,
)
from rempart.matching.banks.formats import (
    EXPORT_FORMATS,
    HashListFormat,
    Record,
    Skipped,
    features_from_pytx,
    features_to_pytx,
    guess_format,
    read_records,
    sniff_format,
    video_key,
    write_records,
)
from rempart.matching.banks.matcher import (
    MIRROR,
    BankMatch,
    BankMatcher,
    FrameMatch,
    ImageMatch,
    VideoMatch,
    VideoMatches,
    match_images,
)

__all__ = [
    "EXPORT_FORMATS",
    "MIRROR",
    "Bank",
    "BankError",
    "BankExistsError",
    "BankMatch",
    "BankMatcher",
    "BankStats",
    "Banks",
    "FrameMatch",
    "HashListFormat",
    "ImageMatch",
    "ImportLineError",
    "ImportReport",
    "Record",
    "Skipped",
    "UnknownBankError",
    "VideoMatch",
    "VideoMatches",
    "VideoThresholds",
    "WithdrawReport",
    "features_from_pytx",
    "features_to_pytx",
    "guess_format",
    "last_change",
    "match_images",
    "read_records",
    "sniff_format",
    "video_key",
    "write_records",
]
