"""Fuzz target: a prompt and its negative prompt, as ``rempart gate`` and ``/v1/guard`` read
them, through the gate's prompt analysis (syntax, views, lexicons, names).

The bytes are decoded as UTF-8, lone surrogates kept (``surrogatepass``: what a JSON ``\\ud800``
escape gives), else with replacement characters; a NUL byte, when there is one, splits the
prompt from its negative prompt. Only ``PromptError`` may come out (a prompt too long, or not
text); anything else escaping is a bug.
"""

from __future__ import annotations

import contextlib
import functools

from rempart.errors import PromptError
from rempart.text import PromptAnalyser

PERSONS = ("Taylor Swift", "Beyonc\u00e9", "Kim Kardashian", "Emma Watson", "Zo\u00eb Kravitz")


@functools.cache
def analyser() -> PromptAnalyser:
    """The analyser every input is read by (built once: the lexicons take a while), without a
    deadline: every input is read to its end, so that a slow one shows as slow."""
    return PromptAnalyser(persons=PERSONS, prompt_ms=0)


def decode(data: bytes) -> tuple[str, str | None]:
    """The prompt and the negative prompt ``data`` stands for."""
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    prompt, nul, negative = text.partition("\0")
    return prompt, negative if nul else None


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as a prompt (and negative prompt); only ``PromptError`` may escape."""
    prompt, negative = decode(data)
    with contextlib.suppress(PromptError):
        analyser().signals(prompt, negative)
