"""A model's texts in, ``text.*`` signals out: each read by the prompt analyser, weighted.

Tags and names go through ``PromptAnalyser.hits`` once per distinct text per ``TextReader``
(a hub's LoRAs share most of their tags, so a run reads each tag once); prompts through
``PromptAnalyser.signals`` as the gate reads them, with a deadline far past what any
ordinary prompt takes (``PROMPT_MS``: one built to take longer gives ``text.unread``, and
review); prose (a card's body, a description) paragraph by paragraph, where a sentence
that forbids a use ("do not use this model to depict minors", "minors are prohibited") does
not count the minor terms it forbids (``FORBIDDING``, ``FORBIDDEN``).

Of the signals, the strongest per name and value is kept, at most ``MAX_SIGNALS_PER_NAME``
per name; a tag too rare in its training images (score under ``MIN_SCORE``) gives none.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Final

from rempart.errors import PromptError
from rempart.hub.instance import instance_signals
from rempart.hub.texts import ModelText, Reading
from rempart.signals import Signal, SignalValue
from rempart.text import MAX_PROMPT_CHARS, Hit, PromptAnalyser
from rempart.text.analyse import hit_evidence
from rempart.text.deadline import Deadline

__all__ = [
    "DETECTOR",
    "FORBIDDEN",
    "FORBIDDING",
    "MAX_CACHED_TEXTS",
    "MAX_SIGNALS_PER_NAME",
    "MIN_SCORE",
    "PERMITTED",
    "PROMPT_MS",
    "TextReader",
    "strongest",
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
        | {"banned", "disallowed", "cannot", "can't", "shouldn't", "won't", "nor", "without"}
    ),
    "fr": frozenset({"ne", "pas", "jamais", "interdit", "interdite", "interdits", "interdites"}),
    "de": frozenset({"nicht", "kein", "keine", "keinen", "niemals", "verboten", "untersagt"}),
    "es": frozenset({"no", "nunca", "prohibido", "prohibida", "prohibidos", "prohibidas"}),
    "it": frozenset({"non", "mai", "vietato", "vietata", "vietati", "proibito", "proibita"}),
    "pt": frozenset({"não", "nao", "nunca", "proibido", "proibida", "proibidos", "vedado"}),
}
"""Words that, before a minor term in a sentence of a card, make the sentence forbid it ("do
not use it to depict minors", "ne pas représenter d'enfants": phrases are caught by one of
their words). After the term only ``FORBIDDEN`` counts: "teen, no watermark" forbids the
watermark, not the teen."""
FORBIDDEN: Final[Mapping[str, frozenset[str]]] = {
    "en": frozenset({"prohibited", "forbidden", "banned", "disallowed"}),
    "fr": frozenset({"interdit", "interdite", "interdits", "interdites", "proscrit", "proscrits"}),
    "de": frozenset({"verboten", "untersagt"}),
    "es": frozenset({"prohibido", "prohibida", "prohibidos", "prohibidas"}),
    "it": frozenset({"vietato", "vietata", "vietati", "vietate", "proibito", "proibiti"}),
    "pt": frozenset({"proibido", "proibida", "proibidos", "proibidas", "vedado", "vedada"}),
}
"""Words that, after a minor term in the same sentence, forbid it ("minors are prohibited");
and, after a word of ``FORBIDDING``, ``PERMITTED`` ones ("minors are not allowed")."""
PERMITTED: Final = frozenset(
    {"allowed", "permitted", "autorisé", "autorisés", "autorisée", "autorisées", "permis"}
    | {"erlaubt", "gestattet", "permitido", "permitidos", "permitida", "permesso", "consentito"}
    | {"ammesso", "ammessi", "permitidas"}
)
_FORBIDDING_WORDS: Final = frozenset().union(*FORBIDDING.values())
_FORBIDDEN_WORDS: Final = frozenset().union(*FORBIDDEN.values())
_PERMISSION_REACH: Final = 3  # "not allowed", "are not ever allowed"
_MINOR_KINDS: Final = frozenset({"minor", "minor_hint"})
_WORD: Final = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SENTENCE_END: Final = re.compile(r"[.!?;:\n]+")
_PARAGRAPH: Final = re.compile(r"\n\s*\n")
_CUTS: Final = ("\n", ". ", ", ", " ")  # where a long text is cut, the first found first


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
        self._vocabulary = analyser.compiled.vocabulary

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
            found.extend(
                instance_signals(text, self._known, version=self.version, detector=DETECTOR)
            )
        return strongest(found)

    def _known(self, word: str) -> bool:
        """Whether ``word`` is an ordinary word or a lexicon's: no trainer's identifier."""
        return self._vocabulary.ordinary(word) or word in self._vocabulary.parts

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
            minors = [hit for hit in hits if hit.kind in _MINOR_KINDS]
            forbidden = _forbidden_spans(paragraph, minors) if minors else set()
            for hit in hits:
                if hit.kind in _MINOR_KINDS and (hit.start, hit.end) in forbidden:
                    continue
                yield self._signal(hit, paragraph, text)

    def _signal(self, hit: Hit, read: str, text: ModelText) -> Signal:
        evidence = hit_evidence(hit, read, text.field)
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
    ``MAX_PROMPT_CHARS``, cut at the first of a line, sentence, comma or word end found in
    the piece's second half, so that a sentence stays whole where it can."""
    chunks: list[str] = []
    start = 0  # never the rest sliced off each time: that copies n squared over 16 KiB
    while len(text) - start > MAX_PROMPT_CHARS:
        head = text[start : start + MAX_PROMPT_CHARS]
        cut = next(
            (at + len(mark) for mark in _CUTS if (at := head.rfind(mark)) > MAX_PROMPT_CHARS // 2),
            MAX_PROMPT_CHARS,
        )
        chunks.append(head[:cut])
        start += cut
    chunks.append(text[start:])
    return chunks


def _forbidden_spans(paragraph: str, hits: Iterable[Hit]) -> set[tuple[int, int]]:
    """The (start, end) of each of ``hits`` that its sentence forbids: a ``FORBIDDING`` word
    before it, or after it a ``FORBIDDEN`` word or a ``FORBIDDING`` word followed closely by
    a ``PERMITTED`` one. The paragraph's words are read once and each hit looks up its
    sentence and the nearest such words by bisection, so that a paragraph of thousands of
    sentences and as many minor terms costs n log n, not n squared."""
    sentences = [0, *(mark.end() for mark in _SENTENCE_END.finditer(paragraph)), len(paragraph)]
    # the same length as the paragraph, so that a word's offsets are the paragraph's
    plain = paragraph.replace("\u2019", "'")
    words = [(m.start(), m.group().lower()) for m in _WORD.finditer(plain)]
    before = [at for at, word in words if word in _FORBIDDING_WORDS]
    after = [
        at
        for index, (at, word) in enumerate(words)
        if word in _FORBIDDEN_WORDS
        or (
            word in _FORBIDDING_WORDS
            and any(w in PERMITTED for _, w in words[index + 1 : index + 1 + _PERMISSION_REACH])
        )
    ]
    forbidden = set()
    for hit in hits:
        index = bisect.bisect_right(sentences, hit.start) - 1
        start, end = sentences[index], sentences[min(index + 1, len(sentences) - 1)]
        if _any_in(before, start, hit.start) or _any_in(after, hit.end, end):
            forbidden.add((hit.start, hit.end))
    return forbidden


def _any_in(positions: Sequence[int], start: int, end: int) -> bool:
    """Whether one of the sorted ``positions`` lies in [start, end)."""
    index = bisect.bisect_left(positions, start)
    return index < len(positions) and positions[index] < end
