"""One module per fuzz target, each defining ``fuzz_one(data: bytes) -> None``; found by name,
so that a target is run and tested as soon as its module and corpus exist."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = ["CORPUS", "corpus_files", "load", "names"]

CORPUS: Final = Path(__file__).resolve().parent.parent / "corpus"
"""``fuzz/corpus``: one folder of seed files per target."""


def names() -> list[str]:
    """Every target's name, sorted: the modules of this package."""
    return sorted(module.name for module in pkgutil.iter_modules(__path__))


def load(name: str) -> Callable[[bytes], None]:
    """The ``fuzz_one`` of target ``name``."""
    fuzz_one: Callable[[bytes], None] = importlib.import_module(f"{__name__}.{name}").fuzz_one
    return fuzz_one


def corpus_files(name: str) -> list[Path]:
    """The seed files of target ``name``, sorted (none when it has no corpus folder yet)."""
    folder = CORPUS / name
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file())
