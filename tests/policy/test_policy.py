"""Policies: every built-in rule with constructed signals, the rules no file can weaken, and
the errors a bad policy file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.errors import PolicyError
from rempart.policy import BUILTIN_POLICIES, MANDATORY_RULES, Action, load_policy, parse_policy
from rempart.signals import Signal


def sig(name: str, score: float = 0.9, value: str | None = None) -> Signal:
    return Signal(name, score, name.split(".")[0], "test", value=value)


MINOR = sig("face.minor", 0.8)
NUDE = sig("nudity.exposed.buttocks", 0.8)
REVEALING = sig("nudity.covered.buttocks", 0.7)
BANK = sig("bank.match", 1.0, "known")
PERSON = sig("identity.match", 0.7, "Jane Doe")
AI = sig("provenance.c2pa.ai_generated", 1.0, "trainedAlgorithmicMedia")
FACE = sig("face.detected", 0.9)


def decide(policy: str, *signals: Signal) -> tuple[str, list[str], list[str]]:
    verdict = load_policy(policy).decide(list(signals))
    return (
        verdict.action.value,
        [category.name for category in verdict.categories],
        [reason.rule for reason in verdict.reasons],
    )


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
@pytest.mark.parametrize("sexualised", [NUDE, REVEALING, sig("text.sexual"), sig("text.undress")])
def test_a_minor_with_any_sexualised_signal_blocks_in_every_policy(
    policy: str, sexualised: Signal
) -> None:
    action, categories, rules = decide(policy, FACE, MINOR, sexualised)
    assert action == "block"
    assert categories[0] == "child_sexual_abuse"
    assert rules[0] == "minor-sexualised"


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_bank_match_blocks_in_every_policy(policy: str) -> None:
    action, categories, rules = decide(policy, BANK)
    assert (action, rules[0]) == ("block", "known-image")
    assert categories[0] == "non_consensual_intimate_imagery"


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_protected_person_with_nudity_blocks_in_every_policy(policy: str) -> None:
    action, categories, rules = decide(policy, PERSON, NUDE)
    assert (action, rules[0]) == ("block", "real-person-sexualised")
    assert categories[0] == "non_consensual_intimate_imagery"


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_nothing_seen_is_allowed_without_reasons(policy: str) -> None:
    assert decide(policy) == ("allow", [], [])
    assert decide(policy, FACE, sig("face.age", 0.9, "34")) == ("allow", [], [])


def test_the_minor_rule_reads_the_fixed_threshold() -> None:
    # Below the mandatory 0.5 but above the default policy's 0.25: review, not block.
    action, categories, rules = decide("default", sig("face.minor", 0.3), NUDE)
    assert (action, rules) == ("review", ["possible-minor-sexualised"])
    assert categories == ["child_sexual_abuse"]
    # Below both: nothing.
    assert decide("default", sig("face.minor", 0.1), NUDE)[0] == "allow"


def test_default_reviews_possible_minor_with_weak_nudity() -> None:
    weak = sig("nudity.exposed.breast_f", 0.4)  # under the built-in 0.5, over the policy's 0.35
    assert decide("default", MINOR, weak) == (
        "review",
        ["child_sexual_abuse"],
        ["possible-minor-sexualised"],
    )


def test_default_adult_nudity_is_allowed_but_generated_nudity_reviewed() -> None:
    assert decide("default", FACE, NUDE)[0] == "allow"
    assert decide("default", NUDE, AI) == ("review", ["sexual_deepfake"], ["generated-nudity"])


def test_default_blocks_a_generated_image_of_a_protected_person_as_a_deepfake() -> None:
    action, categories, rules = decide("default", PERSON, REVEALING, AI)
    assert action == "block"
    assert set(categories) == {"non_consensual_intimate_imagery", "sexual_deepfake"}
    assert "generated-real-person-sexualised" in rules


def test_a_protected_person_alone_is_allowed() -> None:
    assert decide("default", PERSON, FACE)[0] == "allow"


def test_strict_blocks_any_nudity_and_reviews_revealing_clothing() -> None:
    assert decide("strict", sig("nudity.exposed.breast_f", 0.4)) == (
        "block",
        ["adult_nudity"],
        ["any-nudity"],
    )
    assert decide("strict", REVEALING) == ("review", ["adult_nudity"], ["revealing-clothing"])
    assert decide("strict", sig("nudity.exposed.feet", 0.9))[0] == "allow"
    # It keeps the default policy's rules.
    assert decide("strict", NUDE, AI)[0] == "block"
    assert "generated-nudity" in decide("strict", NUDE, AI)[2]


def test_survey_labels_and_allows() -> None:
    action, categories, _ = decide("survey", NUDE, AI, FACE)
    assert action == "allow"
    assert categories == ["nudity", "ai_generated"]
    assert decide("survey", REVEALING)[1] == ["revealing"]
    assert decide("survey", MINOR) == ("allow", ["apparent_minor"], ["label-apparent-minor"])
    assert decide("survey", PERSON)[1] == ["real_person"]


def test_error_signals_never_count() -> None:
    broken = Signal("nudity.exposed.error", 0.0, "nudity", "1", value="x")
    assert decide("strict", broken)[0] == "allow"


def test_verdict_json_carries_dsa_mapping_reasons_and_policy_version() -> None:
    verdict = load_policy("default").decide([MINOR, NUDE]).to_json()
    assert verdict["action"] == "block"
    category = verdict["categories"][0]
    assert category["dsa_category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert category["dsa_keywords"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    reason = verdict["reasons"][0]
    assert reason["text"]
    assert [s["name"] for s in reason["signals"]] == ["face.minor", "nudity.exposed.buttocks"]
    assert verdict["policy"]["name"] == "default"
    assert verdict["policy"]["version"] == "2026.12.1"
    assert verdict["policy"]["digest"].startswith("sha256:")


def test_decisions_are_deterministic() -> None:
    policy = load_policy("strict")
    signals = [REVEALING, MINOR, NUDE, BANK, AI, PERSON]
    first = policy.decide(signals).to_json()
    assert all(policy.decide(signals).to_json() == first for _ in range(5))
    assert load_policy("strict").decide(signals).to_json() == first


def test_bank_categories_name_each_bank_category(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
policy: mine
version: 1
extends: default
bank_categories: {csam-list: child_sexual_abuse}
""",
    )
    verdict = load_policy(path).decide([sig("bank.match", 1, "csam-list"), BANK])
    assert [(r.rule, r.category.name) for r in verdict.reasons] == [
        ("known-image", "child_sexual_abuse"),
        ("known-image", "non_consensual_intimate_imagery"),
    ]


def bank_match(bank: str, category: str | None) -> Signal:
    evidence = {"bank": bank, "distance": 0} | ({"category": category} if category else {})
    return Signal("bank.match", 1.0, "bank", "pdq", value=bank, evidence=evidence)


def test_a_bank_match_is_labelled_by_its_banks_category(tmp_path: Path) -> None:
    signals = [
        bank_match("hotline", "child_sexual_abuse"),
        bank_match("demo", "demo"),
        bank_match("fakes", "sexual_deepfake"),
        bank_match("misc", "other"),
        bank_match("old-record", None),  # a signal from before banks had a category
        bank_match("future", "a-category-of-a-newer-version"),
    ]
    verdict = load_policy("default").decide(signals)
    assert {r.signals[0].value: r.category.name for r in verdict.reasons} == {
        "hotline": "child_sexual_abuse",
        "demo": "demo",
        "fakes": "sexual_deepfake",
        "misc": "known_image",
        "old-record": "non_consensual_intimate_imagery",
        "future": "non_consensual_intimate_imagery",
    }
    assert verdict.action is Action.BLOCK
    # A policy's bank_categories has the last word over the bank's own.
    path = write(tmp_path, "policy: mine\nversion: 1\nbank_categories: {demo: adult_nudity}\n")
    (reason,) = load_policy(path).decide([bank_match("demo", "demo")]).reasons
    assert reason.category.name == "adult_nudity"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_deployment_file_extends_disables_and_adds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
policy: platform
version: "3"
extends: default
disable: [generated-nudity]
groups:
  ai_flag: {signals: ["provenance.*.ai_generated"], description: declared AI}
rules:
  - id: label-ai
    when: [ai_flag]
    action: review
    category: ai_generated
    reason: Declared AI-generated.
""",
    )
    policy = load_policy(path)
    assert (policy.ref.name, policy.ref.version) == ("platform", "3")
    assert policy.decide([NUDE, AI]).action is Action.REVIEW
    assert [r.rule for r in policy.decide([NUDE, AI]).reasons] == ["label-ai"]
    assert policy.decide([MINOR, NUDE]).action is Action.BLOCK
    assert {rule.id for rule in MANDATORY_RULES} <= {rule.id for rule in policy.rules}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("disable: [minor-sexualised]", "cannot be disabled"),
        ("disable: [known-image]", "cannot be disabled"),
        (
            "rules: [{id: minor-sexualised, when: [minor], action: allow, category: nudity, "
            "reason: x}]",
            "cannot be redefined",
        ),
        ("groups: {minor: {signals: [face.minor], min_score: 0.99}}", "cannot be redefined"),
        ("groups: {nudity: {signals: [nothing.here]}}", "cannot be redefined"),
        ("override: {minor-sexualised: allow}", "unknown keys override"),
    ],
)
def test_a_file_that_tries_to_weaken_the_fixed_rules_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, f"policy: weak\nversion: 1\n{text}\n")
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a mapping"),
        ("[1, 2]", "expected a mapping"),
        ("policy: x", "lacks version"),
        ("policy: x\nversion: 1\nrules: [{id: a}]", "lacks action, category, reason, when"),
        (
            "policy: x\nversion: 1\nrules: [{id: a, when: [minor], action: deny, "
            "category: nudity, reason: r}]",
            "'deny' is not one of allow, review, block",
        ),
        (
            "policy: x\nversion: 1\nrules: [{id: a, when: [nope], action: block, "
            "category: nudity, reason: r}]",
            "unknown groups nope",
        ),
        (
            "policy: x\nversion: 1\nrules: [{id: a, when: [minor], action: block, "
            "category: csam, reason: r}]",
            "'csam' is not a category",
        ),
        (
            "policy: x\nversion: 1\nrules: [{id: a, when: [minor], action: block, category: "
            "nudity, reason: r}, {id: a, when: [minor], action: block, category: nudity, "
            "reason: r}]",
            "two rules are called 'a'",
        ),
        ("policy: x\nversion: 1\ngroups: {g: {signals: [a.b], min_score: 2}}", "min_score"),
        ("policy: x\nversion: 1\nextends: elsewhere.yaml", "only default, strict, survey"),
        ("policy: x\nversion: 1\ndisable: [no-such-rule]", "which no rule is called"),
        ("policy: [unclosed", "not valid UTF-8 YAML"),
    ],
)
def test_malformed_policy_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(write(tmp_path, text))


def test_unknown_policy_names_and_huge_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="give one of default, strict, survey"):
        load_policy("lenient")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (2 << 20))
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(huge)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00policy")
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(binary)


HINT = sig("text.minor_hint", 1.0, "petite")


@pytest.mark.parametrize("request_signal", ["text.nudity", "text.sexual", "text.undress"])
def test_a_minor_hint_with_a_sexual_request_is_reviewed(request_signal: str) -> None:
    for policy in ("default", "strict"):
        action, _, rules = decide(policy, HINT, sig(request_signal, 1.0))
        assert action in ("review", "block")
        assert "possible-minor-sexual-request" in rules
        assert "minor-sexualised" not in rules
    assert decide("default", HINT, sig(request_signal, 1.0))[0] == "review"


def test_a_minor_hint_alone_or_with_revealing_clothing_is_allowed() -> None:
    assert decide("default", HINT)[0] == "allow"
    assert decide("default", HINT, sig("text.revealing", 1.0))[0] == "allow"
    assert decide("survey", HINT, sig("text.nudity", 1.0))[0] == "allow"


def test_a_minor_hint_with_image_nudity_is_reviewed() -> None:
    action, _, rules = decide("default", HINT, NUDE)
    assert (action, rules) == ("review", ["possible-minor-sexualised"])


def test_a_minor_hint_never_adds_a_review_to_a_block() -> None:
    """A request that blocks as a minor's gives that reason, not a hint's review besides."""
    _, _, rules = decide("default", sig("text.minor", 1.0), sig("text.nudity", 1.0))
    assert rules == ["minor-sexualised"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("policy: x\nversion: " + "9" * 5000, "a value YAML cannot hold"),
        ("policy: x\nversion: 1\nrules: " + "[" * 3000 + "]" * 3000, "nested over 50 deep"),
        ("policy: x\nversion: 1\nrules:\n" + "- " * 1500 + "x\n", "nested too deeply"),
        ("policy: x\nversion: 1\nrules: 5\n", "'rules' must be a list"),
        ("policy: x\nversion: 1\nbank_categories: {b: {a: 1}}\n", "is not a category"),
        (
            "policy: x\nversion: 1\nrules:\n  - {id: r, when: [minor], action: block, "
            "category: [a], reason: r}\n",
            "is not a category",
        ),
    ],
)
def test_hostile_policy_bytes_are_a_policy_error(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says):
        parse_policy(text.encode(), source="hostile.yaml")


def test_parse_policy_reads_what_load_policy_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "policy: mine\nversion: 2\nextends: strict\n")
    assert parse_policy(path.read_bytes(), source=str(path)).rules == load_policy(path).rules
