"""The prompt analysis costs work in proportion to the prompt's length, however the prompt is
built (issue 17: 13,000 characters of choice groups took 1.7 s in the gate). Each test reads
the worst prompts of ``benchmarks/adversarial_prompts.py`` at the longest accepted size and
counts what the analysis does: the characters of the branches it reads, the words of every
view, and the names' fuzzy look-ups (keys and distances). Counts, not seconds: each budget
is a fixed multiple of the prompt's length, far below what the paths that were super-linear
cost (a 64-letter word made 2,016 deletion keys; 2,000 choice groups made 5,000 branches).
The analyser here has no deadline: the whole prompt is read, however long that takes."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rempart.text import MAX_PROMPT_CHARS, PromptAnalyser, analyse, expand_prompt, names

ROOT = Path(__file__).resolve().parents[2]


def _adversarial() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "adversarial_prompts", ROOT / "benchmarks" / "adversarial_prompts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ADVERSARIAL = _adversarial()
PERSONS = ["Taylor Swift", "Emma Watson", "Kim Kardashian", "Maria Garcia", "Jean Martin"]
KINDS: dict[str, Callable[[random.Random], str]] = ADVERSARIAL.kinds(PERSONS)
# Budgets, per character of the prompt (each several times what the worst kind costs today).
BRANCH_CHARS = 2.0  # the prompt, and as much again of context, and 4,096 characters
WORDS_READ = 6.0  # words of every view of every branch
DELETION_KEYS = 30.0  # keys looked up in the names' deletion index
DISTANCES = 1.0  # candidates whose edit distance is computed


@pytest.fixture(scope="module")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(persons=PERSONS, prompt_ms=0)


def prompts() -> Iterator[Any]:
    for name, make in KINDS.items():
        yield pytest.param(make(random.Random(17)), id=name)
    yield pytest.param("\ufdfa" * MAX_PROMPT_CHARS, id="phrase ligatures")


@pytest.mark.parametrize("prompt", list(prompts()))
def test_branches_are_linear_in_the_prompt(prompt: str) -> None:
    assert len(prompt) <= MAX_PROMPT_CHARS
    read = sum(len(branch) for branch in expand_prompt(prompt))
    assert read <= BRANCH_CHARS * len(prompt) + 4_096


@pytest.mark.parametrize("prompt", list(prompts()))
def test_words_and_name_look_ups_are_linear_in_the_prompt(
    prompt: str, analyser: PromptAnalyser, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts: Counter[str] = Counter()
    views, deleted = analyse.iter_views, names._deleted  # type: ignore[attr-defined]
    distance = names.OSA.distance  # type: ignore[attr-defined]

    def counted_views(*args: Any) -> Iterator[Any]:
        for view in views(*args):
            counts["words"] += len(view.tokens)
            yield view

    def counted_deleted(*args: Any) -> set[str]:
        found = deleted(*args)
        counts["keys"] += len(found)
        return found

    def counted_distance(*args: Any, **kwargs: Any) -> int:
        counts["distances"] += 1
        return int(distance(*args, **kwargs))

    monkeypatch.setattr(analyse, "iter_views", counted_views)
    monkeypatch.setattr(names, "_deleted", counted_deleted)
    monkeypatch.setattr(names, "OSA", _Counted(counted_distance))
    analyser.compiled.names.forget()  # every word looked up afresh, as an attacker's would be
    assert not any(signal.name == "text.unread" for signal in analyser.signals(prompt))
    length = len(prompt)
    assert counts["words"] <= WORDS_READ * length
    assert counts["keys"] <= DELETION_KEYS * length
    assert counts["distances"] <= DISTANCES * length


class _Counted:
    """Stands for ``rapidfuzz.distance.OSA``, its ``distance`` counted."""

    def __init__(self, distance: Callable[..., int]) -> None:
        self.distance = distance
