"""Detectors on video: sampled frames through every detector in batches, and the frames'
signals merged into the video's, each naming the timestamps of the frames where it fired.

A video is screened as its sampled frames (one a second by default, ``Video.frames``) decoded
at the size the detectors read (``decode_side``), each frame a ``Picture`` every detector reads
as it reads an image. A detector that reads no shared pixels (``max_side`` 0: it reads a
file's bytes) is given the video's container instead, when it can read one
(``ContainerDetector``: provenance reads the container's metadata tags and C2PA manifest).
The video's signals are its frames' merged per detector, name and (text) value: the strongest
frame's signal, its score and region, with ``evidence["timestamps"]``, the seconds of every
frame that gave it, and ``evidence["strongest_at"]``; a policy judges them as one input's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Any, Final, Protocol, runtime_checkable

from rempart.detectors.picture import RGB, Picture
from rempart.detectors.pipeline import (
    DEFAULT_BATCH_SIZE,
    PictureSignals,
    decode_side,
    detect_paths,
    run_detectors,
)
from rempart.detectors.protocol import Detector
from rempart.errors import MediaError, MediaErrorCode
from rempart.hashing import DIHEDRAL_NAMES
from rempart.hashing.vpdq import VpdqFeature
from rempart.media import DEFAULT_LIMITS as MEDIA_LIMITS
from rempart.media import Media, MediaFailure, MediaLimits, Metadata
from rempart.signals import Signal
from rempart.video import DEFAULT_LIMITS, Video, VideoFrame, VideoLimits, load_bytes, load_file
from rempart.walk import WalkItem, starts_as_video
from rempart.workers import batched

__all__ = [
    "FRAME_EVERY",
    "ContainerDetector",
    "FrameSignals",
    "FramesDetector",
    "VideoSignals",
    "detect_media_paths",
    "detect_video",
    "detect_video_paths",
    "frame_detectors",
    "load_video",
    "merge_frames",
]

FRAME_EVERY: Final = 1.0
"""Seconds between sampled frames: what a video is screened at by default (issue 23)."""


@runtime_checkable
class ContainerDetector(Protocol):
    """A detector that reads a video's container as well as an image's file (provenance):
    ``detect_video`` gives the video's signals from its container, never its frames'."""

    @property
    def name(self) -> str: ...

    def detect_video(self, video: Video) -> list[Signal]:
        """Signals from the container: its metadata tags, a C2PA manifest."""
        ...


@runtime_checkable
class FramesDetector(Protocol):
    """A frame detector that also judges the video as a whole from its sampled frames' PDQ
    hashes (the bank detector: a banked video matches by vPDQ's shares of frames, which no
    single frame's signals can say)."""

    @property
    def name(self) -> str: ...

    def detect_frames(
        self, features: Sequence[VpdqFeature], mirrored: Sequence[VpdqFeature]
    ) -> list[Signal]:
        """Signals from the frames' vPDQ ``features``, and those of the frames ``mirrored``
        left to right."""
        ...


# The frame mirrored left to right among a picture's rotations and flips (``Picture.hashes``).
_MIRROR: Final = DIHEDRAL_NAMES.index("flipy")


@dataclass(frozen=True, slots=True)
class FrameSignals:
    """One sampled frame's signals: its index among the decoded frames, its time in
    seconds, and what ``keep`` (``detect_video``) made of its pixels (a mosaic, say)."""

    index: int
    timestamp: float
    signals: list[Signal]
    kept: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class VideoSignals:
    """What the detectors saw in a video: every sampled frame's signals, and the video's
    (the frames' merged, then the container's)."""

    path: str
    video: Video
    frames: list[FrameSignals]
    signals: list[Signal]

    def to_json(self) -> dict[str, Any]:
        """``{"path", "kind": "video", "width", "height", "duration", "frames", "signals"}``
        (``frames``: how many were sampled)."""
        return {
            "path": self.path,
            "kind": "video",
            "width": self.video.width,
            "height": self.video.height,
            "duration": round(self.video.duration, 3),
            "frames": len(self.frames),
            "signals": [signal.to_json() for signal in self.signals],
        }


def frame_detectors(detectors: Sequence[Detector]) -> list[Detector]:
    """The detectors that read a frame's pixels: all but those of ``max_side`` 0, which read
    a file's bytes and so have no frame to read."""
    return [detector for detector in detectors if getattr(detector, "max_side", None) != 0]


def detect_video(
    video: Video,
    detectors: Sequence[Detector],
    *,
    path: str = "",
    every: float = FRAME_EVERY,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pool: Executor | None = None,
    keep: Callable[[RGB], Any] | None = None,
) -> VideoSignals:
    """Screen ``video``: a frame every ``every`` seconds through the frame detectors, in
        batches of ``batch_size`` (the detectors side by side on ``pool``, while the next batch
        decodes), the container through the ``ContainerDetector``s. ``keep``: called on each
        sampled frame's pixels; what it returns is kept in its ``FrameSignals`` (the pixels
        themselves are not kept). Raises ``MediaError`` when the video cannot be decoded, or gives
    no frame at all."""
    on_frames = frame_detectors(detectors)
    on_video = [d for d in on_frames if isinstance(d, FramesDetector)]
    side = decode_side(on_frames)
    frames: list[FrameSignals] = []
    features: list[tuple[VpdqFeature, VpdqFeature]] = []
    with _pool(pool, len(on_frames)) as workers:
        sampled = video.frames(every=every, max_side=side)
        for batch in _ahead(batched(sampled, batch_size)):
            pictures = [_picture(frame, video, path, side) for frame in batch]
            found = run_detectors(on_frames, pictures, workers)
            if on_video:  # the hashes the bank detector made of each frame, read again
                features += map(_features, batch, pictures)
            frames += [
                FrameSignals(
                    frame.index,
                    frame.timestamp,
                    signals,
                    keep(frame.pixels) if keep is not None else None,
                )
                for frame, signals in zip(batch, found, strict=True)
            ]
    if not frames:  # nothing seen is nothing judged: never an allow by default
        raise MediaError(MediaErrorCode.CORRUPT, "the video stream gave no frame to screen")
    container = [
        signal
        for detector in detectors
        if getattr(detector, "max_side", None) == 0 and isinstance(detector, ContainerDetector)
        for signal in detector.detect_video(video)
    ]
    plain, mirrored = [f for f, _ in features], [m for _, m in features]
    whole = [signal for detector in on_video for signal in detector.detect_frames(plain, mirrored)]
    return VideoSignals(path, video, frames, [*merge_frames(frames), *whole, *container])


def _features(frame: VideoFrame, picture: Picture) -> tuple[VpdqFeature, VpdqFeature]:
    """A sampled frame's vPDQ feature, and its mirror's, from the picture's PDQ hashes."""
    hashes = picture.hashes()
    mirror = hashes.dihedral[_MIRROR] if hashes.dihedral else hashes.pdq
    return (
        VpdqFeature(hashes.pdq, hashes.quality, frame.index, frame.timestamp),
        VpdqFeature(mirror, hashes.quality, frame.index, frame.timestamp),
    )


def merge_frames(frames: Iterable[FrameSignals]) -> list[Signal]:
    """The frames' signals as the video's: one per detector, name and value (a text or
    yes/no value tells two signals apart, a bank's or a person's name; a number, such as an
    age, does not), the strongest frame's, naming every frame's timestamp in its evidence."""
    strongest: dict[tuple[str, str, object], tuple[Signal, float]] = {}
    times: dict[tuple[str, str, object], list[float]] = {}
    for frame in frames:
        for signal in frame.signals:
            value = signal.value if isinstance(signal.value, str | bool) else None
            key = (signal.detector, signal.name, value)
            at = times.setdefault(key, [])
            if not at or at[-1] != frame.timestamp:  # a frame's several faces: one time
                at.append(frame.timestamp)
            if key not in strongest or signal.score > strongest[key][0].score:
                strongest[key] = (signal, frame.timestamp)
    return [
        replace(
            signal,
            evidence={
                **signal.evidence,
                "timestamps": [round(t, 3) for t in times[key]],
                "strongest_at": round(at, 3),
            },
        )
        for key, (signal, at) in strongest.items()
    ]


def detect_video_paths(
    paths: Iterable[str],
    detectors: Sequence[Detector],
    *,
    limits: VideoLimits = DEFAULT_LIMITS,
    every: float = FRAME_EVERY,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[VideoSignals | MediaFailure]:
    """Each video's signals, or why it could not be read, in order; one pool serves all."""
    with ThreadPoolExecutor(max_workers=max(len(detectors), 1)) as pool:
        for path in paths:
            try:
                video = load_video(path, limits=limits)
                yield detect_video(
                    video, detectors, path=path, every=every, batch_size=batch_size, pool=pool
                )
            except MediaError as error:
                yield MediaFailure(path, error)


def detect_media_paths(
    paths: Iterable[WalkItem],
    detectors: Sequence[Detector],
    *,
    limits: MediaLimits = MEDIA_LIMITS,
    video_limits: VideoLimits = DEFAULT_LIMITS,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[PictureSignals | VideoSignals | MediaFailure]:
    """Each image's or video's signals (a video told by its first bytes), or why it could
    not be read, in order: runs of images decoded ``jobs`` at a time, each video alone."""
    for is_video, run in groupby(paths, key=starts_as_video):
        if is_video:
            named = [path for path in run if isinstance(path, str)]
            yield from detect_video_paths(
                named, detectors, limits=video_limits, batch_size=batch_size
            )
        else:
            yield from detect_paths(run, detectors, limits=limits, jobs=jobs, batch_size=batch_size)


def load_video(source: str | bytes, *, limits: VideoLimits = DEFAULT_LIMITS) -> Video:
    """A video file (by path) or bytes, probed within ``limits``."""
    if isinstance(source, bytes):
        return load_bytes(source, limits=limits)
    return load_file(source, limits=limits)


def _picture(frame: VideoFrame, video: Video, path: str, side: int | None) -> Picture:
    """A sampled frame as a ``Picture``: its pixels the one decode, its size the video's,
    so that regions are in the video's own pixels."""
    media = Media(b"", video.format, video.width, video.height, 1, 1, Metadata())
    return Picture(media, path=path, decode_side=side, decoded=frame.pixels)


@contextmanager
def _pool(pool: Executor | None, workers: int) -> Iterator[Executor]:
    """``pool``, or one of ``workers`` threads made (and shut down) for this video alone."""
    if pool is not None:
        yield pool
        return
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as made:
        yield made


def _ahead(batches: Iterator[list[VideoFrame]]) -> Iterator[list[VideoFrame]]:
    """The batches, the next one decoded on a thread of its own while the caller works on
    the one given (FFmpeg releases the GIL while it decodes). A decoding error is raised
    where its batch is taken; the decode in flight is waited for before leaving, so that
    the container is never closed under it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rempart-video") as decoder:
        following = decoder.submit(next, batches, None)
        try:
            while (batch := following.result()) is not None:
                following = decoder.submit(next, batches, None)
                yield batch
        finally:
            wait([following])
