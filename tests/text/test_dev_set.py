"""The shared prompt development set through a text-only ``Gate``: block lines block with a
``text.*`` signal that says what it matched, allow lines allow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rempart.gate import Gate
from tests.text.verdicts import names_its_match

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT.parent / "shared" / "prompts"
DEV_SET = PROMPTS / "dev.jsonl"
REGISTRY = PROMPTS / "dev-registry.json"

if not (DEV_SET.is_file() and REGISTRY.is_file()):
    pytest.skip(
        f"the shared prompt set is not at {PROMPTS}; clone the project beside shared/",
        allow_module_level=True,
    )


def read_cases() -> list[dict[str, Any]]:
    """The development set's lines, in order."""
    lines = DEV_SET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = read_cases()


@pytest.fixture(scope="module")
def gate() -> Gate:
    persons = json.loads(REGISTRY.read_text(encoding="utf-8"))["protected_persons"]
    return Gate(persons=persons)


def test_the_set_has_both_outcomes() -> None:
    assert {case["expect"] for case in CASES} == {"block", "allow"}
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_dev_case(gate: Gate, case: dict[str, Any]) -> None:
    verdict = gate.check(case["text"], case["negative"], person_photo=case["has_input_photo"])
    assert verdict.action.value == case["expect"], [reason.rule for reason in verdict.reasons]
    if case["expect"] != "block":
        return
    assert names_its_match(verdict), "a block verdict must name the prompt text it matched"
