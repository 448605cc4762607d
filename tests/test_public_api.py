"""The public surface is declared once and is exactly what it says."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "rempart",
    "rempart.errors",
    "rempart.media",
    "rempart.hashing",
    "rempart.config",
    "rempart.signals",
    "rempart.detectors",
    "rempart.detectors.base",
    "rempart.detectors.nudity",
    "rempart.detectors.faces",
    "rempart.detectors.identity",
    "rempart.detectors.provenance",
    "rempart.detectors.pipeline",
    "rempart.provenance.c2pa",
    "rempart.provenance.generators",
    "rempart.provenance.iptc",
    "rempart.provenance.watermark",
    "rempart.persons",
    "rempart.pixelate",
    "rempart.detectors.banks",
    "rempart.policy",
    "rempart.policy.policy",
    "rempart.policy.rules",
    "rempart.policy.verdict",
    "rempart.scan",
    "rempart.scan.output",
    "rempart.scan.report",
    "rempart.scan.scanner",
    "rempart.scan.summary",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exact(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert len(exported) == len(module.__all__), "duplicates in __all__"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ names missing {symbol}"
    defined_here = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == name
    }
    assert defined_here <= exported, f"public but not in __all__: {defined_here - exported}"
