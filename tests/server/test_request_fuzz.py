"""The fuzz target of the server's JSON bodies (``fuzz/targets/request.py``): random JSON
bodies of the fields the server reads never let an error escape (``tests/test_fuzz.py``
replays its corpus and random bytes, as for every target)."""

from __future__ import annotations

import importlib
import json
import pkgutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from fuzz.targets import request as target
from rempart.server import routes

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


def _body_models() -> set[type[BaseModel]]:
    """Every pydantic model a module of ``rempart.server.routes`` declares: the API's bodies."""
    found: set[type[BaseModel]] = set()
    for module in pkgutil.iter_modules(routes.__path__, f"{routes.__name__}."):
        for value in vars(importlib.import_module(module.name)).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.name
            ):
                found.add(value)
    return found


def test_every_body_of_the_api_is_fuzzed_with_its_members() -> None:
    models = _body_models()
    assert {model.__name__ for model in models} >= {"NoticeCreate", "ReplyBody", "CaseCreate"}
    assert models - set(target.MODELS) == set()
    fields = {name for model in models for name in model.model_fields}
    assert fields - set(target.MEMBERS) == set()
