"""A model's texts in, ``text.*`` signals out: each read by the prompt analyser, weighted.

Tags and names go through ``PromptAnalyser.hits`` once per distinct text per ``TextReader``
(a hub's LoRAs share most of their tags, so a run reads each tag once); prompts through
``PromptAnalyser.signals`` as the gate reads them, with a deadline far past what any
ordinary prompt takes (``PROMPT_MS``: one built to take longer gives ``text.unread``, and
review); prose (a card's body, a description) paragraph by paragraph, where a sentence
that forbids a use ("do not use this model to depict minors") does not count its minor
terms (``FORBIDDING``).

Of the signals, the strongest per name and value is kept, at most ``MAX_SIGNALS_PER_NAME``
per name; a tag too rare in its training images (score under ``MIN_SCORE``) gives none.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from rempart.errors import PromptError
from rempart.hub.texts import ModelText, Reading
from rempart.signals import Signal, SignalValue
from rempart.text import MAX_PROMPT_CHARS, Hit, PromptAnalyser
from rempart.text.deadline import Deadline

__all__ = [
    "DETECTOR",
    "FORBIDDING",
    "MAX_CACHED_TEXTS",
    "MAX_SIGNALS_PER_NAME",
    "MIN_SCORE",
    "PROMPT_MS",
    "TextReader",
    "strongest",
    "within",
]

DETECTOR: Final = "hub"
MAX_SIGNALS_PER_NAME: Final = 10
MIN_SCORE: Final = 0.05
"""The weakest text signal kept: a tag on 1% of its folder's images (with ``FULL_SHARE``)."""
PROMPT_MS: Final = 1000.0
"""CPU milliseconds one prompt of a card or sidecar may take to read: 16,000 characters of
ordinary words take under 100."""
MAX_CACHED_TEXTS: Final = 100_000
"""Distinct texts whose hits a reader keeps: a hub's shared tag vocabulary, read once."""

FORBIDDING: Final[Mapping[str, frozenset[str]]] = {
    "en": frozenset(
        {"not", "no", "never", "don't", "dont", "mustn't", "prohibited", "forbidden"}
        | {"banned", "disallowed", "cannot", "can't", "shouldn't", "won't", "nor"}
    ),
    "fr": frozenset({"ne", "pas", "jamais", "interdit", "interdite", "interdits", "interdites"}),
    "de": frozenset({"nicht", "kein", "keine", "keinen", "niemals", "verboten", "untersagt"}),
    "es": frozenset({"no", "nunca", "prohibido", "prohibida", "prohibidos", "prohibidas"}),
    "it": frozenset({"non", "mai", "vietato", "vietata", "vietati", "proibito", "proibita"}),
    "pt": frozenset({"não", "nao", "nunca", "proibido", "proibida", "proibidos", "vedado"}),
}
"""Words that make a sentence of a card forbid what it names (phrases such as "do not", "must
not", "ne pas" are caught by their last word): a minor term in such a sentence is a rule of
use, not what the model is for."""
_FORBIDDING_WORDS: Final = frozenset().union(*FORBIDDING.values())
_MINOR_KINDS: Final = frozenset({"minor", "minor_hint"})
_WORD: Final = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SENTENCE_END: Final = re.compile(r"[.!?;:\n]+")
_PARAGRAPH: Final = re.compile(r"\n\s*\n")


class TextReader:
    """Reads a model's texts with ``analyser``; its hits are cached by text, so one reader
    serves a whole run. ``version`` names the signals' detector version."""

    def __init__(
        self, analyser: PromptAnalyser, *, version: str, prompt_ms: float = PROMPT_MS
    ) -> None:
        self.analyser = analyser
        self.version = version
        self.prompt_ms = prompt_ms
        self._hits = functools.lru_cache(maxsize=MAX_CACHED_TEXTS)(self._read)

    def signals(self, texts: Iterable[ModelText]) -> list[Signal]:
        """Every signal of ``texts``: the strongest per name and value (``strongest``)."""
        found: list[Signal] = []
        for text in texts:
            if text.reading is Reading.PROMPT:
                found.extend(self._prompt(text))
            elif text.reading is Reading.PROSE:
                found.extend(self._prose(text))
            elif text.weight >= MIN_SCORE:
                found.extend(self._terms(text))
        return strongest(found)

    def _read(self, text: str) -> tuple[Hit, ...]:
        return tuple(self.analyser.hits(text))

    def _terms(self, text: ModelText) -> Iterator[Signal]:
        """A tag or name; one longer than a prompt may be (a hostile one) in pieces."""
        for piece in _chunks(text.text):
            for hit in self._hits(piece):
                yield self._signal(hit, piece, text)

    def _prompt(self, text: ModelText) -> Iterator[Signal]:
        """A prompt with its negative, as the gate reads them; one over ``MAX_PROMPT_CHARS``
        (which the gate refuses) is read in pieces, so that padding hides nothing."""
        prompts = _chunks(text.text)
        negatives = _chunks(text.negative) if text.negative else []
        for index in range(max(len(prompts), len(negatives))):
            prompt = prompts[index] if index < len(prompts) else ""
            negative = negatives[index] if index < len(negatives) else None
            try:
                found = self.analyser.signals(prompt, negative, deadline=Deadline(self.prompt_ms))
            except PromptError:  # not text: nothing the gate would read either
                continue
            for signal in found:
                negative_side = signal.evidence.get("field") == "negative"
                field = text.negative_field if negative_side else text.field
                evidence = {**signal.evidence, "field": field or text.field}
                yield replace(signal, detector=DETECTOR, version=self.version, evidence=evidence)

    def _prose(self, text: ModelText) -> Iterator[Signal]:
        """A card's body or a description, paragraph by paragraph; a minor term in a
        sentence that forbids a use does not count."""
        for paragraph in _pieces(text.text):
            hits = self._hits(paragraph)
            if not hits:
                continue
            forbidding = _forbidding_sentences(paragraph)
            for hit in hits:
                if hit.kind in _MINOR_KINDS and within(hit.start, forbidding):
                    continue
                yield self._signal(hit, paragraph, text)

    def _signal(self, hit: Hit, read: str, text: ModelText) -> Signal:
        evidence: dict[str, Any] = {
            "field": text.field,
            "match": read[hit.start : hit.end],
            "view": hit.view,
            "term": hit.term,
        }
        if hit.language:
            evidence["language"] = hit.language
        if hit.edits:
            evidence["edits"] = hit.edits
        if text.share is not None:
            evidence["share"] = text.share
        return Signal(
            f"text.{hit.kind}",
            round(text.weight, 4),
            DETECTOR,
            self.version,
            value=hit.value,
            evidence=evidence,
        )


def strongest(signals: Iterable[Signal]) -> list[Signal]:
    """Per name and value, the strongest signal (the first of equals); at most
    ``MAX_SIGNALS_PER_NAME`` per name, the strongest; in the order first found."""
    best: dict[tuple[str, SignalValue], tuple[int, Signal]] = {}
    for order, signal in enumerate(signals):
        key = (signal.name, signal.value)
        known = best.get(key)
        if known is None:
            best[key] = (order, signal)
        elif signal.score > known[1].score:
            best[key] = (known[0], signal)
    per_name: dict[str, list[tuple[int, Signal]]] = {}
    for order, signal in best.values():
        per_name.setdefault(signal.name, []).append((order, signal))
    kept = [
        item
        for items in per_name.values()
        for item in sorted(items, key=lambda item: (-item[1].score, item[0]))[:MAX_SIGNALS_PER_NAME]
    ]
    return [signal for _, signal in sorted(kept, key=lambda item: item[0])]


def _pieces(text: str) -> list[str]:
    """``text`` in paragraphs, each cut to at most ``MAX_PROMPT_CHARS`` (``_chunks``)."""
    return [
        chunk
        for paragraph in _PARAGRAPH.split(text)
        if paragraph.strip()
        for chunk in _chunks(paragraph)
    ]


def _chunks(text: str) -> list[str]:
    """``text`` whole when the gate would read it whole, else in pieces of at most
    ``MAX_PROMPT_CHARS``, cut at a line, sentence, comma or word end where one is near."""
    chunks: list[str] = []
    start = 0  # never the rest sliced off each time: that copies n squared over 16 KiB
    while len(text) - start > MAX_PROMPT_CHARS:
        head = text[start : start + MAX_PROMPT_CHARS]
        cut = max(head.rfind(mark) for mark in ("\n", ". ", ", ", " "))
        cut = cut + 1 if cut > MAX_PROMPT_CHARS // 2 else MAX_PROMPT_CHARS
        chunks.append(head[:cut])
        start += cut
    chunks.append(text[start:])
    return chunks


def within(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether ``position`` lies in one of ``spans`` (in order, apart), found by bisection: a
    paragraph of thousands of forbidding sentences and as many minor terms is read in
    n log n, not n squared."""
    index = bisect.bisect_right(spans, (position, math.inf)) - 1
    return index >= 0 and position < spans[index][1]


def _forbidding_sentences(paragraph: str) -> list[tuple[int, int]]:
    """The spans of the sentences of ``paragraph`` that hold a word of ``FORBIDDING``."""
    spans = []
    start = 0
    for end_mark in (*_SENTENCE_END.finditer(paragraph), None):
        end = len(paragraph) if end_mark is None else end_mark.end()
        sentence = paragraph[start:end].lower().replace("\u2019", "'")
        if any(word in _FORBIDDING_WORDS for word in _WORD.findall(sentence)):
            spans.append((start, end))
        start = end
    return spans
