"""Nudity: NudeNet's 320n through ONNX Runtime. Benign images give no nudity signal; the path
from model output to signals is tested with constructed outputs, never with such images."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from rempart.detectors import Picture
from rempart.detectors.nudity import CLASS_SIGNALS, NudityDetector, non_max_suppression
from rempart.detectors.onnx import ModelFile
from rempart.errors import DetectorError
from tests.conftest import picture_of
from tests.images import skimage_rgb

EXPOSED_BREAST_F = 3  # NudeNet's class index of FEMALE_BREAST_EXPOSED
BUTTOCKS_EXPOSED = 2


@pytest.fixture(scope="module")
def nudity() -> NudityDetector:
    return NudityDetector()


def test_no_nudity_signal_on_benign_images(
    nudity: NudityDetector, benign_pictures: list[Picture]
) -> None:
    results = nudity.detect(benign_pictures)
    for picture, signals in zip(benign_pictures, results, strict=True):
        body = [s for s in signals if s.name != "nudity.face"]
        assert body == [], f"{picture.path}: {[(s.name, s.score) for s in body]}"


def test_faces_are_found_as_faces(
    nudity: NudityDetector, face_pictures: dict[str, Picture]
) -> None:
    for name, signals in zip(
        face_pictures, nudity.detect(list(face_pictures.values())), strict=True
    ):
        assert any(s.name == "nudity.face" for s in signals), name


def test_agrees_with_nudenets_own_entry_point(
    nudity: NudityDetector, face_pictures: dict[str, Picture]
) -> None:
    from nudenet import NudeDetector

    reference = NudeDetector()
    for picture, signals in zip(
        face_pictures.values(), nudity.detect(list(face_pictures.values())), strict=True
    ):
        theirs = [d for d in reference.detect(picture.path) if d["class"].startswith("FACE")]
        ours = [s.region for s in signals if s.name == "nudity.face" and s.region is not None]
        for detection in theirs:
            if detection["score"] < nudity.min_score:
                continue
            assert max(_iou(detection["box"], box.to_json()) for box in ours) > 0.7, picture.path


def _iou(a: list[int], b: list[int]) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    overlap = max(right - left, 0) * max(bottom - top, 0)
    return overlap / (a[2] * a[3] + b[2] * b[3] - overlap)


def constructed_output(
    *detections: tuple[int, float, tuple[float, float, float, float]],
) -> np.ndarray:
    """A model output (1, 22, anchors): each detection (class, score, centre x, centre y,
    width, height in model pixels) on its own anchor, plus empty anchors."""
    rows = np.zeros((1, 4 + len(CLASS_SIGNALS), 50), np.float32)
    for anchor, (cls, score, box) in enumerate(detections):
        rows[0, :4, anchor] = box
        rows[0, 4 + cls, anchor] = score
    return rows


def test_model_output_becomes_named_signals_in_image_pixels(nudity: NudityDetector) -> None:
    picture = picture_of(skimage_rgb("coffee"))  # 600 x 400: padded to 600 square, model 320
    output = constructed_output(
        (EXPOSED_BREAST_F, 0.91, (160.0, 100.0, 40.0, 20.0)),
        (BUTTOCKS_EXPOSED, 0.30, (60.0, 60.0, 10.0, 10.0)),  # below the reporting score
        (BUTTOCKS_EXPOSED, 0.85, (162.0, 101.0, 40.0, 20.0)),  # overlaps the first: suppressed
    )
    with mock.patch.object(nudity.model, "run", return_value=[output]):
        (signals,) = nudity.detect([picture])
    assert [s.name for s in signals] == ["nudity.exposed.breast_f"]
    (signal,) = signals
    assert signal.score == pytest.approx(0.91)
    scale = 600 / 320
    assert signal.region is not None
    assert signal.region.to_json() == [
        round(140 * scale),
        round(90 * scale),
        round(40 * scale),
        round(20 * scale),
    ]


def test_class_names_cover_every_output_channel() -> None:
    assert len(CLASS_SIGNALS) == 18
    assert {n.split(".")[1] for n in CLASS_SIGNALS if n != "nudity.face"} == {"exposed", "covered"}
    assert CLASS_SIGNALS.count("nudity.face") == 2  # apparent gender is dropped


def test_non_max_suppression_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.5], np.float32)
    assert non_max_suppression(boxes, scores) == [1, 2]


def test_another_model_file_can_be_used(tmp_path: Path, nudity: NudityDetector) -> None:
    copy = tmp_path / "custom-320.onnx"
    shutil.copy(nudity.model.file.path, copy)
    custom = NudityDetector(copy)
    assert custom.version.startswith("nudenet-custom-320@320:")
    picture = picture_of(skimage_rgb("astronaut"))
    assert [s.name for s in custom.detect([picture])[0]] == [
        s.name for s in nudity.detect([picture])[0]
    ]


def test_a_missing_or_invalid_model_file_is_a_clear_error(tmp_path: Path) -> None:
    picture = picture_of(skimage_rgb("coins"))
    with pytest.raises(DetectorError, match="does not exist"):
        NudityDetector(tmp_path / "absent.onnx").detect([picture])
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match="not a model ONNX Runtime can load"):
        NudityDetector(junk).detect([picture])


def test_a_packaged_model_with_the_wrong_checksum_is_refused(nudity: NudityDetector) -> None:
    altered = ModelFile(nudity.model.file.path, sha256="0" * 64, label="320n")
    with pytest.raises(DetectorError, match="recorded SHA-256"):
        altered.check()
