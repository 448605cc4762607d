"""The gate's prompt reader follows a function's persons: rebuilt once per change, by one
thread, while the others go on with the reader before."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rempart.gate import Gate
from rempart.text import PersonName, PromptAnalyser


def test_one_build_per_change(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    real_init = PromptAnalyser.__init__

    def counting(self: PromptAnalyser, *args: object, **kwargs: object) -> None:
        builds.append(1)
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PromptAnalyser, "__init__", counting)
    persons = [PersonName("Ada Quist")]
    gate = Gate(persons=lambda: persons)
    assert builds == []  # nothing built before it is needed
    assert gate.check("Ada Quist topless").action.value == "block"
    assert len(builds) == 1
    gate.check("a cat")
    assert len(builds) == 1  # the same persons: the same reader
    persons = [*persons, PersonName("Bo Lindqvist")]
    start = threading.Barrier(8)

    def check() -> str:
        start.wait()
        return gate.check("Bo Lindqvist nude").action.value

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: check(), range(8)))
    assert len(builds) == 2  # eight requests after the change, one build
    assert gate.check("Bo Lindqvist nude").action.value == "block"
