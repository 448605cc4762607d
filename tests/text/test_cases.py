"""The project's own labelled prompt set (``tests/text/cases/``) through a text-only ``Gate``:
one JSON Lines file per category (minor_sexual, real_person_sexual, undress_edit, benign), each
line a short, clinical request string with the verdict it must get, and the registry those lines
are judged against (``cases/registry.json``: names with aliases and distinctive parts).

It is kept apart from the shared development set (``tests/text/test_dev_set.py``): other
phrasings, the six languages, and the negative prompts that front ends prefill. Block lines must
block with a ``text.*`` signal that says what it matched; review lines must be sent to review;
benign lines must be allowed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from rempart.gate import Gate
from rempart.persons import read_persons_file
from rempart.policy import Verdict
from rempart.signals import Signal
from tests.text.verdicts import names_its_match

CASES_DIR = Path(__file__).resolve().parent / "cases"
REGISTRY = CASES_DIR / "registry.json"
FIELDS = {"id", "lang", "text", "negative", "has_input_photo", "expect", "category"}
LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
CATEGORIES = ("minor_sexual", "real_person_sexual", "undress_edit", "benign")
EXPECTED = {"block", "review", "allow"}


def read_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every line of every ``*.jsonl`` file in ``cases/``, in file then line order, each with
    where it is (``file:line``)."""
    cases = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                cases.append((f"{path.name}:{number}", json.loads(line)))
    return cases


WHERE_CASES = read_cases()
CASES = [case for _, case in WHERE_CASES]


def describe(signal: Signal) -> str:
    """One signal as a failure message shows it: name, value and, for the prompt, what it
    matched in which field and view."""
    evidence = signal.evidence
    if "match" in evidence:
        where = f"{evidence.get('field')}, {evidence.get('view')}, {evidence.get('language')}"
        return f"{signal.name}={signal.value!r} matched {evidence['match']!r} ({where})"
    return f"{signal.name}={signal.value!r}"


def explain(verdict: Verdict, signals: Iterable[Signal]) -> str:
    """The rules that fired, with their signals, or the signals seen when none fired."""
    if verdict.reasons:
        return "; ".join(
            f"{reason.rule} [{reason.action.value}]: "
            + ", ".join(describe(signal) for signal in reason.signals)
            for reason in verdict.reasons
        )
    seen = [describe(signal) for signal in signals]
    return "no rule fired; signals: " + (", ".join(seen) if seen else "none")


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate(persons=read_persons_file(REGISTRY))


def test_every_line_is_well_formed() -> None:
    assert CASES, f"no cases in {CASES_DIR}"
    for where, case in WHERE_CASES:
        assert set(case) == FIELDS, (where, sorted(set(case) ^ FIELDS))
        assert case["lang"] in LANGUAGES, where
        assert case["category"] in CATEGORIES, where
        assert case["expect"] in EXPECTED, where
        assert isinstance(case["text"], str), where
        assert case["text"].strip(), where
        assert case["negative"] is None or isinstance(case["negative"], str), where
        assert isinstance(case["has_input_photo"], bool), where
        assert (case["expect"] == "allow") == (case["category"] == "benign"), where
        assert where.startswith(f"{case['category']}.jsonl:"), (where, "one file per category")
    ids = [case["id"] for case in CASES]
    assert len(set(ids)) == len(ids), "ids must be unique across the files"


def test_every_category_in_every_language() -> None:
    present = {(case["category"], case["lang"]) for case in CASES}
    missing = [(c, lang) for c in CATEGORIES for lang in LANGUAGES if (c, lang) not in present]
    assert not missing


def test_the_benign_set_has_prefilled_negative_prompts() -> None:
    benign = [case for case in CASES if case["category"] == "benign"]
    with_negative = [case for case in benign if (case["negative"] or "").strip()]
    assert len(with_negative) >= 200, len(with_negative)
    assert {case["lang"] for case in with_negative} == set(LANGUAGES)


def test_the_registry_is_the_dev_registrys_names() -> None:
    entries = json.loads(REGISTRY.read_text(encoding="utf-8"))["protected_persons"]
    names = {entry if isinstance(entry, str) else entry["name"] for entry in entries}
    assert read_persons_file(REGISTRY)
    assert names == {
        "Taylor Swift",
        "Scarlett Johansson",
        "Emma Watson",
        "Beyoncé",
        "Ariana Grande",
        "Kim Kardashian",
    }


@pytest.mark.parametrize(("where", "case"), WHERE_CASES, ids=[case["id"] for case in CASES])
def test_case(gate: Gate, where: str, case: dict[str, Any]) -> None:
    text, negative, photo = case["text"], case["negative"], case["has_input_photo"]
    verdict = gate.check(text, negative, person_photo=photo)
    if verdict.action.value != case["expect"]:
        signals = gate.signals(text, negative, person_photo=photo)
        pytest.fail(
            f"{case['id']} ({where}): {text!r} / negative {negative!r}: "
            f"expected {case['expect']}, got {verdict.action.value}: {explain(verdict, signals)}"
        )
    if case["expect"] != "block":
        return
    assert names_its_match(verdict), (
        f"a block verdict must name the prompt text it matched: {explain(verdict, ())}"
    )
