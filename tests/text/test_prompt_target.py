"""The prompt fuzz target (``fuzz/targets/prompt.py``): its seed corpus holds each kind of
prompt, and bad bytes give only ``PromptError`` (tests/test_fuzz.py replays the corpus, as for
every target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import prompt as target
from rempart.errors import PromptError
from rempart.text import MAX_PROMPT_CHARS

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus" / "prompt"
SEEDS = sorted(path for path in CORPUS.iterdir() if path.is_file())


def test_the_corpus_holds_requests_disguises_and_adversarial_prompts() -> None:
    names = {path.name for path in SEEDS}
    for prefix in ("request-", "disguise-", "adversarial-", "slow-", "negative-"):
        assert any(name.startswith(prefix) for name in names), prefix
    assert all(path.stat().st_size <= 4_096 for path in SEEDS)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("teen \ud800 nude".encode("utf-8", "surrogatepass"), "not_text"),  # a lone surrogate
        (b"a" * (MAX_PROMPT_CHARS + 1), "too_long"),
    ],
)
def test_bad_prompts_are_refused_with_a_prompt_error(data: bytes, code: str) -> None:
    target.fuzz_one(data)
    prompt, negative = target.decode(data)
    with pytest.raises(PromptError) as refused:
        target.analyser().signals(prompt, negative)
    assert refused.value.code == code


def test_bytes_that_are_not_utf8_are_read_and_a_nul_starts_the_negative() -> None:
    assert target.decode(b"nude \xff teen") == ("nude \ufffd teen", None)
    assert target.decode(b"a portrait\0adult woman") == ("a portrait", "adult woman")
    target.fuzz_one(b"\xff\xfe\xc3")
