"""Detectors: what Rempart sees in an image, as ``Signal``s.

``default_registry`` names the built-in detectors (``nudity``, ``faces``, ``identity``,
``provenance``); a deployment registers its own the same way. ``detect_paths`` runs a set of
detectors over files, decoding each once and batching model calls. ``BankDetector``
hashes each picture from that decode and reports hash-bank matches.
"""

from rempart.detectors.banks import BankDetector, picture_hashes
from rempart.detectors.base import (
    DETECT_MAX_SIDE,
    Detector,
    DetectorFactory,
    DetectorRegistry,
    FakeDetector,
    Picture,
    error_signal,
)
from rempart.detectors.pipeline import (
    PictureSignals,
    default_registry,
    detect_paths,
    detect_pictures,
)

__all__ = [
    "DETECT_MAX_SIDE",
    "BankDetector",
    "Detector",
    "DetectorFactory",
    "DetectorRegistry",
    "FakeDetector",
    "Picture",
    "PictureSignals",
    "default_registry",
    "detect_paths",
    "detect_pictures",
    "error_signal",
    "picture_hashes",
]
