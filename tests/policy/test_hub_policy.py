"""The ``hub`` policy and the groups the model audit's signals join: a model declared to show
minors or a real person with sexual signals blocks in every policy; the ``hub`` rules review a
model of a real person, block a sexualised one and a copy of a blocked one, and review a pickle
that may run code; no file that extends ``hub`` can disable the fixed rules."""

from __future__ import annotations

import pytest

from rempart.errors import PolicyError
from rempart.policy import BUILTIN_GROUPS, BUILTIN_POLICIES, load_policy, parse_policy
from rempart.signals import Signal


def sig(name: str, score: float = 1.0, value: str | None = None) -> Signal:
    return Signal(name, score, "hub", "test", value=value, evidence={"field": "tags"})


DECLARED_MINOR = sig("model.minor")
DECLARED_NSFW = sig("model.nsfw")
DECLARED_PERSON = sig("model.poi")
NAMED = sig("text.person", value="Jane Doe")
LIKENESS = sig("text.likeness", value="influencer")
NUDITY = sig("text.nudity", value="nude")
REVEALING = sig("text.revealing", value="bikini")
COPY = sig("model.copy")
RUNS_CODE = sig("model.pickle.code", 1.0, "os.system")
IMPORTS = sig("model.pickle.code", 0.3, "collections.OrderedDict")


def decide(policy: str, *signals: Signal) -> tuple[str, list[str], list[str]]:
    verdict = load_policy(policy).decide(list(signals))
    return (
        verdict.action.value,
        [category.name for category in verdict.categories],
        [reason.rule for reason in verdict.reasons],
    )


def test_hub_is_a_built_in_policy_that_extends_default() -> None:
    assert "hub" in BUILTIN_POLICIES
    hub, default = load_policy("hub"), load_policy("default")
    assert hub.name == "hub"
    assert {rule.id for rule in default.rules} < {rule.id for rule in hub.rules}
    own = [rule.id for rule in hub.rules if rule not in default.rules]
    assert own == [
        "person-model",
        "likeness-model-sexualised",
        "person-model-sexualised",
        "copy-of-blocked-model",
        "model-runs-code",
    ]


def test_the_model_signals_join_the_fixed_groups() -> None:
    assert BUILTIN_GROUPS["minor"].select([DECLARED_MINOR]) == [DECLARED_MINOR]
    assert BUILTIN_GROUPS["sexual"].select([DECLARED_NSFW]) == [DECLARED_NSFW]
    assert BUILTIN_GROUPS["real_person"].select([DECLARED_PERSON]) == [DECLARED_PERSON]
    assert BUILTIN_GROUPS["likeness"].select([LIKENESS]) == [LIKENESS]
    assert BUILTIN_GROUPS["model_copy"].select([COPY]) == [COPY]
    assert BUILTIN_GROUPS["model_code"].select([IMPORTS, RUNS_CODE]) == [IMPORTS, RUNS_CODE]


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
@pytest.mark.parametrize("sexualised", [DECLARED_NSFW, NUDITY, REVEALING])
def test_a_model_declared_to_show_minors_with_sexual_signals_blocks_in_every_policy(
    policy: str, sexualised: Signal
) -> None:
    action, categories, rules = decide(policy, DECLARED_MINOR, sexualised)
    assert (action, categories[0], rules[0]) == ("block", "child_sexual_abuse", "minor-sexualised")


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
@pytest.mark.parametrize("person", [DECLARED_PERSON, NAMED])
@pytest.mark.parametrize("sexualised", [DECLARED_NSFW, NUDITY])
def test_a_declared_or_named_person_with_sexual_signals_blocks_in_every_policy(
    policy: str, person: Signal, sexualised: Signal
) -> None:
    action, _, rules = decide(policy, person, sexualised)
    assert action == "block"
    assert "real-person-sexualised" in rules


def test_a_declared_flag_alone_decides_nothing_in_default() -> None:
    for signal in (DECLARED_MINOR, DECLARED_NSFW, DECLARED_PERSON):
        assert decide("default", signal)[0] == "allow"


def test_a_person_model_with_nudity_blocks_as_a_sexual_deepfake_under_hub() -> None:
    action, categories, rules = decide("hub", DECLARED_PERSON, NUDITY)
    assert action == "block"
    assert {"person-model-sexualised", "real-person-sexualised"} <= set(rules)
    assert "sexual_deepfake" in categories
    assert "non_consensual_intimate_imagery" in categories


@pytest.mark.parametrize("person", [LIKENESS, DECLARED_PERSON, NAMED])
def test_a_model_of_a_real_person_alone_is_reviewed(person: Signal) -> None:
    action, categories, rules = decide("hub", person)
    assert (action, categories, rules) == ("review", ["likeness_model"], ["person-model"])


def test_likeness_alone_is_allowed_outside_hub() -> None:
    for policy in ("default", "strict", "survey"):
        assert decide(policy, LIKENESS) == ("allow", [], [])


@pytest.mark.parametrize("sexualised", [NUDITY, REVEALING, DECLARED_NSFW])
def test_a_likeness_model_made_for_nudity_is_reviewed_as_a_sexual_deepfake(
    sexualised: Signal,
) -> None:
    action, categories, rules = decide("hub", LIKENESS, sexualised)
    assert action == "review"
    assert rules == ["person-model", "likeness-model-sexualised"]
    assert categories == ["likeness_model", "sexual_deepfake"]


def test_nudity_alone_is_no_likeness_model() -> None:
    assert decide("hub", NUDITY, DECLARED_NSFW)[0] == "allow"


def test_a_copy_of_a_blocked_model_blocks() -> None:
    assert decide("hub", COPY) == ("block", ["sexual_deepfake"], ["copy-of-blocked-model"])


def copy_of(path: str, category: str) -> Signal:
    evidence = {"known": path, "fingerprint": "s1:" + "0" * 64, "category": category}
    return Signal("model.copy", 1.0, "hub", "test", value=path, evidence=evidence)


def test_a_copy_takes_the_category_of_the_verdict_it_copies() -> None:
    """A copy of a model blocked as child sexual abuse is reported as one, not as a deepfake;
    a category the evidence names that no rule may name falls back to the rule's."""
    verdict = load_policy("hub").decide(
        [copy_of("a.safetensors", "child_sexual_abuse"), copy_of("b.safetensors", "nonsense")]
    )
    assert verdict.action.value == "block"
    assert [(r.rule, r.category.name) for r in verdict.reasons] == [
        ("copy-of-blocked-model", "child_sexual_abuse"),
        ("copy-of-blocked-model", "sexual_deepfake"),
    ]


def test_category_from_evidence_must_be_true_or_false() -> None:
    raw = (
        b"policy: mine\nversion: 1\nrules:\n  - id: r\n    when: [model_copy]\n"
        b"    action: block\n    category: sexual_deepfake\n    reason: r\n"
        b"    category_from_evidence: yes please\n"
    )
    with pytest.raises(PolicyError, match="category_from_evidence must be true or false"):
        parse_policy(raw)


@pytest.mark.parametrize("signal", [RUNS_CODE, IMPORTS])
def test_a_pickle_that_may_run_code_is_reviewed_with_its_label(signal: Signal) -> None:
    assert decide("hub", signal) == ("review", ["unsafe_model_file"], ["model-runs-code"])


@pytest.mark.parametrize(
    "rule", ["minor-sexualised", "real-person-sexualised", "known-image", "prompt-unread"]
)
def test_a_policy_extending_hub_cannot_disable_the_fixed_rules(rule: str) -> None:
    raw = f"policy: mine\nversion: 1\nextends: hub\ndisable: [{rule}]\n".encode()
    with pytest.raises(PolicyError, match="cannot be disabled"):
        parse_policy(raw)


@pytest.mark.parametrize("group", ["likeness", "model_copy", "model_code"])
def test_a_policy_cannot_redefine_the_new_groups(group: str) -> None:
    raw = f"policy: mine\nversion: 1\nextends: hub\ngroups:\n  {group}:\n    signals: [x]\n"
    with pytest.raises(PolicyError, match="built in"):
        parse_policy(raw.encode())


def test_a_policy_extending_hub_may_disable_its_own_rules() -> None:
    raw = b"policy: mine\nversion: 1\nextends: hub\ndisable: [person-model, model-runs-code]\n"
    policy = parse_policy(raw)
    assert policy.decide([LIKENESS]).action.value == "allow"
    assert policy.decide([DECLARED_MINOR, DECLARED_NSFW]).action.value == "block"
    assert policy.decide([COPY]).action.value == "block"


def test_the_new_categories_carry_their_dsa_fields_in_the_verdict() -> None:
    verdict = load_policy("hub").decide([LIKENESS, NUDITY, RUNS_CODE]).to_json()
    categories = {category["name"]: category for category in verdict["categories"]}
    assert categories["likeness_model"] == {
        "name": "likeness_model",
        "dsa_category": "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "dsa_keywords": ["KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_MISSING_PROCESSING_GROUND"],
    }
    assert categories["sexual_deepfake"]["dsa_category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert categories["unsafe_model_file"] == {
        "name": "unsafe_model_file",
        "dsa_category": None,
        "dsa_keywords": [],
    }
    assert verdict["policy"]["name"] == "hub"
    reasons = {reason["rule"]: reason for reason in verdict["reasons"]}
    assert reasons["model-runs-code"]["signals"][0]["value"] == "os.system"
