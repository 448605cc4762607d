"""``Scanner``: hash, detect and judge images, one decode each.

Each file is read and decoded once; the hash, every detector and the thumbnail of a flagged
item all read that decode. Detectors get batches, and run side by side while the next batch
is decoded. The policy turns each image's signals into a ``Verdict``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from rempart.config import Settings, load_settings
from rempart.detectors.banks import BankDetector
from rempart.detectors.builtin import default_registry
from rempart.detectors.picture import Picture
from rempart.detectors.pipeline import (
    DEFAULT_BATCH_SIZE,
    decode_side,
    detect_pictures,
    load_picture,
    run_detectors,
)
from rempart.detectors.protocol import Detector
from rempart.detectors.registry import DetectorRegistry
from rempart.hashing import FileHashes
from rempart.media import DEFAULT_LIMITS, MediaFailure, MediaLimits
from rempart.policy import Action, Policy, Verdict, load_policy
from rempart.scan.pixelate import mosaic
from rempart.signals import Signal

if TYPE_CHECKING:
    from rempart.matching.banks import BankMatcher

__all__ = ["THUMBNAIL_CELLS", "ScanResult", "Scanner"]

THUMBNAIL_CELLS: Final = 12
"""A flagged item's thumbnail is a mosaic this many cells along its long side, and nothing
finer: the report scales it up, so no detail of the image ever reaches it."""


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
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        # One bank detector, the one that matches with ``matcher``.
        others = [detector for detector in detectors if detector.name != BankDetector.name]
        self.detectors: list[Detector] = [BankDetector(matcher), *others]
        self.matcher = matcher
        self.policy = policy
        self.thumbnails = thumbnails
        self.limits = limits
        self.batch_size = batch_size

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
        built-in name, a YAML file or a ``Policy``), with ``settings``' media limits;
        ``matcher`` (``BankMatcher(store)``) adds bank matches."""
        settings = settings or load_settings(os.environ)
        return cls.from_registry(
            default_registry(settings),
            policy if isinstance(policy, Policy) else load_policy(policy),
            leave_out=("identity",),
            matcher=matcher,
            limits=settings.media,
            **options,
        )

    def scan(
        self, paths: Iterable[str | MediaFailure], *, jobs: int = 1
    ) -> Iterator[ScanResult | MediaFailure]:
        """Each file's result, or why it could not be read, in the order of ``paths`` (a
        ``MediaFailure`` there, an entry a folder walk could not read, is passed on)."""
        found = detect_pictures(
            paths, self.detectors, limits=self.limits, jobs=jobs, batch_size=self.batch_size
        )
        for item in found:
            if isinstance(item, MediaFailure):
                yield item
            else:
                yield self._judge(*item)

    def scan_bytes(self, data: bytes, *, name: str = "") -> ScanResult:
        """One image given as bytes (an upload); ``MediaError`` when it cannot be read."""
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
    image = mosaic(Image.fromarray(picture.pixels(picture.decode_side)), cells=THUMBNAIL_CELLS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
