"""The mandatory reported-image rule: a match in a review bank (a victim's report no reviewer
has confirmed) sends to review in every policy, under the bank's category, and never blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.errors import PolicyError
from rempart.policy import BUILTIN_POLICIES, Action, load_policy
from rempart.signals import Signal


def bank_signal(
    bank: str, category: str = "ncii", *, review: bool = True, score: float = 1.0
) -> Signal:
    """A signal as the bank detector gives it for a match in ``bank``."""
    evidence = {"bank": bank, "category": category, "entry_id": 1, "distance": 0}
    if review:
        evidence["review"] = True
    name = "bank.reported" if review else "bank.match"
    return Signal(name, score, "bank", "pdq", value=bank, evidence=evidence)


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_reported_hash_sends_to_review_in_every_policy(policy: str) -> None:
    verdict = load_policy(policy).decide([bank_signal("desk-adult", score=0.9)])
    assert verdict.action is Action.REVIEW
    assert [(r.rule, r.category.name) for r in verdict.reasons] == [
        ("reported-image", "non_consensual_intimate_imagery")
    ]


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_confirmed_hash_blocks_even_beside_a_report(policy: str) -> None:
    signals = [
        bank_signal("desk-adult"),
        bank_signal("desk-adult-confirmed", review=False),
    ]
    verdict = load_policy(policy).decide(signals)
    assert verdict.action is Action.BLOCK
    assert {r.rule for r in verdict.reasons} == {"known-image", "reported-image"}


def test_a_reported_hash_is_labelled_by_its_banks_category(tmp_path: Path) -> None:
    signals = [bank_signal("desk-minor", "child_sexual_abuse"), bank_signal("desk-adult")]
    verdict = load_policy("default").decide(signals)
    assert {r.signals[0].value: r.category.name for r in verdict.reasons} == {
        "desk-minor": "child_sexual_abuse",
        "desk-adult": "non_consensual_intimate_imagery",
    }
    assert verdict.categories[0].name == "child_sexual_abuse"
    # A policy's bank_categories has the last word here too.
    path = tmp_path / "policy.yaml"
    path.write_text(
        "policy: mine\nversion: 1\nbank_categories: {desk-adult: sexual_deepfake}\n",
        encoding="utf-8",
    )
    (reason,) = load_policy(path).decide([bank_signal("desk-adult")]).reasons
    assert (reason.rule, reason.category.name) == ("reported-image", "sexual_deepfake")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("disable: [reported-image]", "cannot be disabled"),
        (
            "rules: [{id: reported-image, when: [bank_reported], action: allow, "
            "category: known_image, reason: x}]",
            "cannot be redefined",
        ),
        ("groups: {bank_reported: {signals: [nothing.at_all]}}", "cannot be redefined"),
    ],
)
def test_no_policy_can_weaken_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f"policy: weaker\nversion: 1\n{text}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_a_policy_may_read_reports_in_a_rule_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "policy: strict-reports\nversion: 1\nrules: [{id: block-reports, when: [bank_reported], "
        "action: block, category: non_consensual_intimate_imagery, reason: Reports block.}]\n",
        encoding="utf-8",
    )
    assert load_policy(path).decide([bank_signal("desk-adult")]).action is Action.BLOCK
