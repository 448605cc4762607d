"""Hash whole files: cryptographic digests of the bytes and PDQ of the pixels, one decode each;
for a video, the digests of its file and vPDQ of its sampled frames.

This is what ``rempart hash`` prints and what later features store. A file that cannot be
hashed gives a ``HashFailure`` rather than an exception, so one bad file never stops a batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

from rempart.errors import MediaError, media_os_error
from rempart.hashing.pdq import DECODE_MIN_SIDE, pdq_hash, pdq_hash_dihedral
from rempart.hashing.vpdq import VpdqFeature, vpdq_hash
from rempart.media import (
    DEFAULT_LIMITS,
    STDIN,
    Media,
    MediaFailure,
    MediaLimits,
    MediaWarning,
    load_path,
)
from rempart.video import Video, VideoLimits
from rempart.video import load_file as load_video_file
from rempart.walk import starts_as_video
from rempart.workers import ordered_map

__all__ = [
    "STDIN",
    "FileHashes",
    "HashFailure",
    "HashResult",
    "VideoHashes",
    "file_digests",
    "hash_files",
    "hash_media",
    "hash_path",
    "hash_video",
]

# A video file is digested in pieces of this size, never read whole into memory.
_DIGEST_CHUNK: Final = 1024 * 1024


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


@dataclass(frozen=True, slots=True)
class VideoHashes:
    """The hashes of one video.

    Attributes:
        path: the file as named by the caller.
        sha256, md5: hex digests of the file's bytes (MD5 is what HMA and StopNCII match
            videos by).
        duration: seconds, as the container declares (0.0 when it does not say).
        frame_rate: frames a second, the video stream's average (0.0 when unknown).
        width, height: the frames' size in pixels.
        features: vPDQ, the PDQ hash of one frame a second, in order.
    """

    path: str
    sha256: str
    md5: str
    duration: float
    frame_rate: float
    width: int
    height: int
    features: tuple[VpdqFeature, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON Lines record: path, ``kind: "video"``, sha256, md5, duration, frame_rate,
        width, height, and ``vpdq``: one ``{frame_number, quality, hash, timestamp}`` a frame."""
        return {
            "path": self.path,
            "kind": "video",
            "sha256": self.sha256,
            "md5": self.md5,
            "duration": round(self.duration, 3),
            "frame_rate": round(self.frame_rate, 3),
            "width": self.width,
            "height": self.height,
            "vpdq": [
                {
                    "frame_number": f.frame_number,
                    "quality": f.quality,
                    "hash": f.hex,
                    "timestamp": round(f.timestamp, 3),
                }
                for f in self.features
            ],
        }


HashFailure = MediaFailure
"""A file that could not be hashed, and why."""

HashResult = FileHashes | VideoHashes | HashFailure


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
    sha256, md5 = file_digests(media.data)
    return FileHashes(
        path=path,
        sha256=sha256,
        md5=md5,
        pdq=pdq,
        quality=quality,
        dihedral=variants,
        warnings=media.warnings,
    )


def hash_video(video: Video, *, path: str) -> VideoHashes:
    """Hash a probed video: the digests of its bytes (a file's read in pieces) and vPDQ of its
    frames, decoded one at a time, so that a long video never sits in memory. Raises
    ``MediaError`` when the decode crosses a limit or the data is damaged."""
    features = tuple(vpdq_hash(video))
    sha256, md5 = file_digests(video.source)
    return VideoHashes(
        path=path,
        sha256=sha256,
        md5=md5,
        duration=video.duration,
        frame_rate=video.frame_rate,
        width=video.width,
        height=video.height,
        features=features,
    )


def file_digests(source: bytes | Path) -> tuple[str, str]:
    """SHA-256 and MD5 (hex) of bytes, or of a file read in ``_DIGEST_CHUNK`` pieces: a video
    is never read whole for them."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    if isinstance(source, bytes):
        sha256.update(source)
        md5.update(source)
    else:
        try:
            with open(source, "rb") as stream:
                while chunk := stream.read(_DIGEST_CHUNK):
                    sha256.update(chunk)
                    md5.update(chunk)
        except OSError as exc:
            raise media_os_error(source, exc) from exc
    return sha256.hexdigest(), md5.hexdigest()


def hash_path(
    path: str,
    *,
    dihedral: bool = False,
    limits: MediaLimits = DEFAULT_LIMITS,
    video_limits: VideoLimits | None = None,
) -> HashResult:
    """Hash one file (or standard input for ``-``), returning a ``HashFailure`` for a bad one.

    ``video_limits``: a file whose first bytes are a video's is hashed as a video within them;
    None (for callers that take images only): every file is read as an image.
    """
    try:
        if video_limits is not None and path != STDIN and starts_as_video(path):
            return hash_video(load_video_file(path, limits=video_limits), path=path)
        return hash_media(load_path(path, limits=limits), path=path, dihedral=dihedral)
    except MediaError as error:
        return HashFailure(path, error)


@overload
def hash_files(
    paths: Iterable[str | MediaFailure],
    *,
    dihedral: bool = ...,
    limits: MediaLimits = ...,
    video_limits: None = None,
    jobs: int = ...,
) -> Iterator[FileHashes | HashFailure]: ...


@overload
def hash_files(
    paths: Iterable[str | MediaFailure],
    *,
    dihedral: bool = ...,
    limits: MediaLimits = ...,
    video_limits: VideoLimits,
    jobs: int = ...,
) -> Iterator[HashResult]: ...


def hash_files(
    paths: Iterable[str | MediaFailure],
    *,
    dihedral: bool = False,
    limits: MediaLimits = DEFAULT_LIMITS,
    video_limits: VideoLimits | None = None,
    jobs: int = 1,
) -> Iterator[HashResult]:
    """Hash many files on ``jobs`` threads, yielding results in the order of ``paths``; an
    entry a folder walk could not read (a ``MediaFailure``) is passed on as its record.
    Videos are hashed as videos when ``video_limits`` is given (see ``hash_path``)."""

    def hash_one(item: str | MediaFailure) -> HashResult:
        if isinstance(item, MediaFailure):
            return item
        return hash_path(item, dihedral=dihedral, limits=limits, video_limits=video_limits)

    return ordered_map(hash_one, paths, jobs=jobs)
