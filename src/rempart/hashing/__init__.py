"""Hashing: PDQ perceptual hashes, digests of files, and 256-bit hash arithmetic."""

from rempart.hashing.files import (
    FileHashes,
    HashFailure,
    HashResult,
    VideoHashes,
    file_digests,
    hash_files,
    hash_media,
    hash_path,
    hash_video,
)
from rempart.hashing.hash256 import from_hex, hamming, pack, to_hex
from rempart.hashing.pdq import (
    DIHEDRAL_NAMES,
    MATCH_THRESHOLD,
    MIN_QUALITY,
    PdqDihedral,
    PdqHash,
    pdq_hash,
    pdq_hash_dihedral,
)

__all__ = [
    "DIHEDRAL_NAMES",
    "MATCH_THRESHOLD",
    "MIN_QUALITY",
    "FileHashes",
    "HashFailure",
    "HashResult",
    "PdqDihedral",
    "PdqHash",
    "VideoHashes",
    "file_digests",
    "from_hex",
    "hamming",
    "hash_files",
    "hash_media",
    "hash_path",
    "hash_video",
    "pack",
    "pdq_hash",
    "pdq_hash_dihedral",
    "to_hex",
]
