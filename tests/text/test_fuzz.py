"""Fuzz targets for the prompt gate's parsers of untrusted input: a prompt and its negative
(any text, prompt syntax, symbols, emoji, look-alike letters), and a registry file (any
bytes). Only ``PromptError`` and ``PersonsError`` may come out, never a library's own
exception, and every match in the evidence is the text as given."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rempart.errors import PersonsError, PromptError
from rempart.persons import read_persons_file
from rempart.text import NameMatcher, PromptAnalyser
from rempart.text.names import person_names

ANALYSER = PromptAnalyser(persons=["Taylor Swift", "Beyonc\u00e9", "Kim Kardashian"])
# Pieces a hostile prompt is made of: words the lexicons and names hold, prompt syntax,
# censoring and leet symbols, digits, child emoji with skin tones, invisible and look-alike
# characters.
PIECES = st.sampled_from(
    [
        "nude", "teen", "15", "yo", "taylor", "swift", "kardashian", "adult", "mature",
        "born in", "2013", "under", "18", "+", "*", ".", "-", "|_|", "|<", "\\", "(", ")",
        "[", "]", "{", "}", "|", ":", "1.2", "$$", "@", "!", "0", "3", " ", ", ", "\n",
        "\U0001f467", "\U0001f3fd", "\u200b", "\u0435", "\u00e9", "\ufe0f", "\ud800", "ß",
        "remove", "her", "clothes", "from", "stain", "t e e n", "n*de",
    ]
)  # fmt: skip
PROMPTS = st.one_of(
    st.text(max_size=300),
    st.lists(PIECES, max_size=60).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=PROMPTS, negative=st.one_of(st.none(), PROMPTS))
def test_any_prompt_is_read_or_refused(prompt: str, negative: str | None) -> None:
    try:
        signals = ANALYSER.signals(prompt, negative)
    except PromptError:
        return
    for signal in signals:
        assert signal.evidence["field"] in ("prompt", "negative")
        assert signal.evidence["match"].strip()


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_any_registry_file_is_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("registry") / "registry.json"
    path.write_bytes(raw)
    with contextlib.suppress(PersonsError):
        read_persons_file(path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["name", "aliases", "distinctive", "x"]), children)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(entries=st.lists(JSON_VALUES, max_size=5))
def test_any_registry_entries_are_read_or_refused(
    tmp_path_factory: pytest.TempPathFactory, entries: list[object]
) -> None:
    path = tmp_path_factory.mktemp("registry") / "registry.json"
    path.write_text(json.dumps({"protected_persons": entries}), encoding="utf-8")
    try:
        persons = read_persons_file(path)
    except PersonsError:
        return
    list(NameMatcher(person_names(persons)).find(["taylor", "swift", "nude"]))
