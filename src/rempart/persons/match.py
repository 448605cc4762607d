"""Checking photos against the protected persons: each face found, with the persons it is
close to. What ``rempart persons match`` prints, and what any other interface would."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rempart.detectors.identity import IdentityDetector
from rempart.detectors.picture import Picture
from rempart.detectors.pipeline import load_batches
from rempart.gallery import GalleryMatch
from rempart.media import DEFAULT_LIMITS, MediaFailure, MediaLimits
from rempart.signals import Region

__all__ = ["FaceMatches", "PhotoMatches", "match_photos"]


@dataclass(frozen=True, slots=True)
class FaceMatches:
    """A face (its box in the photo's own pixels) and the persons it matches, nearest first."""

    box: Region
    matches: list[GalleryMatch]

    def to_json(self) -> dict[str, Any]:
        """``{"box": [x, y, width, height], "matches": [{"name", "distance"}]}``."""
        return {"box": self.box.to_json(), "matches": [m.to_json() for m in self.matches]}


@dataclass(frozen=True, slots=True)
class PhotoMatches:
    """One photo's faces and their matches."""

    path: str
    faces: list[FaceMatches]

    def to_json(self) -> dict[str, Any]:
        """``{"path", "faces": [...]}``."""
        return {"path": self.path, "faces": [face.to_json() for face in self.faces]}


def match_photos(
    paths: Iterable[str | MediaFailure],
    identity: IdentityDetector,
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
    jobs: int = 1,
) -> Iterator[PhotoMatches | MediaFailure]:
    """Each photo's faces matched against ``identity``'s gallery, or why the photo could not
    be read, in the order of ``paths``; photos are decoded on ``jobs`` threads, in batches."""
    for batch in load_batches(paths, limits=limits, jobs=jobs, decode_side=identity.max_side):
        pictures = [item for item in batch if isinstance(item, Picture)]
        matched = iter(identity.match(pictures))
        for item in batch:
            if isinstance(item, MediaFailure):
                yield item
                continue
            faces = [FaceMatches(face.box, matches) for face, matches in next(matched)]
            yield PhotoMatches(item.path, faces)
