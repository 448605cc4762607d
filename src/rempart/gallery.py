"""Face embeddings of protected persons, as the identity detector compares them: a ``Gallery``.

Below both the persons registry (which stores embeddings) and the identity detector (which
matches faces against them), so that each imports it downward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["EMBEDDING_MODEL", "EMBEDDING_SIZE", "Gallery", "GalleryMatch"]

EMBEDDING_MODEL: Final = "dlib-resnet-v1"
"""Stored beside every enrolled embedding: embeddings of another model never compare."""
EMBEDDING_SIZE: Final = 128


@dataclass(frozen=True, slots=True)
class GalleryMatch:
    """A protected person a face is close to, and how close (Euclidean distance)."""

    name: str
    distance: float

    def to_json(self) -> dict[str, Any]:
        """``{"name", "distance"}``."""
        return {"name": self.name, "distance": round(self.distance, 4)}


@dataclass(frozen=True)
class Gallery:
    """Enrolled embeddings: row ``i`` of ``vectors`` belongs to ``names[i]``."""

    names: Sequence[str] = ()
    vectors: NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, EMBEDDING_SIZE), np.float32)
    )

    def match(self, vector: NDArray[np.float32], max_distance: float) -> list[GalleryMatch]:
        """Each person with an embedding within ``max_distance``, at their nearest, nearest
        first."""
        if not len(self.names):
            return []
        distances = np.linalg.norm(self.vectors - vector, axis=1)
        nearest: dict[str, float] = {}
        for name, distance in zip(self.names, distances.tolist(), strict=True):
            if distance <= max_distance and distance < nearest.get(name, np.inf):
                nearest[name] = distance
        return sorted(
            (GalleryMatch(name, dist) for name, dist in nearest.items()), key=lambda m: m.distance
        )
