"""Run detectors over files: decode each image once on a pool of threads, hand the detectors
batches, and give one result per file in the order given.

Within a batch the detectors run side by side (ONNX Runtime and dlib release the GIL for most
of their work), while the next batch is being decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from rempart.detectors.picture import DETECT_MAX_SIDE, Picture
from rempart.detectors.protocol import Detector
from rempart.errors import MediaError
from rempart.media import DEFAULT_LIMITS, MediaFailure, MediaLimits, load_bytes, load_path
from rempart.signals import Signal
from rempart.workers import batched, ordered_map

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PictureSignals",
    "decode_side",
    "detect_paths",
    "detect_pictures",
    "load_batches",
    "load_picture",
    "run_detectors",
]

DEFAULT_BATCH_SIZE: Final = 16


@dataclass(frozen=True, slots=True)
class PictureSignals:
    """Every signal the detectors gave for one file."""

    path: str
    width: int
    height: int
    signals: list[Signal]

    def to_json(self) -> dict[str, Any]:
        """``{"path", "width", "height", "signals": [...]}``."""
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "signals": [signal.to_json() for signal in self.signals],
        }


def detect_paths(
    paths: Iterable[str | MediaFailure],
    detectors: Sequence[Detector],
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[PictureSignals | MediaFailure]:
    """Each file's signals from every detector, or why it could not be read, in order (an
    entry a folder walk could not read, given as a ``MediaFailure``, is passed on)."""
    for item in detect_pictures(paths, detectors, limits=limits, jobs=jobs, batch_size=batch_size):
        if isinstance(item, MediaFailure):
            yield item
        else:
            picture, signals = item
            yield PictureSignals(picture.path, picture.media.width, picture.media.height, signals)


def detect_pictures(
    paths: Iterable[str | MediaFailure],
    detectors: Sequence[Detector],
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[tuple[Picture, list[Signal]] | MediaFailure]:
    """Each file's ``Picture`` (its decode, and what detectors shared on it) and signals, or
    why it could not be read, in order."""
    side = decode_side(detectors)
    batches = load_batches(paths, limits=limits, jobs=jobs, batch_size=batch_size, decode_side=side)
    with ThreadPoolExecutor(max_workers=max(len(detectors), 1)) as pool:
        for batch in batches:
            pictures = [item for item in batch if isinstance(item, Picture)]
            signals = iter(run_detectors(detectors, pictures, pool))
            for item in batch:
                if isinstance(item, MediaFailure):
                    yield item
                else:
                    yield item, next(signals, [])


def run_detectors(
    detectors: Sequence[Detector], pictures: Sequence[Picture], pool: Executor
) -> list[list[Signal]]:
    """Each picture's signals from every detector, the detectors side by side on ``pool``."""
    futures = [pool.submit(detector.detect, pictures) for detector in detectors]
    found = [future.result() for future in futures]
    if not found:
        return [[] for _ in pictures]
    return [[s for part in parts for s in part] for parts in zip(*found, strict=True)]


def load_batches(
    paths: Iterable[str | MediaFailure],
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    decode_side: int | None = DETECT_MAX_SIDE,
) -> Iterator[list[Picture | MediaFailure]]:
    """The files loaded and decoded (long side at most ``decode_side``) on ``jobs`` threads,
    in order, ``batch_size`` at a time."""
    loaded = ordered_map(lambda path: _load(path, limits, decode_side), paths, jobs=jobs)
    return batched(loaded, batch_size)


def decode_side(detectors: Sequence[Detector]) -> int | None:
    """The largest side any of the detectors reads (``max_side``; None: full resolution).

    A detector whose ``max_side`` is 0 reads none of the shared pixels and asks for no size.
    When none asks, pictures are still decoded at ``DETECT_MAX_SIDE`` (a JPEG at a reduced
    DCT scale): that decode is what finds a truncated or corrupt file up front, and what a
    scan's thumbnails are cut from.
    """
    sides = [getattr(detector, "max_side", DETECT_MAX_SIDE) for detector in detectors]
    if None in sides:
        return None
    return max((side for side in sides if side), default=DETECT_MAX_SIDE)


def load_picture(
    source: str | bytes, *, limits: MediaLimits = DEFAULT_LIMITS, side: int | None, path: str = ""
) -> Picture:
    """A file (by path) or bytes as a ``Picture`` decoded now, its long side at most ``side``,
    so that a truncated image fails here with ``MediaError``, not in a detector."""
    media = (
        load_bytes(source, limits=limits)
        if isinstance(source, bytes)
        else load_path(source, limits=limits)
    )
    picture = Picture(
        media, path=path or (source if isinstance(source, str) else ""), decode_side=side
    )
    picture.pixels(side)
    return picture


def _load(
    path: str | MediaFailure, limits: MediaLimits, side: int | None
) -> Picture | MediaFailure:
    if isinstance(path, MediaFailure):
        return path  # the walk's record of an entry it could not read
    try:
        return load_picture(path, limits=limits, side=side)
    except MediaError as error:
        return MediaFailure(path, error)
