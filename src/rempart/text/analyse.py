"""``PromptAnalyser``: a prompt and its negative prompt in, ``text.*`` signals out.

Each branch of the prompt (``expand_prompt``) is read in every view (``views``) against every
lexicon at once. What it finds becomes signals a policy reads like any detector's:

- ``text.minor``: a child or school term, or an age under 18 in any written form ("15yo",
  "quinze ans", "15-jährige"), or in the negative prompt, a word for an adult ("adult, mature"
  there asks for someone younger);
- ``text.nudity``, ``text.revealing``, ``text.sexual``: terms of those kinds, and in the negative
  prompt, words for clothing ("clothes" there asks for less);
- ``text.undress``: an undressing or sexualising edit ("undress", "remove her clothes" from a
  removal verb near a garment, "zieh sie aus", "make the shirt transparent" as revealing);
- ``text.person``: a protected person's name.

Every signal's evidence says what was matched in the text as given, in which view, as which
lexicon term and language, and in which field (``prompt`` or ``negative``).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rempart.errors import PromptError, PromptErrorCode
from rempart.signals import Signal, SignalValue
from rempart.text.lexicon import CATEGORIES, NUMBER, PERSON, Entry, Lexicon, load_lexicon
from rempart.text.normalise import View, views
from rempart.text.syntax import expand_prompt

__all__ = ["MAX_PROMPT_CHARS", "Hit", "PromptAnalyser", "check_prompt"]

MAX_PROMPT_CHARS: Final = 16_384
"""Longest prompt read: longer ones are refused, never cut, so nothing past the cut goes unread."""
PAIR_WINDOW: Final = 5
"""Most words apart that a removal verb and a garment ("remove all of her clothes") still make
one request, within one clause."""
MAX_SIGNALS_PER_NAME: Final = 10
_NAME: Final = "text"
_ADULT_AGE: Final = 18
_LAST_SCHOOL_GRADE: Final = 12
_CLAUSE_BREAK: Final = re.compile(r"[,.;!?\n|()\[\]{}]")
_CONNECTORS: Final = frozenset({"and", "et", "y", "e", "und"})
# Word sets read in pairs: either may come first ("remove her clothes", "die Kleidung entfernen").
_PAIRS: Final = (
    ("removal", "clothing", "undress"),
    ("separable", "particle", "undress"),
    ("sheer", "clothing", "revealing"),
)
_NEGATIVE: Final = {"negative_minor": "minor", "negative_nudity": "nudity"}


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding in one text: the signal's ``kind`` (``minor``, ``person``...), the lexicon
    ``term`` behind it, its ``value`` (the term, an age, a person's name), and where: the
    view, and the span of the text as given."""

    kind: str
    term: str
    value: SignalValue
    language: str
    view: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Match:
    entry: Entry
    first: int  # the view's tokens it spans, first to last
    last: int


class PromptAnalyser:
    """Reads prompts with the built-in lexicons (or ``lexicon``) and the names of ``persons``
    (names, or each name with its aliases)."""

    name = _NAME

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        *,
        persons: Iterable[str] | Mapping[str, Iterable[str]] = (),
    ) -> None:
        self.lexicon = lexicon or default_lexicon()
        self.compiled = self.lexicon.compile(persons)
        names = "\n".join(sorted(self.compiled.persons)).encode()
        self.version = (
            f"lexicons:{self.lexicon.digest[:12]}+persons:{hashlib.sha256(names).hexdigest()[:12]}"
        )
        views("\u0435", self.compiled.vocabulary)  # reads Unicode's confusables now, not later

    def signals(self, prompt: str, negative: str | None = None) -> list[Signal]:
        """The signals in ``prompt`` and, read in reverse, in ``negative``.

        Raises ``PromptError`` for a prompt that is too long or not text.
        """
        check_prompt(prompt, "prompt")
        if negative is not None:
            check_prompt(negative, "negative prompt")
        found: dict[tuple[str, SignalValue], Signal] = {}
        counts: dict[str, int] = {}
        for field, text in (("prompt", prompt), ("negative", negative or "")):
            for branch in expand_prompt(text) if text else ():
                for hit in self.hits(branch, negative=field == "negative"):
                    name = f"text.{hit.kind}"
                    if (name, hit.value) in found or counts.get(name, 0) >= MAX_SIGNALS_PER_NAME:
                        continue
                    counts[name] = counts.get(name, 0) + 1
                    found[name, hit.value] = self._signal(name, hit, branch, field)
        return list(found.values())

    def hits(self, text: str, *, negative: bool = False) -> list[Hit]:
        """Everything found in ``text`` (one branch): for each kind and place, the longest term
        found there, in the first view it shows in."""
        seen: set[tuple[str, int]] = set()
        result = []
        for view in views(text, self.compiled.vocabulary):
            found = self._read(view, self._matches(view), text, negative)
            for hit in sorted(found, key=lambda hit: (hit.start, -hit.end)):
                if (hit.kind, hit.start) not in seen:
                    seen.add((hit.kind, hit.start))
                    result.append(hit)
        return result

    def _matches(self, view: View) -> list[_Match]:
        """Every term in the view, with the tokens it spans."""
        token_at: dict[int, int] = {}
        position = 0
        for index, token in enumerate(view.tokens):
            token_at[position] = index
            position += len(token.text) + 1
        return [
            _Match(entry, first, first + entry.words - 1)
            for end, (length, entries) in self.compiled.automaton.iter(view.text)
            for first in (token_at[end - length + 1],)
            for entry in entries
        ]

    def _read(self, view: View, matches: list[_Match], text: str, negative: bool) -> list[Hit]:
        """The hits of a view; in a view after the first, only those that take a word the view
        changed (the rest were found already, or are an artefact of the view)."""
        return [
            hit
            for hit, first, last in self._spans(view, matches, text, negative)
            if view.name == "unicode" or not view.changed.isdisjoint(range(first, last + 1))
        ]

    def _spans(
        self, view: View, matches: list[_Match], text: str, negative: bool
    ) -> Iterator[tuple[Hit, int, int]]:
        def hit(
            kind: str, term: str, value: SignalValue, language: str, first: int, last: int
        ) -> tuple[Hit, int, int]:
            start, end = view.tokens[first].start, view.tokens[last].end
            return Hit(kind, term, value, language, view.name, start, end), first, last

        by_kind: dict[str, list[_Match]] = {}
        for match in matches:
            by_kind.setdefault(match.entry.kind, []).append(match)
        if negative:
            for kind, category in _NEGATIVE.items():
                for m in by_kind.get(kind, ()):
                    yield hit(
                        category, m.entry.term, m.entry.term, m.entry.language, m.first, m.last
                    )
            return
        for kind in CATEGORIES:
            for m in by_kind.get(kind, ()):
                yield hit(kind, m.entry.term, m.entry.term, m.entry.language, m.first, m.last)
        for m in by_kind.get(PERSON, ()):
            yield hit(PERSON, m.entry.term, m.entry.person, "", m.first, m.last)
        for label, age, language, first, last in _ages(view, by_kind):
            yield hit("minor", f"{label} {age}", age, language, first, last)
        for one, other, kind in _PAIRS:
            for a, b in _pairs(by_kind.get(one, []), by_kind.get(other, []), view, text):
                first, last = min(a.first, b.first), max(a.last, b.last)
                term = f"{a.entry.term} + {b.entry.term}"
                yield hit(kind, term, term, a.entry.language, first, last)

    def _signal(self, name: str, hit: Hit, text: str, field: str) -> Signal:
        evidence = {
            "field": field,
            "match": text[hit.start : hit.end],
            "view": hit.view,
            "term": hit.term,
        }
        if hit.language:
            evidence["language"] = hit.language
        return Signal(name, 1.0, _NAME, self.version, value=hit.value, evidence=evidence)


@functools.cache
def default_lexicon() -> Lexicon:
    """The built-in lexicons, read once per process."""
    return load_lexicon()


def check_prompt(text: object, what: str = "prompt") -> None:
    """Raise ``PromptError`` unless ``text`` is a string Rempart will read whole."""
    if not isinstance(text, str):
        raise PromptError(
            PromptErrorCode.NOT_TEXT, f"the {what} must be text, not {type(text).__name__}"
        )
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(
            PromptErrorCode.TOO_LONG,
            f"the {what} is {len(text):,} characters long; prompts of more than "
            f"{MAX_PROMPT_CHARS:,} are refused, not cut short",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PromptError(
            PromptErrorCode.NOT_TEXT,
            f"the {what} is not valid Unicode text (character {exc.start} is a lone surrogate, "
            "which is what invalid UTF-8 decodes to)",
        ) from exc


def _ages(view: View, by_kind: dict[str, list[_Match]]) -> Iterator[tuple[str, int, str, int, int]]:
    """Ages under 18 and school grades up to 12: a number then a unit ("15 yo", "quinze ans",
    "7th grade"), or a prefix then a number ("aged 15"); as ("age" or "grade", the number,
    language, first token, last token)."""
    numbers = {m.first: m.entry.value for m in by_kind.get(NUMBER, ()) if m.entry.value is not None}
    if not numbers:
        return
    words = [token.text for token in view.tokens]
    for kind, label, limit in (
        ("age_units", "age", _ADULT_AGE - 1),
        ("grade_units", "grade", _LAST_SCHOOL_GRADE),
    ):
        for unit in by_kind.get(kind, ()):
            found = _number_before(unit.first - 1, numbers, words)
            if found is not None and found[0] <= limit:
                yield label, found[0], unit.entry.language, found[1], unit.last
    for prefix in by_kind.get("age_prefixes", ()):
        value = numbers.get(prefix.last + 1)
        if value is not None:
            after = numbers.get(prefix.last + 2)
            if after is not None and value % 10 == 0 and after < 10:
                value += after
            if value < _ADULT_AGE:
                yield "age", value, prefix.entry.language, prefix.first, prefix.last + 1


def _number_before(
    index: int, numbers: dict[int, int], words: Sequence[str]
) -> tuple[int, int] | None:
    """The number whose last word is ``index``, with the tens before it ("twenty two",
    "dix sept", "vinte e dois"), and the index of its first word."""
    value = numbers.get(index)
    if value is None:
        return None
    first = index
    before = index - 1
    if before >= 0 and words[before] in _CONNECTORS:
        before -= 1
    tens = numbers.get(before)
    if tens is not None and tens % 10 == 0 and tens >= 10 and value < 10:
        return tens + value, before
    return value, first


def _pairs(
    ones: list[_Match], others: list[_Match], view: View, text: str
) -> Iterator[tuple[_Match, _Match]]:
    """Each match of ``ones`` with each of ``others`` at most ``PAIR_WINDOW`` words away, in
    the same clause of ``text``."""
    if not ones or not others:
        return
    others = sorted(others, key=lambda m: m.first)
    firsts = [m.first for m in others]
    for one in ones:
        low = bisect.bisect_left(firsts, one.first - PAIR_WINDOW)
        high = bisect.bisect_right(firsts, one.last + PAIR_WINDOW)
        for other in others[low:high]:
            if other.first <= one.last and other.last >= one.first:
                continue  # the same words
            left, right = (one, other) if one.first < other.first else (other, one)
            between = text[view.tokens[left.last].end : view.tokens[right.first].start]
            if not _CLAUSE_BREAK.search(between):
                yield one, other
