"""Prompt-editing syntax: every alternative lands in a branch, weights and counts are not text,
and hostile bracketing neither crashes nor explodes."""

from __future__ import annotations

import re

import pytest

from rempart.text import MAX_BRANCHES, expand_prompt


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a [cat|dog] b", ["a cat b", "a dog b"]),  # alternation (AUTOMATIC1111)
        ("a {cat|dog} b", ["a cat b", "a dog b"]),  # Dynamic Prompts
        ("a {2$$cat|dog|bird} b", ["a cat b", "a dog b", "a bird b"]),
        ("a {1-2$$cat|dog}", ["a cat", "a dog"]),
        ("a [cat:dog:0.5] b", ["a cat b", "a dog b"]),  # [from:to:when]
        ("a [cat:dog:10] b", ["a cat b", "a dog b"]),
        ("a [dog:10] b", ["a dog b"]),  # [to:when]
        ("a [cat::0.5] b", ["a cat b"]),  # [from::when]
        ("{a|b} {c|d}", ["a c", "a d", "b c", "b d"]),
        ("[cat]", ["cat"]),
    ],
)
def test_syntax_forms_expand_to_every_alternative(prompt: str, expected: list[str]) -> None:
    assert expand_prompt(prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a (cat:1.2) b", "a cat b"),
        ("a (cat:-0.5) b", "a cat b"),
        ("a (cat:.5)", "a cat"),
        ("a (cat: 1.2 ) b", "a cat b"),
        ("a ((cat:1.1):1.3)", "a cat"),
        ("a (cat:1.2), (dog:0.8) b", "a cat, dog b"),
        ("a (cat b) c", "a cat b c"),
    ],
)
def test_weights_are_removed(prompt: str, expected: str) -> None:
    assert expand_prompt(prompt) == [expected]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a [cat|{dog|bird}] b", ["a cat b", "a dog b", "a bird b"]),
        ("([cat|dog]:1.2)", ["cat", "dog"]),
        ("{cat|(dog:1.3)}", ["cat", "dog"]),
        ("[(cat:1.2)|dog]", ["cat", "dog"]),
    ],
)
def test_nested_groups(prompt: str, expected: list[str]) -> None:
    assert expand_prompt(prompt) == expected


@pytest.mark.parametrize("prompt", ["a plain prompt", "", "a: b | c", "100%"])
def test_prompt_without_syntax_is_its_only_branch(prompt: str) -> None:
    assert expand_prompt(prompt) == [prompt]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a \\(cat\\) b", ["a (cat) b"]),
        ("a \\[x|y\\] b", ["a [x|y] b"]),
        ("a\\{b|c\\}", ["a{b|c}"]),
        ("a [b\\|c|d]", ["a b|c", "a d"]),
    ],
)
def test_escaped_brackets_are_literal(prompt: str, expected: list[str]) -> None:
    assert expand_prompt(prompt) == expected


def test_pick_count_is_not_text() -> None:
    branches = expand_prompt("{3$$one|two|three|four}")
    assert branches == ["one", "two", "three", "four"]
    assert not any("$" in branch for branch in branches)


@pytest.mark.parametrize(
    "prompt",
    ["a [cat|dog b", "a (cat b", "a {cat|dog b", "a [cat:dog b", "((([[[{{{", "a \\"],
)
def test_unclosed_brackets_do_not_crash_and_keep_the_text(prompt: str) -> None:
    branches = expand_prompt(prompt)
    assert branches
    read = " ".join(branches)
    for word in re.findall(r"\w+", prompt):
        assert word in read


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat|dog] b", ["a cat|dog] b"]),
        ("a ) b", ["a ) b"]),
        ("a } b", ["a } b"]),
        ("]]])))}}}", ["]]])))}}}"]),
        ("a \\", ["a \\"]),
    ],
)
def test_stray_closers_are_kept_as_text(prompt: str, expected: list[str]) -> None:
    assert expand_prompt(prompt) == expected


def test_all_combinations_up_to_max_branches() -> None:
    choices = MAX_BRANCHES.bit_length() - 1  # 2**choices == MAX_BRANCHES
    assert 2**choices == MAX_BRANCHES
    prompt = " ".join(f"[a{i}|b{i}]" for i in range(choices))
    branches = expand_prompt(prompt)
    assert len(branches) == MAX_BRANCHES
    assert len(set(branches)) == MAX_BRANCHES
    assert " ".join(f"b{i}" for i in range(choices)) in branches


def _segments(branches: list[str]) -> list[str]:
    """The texts read apart: the branches, and the alternatives packed in one (a line each,
    between lines of a number no lexicon holds)."""
    return [line for branch in branches for line in branch.split("\n") if line != "1234"]


def test_over_max_branches_the_first_alternatives_then_each_other_one() -> None:
    choices = MAX_BRANCHES.bit_length()  # one more choice: twice too many
    prompt = " ".join(f"[a{i}|b{i}]" for i in range(choices))
    branches = expand_prompt(prompt)
    assert branches[0] == " ".join(f"a{i}" for i in range(choices))
    segments = _segments(branches[1:])
    assert len(segments) == choices
    for i in range(choices):
        assert sum(f"b{i}" in segment.split() for segment in segments) == 1


def test_many_choices_stay_linear_and_keep_context() -> None:
    prompt = " ".join(f"[a{i}|b{i}]" for i in range(40))
    segments = _segments(expand_prompt(prompt))
    assert len(segments) == 41
    for i in range(40):
        (segment,) = [segment for segment in segments if f"b{i}" in segment.split()]
        tokens = segment.split()
        at = tokens.index(f"b{i}")
        if i > 0:
            assert tokens[at - 1] == f"a{i - 1}"
        if i < 39:
            assert tokens[at + 1] == f"a{i + 1}"


def test_fallback_branches_are_bounded_in_size() -> None:
    """With hundreds of choices, each other alternative is read with some context, not the
    whole prompt: the total size stays linear in the prompt's length."""
    prompt = " ".join(f"[alpha{i}|beta{i}]" for i in range(500))
    branches = expand_prompt(prompt)
    segments = _segments(branches[1:])
    assert len(segments) == 500
    assert all(f"beta{i}" in segments[i].split() for i in range(500))
    assert all(len(segment) < 500 for segment in segments)
    assert sum(len(branch) for branch in branches) <= 2 * len(prompt) + 4_096


@pytest.mark.parametrize(
    "prompt",
    [
        "{a|b|c} " * 2_000,  # the 1.7 s prompt of issue 17, at full length
        "[a|b] " * 2_700,
        "{" + "|".join(f"w{i}" for i in range(3_000)) + "} " + "filler words " * 400,
        ("{" * 30 + "a|b" + "}" * 30 + " ") * 250,
        "{a|{b|{c|{d|e}}}} {f|g} {h|i} " * 500,
    ],
)
def test_branches_stay_within_the_budget_however_choices_are_built(prompt: str) -> None:
    """What the analyser reads is bounded by the prompt's length (issue 17: a prompt of
    13,000 characters made of choice groups took 1.7 s), whatever the choices."""
    prompt = prompt[:16_384]
    branches = expand_prompt(prompt)
    assert sum(len(branch) for branch in branches) <= 2 * len(prompt) + 4_096
    assert len(branches) <= MAX_BRANCHES


@pytest.mark.parametrize("opener", ["(", "[", "{"])
def test_depth_bomb_does_not_recurse_without_bound(opener: str) -> None:
    branches = expand_prompt(opener * 10_000)
    assert len(branches) == 1


def test_deeply_nested_word_is_still_read() -> None:
    branches = expand_prompt("(" * 10_000 + "nude" + ")" * 10_000)
    assert any("nude" in branch for branch in branches)


def test_wide_alternation_is_read() -> None:
    prompt = "{" + "|".join(f"w{i}" for i in range(1000)) + "}"
    segments = _segments(expand_prompt(prompt))
    assert len(segments) == 1000
    assert "w999" in segments


@pytest.mark.parametrize(
    ("prompt", "branches"),
    [
        ("a (cat b", ["a cat b"]),
        ("nude [teen|park", ["nude teen", "nude park"]),
        ("x {one|two", ["x one", "x two"]),
    ],
)
def test_an_unclosed_bracket_reads_the_rest_once(prompt: str, branches: list[str]) -> None:
    assert expand_prompt(prompt) == branches


def test_an_unclosed_bracket_bomb_does_not_grow_the_text() -> None:
    prompt = "(" * 32 + "x" * 16_000
    assert sum(len(branch) for branch in expand_prompt(prompt)) == 16_000
