"""The bank-import fuzz target's corpus replays, and random bytes never crash it (until
``tests/test_fuzz.py`` replays every target)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Imported by name: ``fuzz`` sits beside ``src``, first-party where the fuzz runner is set up.
fuzz_one = importlib.import_module("fuzz.targets.bank_import").fuzz_one

CORPUS = sorted((Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "bank_import").iterdir())


def test_the_corpus_holds_each_format_and_the_hostile_cases() -> None:
    names = {path.name for path in CORPUS}
    assert {
        "hex.txt",
        "pytx.txt",
        "threatexchange.csv",
        "hma.te",
        "stopncii-document.json",
    } <= names
    assert {"huge-integer.jsonl", "deep-nesting.jsonl", "lone-surrogate-note.jsonl"} <= names


@pytest.mark.parametrize("path", CORPUS, ids=[path.name for path in CORPUS])
def test_every_seed_replays(path: Path) -> None:
    fuzz_one(path.read_bytes())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1024))
def test_random_bytes_never_crash(data: bytes) -> None:
    fuzz_one(data)
