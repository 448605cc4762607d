"""The prompt's reading deadline (issue 17): a reading that runs out of time stops, keeps what it
found, and says ``text.unread``, which sends the request to review under every policy; a
deadline of 0 reads to the end. Clocks are faked or the deadline is all but nil, so that no
test depends on how fast this machine reads."""

from __future__ import annotations

import random

import pytest

from rempart.config import DEFAULT_GATE_PROMPT_MS, load_settings
from rempart.errors import ConfigError
from rempart.gate import Gate
from rempart.policy import BUILTIN_POLICIES, Action, load_policy
from rempart.signals import Signal
from rempart.text import MAX_PROMPT_CHARS, PersonName, PromptAnalyser
from rempart.text.deadline import DEFAULT_PROMPT_MS, TICKS_PER_CHECK, Deadline, DeadlinePassed

PERSONS = ["Taylor Swift", "Emma Watson"]
BLOCKED = "nude 15 year old girl"
NIL_MS = 1e-6  # a nanosecond: passed at the first reading of the clock


def long_prompt(seed: int = 0) -> str:
    """Words no cache has seen, up to the longest accepted prompt."""
    rng = random.Random(seed)
    words: list[str] = []
    while sum(map(len, words)) + len(words) < MAX_PROMPT_CHARS:
        words.append("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))))
    return " ".join(words)[:MAX_PROMPT_CHARS]


class Clock:
    """A fake clock: 0 for the first ``passes_after`` readings (the deadline's creation
    included), then an hour; counts its readings."""

    def __init__(self, passes_after: int | None = None) -> None:
        self.passes_after = passes_after
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        passed = self.passes_after is not None and self.readings > self.passes_after
        return 3600.0 if passed else 0.0


@pytest.fixture(scope="module")
def analyser() -> PromptAnalyser:
    return PromptAnalyser(persons=PERSONS)


def unread(signals: list[Signal]) -> list[Signal]:
    return [signal for signal in signals if signal.name == "text.unread"]


def test_a_tick_reads_the_clock_only_now_and_then() -> None:
    clock = Clock()
    deadline = Deadline(15, clock=clock)
    for _ in range(TICKS_PER_CHECK - 1):
        deadline.tick()
    assert clock.readings == 1  # its creation only
    deadline.tick()
    assert clock.readings == 2


def test_a_passed_deadline_raises_and_says_so() -> None:
    deadline = Deadline(15, clock=Clock(passes_after=1))
    for _ in range(TICKS_PER_CHECK - 1):
        deadline.tick()
    assert not deadline.passed  # the clock not read yet
    with pytest.raises(DeadlinePassed):
        deadline.tick()
    assert deadline.passed


def test_no_deadline_never_reads_the_clock() -> None:
    def clock() -> float:
        raise AssertionError("the clock was read")

    deadline = Deadline(0, clock=clock)
    for _ in range(1_000):
        deadline.tick()
    deadline.check()
    assert not deadline.passed


def test_a_passed_deadline_stops_the_reading_with_text_unread(analyser: PromptAnalyser) -> None:
    prompt = long_prompt()
    signals = analyser.signals(prompt, "blurry", deadline=Deadline(15, clock=Clock(1)))
    (signal,) = unread(signals)
    assert signal.score == 1.0
    assert signal.value == "deadline"
    assert signal.evidence == {
        "field": "prompt",
        "read": 0,
        "length": len(prompt),
        "deadline_ms": 15,
    }


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_prompt_unread_goes_to_review_under_every_policy(policy: str) -> None:
    gate = Gate(load_policy(policy), persons=PERSONS, prompt_ms=NIL_MS)
    verdict = gate.check(long_prompt())
    assert verdict.action is Action.REVIEW
    assert [reason.rule for reason in verdict.reasons] == ["prompt-unread"]
    assert verdict.reasons[0].category.name == "unread_request"
    assert "a person must look" in verdict.reasons[0].text


@pytest.mark.parametrize("policy", BUILTIN_POLICIES)
def test_a_block_found_before_the_deadline_still_blocks(
    policy: str, analyser: PromptAnalyser
) -> None:
    # The clock passes right after the prompt has been read: the negative prompt is cut.
    counting = Clock()
    analyser.signals(BLOCKED, deadline=Deadline(15, clock=counting))
    deadline = Deadline(15, clock=Clock(passes_after=counting.readings))
    signals = analyser.signals(BLOCKED, long_prompt(), deadline=deadline)
    assert {"text.minor", "text.nudity"} <= {signal.name for signal in signals}
    assert [signal.evidence["field"] for signal in unread(signals)] == ["negative"]
    verdict = load_policy(policy).decide(signals)
    assert verdict.action is Action.BLOCK
    assert {"minor-sexualised", "prompt-unread"} <= {reason.rule for reason in verdict.reasons}


@pytest.mark.parametrize(
    "prompt",
    [
        "a lighthouse at sunset, oil painting, (cinematic lighting:1.2), [anime|manga] style",
        "Taylor Swift on stage, {sunny|rainy} day, 85mm lens",
        "jeune fille de 13 ans nue",
        "t e e n n00d, teeeen, scarlettjohansson",
    ],
)
def test_a_short_prompt_is_read_in_full_with_the_default_deadline(
    prompt: str, analyser: PromptAnalyser
) -> None:
    assert analyser.prompt_ms == DEFAULT_PROMPT_MS
    assert not unread(analyser.signals(prompt, "lowres, bad anatomy, blurry"))


def test_no_deadline_reads_a_long_prompt_to_its_end() -> None:
    gate = Gate(persons=PERSONS, prompt_ms=0)
    prompt = long_prompt()[: MAX_PROMPT_CHARS // 4] + " " + BLOCKED
    assert not unread(gate.signals(prompt))
    assert gate.check(prompt).action is Action.BLOCK


def test_the_setting_parses_and_0_means_no_deadline() -> None:
    assert load_settings({}).gate_prompt_ms == DEFAULT_GATE_PROMPT_MS == DEFAULT_PROMPT_MS
    assert load_settings({"REMPART_GATE_PROMPT_MS": "40"}).gate_prompt_ms == 40
    assert load_settings({"REMPART_GATE_PROMPT_MS": "0"}).gate_prompt_ms == 0
    with pytest.raises(ConfigError, match="at least 0"):
        load_settings({"REMPART_GATE_PROMPT_MS": "-1"})
    with pytest.raises(ConfigError, match="whole number"):
        load_settings({"REMPART_GATE_PROMPT_MS": "fast"})


def test_the_gate_passes_its_deadline_to_every_prompt_reader_it_builds() -> None:
    names = [PersonName(name) for name in PERSONS]
    gate = Gate(persons=lambda: names, prompt_ms=7)  # a runtime's: built on first use
    assert gate.analyser.prompt_ms == 7
