"""Detectors: what Rempart sees in an image, as ``Signal``s.

``default_registry`` names the built-in detectors (``nudity``, ``faces``, ``identity``,
``provenance``) and every installed package's (entry points ``rempart.detectors``).
``detect_paths`` runs a set of detectors over files, decoding each once and batching model
calls; ``detect_video`` screens a video's sampled frames and merges their signals, each
naming its timestamps. ``BankDetector`` hashes each picture as ``rempart hash`` does and
reports hash-bank matches.
"""

from rempart.detectors.banks import BankDetector
from rempart.detectors.builtin import BUILTIN_DETECTORS, default_registry
from rempart.detectors.frames import VideoSignals, detect_video, detect_video_paths
from rempart.detectors.picture import DETECT_MAX_SIDE, Picture
from rempart.detectors.pipeline import (
    PictureSignals,
    detect_paths,
    detect_pictures,
)
from rempart.detectors.protocol import Detector, DetectorFactory, FakeDetector, error_signal
from rempart.detectors.registry import ENTRY_POINT_GROUP, DetectorRegistry

__all__ = [
    "BUILTIN_DETECTORS",
    "DETECT_MAX_SIDE",
    "ENTRY_POINT_GROUP",
    "BankDetector",
    "Detector",
    "DetectorFactory",
    "DetectorRegistry",
    "FakeDetector",
    "Picture",
    "PictureSignals",
    "VideoSignals",
    "default_registry",
    "detect_paths",
    "detect_pictures",
    "detect_video",
    "detect_video_paths",
    "error_signal",
]
