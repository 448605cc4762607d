"""Enrolment from photos, for every interface: one face per photo, all photos or none.

Only the chosen face's embedding is kept; the photos are decoded, embedded and dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rempart.detectors.identity import IdentityDetector
from rempart.detectors.pipeline import load_picture
from rempart.errors import EnrolmentError, MediaError
from rempart.media import DEFAULT_LIMITS, MediaLimits
from rempart.persons.protected import Person, ProtectedPersons, chosen_faces, clean_name
from rempart.text.names import PersonName
from rempart.types import ImageInput

__all__ = ["Enrolled", "enrol_photos"]


@dataclass(frozen=True, slots=True)
class Enrolled:
    """A person as enrolled, and how many embeddings this enrolment added."""

    person: Person
    added: int

    def to_json(self) -> dict[str, Any]:
        """The person's record with ``added``."""
        return {**self.person.to_json(), "added": self.added}


def enrol_photos(
    persons: ProtectedPersons,
    name: str,
    photos: Sequence[ImageInput],
    *,
    labels: Sequence[str] | None = None,
    largest: bool = False,
    aliases: Sequence[str] = (),
    distinctive: Sequence[str] | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
    identity: IdentityDetector | None = None,
) -> Enrolled:
    """Enrol ``name`` from ``photos`` (paths or bytes; ``labels`` name them in problems).

    Raises ``EnrolmentError`` listing each photo that could not be read or has no single
    face (``largest`` takes the largest of several); nothing is enrolled then.
    """
    name = clean_name(name)
    identity = identity or IdentityDetector()
    labels = labels or [str(photo) if not isinstance(photo, bytes) else "" for photo in photos]
    pictures, problems = [], []
    for photo, label in zip(photos, labels, strict=True):
        source = photo if isinstance(photo, bytes) else str(photo)
        try:
            pictures.append(load_picture(source, limits=limits, side=identity.max_side, path=label))
        except MediaError as exc:
            problems.append(f"{label}: {exc.message}")
    vectors, unusable = chosen_faces(pictures, identity.embed(pictures), largest=largest)
    problems += unusable
    if problems:
        raise EnrolmentError(name, problems)
    named = aliases or distinctive is not None
    names = (
        PersonName(name, tuple(aliases), None if distinctive is None else tuple(distinctive))
        if named
        else None
    )
    return Enrolled(persons.enroll(name, vectors, names=names), len(vectors))
