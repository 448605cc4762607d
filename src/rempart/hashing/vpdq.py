"""vPDQ, Meta's video hash: the PDQ hash of frames sampled at a rate, each with its quality,
frame number and timestamp, matched as an unordered bag of frame hashes.

The definition, the text format and the matching rule follow Meta's reference
(facebook/ThreatExchange ``vpdq/README.md``, ``vpdq/cpp``) and python-threatexchange's
``extensions/vpdq``; each fact below names where it comes from. The frame hashes are
Rempart's own PDQ (``rempart.hashing.pdq``), on frames ``rempart.video`` samples.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import takewhile
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

from rempart.hashing.hash256 import Words, from_hex, hamming, pack
from rempart.hashing.pdq import MATCH_THRESHOLD, MIN_QUALITY, pdq_hash
from rempart.video import DECODE_PARTS, Video, VideoFrame

__all__ = [
    "DISTANCE_THRESHOLD",
    "QUALITY_THRESHOLD",
    "QUERY_MATCH_PERCENT",
    "STORED_MATCH_PERCENT",
    "VpdqFeature",
    "VpdqMatch",
    "format_features",
    "match",
    "parse_feature",
    "parse_features",
    "vpdq_hash",
    "vpdq_hash_mirrored",
]

QUALITY_THRESHOLD: Final = MIN_QUALITY
"""Frames of lower quality are left out of matching (python-threatexchange
``VPDQ_QUALITY_THRESHOLD`` = 50; the reference's "quality filter tolerance F")."""

DISTANCE_THRESHOLD: Final = MATCH_THRESHOLD
"""Two frames match at Hamming distance <= 31 (python-threatexchange
``VPDQ_DISTANCE_THRESHOLD`` and its ``<=``, as the README's pseudocode; the C++
``matchTwoHash.cpp`` compares with ``<``, one bit stricter)."""

QUERY_MATCH_PERCENT: Final = 80.0
"""A video matches when at least this share of the query's frames match (python-threatexchange
``VPDQ_QUERY_MATCH_THRESHOLD_PERCENT``): a clip of a stored video matches it."""

STORED_MATCH_PERCENT: Final = 0.0
"""...and at least this share of the stored video's (``VPDQ_INDEX_MATCH_THRESHOLD_PERCENT``):
0 lets a short clip match the long video it was cut from."""

T = TypeVar("T")

# vpdqio.cpp writes timestamps with std::fixed and a precision of 3.
_TIMESTAMP_DIGITS: Final = 3


@dataclass(frozen=True, slots=True)
class VpdqFeature:
    """The PDQ hash of one sampled frame (the reference's ``vpdqFeature``).

    Attributes:
        hex: the frame's PDQ hash, 64 hex digits.
        quality: PDQ's quality, 0-100.
        frame_number: the frame's number in the video stream, from 0.
        timestamp: seconds from the start of the video.
    """

    hex: str
    quality: int
    frame_number: int
    timestamp: float

    def __post_init__(self) -> None:
        from_hex(self.hex)  # ValueError saying what is wrong
        if not 0 <= self.quality <= 100:
            raise ValueError(f"a PDQ quality is 0-100, got {self.quality}")
        if self.frame_number < 0:
            raise ValueError(f"a frame number is 0 or more, got {self.frame_number}")
        if not 0 <= self.timestamp < math.inf:  # NaN and infinity too
            raise ValueError(f"a timestamp is a finite 0 or more seconds, got {self.timestamp}")


@dataclass(frozen=True, slots=True)
class VpdqMatch:
    """How two videos' frames match.

    Attributes:
        query_percent: share of the query's distinct usable frames found in the stored video.
        stored_percent: share of the stored video's distinct usable frames found in the query.
        matched: whether both shares reach their thresholds.
    """

    query_percent: float
    stored_percent: float
    matched: bool


def vpdq_hash(
    video: Video, *, every: float = 1.0, max_side: int | None = None, parts: int = DECODE_PARTS
) -> Iterator[VpdqFeature]:
    """Hash one frame per ``every`` seconds of ``video`` (the reference's ``seconds_per_hash``,
    1 by default), each converted to RGB at its full size and PDQ's filter run on it as it is,
    as the reference's C++ does: the hashes are then the ``vpdq`` package's, bit for bit
    (measured on 720p and 1080p H.264; docs/video.md). ``max_side``: decode at most this many
    pixels on the longer side instead (the reference's ``downsample_width``), faster and a few
    bits away (at 512, 11 bits on average and 42 at most on a 1080p video). ``parts``: decode
    up to this many stretches of the video at once (``Video.parts``), a core's each; the
    features then come once every part is hashed (a video's are a few kilobytes).

    Raises ``MediaError`` when the video crosses a limit or its data is damaged.
    """
    yield from _hashed(video.parts(parts, every=every, max_side=max_side), _plain_feature)


def vpdq_hash_mirrored(
    video: Video, *, every: float = 1.0, max_side: int | None = None, parts: int = DECODE_PARTS
) -> tuple[list[VpdqFeature], list[VpdqFeature]]:
    """``vpdq_hash``'s features, and those of the same frames mirrored left to right, from one
    decode: vPDQ is not flip-invariant, so a mirrored copy of a video is found by matching
    these too. The mirrored pixels are hashed: PDQ's flip of the DCT (``pdq_hash_dihedral``)
    drifts from the mirror's hash on small frames (44 bits on a 160 x 120 frame, measured)."""
    pairs = _hashed(video.parts(parts, every=every, max_side=max_side), _both_features)
    return [plain for plain, _ in pairs], [mirrored for _, mirrored in pairs]


def _hashed(
    parts: Sequence[Generator[VideoFrame, None, None]], hash_frame: Callable[[VideoFrame], T]
) -> list[T]:
    """``hash_frame`` of each frame of a video's ``parts`` (``Video.parts``), in order: each
    part decoded and hashed on a thread of its own, or a lone part's frames hashed on a
    second thread while the next decodes (``_alongside``). When a part fails, those after it
    stop at their next frame and those before it go on, so that the error raised is the one
    earliest in the video, as a single pass would raise it."""
    if len(parts) == 1:
        return list(_alongside(parts[0], hash_frame))
    failed = [len(parts)]  # the earliest part that failed
    lock = threading.Lock()

    def run(number: int, part: Generator[VideoFrame, None, None]) -> list[T]:
        try:
            return [hash_frame(f) for f in takewhile(lambda _: failed[0] > number, part)]
        except BaseException:
            with lock:
                failed[0] = min(failed[0], number)
            raise
        finally:
            part.close()  # the container, now rather than when ``parts`` goes

    with ThreadPoolExecutor(len(parts), thread_name_prefix="rempart-vpdq") as pool:
        done = [pool.submit(run, number, part) for number, part in enumerate(parts)]
    return [hashed for future in done for hashed in future.result()]


def _alongside(frames: Iterator[VideoFrame], hash_frame: Callable[[VideoFrame], T]) -> Iterator[T]:
    """``hash_frame`` of each of ``frames``, in order, each run on a thread of its own while
    the next frame decodes: FFmpeg's decoding threads wait while the caller works, and PDQ's
    filter of a full-size frame (numpy, which lets go of the GIL) takes a third as long as
    the decoding that leads to it. At most one frame is hashed while one decodes."""
    with ThreadPoolExecutor(1, thread_name_prefix="rempart-vpdq") as pool:
        pending: Future[T] | None = None
        for frame in frames:
            following = pool.submit(hash_frame, frame)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def _plain_feature(frame: VideoFrame) -> VpdqFeature:
    return _feature(frame, frame.pixels)


def _both_features(frame: VideoFrame) -> tuple[VpdqFeature, VpdqFeature]:
    """The frame's feature, and its mirror's (left to right)."""
    mirrored = np.ascontiguousarray(frame.pixels[:, ::-1])
    return _feature(frame, frame.pixels), _feature(frame, mirrored)


def _feature(frame: VideoFrame, pixels: npt.NDArray[np.uint8]) -> VpdqFeature:
    """``pixels`` (``frame``'s, or a transform of them) hashed as the reference does."""
    found = pdq_hash(pixels, downsample=False)
    return VpdqFeature(found.hex, found.quality, frame.index, frame.timestamp)


def format_features(features: Iterable[VpdqFeature]) -> str:
    """The reference's hash file (``vpdqio.cpp``, ``vpdq-hash-video``'s output): one line per
    frame, ``frame_number,quality,hash,timestamp``, the timestamp with 3 decimals."""
    return "".join(
        f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.{_TIMESTAMP_DIGITS}f}\n"
        for f in features
    )


def parse_features(text: str) -> list[VpdqFeature]:
    """Read the reference's hash file (see ``format_features``); blank lines are skipped.

    Raises ``ValueError`` naming the first line that is not a valid feature.
    """
    features = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            features.append(parse_feature(line))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
    return features


def parse_feature(line: str) -> VpdqFeature:
    """One line of the reference's hash file, ``frame_number,quality,hash,timestamp``;
    ``ValueError`` saying why it is not one."""
    fields = line.strip().split(",")
    try:
        if len(fields) != 4:
            raise ValueError(f"4 comma-separated fields expected, got {len(fields)}")
        frame, quality, hex_hash, timestamp = fields
        return VpdqFeature(hex_hash.lower(), int(quality), int(frame), float(timestamp))
    except ValueError as exc:
        raise ValueError(f"not a vPDQ feature ({exc}): {line[:100]!r}") from None


def match(
    query: Sequence[VpdqFeature],
    stored: Sequence[VpdqFeature],
    *,
    quality_threshold: int = QUALITY_THRESHOLD,
    distance_threshold: int = DISTANCE_THRESHOLD,
    query_match_percent: float = QUERY_MATCH_PERCENT,
    stored_match_percent: float = STORED_MATCH_PERCENT,
) -> VpdqMatch:
    """Match two videos' features as vPDQ defines it (README, "Comparison (Matching)
    Algorithm"; python-threatexchange ``match_VPDQ_hash_brute``): distinct hashes of quality at
    least ``quality_threshold`` on each side; a frame matches when any frame of the other side
    is within ``distance_threshold``; the videos match when the query's matched share reaches
    ``query_match_percent`` and the stored video's reaches ``stored_match_percent``.

    A side left with no usable frame matches nothing (0 %), as in the C++ reference.
    """
    query_words = _usable(query, quality_threshold)
    stored_words = _usable(stored, quality_threshold)
    if not len(query_words) or not len(stored_words):
        return VpdqMatch(0.0, 0.0, False)
    # Row by row: a 3-hour video at 1 frame/s against another would be a 10800^2 matrix.
    query_hits = np.zeros(len(query_words), dtype=bool)
    stored_hits = np.zeros(len(stored_words), dtype=bool)
    for row, word in enumerate(query_words):
        near = hamming(word, stored_words) <= distance_threshold
        query_hits[row] = near.any()
        stored_hits |= near
    query_percent = 100.0 * float(query_hits.mean())
    stored_percent = 100.0 * float(stored_hits.mean())
    return VpdqMatch(
        query_percent,
        stored_percent,
        query_percent >= query_match_percent and stored_percent >= stored_match_percent,
    )


def _usable(features: Sequence[VpdqFeature], quality_threshold: int) -> Words:
    """The distinct hashes (python-threatexchange's ``dedupe``) of quality at least the
    threshold, packed for Hamming distances."""
    distinct = dict.fromkeys(f.hex for f in features if f.quality >= quality_threshold)
    return pack(distinct)
