"""Identity: enrolled from obama.jpg, obama2.jpg and obama3.jpg, Obama's photos match and
Biden's do not, and the reverse; the registry keeps only embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from rempart.config import DEFAULT_MAX_DISTANCE
from rempart.detectors import Picture
from rempart.detectors.identity import IdentityDetector
from rempart.errors import PersonsError
from rempart.gallery import Gallery
from rempart.persons import ProtectedPersons
from rempart.store import Store
from rempart.text import PersonName

OBAMA = ("obama.jpg", "obama2.jpg", "obama3.jpg")
BIDEN = ("biden.jpg", "biden2.jpg")


@pytest.fixture(scope="module")
def identity() -> IdentityDetector:
    return IdentityDetector()


def enrolled(identity: IdentityDetector, pictures: list[Picture], name: str) -> Gallery:
    vectors = [faces[0].vector for faces in identity.embed(pictures)]
    return Gallery(names=[name] * len(vectors), vectors=np.stack(vectors))


@pytest.mark.parametrize(
    ("enrol", "person", "others"), [(OBAMA, "Obama", BIDEN), (BIDEN, "Biden", OBAMA)]
)
def test_enrolled_person_matches_and_the_other_does_not(
    identity: IdentityDetector,
    face_pictures: dict[str, Picture],
    enrol: tuple[str, ...],
    person: str,
    others: tuple[str, ...],
) -> None:
    gallery = enrolled(identity, [face_pictures[n] for n in enrol], person)
    detector = IdentityDetector(lambda: gallery, finder=identity.finder)
    test_names = [n for n in face_pictures if n not in enrol]
    results = dict(
        zip(test_names, detector.detect([face_pictures[n] for n in test_names]), strict=True)
    )
    for name in others:
        assert results[name] == [], name
    group = results["obama_and_biden.jpg"]
    assert [s.value for s in group] == [person]  # exactly one of the three faces
    (signal,) = group
    assert signal.evidence["distance"] < DEFAULT_MAX_DISTANCE
    assert 0.5 < signal.score <= 1.0
    for name in set(enrol) - {"obama_and_biden.jpg"}:
        own = detector.detect([face_pictures[name]])[0]
        assert [s.value for s in own] == [person]


def test_distances_separate_the_two_people(
    identity: IdentityDetector, face_pictures: dict[str, Picture]
) -> None:
    """The figures docs/detectors.md quotes: same person well under 0.6, different well over."""
    vectors = {
        name: faces[0].vector
        for name, faces in zip(
            face_pictures, identity.embed(list(face_pictures.values())), strict=True
        )
        if name != "obama_and_biden.jpg"
    }
    same = [np.linalg.norm(vectors[a] - vectors[b]) for a in OBAMA for b in OBAMA if a < b]
    same += [np.linalg.norm(vectors["biden.jpg"] - vectors["biden2.jpg"])]
    different = [np.linalg.norm(vectors[a] - vectors[b]) for a in OBAMA for b in BIDEN]
    assert max(same) < 0.5 < 0.75 < min(different)


def test_no_one_enrolled_means_no_identity_signal(
    identity: IdentityDetector, face_pictures: dict[str, Picture]
) -> None:
    assert identity.detect([face_pictures["obama.jpg"]]) == [[]]


def test_registry_keeps_embeddings_not_photos(
    store: Store, identity: IdentityDetector, face_pictures: dict[str, Picture]
) -> None:
    persons = ProtectedPersons(store)
    vectors = [faces[0].vector for faces in identity.embed([face_pictures[n] for n in OBAMA])]
    person = persons.enroll("  Barack Obama ", vectors)
    assert (person.name, person.embeddings) == ("Barack Obama", 3)
    assert persons.enroll("Barack Obama", vectors[:1]).embeddings == 4
    gallery = persons.gallery()
    assert list(gallery.names) == ["Barack Obama"] * 4
    np.testing.assert_array_equal(gallery.vectors[0], vectors[0])
    detector = IdentityDetector(persons.gallery, finder=identity.finder)
    (signal,) = detector.detect([face_pictures["obama_and_biden.jpg"]])[0]
    assert signal.value == "Barack Obama"
    assert [p.name for p in persons.list()] == ["Barack Obama"]
    assert persons.remove(" Barack Obama ").embeddings == 4  # the name as stored, cleaned
    assert persons.list() == []
    assert len(persons.gallery().names) == 0


@pytest.mark.parametrize(
    ("name", "vectors", "message"),
    [
        ("", [np.zeros(128, np.float32)], "cannot be empty"),
        ("a\u200bb", [np.zeros(128, np.float32)], "invisible"),
        ("x" * 201, [np.zeros(128, np.float32)], "at most 200"),
        ("Someone", [], "no face embeddings"),
        ("Someone", [np.zeros(64, np.float32)], "128 finite numbers"),
        ("Someone", [np.full(128, np.nan, np.float32)], "128 finite numbers"),
    ],
)
def test_bad_enrolments_change_nothing(
    store: Store, name: str, vectors: list[np.ndarray], message: str
) -> None:
    persons = ProtectedPersons(store)
    with pytest.raises(PersonsError, match=message):
        persons.enroll(name, vectors)
    assert persons.list() == []


def test_removing_an_unknown_person_is_an_error(store: Store) -> None:
    with pytest.raises(PersonsError, match="no protected person named 'Nobody'"):
        ProtectedPersons(store).remove("Nobody")


def test_registry_keeps_each_persons_other_names(store: Store) -> None:
    persons = ProtectedPersons(store)
    vector = np.zeros(128, np.float32)
    persons.enroll("Jane Example", [vector])
    assert persons.names() == [PersonName("Jane Example")]
    person = persons.rename("Jane Example", ["JX", " JX ", "Janie E"], ["Example"])
    assert (person.aliases, person.distinctive) == (("JX", "Janie E"), ("Example",))
    assert persons.names() == [PersonName("Jane Example", ("JX", "Janie E"), ("Example",))]
    assert persons.get("Jane Example").to_json()["aliases"] == ["JX", "Janie E"]
    assert persons.rename("Jane Example").names == PersonName("Jane Example")
    with pytest.raises(PersonsError, match="at most 50 aliases"):
        persons.rename("Jane Example", [f"Name {n}" for n in range(51)])
    with pytest.raises(PersonsError, match="invisible"):
        persons.rename("Jane Example", ["a\u200bb"])
    assert persons.names() == [PersonName("Jane Example")]  # a refused change changes nothing
    with pytest.raises(PersonsError, match="no protected person named 'Nobody'"):
        persons.rename("Nobody", ["N"])
