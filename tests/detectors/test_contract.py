"""The contract every registered detector keeps, checked on each built-in one with its real
model: one signal list per picture in order, valid signals named for the detector, empty
batches, regions inside the image, and determinism."""

from __future__ import annotations

import pytest

from rempart.detectors import (
    BUILTIN_DETECTORS,
    Detector,
    DetectorRegistry,
    FakeDetector,
    Picture,
    default_registry,
)
from rempart.errors import DetectorError, MissingExtraError
from rempart.signals import Signal

REGISTRY = default_registry()


@pytest.fixture(scope="module", params=REGISTRY.names)
def detector(request: pytest.FixtureRequest) -> Detector:
    return REGISTRY.create(request.param)


def test_is_a_detector(detector: Detector) -> None:
    assert isinstance(detector, Detector)
    assert detector.name in REGISTRY.names
    assert detector.version


def test_one_result_per_picture_in_order(
    detector: Detector, face_pictures: dict[str, Picture]
) -> None:
    pictures = list(face_pictures.values())
    batched = detector.detect(pictures)
    assert len(batched) == len(pictures)
    one_by_one = [detector.detect([picture])[0] for picture in pictures]
    assert [[s.name for s in found] for found in batched] == [
        [s.name for s in found] for found in one_by_one
    ]
    for picture, found in zip(pictures, batched, strict=True):
        for signal in found:
            assert isinstance(signal, Signal)
            assert signal.detector == detector.name
            assert signal.version == detector.version
            if signal.region is not None:
                box = signal.region
                assert box.x >= 0
                assert box.x + box.width <= picture.media.width
                assert box.y >= 0
                assert box.y + box.height <= picture.media.height


def test_empty_batch(detector: Detector) -> None:
    assert detector.detect([]) == []


def test_registry_names_and_errors() -> None:
    registry = DetectorRegistry()
    registry.register("fake", FakeDetector)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("fake", FakeDetector)
    with pytest.raises(DetectorError, match="choose from fake"):
        registry.create("nope")
    registry.register("needs", FakeDetector, extra="gpu", requires=("no_such_module_here",))
    missing = registry.missing("needs")
    assert isinstance(missing, MissingExtraError)
    assert "pip install 'rempart[gpu]'" in str(missing)
    with pytest.raises(MissingExtraError, match="no_such_module_here"):
        registry.create("needs")
    assert registry.missing("fake") is None


def test_the_built_in_detectors_are_registered() -> None:
    assert REGISTRY.names == ["bank", "nudity", "faces", "identity", "provenance"]
    assert tuple(REGISTRY.names) == BUILTIN_DETECTORS
    assert all(REGISTRY.missing(name) is None for name in REGISTRY.names)


def test_fake_detector_returns_what_it_was_given(face_pictures: dict[str, Picture]) -> None:
    picture = face_pictures["obama.jpg"]
    signal = Signal("face.minor", 0.9, "fake", "1")
    fake = FakeDetector({picture.path: [signal]})
    assert fake.detect([picture, face_pictures["biden.jpg"]]) == [[signal], []]
