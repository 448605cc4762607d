"""The package's surface: each module's ``__all__`` names what it defines, as
tests/test_public_api.py checks the others'."""

from __future__ import annotations

import pytest

from tests.test_public_api import test_all_is_exact as check_all_is_exact

MODULES = [
    "rempart.modelfile",
    "rempart.modelfile.cards",
    "rempart.modelfile.fingerprint",
    "rempart.modelfile.gguf",
    "rempart.modelfile.lfs",
    "rempart.modelfile.model",
    "rempart.modelfile.pickles",
    "rempart.modelfile.read",
    "rempart.modelfile.safetensors",
    "rempart.modelfile.source",
    "rempart.modelfile.values",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_exact(name: str) -> None:
    check_all_is_exact(name)
