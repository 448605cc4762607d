"""Nudity: NudeNet's body-part detector (a YOLOv8 model) through ONNX Runtime, in batches.

The 320n model ships inside the ``nudenet`` package (the ``nudity`` extra; its weights are
AGPL-3.0). A deployment may point ``REMPART_NUDITY_MODEL`` at another NudeNet export, such as
the larger 640m, with ``REMPART_NUDITY_RESOLUTION`` set to its input size. Preprocessing follows
NudeNet's own: pad to a square at the bottom and right, resize to the model's resolution, scale
to [0, 1], RGB. Each detection becomes a signal named for the body part and whether it is
exposed or covered; NudeNet's two face classes become ``nudity.face`` (apparent gender is not
something Rempart decides on).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rempart.config import DEFAULT_RESOLUTION
from rempart.detectors.onnx import ModelFile, OnnxModel, packaged_file
from rempart.detectors.picture import Picture
from rempart.signals import Region, Signal
from rempart.workers import batched

__all__ = [
    "CLASS_SIGNALS",
    "DEFAULT_MIN_SCORE",
    "DEFAULT_RESOLUTION",
    "NUDENET_320N",
    "NudityDetector",
    "decode_yolo",
    "non_max_suppression",
]

# NudeNet 3.x's class order (the model's output channels 4..21) -> Rempart's signal name.
CLASS_SIGNALS: Final = (
    "nudity.covered.genitalia_f",  # FEMALE_GENITALIA_COVERED
    "nudity.face",  # FACE_FEMALE
    "nudity.exposed.buttocks",  # BUTTOCKS_EXPOSED
    "nudity.exposed.breast_f",  # FEMALE_BREAST_EXPOSED
    "nudity.exposed.genitalia_f",  # FEMALE_GENITALIA_EXPOSED
    "nudity.exposed.breast_m",  # MALE_BREAST_EXPOSED
    "nudity.exposed.anus",  # ANUS_EXPOSED
    "nudity.exposed.feet",  # FEET_EXPOSED
    "nudity.covered.belly",  # BELLY_COVERED
    "nudity.covered.feet",  # FEET_COVERED
    "nudity.covered.armpits",  # ARMPITS_COVERED
    "nudity.exposed.armpits",  # ARMPITS_EXPOSED
    "nudity.face",  # FACE_MALE
    "nudity.exposed.belly",  # BELLY_EXPOSED
    "nudity.exposed.genitalia_m",  # MALE_GENITALIA_EXPOSED
    "nudity.covered.anus",  # ANUS_COVERED
    "nudity.covered.breast_f",  # FEMALE_BREAST_COVERED
    "nudity.covered.buttocks",  # BUTTOCKS_COVERED
)

NUDENET_320N: Final = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"
"""SHA-256 of ``320n.onnx`` as nudenet 3.4.2 ships it."""

DEFAULT_MIN_SCORE: Final = 0.35
"""Detections below this are not reported. NudeNet keeps candidates from 0.2 and 0.25 after
non-maximum suppression; at those scores it calls a suit jacket a covered breast on the shared
test photos (0.25-0.29), which no policy should read as anything."""

_CANDIDATE_SCORE: Final = 0.2  # NudeNet's own cut before suppression
_NMS_SCORE: Final = 0.25  # and its cv2.dnn.NMSBoxes score and IoU thresholds
_NMS_IOU: Final = 0.45
_BATCH_SIZE: Final = 8
_NAME: Final = "nudity"
_EXTRA: Final = "nudity"


class NudityDetector:
    """Body parts, exposed or covered, with a box and a score each."""

    name = _NAME

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        resolution: int = DEFAULT_RESOLUTION,
        min_score: float = DEFAULT_MIN_SCORE,
    ) -> None:
        self.resolution = resolution
        self.min_score = min_score
        # The packaged 320n unless a path was given, located on first use.
        self.model = OnnxModel(
            lambda: (
                ModelFile(model_path, sha256=None, label=model_path.stem)
                if model_path is not None
                else packaged_file(
                    "nudenet",
                    "320n.onnx",
                    sha256=NUDENET_320N,
                    label="320n",
                    extra=_EXTRA,
                    detector=_NAME,
                )
            ),
            detector=_NAME,
            extra=_EXTRA,
        )

    @property
    def max_side(self) -> int:
        """The pixels it reads: twice the model's resolution, so the resize still averages."""
        return 2 * self.resolution

    @property
    def version(self) -> str:
        """``nudenet-<model>@<resolution>:<first 12 digits of its SHA-256>``."""
        file = self.model.file
        return f"nudenet-{file.label}@{self.resolution}:{file.digest[:12]}"

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Run the model on the pictures in batches; one signal per detection kept."""
        results: list[list[Signal]] = []
        for batch in batched(pictures, _BATCH_SIZE):
            inputs = np.stack([self._prepare(picture) for picture in batch])
            (output,) = self.model.run(inputs)[:1]
            version = self.version
            for picture, rows in zip(batch, output, strict=True):
                results.append(self._signals(picture, rows, version))
        return results

    def _prepare(self, picture: Picture) -> NDArray[np.float32]:
        """The picture padded to a square at the bottom and right, at the model's resolution:
        resized first, then padded, which is the same and touches fewer pixels."""
        pixels = picture.pixels(self.max_side)
        height, width = pixels.shape[:2]
        ratio = self.resolution / max(height, width)
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        resized = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
        square = np.zeros((3, self.resolution, self.resolution), np.float32)
        square[:, : size[1], : size[0]] = resized.transpose(2, 0, 1)
        square *= np.float32(1 / 255)
        return square

    def _signals(self, picture: Picture, rows: NDArray[np.float32], version: str) -> list[Signal]:
        pixels = picture.pixels(self.max_side)
        height, width = pixels.shape[:2]
        boxes, scores, classes = decode_yolo(rows, side=max(height, width) / self.resolution)
        signals = []
        for index in non_max_suppression(boxes, scores):
            if scores[index] < self.min_score:
                continue
            x0, y0, x1, y1 = boxes[index]
            x0, x1 = np.clip([x0, x1], 0, width)
            y0, y1 = np.clip([y0, y1], 0, height)
            box = Region(round(x0), round(y0), round(x1 - x0), round(y1 - y0))
            signals.append(
                Signal(
                    name=CLASS_SIGNALS[classes[index]],
                    score=float(scores[index]),
                    detector=_NAME,
                    version=version,
                    region=picture.region(box, pixels),
                )
            )
        return signals


def decode_yolo(
    rows: NDArray[np.float32], *, side: float
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.intp]]:
    """YOLOv8 output ``(4 + classes, anchors)`` to corner boxes scaled by ``side``, each
    anchor's best score and class, keeping anchors whose best score is a candidate."""
    table = rows.T
    class_scores = table[:, 4:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(table)), classes]
    keep = scores >= _CANDIDATE_SCORE
    centre_x, centre_y, box_w, box_h = (table[keep, i] * side for i in range(4))
    boxes = np.stack(
        [centre_x - box_w / 2, centre_y - box_h / 2, centre_x + box_w / 2, centre_y + box_h / 2],
        axis=1,
    )
    return boxes, scores[keep], classes[keep]


def non_max_suppression(
    boxes: NDArray[np.float32],
    scores: NDArray[np.float32],
    *,
    min_score: float = _NMS_SCORE,
    max_iou: float = _NMS_IOU,
) -> list[int]:
    """Indices of the boxes kept, best first: each box overlapping a better kept one by more
    than ``max_iou`` is dropped, whatever its class (as NudeNet does)."""
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= min_score]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.intp)
        kept.append(best)
        if not len(rest):
            break
        left = np.maximum(boxes[best, 0], boxes[rest, 0])
        top = np.maximum(boxes[best, 1], boxes[rest, 1])
        right = np.minimum(boxes[best, 2], boxes[rest, 2])
        bottom = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
        iou = overlap / np.maximum(areas[best] + areas[rest] - overlap, 1e-9)
        order = [int(i) for i in rest[iou <= max_iou]]
    return kept
