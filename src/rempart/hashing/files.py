"""Hash whole files: cryptographic digests of the bytes and PDQ of the pixels, one decode each.

This is what ``rempart hash`` prints and what later features store. A file that cannot be
hashed gives a ``HashFailure`` rather than an exception, so one bad file never stops a batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rempart.errors import MediaError
from rempart.hashing.pdq import DECODE_MIN_SIDE, pdq_hash, pdq_hash_dihedral
from rempart.media import (
    DEFAULT_LIMITS,
    STDIN,
    Media,
    MediaFailure,
    MediaLimits,
    MediaWarning,
    load_path,
)
from rempart.workers import ordered_map

__all__ = [
    "STDIN",
    "FileHashes",
    "HashFailure",
    "HashResult",
    "hash_files",
    "hash_media",
    "hash_path",
]


@dataclass(frozen=True, slots=True)
class FileHashes:
    """The hashes of one file.

    Attributes:
        path: the file as named by the caller.
        sha256, md5: hex digests of the file's bytes (exact-match hash lists use them).
        pdq: the PDQ hash as hex; ``quality`` its quality, 0-100.
        dihedral: the 8 PDQ hashes of its rotations and flips, when asked for.
        warnings: problems that did not prevent hashing (corrupt EXIF, for one).
    """

    path: str
    sha256: str
    md5: str
    pdq: str
    quality: int
    dihedral: tuple[str, ...] | None = None
    warnings: tuple[MediaWarning, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON Lines record: path, sha256, md5, pdq, quality (+ dihedral, warnings)."""
        record: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "md5": self.md5,
            "pdq": self.pdq,
            "quality": self.quality,
        }
        if self.dihedral is not None:
            record["dihedral"] = list(self.dihedral)
        if self.warnings:
            record["warnings"] = [{"code": w.code, "message": w.message} for w in self.warnings]
        return record


HashFailure = MediaFailure
"""A file that could not be hashed, and why."""

HashResult = FileHashes | HashFailure


def hash_media(
    media: Media,
    *,
    path: str,
    dihedral: bool = False,
    full_pixels: npt.NDArray[np.uint8] | None = None,
) -> FileHashes:
    """Hash a loaded image: the one way Rempart hashes a picture. Raises ``MediaError`` if its
    pixels cannot be decoded.

    PDQ reads the image decoded with ``DECODE_MIN_SIDE`` on its short side (a large JPEG at a
    reduced DCT scale, luminance only), which keeps it within Meta's distance of the
    reference. ``full_pixels``: the image already decoded at full scale by the caller (a scan's
    one decode, as ``media.decode()`` gives it), hashed as they are when the hash's own decode
    would be the same, so that an image is decoded once and hashes alike everywhere.
    """
    if full_pixels is not None and media.decode_scale(DECODE_MIN_SIDE) == 1:
        image = full_pixels
    else:
        image = np.asarray(media.decode(min_side=DECODE_MIN_SIDE, luma_only=True))
    if dihedral:
        hashes = pdq_hash_dihedral(image)
        variants = hashes.hex
        pdq, quality = variants[0], hashes.quality
    else:
        single = pdq_hash(image)
        pdq, quality, variants = single.hex, single.quality, None
    return FileHashes(
        path=path,
        sha256=hashlib.sha256(media.data).hexdigest(),
        md5=hashlib.md5(media.data, usedforsecurity=False).hexdigest(),
        pdq=pdq,
        quality=quality,
        dihedral=variants,
        warnings=media.warnings,
    )


def hash_path(
    path: str, *, dihedral: bool = False, limits: MediaLimits = DEFAULT_LIMITS
) -> HashResult:
    """Hash one file (or standard input for ``-``), returning a ``HashFailure`` for a bad one."""
    try:
        return hash_media(load_path(path, limits=limits), path=path, dihedral=dihedral)
    except MediaError as error:
        return HashFailure(path, error)


def hash_files(
    paths: Iterable[str | MediaFailure],
    *,
    dihedral: bool = False,
    limits: MediaLimits = DEFAULT_LIMITS,
    jobs: int = 1,
) -> Iterator[HashResult]:
    """Hash many files on ``jobs`` threads, yielding results in the order of ``paths``; an
    entry a folder walk could not read (a ``MediaFailure``) is passed on as its record."""

    def hash_one(item: str | MediaFailure) -> HashResult:
        if isinstance(item, MediaFailure):
            return item
        return hash_path(item, dihedral=dihedral, limits=limits)

    return ordered_map(hash_one, paths, jobs=jobs)
