"""Rempart: find, stop and take down sexual deepfakes, NCII and sexualised imagery of minors.

The public Python API is what this module exports; everything else may change. Names load on
first use, so that ``import rempart`` (and the command line) starts at once::

    from rempart import Gate, Scanner

    verdict = Gate().check("a prompt")          # the generation gate
    for result in Scanner.default().scan(["photo.jpg"]):
        print(result.to_json())                 # hashes, signals and a verdict

See docs/python.md for an example of each job.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Final

__version__ = "0.1.0"

# Nothing phones home. Dependencies that collect telemetry unless told not to, each told
# before it can start (a user who sets the variable otherwise keeps their choice).
_TELEMETRY_OFF: Final = {
    # onnxruntime on Linux and macOS (1.30 does): writes a device id and an event queue under
    # ~/.cache/Microsoft and uploads them; read once, when onnxruntime is imported.
    "ORT_DISABLE_TELEMETRY": "1",
}
for _variable, _value in _TELEMETRY_OFF.items():
    os.environ.setdefault(_variable, _value)

# Each public name, and the module that defines it.
_EXPORTS: Final = {
    # the generation gate
    "Gate": "rempart.gate",
    "GateRequest": "rempart.gate",
    "parse_gate_request": "rempart.gate",
    # scanning
    "Scanner": "rempart.scan",
    "ScanJob": "rempart.scan",
    "ScanResult": "rempart.scan",
    # auditing model files
    "Auditor": "rempart.hub",
    "AuditResult": "rempart.hub",
    # the desk
    "Desk": "rempart.desk",
    "DeskKeys": "rempart.desk",
    # decisions
    "Action": "rempart.policy",
    "Policy": "rempart.policy",
    "Verdict": "rempart.policy",
    "load_policy": "rempart.policy",
    # signals and detectors
    "Signal": "rempart.signals",
    "Region": "rempart.signals",
    "Detector": "rempart.detectors",
    "DetectorRegistry": "rempart.detectors",
    "Picture": "rempart.detectors",
    "default_registry": "rempart.detectors",
    "PromptAnalyser": "rempart.text",
    "ProtectedPersons": "rempart.persons",
    # hashing and matching
    "FileHashes": "rempart.hashing",
    "hash_path": "rempart.hashing",
    "hash_files": "rempart.hashing",
    "Banks": "rempart.matching.banks",
    "BankMatcher": "rempart.matching.banks",
    "match_images": "rempart.matching.banks",
    # foundation
    "Settings": "rempart.config",
    "load_settings": "rempart.config",
    "Media": "rempart.media",
    "MediaLimits": "rempart.media",
    "load_path": "rempart.media",
    "load_bytes": "rempart.media",
    "Store": "rempart.store",
    "Runtime": "rempart.runtime",
    "ImageInput": "rempart.types",
    "JSONObject": "rempart.types",
    # errors
    "RempartError": "rempart.errors",
    "ConfigError": "rempart.errors",
    "MediaError": "rempart.errors",
    "MediaErrorCode": "rempart.errors",
    "PromptError": "rempart.errors",
    "DetectorError": "rempart.errors",
    "MissingExtraError": "rempart.errors",
    "ExitCode": "rempart.errors",
}

__all__ = [
    "Action",
    "AuditResult",
    "Auditor",
    "BankMatcher",
    "Banks",
    "ConfigError",
    "Desk",
    "DeskKeys",
    "Detector",
    "DetectorError",
    "DetectorRegistry",
    "ExitCode",
    "FileHashes",
    "Gate",
    "GateRequest",
    "ImageInput",
    "JSONObject",
    "Media",
    "MediaError",
    "MediaErrorCode",
    "MediaLimits",
    "MissingExtraError",
    "Picture",
    "Policy",
    "PromptAnalyser",
    "PromptError",
    "ProtectedPersons",
    "Region",
    "RempartError",
    "Runtime",
    "ScanJob",
    "ScanResult",
    "Scanner",
    "Settings",
    "Signal",
    "Store",
    "Verdict",
    "__version__",
    "default_registry",
    "hash_files",
    "hash_path",
    "load_bytes",
    "load_path",
    "load_policy",
    "load_settings",
    "match_images",
    "parse_gate_request",
]

if TYPE_CHECKING:
    from rempart.config import Settings, load_settings
    from rempart.detectors import Detector, DetectorRegistry, Picture, default_registry
    from rempart.errors import (
        ConfigError,
        DetectorError,
        ExitCode,
        MediaError,
        MediaErrorCode,
        MissingExtraError,
        PromptError,
        RempartError,
    )
    from rempart.gate import Gate, GateRequest, parse_gate_request
    from rempart.hashing import FileHashes, hash_files, hash_path
    from rempart.hub import Auditor, AuditResult
    from rempart.matching.banks import BankMatcher, Banks, match_images
    from rempart.media import Media, MediaLimits, load_bytes, load_path
    from rempart.persons import ProtectedPersons
    from rempart.policy import Action, Policy, Verdict, load_policy
    from rempart.runtime import Runtime
    from rempart.scan import ScanJob, Scanner, ScanResult
    from rempart.signals import Region, Signal
    from rempart.store import Store
    from rempart.text import PromptAnalyser
    from rempart.types import ImageInput, JSONObject


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rempart' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
