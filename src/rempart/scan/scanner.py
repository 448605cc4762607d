"""``Scanner``: hash, detect and judge images and videos, one decode each.

Each file is read and decoded once; the hash, every detector and the thumbnail of a flagged
item all read that decode. Detectors get batches, and run side by side while the next batch
is decoded. The policy turns each image's signals into a ``Verdict``. A video (told from an
image by its first bytes) is judged from its sampled frames' signals merged, each naming the
timestamps of the frames that gave it (``detectors.frames``); its thumbnail is a strip of
mosaics of the frames behind its verdict, and of no other.
"""

from __future__ import annotations

import io
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import groupby
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from rempart.config import Settings, load_settings
from rempart.detectors.banks import BankDetector
from rempart.detectors.builtin import default_registry
from rempart.detectors.frames import (
    FRAME_EVERY,
    VideoSignals,
    detect_video,
    load_video,
)
from rempart.detectors.picture import RGB, Picture
from rempart.detectors.pipeline import (
    DEFAULT_BATCH_SIZE,
    decode_side,
    detect_pictures,
    load_picture,
    run_detectors,
)
from rempart.detectors.protocol import Detector
from rempart.detectors.registry import DetectorRegistry
from rempart.errors import MediaError
from rempart.hashing import FileHashes, file_digests
from rempart.media import DEFAULT_LIMITS, MediaFailure, MediaLimits
from rempart.policy import Action, Policy, Verdict, load_policy
from rempart.scan.pixelate import mosaic
from rempart.signals import Signal
from rempart.video import DEFAULT_LIMITS as DEFAULT_VIDEO_LIMITS
from rempart.video import VideoLimits
from rempart.walk import WalkItem, looks_like_video, starts_as_video

if TYPE_CHECKING:
    from rempart.matching.banks import BankMatcher

__all__ = ["STRIP_FRAMES", "THUMBNAIL_CELLS", "ScanResult", "Scanner", "VideoResult"]

THUMBNAIL_CELLS: Final = 12
"""A flagged item's thumbnail is a mosaic this many cells along its long side, and nothing
finer: the report scales it up, so no detail of the image ever reaches it."""

STRIP_FRAMES: Final = 8
"""Most frames in a flagged video's strip: spread over its flagged frames when it has more."""

_STRIP_GAP: Final = 1  # pixels between two frames' mosaics in a strip


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One image's hashes, signals and verdict; ``thumbnail``, a pixelated PNG, only for a
    flagged image when the scanner was asked for thumbnails."""

    path: str
    hashes: FileHashes
    width: int
    height: int
    signals: list[Signal]
    verdict: Verdict
    thumbnail: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "sha256", "md5", "pdq", "quality", "width", "height", "verdict",
        "signals"}``."""
        return {
            "path": self.path,
            "sha256": self.hashes.sha256,
            "md5": self.hashes.md5,
            "pdq": self.hashes.pdq,
            "quality": self.hashes.quality,
            "width": self.width,
            "height": self.height,
            "verdict": self.verdict.to_json(),
            "signals": [signal.to_json() for signal in self.signals],
        }


@dataclass(frozen=True, slots=True)
class VideoResult:
    """One video's digests, its frames' signals merged (each naming its timestamps), and
    verdict; ``thumbnail``, a PNG strip of mosaics of the frames behind a flagged verdict,
    only when the scanner was asked for thumbnails."""

    path: str
    sha256: str
    md5: str
    found: VideoSignals
    verdict: Verdict
    thumbnail: bytes | None = None

    @property
    def signals(self) -> list[Signal]:
        """The video's signals: its frames' merged, then its container's."""
        return self.found.signals

    def to_json(self) -> dict[str, Any]:
        """``{"path", "kind": "video", "sha256", "md5", "width", "height", "duration",
        "frames", "flagged_at", "verdict", "signals"}``: ``frames`` how many were sampled,
        ``flagged_at`` the seconds of the frames behind the verdict."""
        record = self.found.to_json()
        signals = record.pop("signals")
        return {
            "path": record.pop("path"),
            "kind": record.pop("kind"),
            "sha256": self.sha256,
            "md5": self.md5,
            **record,
            "flagged_at": _flagged_times(self.verdict),
            "verdict": self.verdict.to_json(),
            "signals": signals,
        }


class Scanner:
    """Scans files with ``detectors`` and bank matching, and judges them by ``policy``."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        policy: Policy,
        *,
        matcher: BankMatcher | None = None,
        thumbnails: bool = False,
        limits: MediaLimits = DEFAULT_LIMITS,
        video_limits: VideoLimits = DEFAULT_VIDEO_LIMITS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        every: float = FRAME_EVERY,
    ) -> None:
        # One bank detector, the one that matches with ``matcher``: on a video's frames, it
        # finds a banked image in any of them (vPDQ's video matching is the matcher's own).
        others = [detector for detector in detectors if detector.name != BankDetector.name]
        self._bank_detector = BankDetector(matcher)
        self.detectors: list[Detector] = [self._bank_detector, *others]
        self.matcher = matcher
        self.policy = policy
        self.thumbnails = thumbnails
        self.limits = limits
        self.video_limits = video_limits
        self.batch_size = batch_size
        self.every = every

    @classmethod
    def from_registry(
        cls,
        registry: DetectorRegistry,
        policy: Policy,
        *,
        names: Sequence[str] | None = None,
        leave_out: Collection[str] = (),
        **options: Any,
    ) -> Scanner:
        """A scanner with the detectors ``names`` (by default every one installed, less
        ``leave_out``) from ``registry``; ``options`` as ``Scanner`` takes them."""
        chosen = registry.installed(leave_out=leave_out) if names is None else names
        return cls(registry.create_all(chosen), policy, **options)

    @classmethod
    def default(
        cls,
        settings: Settings | None = None,
        *,
        policy: Policy | str = "default",
        matcher: BankMatcher | None = None,
        **options: Any,
    ) -> Scanner:
        """Every detector installed (built-in and plugins) but identity, under ``policy`` (a
        built-in name, a YAML file or a ``Policy``), with ``settings``' media and video
        limits; ``matcher`` (``BankMatcher(store)``) adds bank matches."""
        settings = settings or load_settings(os.environ)
        return cls.from_registry(
            default_registry(settings),
            policy if isinstance(policy, Policy) else load_policy(policy),
            leave_out=("identity",),
            matcher=matcher,
            limits=settings.media,
            video_limits=settings.video,
            **options,
        )

    @property
    def max_bytes(self) -> int:
        """The largest file this scanner may read, image or video: what a copy of a remote
        file is cut at (the scanner then refuses one over its own kind's limit)."""
        return max(self.limits.max_bytes, self.video_limits.max_bytes)

    def scan(
        self, paths: Iterable[WalkItem], *, jobs: int = 1
    ) -> Iterator[ScanResult | VideoResult | MediaFailure]:
        """Each file's result, or why it could not be read, in the order of ``paths`` (a
        ``MediaFailure`` there, an entry a folder walk could not read, is passed on). Runs of
        images are decoded ``jobs`` at a time; a video's frames are batched on their own."""
        for is_video, run in groupby(paths, key=starts_as_video):
            if is_video:
                for path in run:
                    assert isinstance(path, str)  # a path, never a failure
                    yield self.scan_video(path)
            else:
                yield from self._scan_images(run, jobs)

    def _scan_images(
        self, paths: Iterable[WalkItem], jobs: int
    ) -> Iterator[ScanResult | MediaFailure]:
        found = detect_pictures(
            paths, self.detectors, limits=self.limits, jobs=jobs, batch_size=self.batch_size
        )
        for item in found:
            if isinstance(item, MediaFailure):
                yield item
            else:
                yield self._judge(*item)

    def scan_video(
        self, source: str | bytes, *, name: str = "", batch_size: int | None = None
    ) -> VideoResult | MediaFailure:
        """One video, a file (by path) or bytes (``name`` then names it): its result, or why
        it could not be read. ``batch_size``: frames per detector call (by default the
        scanner's); the frames held at once are two batches, one detected, one decoding."""
        path = name or (source if isinstance(source, str) else "")
        try:
            video = load_video(source, limits=self.video_limits)
            found = detect_video(
                video,
                self.detectors,
                path=path,
                every=self.every,
                batch_size=batch_size or self.batch_size,
                keep=_frame_mosaic if self.thumbnails else None,
            )
            sha256, md5 = file_digests(video.source)
        except MediaError as error:
            return MediaFailure(path, error)
        # The file's exact digests are the video's own signals: no frame has them.
        exact = self._bank_detector.detect_digests(md5, sha256)
        if exact:
            found = replace(found, signals=[*found.signals, *exact])
        verdict = self.policy.decide(found.signals)
        strip = None
        if self.thumbnails and verdict.action is not Action.ALLOW:
            times = set(_flagged_times(verdict))
            strip = _strip([f.kept for f in found.frames if round(f.timestamp, 3) in times])
        return VideoResult(path, sha256, md5, found, verdict, strip)

    def scan_bytes(self, data: bytes, *, name: str = "") -> ScanResult | VideoResult:
        """One image or video given as bytes (an upload; a video told by its first bytes);
        ``MediaError`` when it cannot be read. A video is screened a frame at a time: it then
        holds no more pixels than its decode's frames, what a server's budget charges for it."""
        if looks_like_video(data[:16]):
            result = self.scan_video(data, name=name, batch_size=1)
            if isinstance(result, MediaFailure):
                raise result.error
            return result
        picture = load_picture(
            data, limits=self.limits, side=decode_side(self.detectors), path=name
        )
        with ThreadPoolExecutor(max_workers=len(self.detectors)) as pool:
            (signals,) = run_detectors(self.detectors, [picture], pool)
        return self._judge(picture, signals)

    def _judge(self, picture: Picture, signals: list[Signal]) -> ScanResult:
        verdict = self.policy.decide(signals)
        flagged = verdict.action is not Action.ALLOW
        return ScanResult(
            path=picture.path,
            hashes=picture.hashes(),
            width=picture.media.width,
            height=picture.media.height,
            signals=signals,
            verdict=verdict,
            thumbnail=_mosaic_png(picture) if flagged and self.thumbnails else None,
        )


def _mosaic_png(picture: Picture) -> bytes:
    """The picture as a PNG mosaic of ``THUMBNAIL_CELLS`` cells on its long side."""
    return _png(_frame_mosaic(picture.pixels(picture.decode_side)))


def _frame_mosaic(pixels: RGB) -> Image.Image:
    """Pixels as a mosaic of ``THUMBNAIL_CELLS`` cells on their long side: all a report
    ever holds of a frame or an image."""
    return mosaic(Image.fromarray(pixels), cells=THUMBNAIL_CELLS)


def _strip(mosaics: Sequence[Image.Image]) -> bytes | None:
    """Frames' mosaics side by side as one PNG, at most ``STRIP_FRAMES`` of them spread
    over all (None when there is none)."""
    if not mosaics:
        return None
    step = max(1, -(-len(mosaics) // STRIP_FRAMES))
    chosen = list(mosaics[::step])[:STRIP_FRAMES]
    width = sum(image.width for image in chosen) + _STRIP_GAP * (len(chosen) - 1)
    height = max(image.height for image in chosen)
    strip = Image.new("RGB", (width, height), "white")
    left = 0
    for image in chosen:
        strip.paste(image.convert("RGB"), (left, 0))
        left += image.width + _STRIP_GAP
    return _png(strip)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _flagged_times(verdict: Verdict) -> list[float]:
    """The seconds of a video's frames behind ``verdict``: every timestamp its reasons'
    signals name (none for an allowed video, or one flagged by its container alone)."""
    times = {
        float(at)
        for reason in verdict.reasons
        for signal in reason.signals
        for at in signal.evidence.get("timestamps", ())
    }
    return sorted(times)
