"""The fuzz target of the server's JSON bodies (``fuzz/targets/request.py``): random JSON
bodies of the fields the server reads never let an error escape (``tests/test_fuzz.py``
replays its corpus and random bytes, as for every target)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import request as target

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.sampled_from(target.MEMBERS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_any_json_body(value: object) -> None:
    target.fuzz_one(json.dumps(value).encode())
