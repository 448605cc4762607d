"""Faces and apparent age on the shared photos of adults; the minor score with constructed age
distributions (never with images of children)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from rempart.detectors import Picture
from rempart.detectors.faces import AGE_CLASSES, FaceDetector, minor_probability
from tests.conftest import picture_of
from tests.images import skimage_rgb

EXPECTED_FACES = {
    "biden.jpg": 1,
    "biden2.jpg": 1,
    "obama.jpg": 1,
    "obama2.jpg": 1,
    "obama3.jpg": 1,
    "obama_and_biden.jpg": 3,  # the two men and a woman behind them
}


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector()


def test_faces_are_found_on_every_photo(
    faces: FaceDetector, face_pictures: dict[str, Picture]
) -> None:
    results = faces.detect(list(face_pictures.values()))
    for name, signals in zip(face_pictures, results, strict=True):
        detected = [s for s in signals if s.name == "face.detected"]
        assert len(detected) == EXPECTED_FACES[name], name
        assert all(s.score > 0.5 for s in detected)
        names = [s.name for s in signals]
        assert names.count("face.age") == names.count("face.minor") == len(detected)


def test_adults_are_not_minors(faces: FaceDetector, face_pictures: dict[str, Picture]) -> None:
    for signals in faces.detect(list(face_pictures.values())):
        for signal in signals:
            if signal.name == "face.age":
                assert isinstance(signal.value, float)
                assert signal.value > 20
            if signal.name == "face.minor":
                assert signal.score < 0.1


def test_no_face_where_there_is_none(faces: FaceDetector) -> None:
    pictures = [picture_of(skimage_rgb(name)) for name in ("coffee", "rocket", "coins")]
    assert faces.detect(pictures) == [[], [], []]


def one_hot(age: float) -> np.ndarray:
    probabilities = np.zeros(len(AGE_CLASSES), np.float32)
    probabilities[int(np.argmin(np.abs(AGE_CLASSES - age)))] = 1.0
    return probabilities


def test_minor_probability_is_high_for_children_and_low_for_adults() -> None:
    scores = minor_probability(np.stack([one_hot(a) for a in (8, 15, 18, 21, 30, 45)]))
    assert scores[0] == scores[1] == 1.0
    assert scores[2] == pytest.approx(0.5)
    assert 0.2 < scores[3] < 0.5  # the network says 21: still a score a policy can act on
    assert scores[4] < 0.05
    assert scores[5] < 1e-4
    assert list(scores) == sorted(scores, reverse=True)


def test_minor_probability_errs_toward_protection() -> None:
    """Mass just above 18 counts toward 'minor'; the model's own P(age < 18) would say 0."""
    spread = np.zeros(len(AGE_CLASSES), np.float32)
    spread[(AGE_CLASSES >= 19) & (AGE_CLASSES <= 23)] = 0.2
    assert spread[AGE_CLASSES < 18].sum() == 0
    assert minor_probability(spread[None, :])[0] > 0.25


def test_age_signals_from_constructed_network_output(
    faces: FaceDetector, face_pictures: dict[str, Picture]
) -> None:
    picture = face_pictures["obama.jpg"]
    with mock.patch.object(faces, "age_probabilities", return_value=one_hot(12)[None, :]):
        (signals,) = faces.detect([picture])
    minor = next(s for s in signals if s.name == "face.minor")
    assert minor.score == 1.0
    assert minor.value == 12.0
    assert minor.evidence["p_under_18_model"] == 1.0
    assert minor.region == next(s for s in signals if s.name == "face.detected").region
