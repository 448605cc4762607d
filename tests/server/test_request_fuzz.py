"""The fuzz target of the server's JSON bodies (``fuzz/targets/request.py``): its seed corpus
replays without an error escaping, and so do random bodies of the fields the server reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fuzz.targets import request as target
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).parents[2] / "fuzz" / "corpus" / "request"
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.sampled_from(target.MEMBERS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("seed", sorted(CORPUS.iterdir()), ids=lambda path: path.name)
def test_the_corpus_replays(seed: Path) -> None:
    target.fuzz_one(seed.read_bytes())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_any_json_body(value: object) -> None:
    target.fuzz_one(json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes(data: bytes) -> None:
    target.fuzz_one(data)
