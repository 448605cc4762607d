"""``Scanner``: hash, detect and judge images, one decode each.

Each file is read and decoded once; the hash, every detector and the thumbnail of a flagged
item all read that decode. Detectors get batches, and run side by side while the next batch
is decoded. The policy turns each image's signals into a ``Verdict``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from rempart.detectors.banks import BankDetector, picture_hashes
from rempart.detectors.base import Detector, Picture
from rempart.detectors.pipeline import (
    DEFAULT_BATCH_SIZE,
    decode_side,
    detect_pictures,
    load_picture,
    run_detectors,
)
from rempart.hashing import FileHashes
from rempart.media import DEFAULT_LIMITS, MediaFailure, MediaLimits
from rempart.pixelate import mosaic
from rempart.policy import Action, Policy, Verdict
from rempart.signals import Signal

if TYPE_CHECKING:
    from rempart.banks import BankMatcher

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
        self.detectors: list[Detector] = [BankDetector(matcher), *detectors]
        self.policy = policy
        self.thumbnails = thumbnails
        self.limits = limits
        self.batch_size = batch_size

    def scan(self, paths: Iterable[str], *, jobs: int = 1) -> Iterator[ScanResult | MediaFailure]:
        """Each file's result, or why it could not be read, in the order of ``paths``."""
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
            hashes=picture_hashes(picture),
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
