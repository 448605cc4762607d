"""Identity: dlib's face-recognition ResNet (``face_recognition_models``, CC0) embeds each face
in 128 dimensions; a face matches a protected person when its Euclidean distance to one of
their enrolled embeddings is at most the threshold.

The threshold is dlib's own, 0.6, at which its model scores 99.38% on the LFW benchmark; the
distances measured on the shared test photos (docs/detectors.md) are 0.31-0.44 for the same
person and 0.80-0.88 for different people. Faces come from ``FaceFinder`` (shared with the faces
detector), aligned into 150 x 150 chips with padding 0.25 as the model was trained.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from rempart.config import DEFAULT_MAX_DISTANCE
from rempart.detectors.faces import Face, FaceFinder, face_finder
from rempart.detectors.picture import Picture
from rempart.errors import import_extra
from rempart.gallery import EMBEDDING_MODEL, Gallery, GalleryMatch
from rempart.signals import Signal

__all__ = ["FaceEmbedding", "IdentityDetector"]

_CHIP_SIZE: Final = 150
_CHIP_PADDING: Final = 0.25
_NAME: Final = "identity"
_MODEL_LOCK: Final = threading.Lock()
_EXTRA: Final = "faces"


@dataclass(frozen=True, slots=True)
class FaceEmbedding:
    """A face and its 128-dimensional embedding."""

    face: Face
    vector: NDArray[np.float32]


class IdentityDetector:
    """``identity.match`` for every face close to a protected person's enrolled embeddings."""

    name = _NAME

    def __init__(
        self,
        gallery: Callable[[], Gallery] = Gallery,
        *,
        max_distance: float = DEFAULT_MAX_DISTANCE,
        finder: FaceFinder | None = None,
    ) -> None:
        self.finder = finder or face_finder()
        self.max_distance = max_distance
        self._gallery_source = gallery

    @property
    def version(self) -> str:
        """The face finder and the embedding network."""
        return f"{self.finder.version}+{EMBEDDING_MODEL}"

    @property
    def max_side(self) -> int:
        """The finder's: faces are searched in the shared decode."""
        return self.finder.max_side

    @property
    def gallery(self) -> Gallery:
        """The enrolled embeddings, as the gallery source gives them now (a long-running
        process's source follows the database; a command's reads it once)."""
        return self._gallery_source()

    def embed(self, pictures: Sequence[Picture]) -> list[list[FaceEmbedding]]:
        """Every face of every picture with its embedding, computed once per picture (kept in
        ``Picture.shared``, so a second gallery costs no second model call)."""
        return [
            picture.shared(
                f"face_embeddings:{self.finder.version}", functools.partial(self._embed, picture)
            )
            for picture in pictures
        ]

    def match(
        self, pictures: Sequence[Picture], gallery: Gallery | None = None
    ) -> list[list[tuple[Face, list[GalleryMatch]]]]:
        """Each face of each picture with the persons of ``gallery`` (by default the
        protected persons) it matches."""
        gallery = self.gallery if gallery is None else gallery
        return [
            [(e.face, gallery.match(e.vector, self.max_distance)) for e in embeddings]
            for embeddings in self.embed(pictures)
        ]

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """One ``identity.match`` signal per face and protected person matched (none when no
        one is enrolled)."""
        gallery = self.gallery
        if not len(gallery.names):
            return [[] for _ in pictures]
        return self.detect_in(gallery, pictures)

    def detect_in(self, gallery: Gallery, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """One ``identity.match`` signal per face and person of ``gallery`` matched, its value
        the person's name. Score 1 at distance 0, 0.5 at the threshold."""
        return [
            [
                Signal(
                    "identity.match",
                    max(0.0, 1.0 - found.distance / (2 * self.max_distance)),
                    _NAME,
                    self.version,
                    value=found.name,
                    region=face.box,
                    evidence={
                        "distance": round(found.distance, 4),
                        "max_distance": self.max_distance,
                    },
                )
                for face, matches in faces
                for found in matches
            ]
            for picture, faces in zip(pictures, self.match(pictures, gallery), strict=True)
        ]

    def _embed(self, picture: Picture) -> list[FaceEmbedding]:
        (faces,) = self.finder.per_face(
            [picture], _embeddings, size=_CHIP_SIZE, padding=_CHIP_PADDING
        )
        return [FaceEmbedding(face, vector) for face, vector in faces]


def _embeddings(chips: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
    with _MODEL_LOCK:  # dlib's network is not safe to run from two threads at once
        return np.asarray(_recognition_model().compute_face_descriptor(chips), dtype=np.float32)


@functools.cache
def _recognition_model() -> Any:
    dlib = import_extra("dlib", extra=_EXTRA, detector=_NAME)
    models = import_extra("face_recognition_models", extra=_EXTRA, detector=_NAME)
    return dlib.face_recognition_model_v1(models.face_recognition_model_location())
