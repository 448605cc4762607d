"""``PromptAnalyser``: a prompt and its negative prompt in, ``text.*`` signals out.

Each branch of the prompt (``expand_prompt``) is read in every view (``views``) against every
lexicon at once. What it finds becomes signals a policy reads like any detector's:

- ``text.minor``: a child or school term, an emoji of a child, what only a child has, or an
  age under 18 in any written form ("15yo", "quinze ans", "15-jährige", "born in 2012",
  "u18"); ``text.minor_hint`` for what adults share with children ("petite"). In
  the negative prompt, what excludes adulthood itself ("adult woman", "18+", a bare "adult"
  unless the negative also excludes sexual content; a bare "mature" is only a hint); never a
  content rating ("mature content") or an age-look word ("old", "aged");
- ``text.nudity``, ``text.revealing``, ``text.sexual``: terms of those kinds, and in the negative
  prompt, words for clothing ("clothes" there asks for less);
- ``text.undress``: an undressing or sexualising edit ("undress", "remove her clothes" from a
  removal verb near a garment but not "remove the stain from her shirt", "zieh sie aus", "make
  the shirt transparent" as revealing);
- ``text.likeness``: a word saying the text is about a real but unnamed person ("influencer",
  "instagram model", "lookalike", "my ex", "collègue"): read by the model audit's policy
  (``hub``), not by the gate's;
- ``text.person``: a protected person's name as people write it (``rempart.text.names``);
- ``text.unread``: the reading stopped at its deadline (``rempart.text.deadline``: by default
  ``DEFAULT_PROMPT_MS`` of CPU for the prompt and negative prompt together) before the end;
  what was found before it still counts, and a rule no policy can weaken sends the request to
  review.

Every signal's evidence says what was matched in the text as given, in which view, as which
lexicon term and language, and in which field (``prompt`` or ``negative``).
"""

from __future__ import annotations

import bisect
import functools
import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from rempart.errors import PromptError, PromptErrorCode
from rempart.signals import Signal, SignalValue
from rempart.text.deadline import (
    DEFAULT_PROMPT_MS,
    NO_DEADLINE,
    SHORT,
    Deadline,
    DeadlinePassed,
)
from rempart.text.lexicon import (
    ADULT_AGE,
    AGE_COMPOUND,
    CATEGORIES,
    NUMBER,
    Entry,
    Lexicon,
    load_lexicon,
)
from rempart.text.names import PersonName
from rempart.text.normalise import View, iter_views, views
from rempart.text.syntax import expand_prompt

__all__ = ["MAX_PROMPT_CHARS", "UNREAD", "Hit", "PromptAnalyser", "check_prompt", "hit_evidence"]

MAX_PROMPT_CHARS: Final = 16_384
"""Longest prompt read: longer ones are refused, never cut, so nothing past the cut goes unread."""
PAIR_WINDOW: Final = 5
"""Most words apart that a removal verb and a garment ("remove all of her clothes") still make
one request, within one clause."""
MAX_SIGNALS_PER_NAME: Final = 10
_NAME: Final = "text"
SHORT_BRANCH: Final = 128
"""Characters of a branch read whole once begun, whatever its deadline: the worst built so far
takes about 3 ms of CPU (``benchmarks/adversarial_prompts.py``, cut to this size)."""
UNREAD: Final = "text.unread"
"""The signal of a prompt whose reading stopped at its deadline."""
_LAST_SCHOOL_GRADE: Final = 12
_CLAUSE_BREAK: Final = re.compile(r"[,.;!?\n|()\[\]{}]")
_CONNECTORS: Final = frozenset({"and", "et", "y", "e", "und"})
# Word sets read in pairs: either may come first ("remove her clothes", "die Kleidung entfernen").
_PAIRS: Final = (
    ("removal", "clothing", "undress"),
    ("separable", "particle", "undress"),
    ("sheer", "clothing", "revealing"),
)
_PERSON: Final = "person"
_BIRTH_YEARS: Final = range(1900, 2200)
_YOUNGEST_UNDER: Final = 10  # "under 18" is an age; "less than 3 people" is not


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding in one text: the signal's ``kind`` (``minor``, ``person``...), the lexicon
    ``term`` behind it, its ``value`` (the term, an age, a person's name), and where: the
    view, and the span of the text as given; for a name, how many ``edits`` away it was
    written."""

    kind: str
    term: str
    value: SignalValue
    language: str
    view: str
    start: int
    end: int
    edits: int = 0


@dataclass(frozen=True, slots=True)
class _Match:
    entry: Entry
    first: int  # the view's tokens it spans, first to last
    last: int


class PromptAnalyser:
    """Reads prompts with the built-in lexicons (or ``lexicon``) and the names of ``persons``
    (names, ``PersonName``s with aliases and distinctive parts, or names mapped to aliases).

    ``prompt_ms``: the CPU milliseconds (of the reading thread) one call of ``signals`` may
    take over the prompt and negative prompt together; past them it stops and reports
    ``text.unread``. 0: no deadline, every prompt read to its end."""

    name = _NAME

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        *,
        persons: Iterable[str | PersonName] | Mapping[str, Iterable[str]] = (),
        prompt_ms: float = DEFAULT_PROMPT_MS,
    ) -> None:
        self.prompt_ms = prompt_ms
        self.lexicon = lexicon or default_lexicon()
        self.compiled = self.lexicon.compile(persons)
        self.version = (
            f"lexicons:{self.lexicon.digest[:12]}+persons:{self.compiled.names.digest[:12]}"
        )
        views("\u0435", self.compiled.vocabulary)  # reads Unicode's confusables now, not later
        self.compiled.vocabulary.knows("warmup")  # and the ordinary words
        _out_of_collections()

    def signals(
        self, prompt: str, negative: str | None = None, *, deadline: Deadline | None = None
    ) -> list[Signal]:
        """The signals in ``prompt`` and, read in reverse, in ``negative``: read until
        ``deadline`` (by default ``prompt_ms`` from now), then what was found so far and
        ``text.unread``.

        Raises ``PromptError`` for a prompt that is too long or not text.
        """
        check_prompt(prompt, "prompt")
        if negative is not None:
            check_prompt(negative, "negative prompt")
        if deadline is None:
            deadline = Deadline(self.prompt_ms) if self.prompt_ms > 0 else NO_DEADLINE
        found: dict[tuple[str, SignalValue], Signal] = {}
        counts: dict[str, int] = {}
        for field, text in (("prompt", prompt), ("negative", negative or "")):
            read = 0  # characters of the branches read whole, in every view
            try:
                for branch in expand_prompt(text, deadline) if text else ():
                    for hit in self._hits(branch, field == "negative", deadline):
                        name = f"text.{hit.kind}"
                        if (name, hit.value) in found or counts.get(name, 0) >= (
                            MAX_SIGNALS_PER_NAME
                        ):
                            continue
                        counts[name] = counts.get(name, 0) + 1
                        found[name, hit.value] = self._signal(name, hit, branch, field)
                    read += len(branch)
            except DeadlinePassed:
                found[UNREAD, "deadline"] = self._unread(field, read, text, deadline)
                break
        return list(found.values())

    def hits(self, text: str, *, negative: bool = False) -> list[Hit]:
        """Everything found in ``text`` (one branch): for each kind and place, the longest term
        found there, in the first view it shows in."""
        return list(self._hits(text, negative, NO_DEADLINE))

    def _hits(self, text: str, negative: bool, deadline: Deadline) -> Iterator[Hit]:
        """``hits``, view by view; when ``deadline`` passes, the hits of the views read so far
        and of the view being read, then ``DeadlinePassed``."""
        seen: set[tuple[str, int]] = set()
        if len(text) <= SHORT_BRANCH:
            # A short branch costs a few milliseconds at worst: counted at once, then read
            # whole, so that ordinary prompts pay next to nothing for the deadline.
            deadline.tick(len(text) or 1)
            deadline = NO_DEADLINE
        for view in iter_views(text, self.compiled.vocabulary, deadline):
            found: list[Hit] = []
            try:
                matches = self._matches(view, deadline)
                found.extend(self._read(view, matches, text, negative, deadline))
            except DeadlinePassed:
                yield from _first_at_each_place(found, seen, NO_DEADLINE)
                raise
            yield from _first_at_each_place(found, seen, deadline)

    def _matches(self, view: View, deadline: Deadline) -> list[_Match]:
        """Every term in the view, with the tokens it spans."""
        token_at: dict[int, int] = {}
        position = 0
        for index, token in enumerate(deadline.over(view.tokens)):
            token_at[position] = index
            position += len(token.text) + 1
        text = view.text
        found = self.compiled.automaton.iter(text)
        each = deadline.over(list(found) if len(text) <= SHORT else found)
        return [
            _Match(entry, first, first + entry.words - 1)
            for end, (length, entries) in each
            for first in (token_at[end - length + 1],)
            for entry in entries
        ]

    def _read(
        self, view: View, matches: list[_Match], text: str, negative: bool, deadline: Deadline
    ) -> Iterator[Hit]:
        """The hits of a view; in a view after the first, only those that take a word the view
        changed (the rest were found already, or are an artefact of the view)."""
        return (
            hit
            for hit, first, last in self._spans(view, matches, text, negative, deadline)
            if view.name == "unicode" or not view.changed.isdisjoint(range(first, last + 1))
        )

    def _spans(
        self, view: View, matches: list[_Match], text: str, negative: bool, deadline: Deadline
    ) -> Iterator[tuple[Hit, int, int]]:
        """Each hit of a view, with its first and last tokens. The loops over the matches here
        are cheap but for their hits, so a hit, not a match, ticks ``deadline`` (the matches
        were counted as they were sorted by kind)."""

        def hit(kind: str, m: _Match, value: SignalValue | None = None) -> tuple[Hit, int, int]:
            deadline.tick()
            start, end = view.tokens[m.first].start, view.tokens[m.last].end
            value = m.entry.term if value is None else value
            found = Hit(kind, m.entry.term, value, m.entry.language, view.name, start, end)
            return found, m.first, m.last

        by_kind: dict[str, list[_Match]] = {}
        for match in deadline.over(matches):
            by_kind.setdefault(match.entry.kind, []).append(match)
        if negative:
            for kind, m in _reversed(by_kind):
                yield hit(kind, m)
            return
        # first: an age says more than a term of the same words
        for age in _ages(view, by_kind):
            yield hit("minor", age.span, age.value)
        replaced = _replaced(by_kind, view, text, deadline)
        innocent = {i for m in by_kind.get("innocent", ()) for i in range(m.first, m.last + 1)}
        for kind in CATEGORIES:
            for m in by_kind.get(kind, ()):
                inside = innocent.issuperset(range(m.first, m.last + 1))
                if (m.first, m.last) not in replaced and not inside:
                    yield hit(kind, m)
        for kind, m in _youthful(by_kind):
            yield hit(kind, m)
        tokens = view.tokens
        names = self.compiled.names
        starts = None  # in a later view, only a name that takes a word the view changed counts
        if view.name != "unicode":
            reach = names.longest_form
            starts = {i for c in view.changed for i in range(max(0, c - reach + 1), c + 1)}
        for name in names.find([token.text for token in tokens], starts, deadline):
            start, end = tokens[name.first].start, tokens[name.last].end
            found = Hit(_PERSON, name.form, name.person, "", view.name, start, end, name.edits)
            yield found, name.first, name.last

        blockers = {index for m in by_kind.get("blockers", ()) for index in (m.first, m.last)}
        for one, other, kind in _PAIRS:
            pairs = (by_kind.get(one, []), by_kind.get(other, []))
            for a, b in _pairs(*pairs, view, text, blockers, deadline):
                term = f"{a.entry.term} + {b.entry.term}"
                first, last = min(a.first, b.first), max(a.last, b.last)
                span = _Match(Entry(kind, term, a.entry.language, 0), first, last)
                yield hit(kind, span)

    def _unread(self, field: str, read: int, text: str, deadline: Deadline) -> Signal:
        """``text.unread``: the reading of ``field`` (``text``) stopped at ``deadline``, with
        ``read`` characters of it read whole (the negative prompt after a prompt cut short
        is not read at all)."""
        evidence: dict[str, str | int | float] = {
            "field": field,
            "read": min(read, len(text)),  # branches may repeat the prompt's words
            "length": len(text),
            "deadline_ms": deadline.ms,
        }
        return Signal(UNREAD, 1.0, _NAME, self.version, value="deadline", evidence=evidence)

    def _signal(self, name: str, hit: Hit, text: str, field: str) -> Signal:
        evidence = hit_evidence(hit, text, field)
        return Signal(name, 1.0, _NAME, self.version, value=hit.value, evidence=evidence)


def hit_evidence(hit: Hit, text: str, field: str) -> dict[str, Any]:
    """What a signal of ``hit`` says of it: the ``field`` it is in, what it matched in
    ``text`` as given, in which view, as which term, in which language and how many edits
    away (a name's)."""
    evidence: dict[str, Any] = {
        "field": field,
        "match": text[hit.start : hit.end],
        "view": hit.view,
        "term": hit.term,
    }
    if hit.language:
        evidence["language"] = hit.language
    if hit.edits:
        evidence["edits"] = hit.edits
    return evidence


def _out_of_collections() -> None:
    """Everything alive now (the lexicons, the names' index: hundreds of thousands of objects
    with 1,000 names) kept out of the garbage collector's future passes (``gc.freeze``), after
    one last pass that frees what is garbage now. A full pass over them takes 50 to 100 ms of
    CPU, which no deadline can interrupt: it made a prompt's reading take several times its
    deadline whenever one started during it. Objects frozen are still freed when no longer
    referenced; only a reference cycle among them outlives its use."""
    gc.collect()
    gc.freeze()


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


def _first_at_each_place(
    found: list[Hit], seen: set[tuple[str, int]], deadline: Deadline
) -> Iterator[Hit]:
    """Of a view's hits, for each kind and place not ``seen`` in a view before, the longest
    (the hits of a view cut short at its deadline are all given, ``NO_DEADLINE``)."""
    for hit in deadline.over(sorted(found, key=lambda hit: (hit.start, -hit.end))):
        if (hit.kind, hit.start) not in seen:
            seen.add((hit.kind, hit.start))
            yield hit


def _reversed(by_kind: Mapping[str, list[_Match]]) -> Iterator[tuple[str, _Match]]:
    """What a negative prompt asks for by excluding it: a minor when it excludes adulthood
    itself ("adult woman", "18+"; a bare "adult" unless the negative also excludes sexual
    content, where it is a content rating), a hint of one for a bare "mature" (the same way),
    less clothing when it excludes clothes. Content ratings ("adult content") and age looks
    ("mature woman", "old", "aged") ask for nothing."""

    def words(kinds: Sequence[str]) -> set[int]:
        return {i for k in kinds for m in by_kind.get(k, ()) for i in range(m.first, m.last + 1)}

    rated = words(["ratings"])
    excludes_sex = bool(rated) or any(by_kind.get(kind) for kind in ("nudity", "sexual"))
    taken = rated | words(["age_looks", "negative_adult"])  # read as these, not as a word in them
    for kind, category, rating in (
        ("negative_adult", "minor", False),
        ("negative_adult_word", "minor", True),
        ("negative_mature", "minor_hint", True),
        ("negative_nudity", "nudity", False),
    ):
        for m in by_kind.get(kind, ()):
            inside = taken if kind != "negative_adult" else rated
            if (rating and excludes_sex) or inside.intersection(range(m.first, m.last + 1)):
                continue
            yield category, m


def _youthful(by_kind: Mapping[str, list[_Match]]) -> Iterator[tuple[str, _Match]]:
    """Words adults share with children: each a ``minor_hint``; but two different ones, one
    of them a child's feature ("braces", "pigtails"), together describe a child: a minor."""
    body, features = by_kind.get("youthful", []), by_kind.get("childlike", [])
    hints = {m.entry.term: m for m in (*features, *body)}
    if features and len(hints) > 1:
        first, second = list(hints.values())[:2]
        term = f"{first.entry.term} + {second.entry.term}"
        span = (min(first.first, second.first), max(first.last, second.last))
        yield "minor", _Match(Entry("minor", term, first.entry.language, 0), *span)
        return
    for m in (*features, *body):
        yield "minor_hint", m


def _replaced(
    by_kind: Mapping[str, list[_Match]], view: View, text: str, deadline: Deadline
) -> set[tuple[int, int]]:
    """The garments an edit replaces, not asks for: each nudity or revealing term between a
    replacing verb and the word that names what replaces it ("swap her bikini for a
    wetsuit"), within ``PAIR_WINDOW`` words of each and in one clause."""
    verbs, withs = by_kind.get("replace_verbs", ()), by_kind.get("replace_with", ())
    if not verbs or not withs:
        return set()
    found = set()
    for m in deadline.over((*by_kind.get("revealing", ()), *by_kind.get("nudity", ()))):
        before = any(0 < m.first - v.last <= PAIR_WINDOW for v in verbs)
        after = [w for w in withs if 0 < w.first - m.last <= PAIR_WINDOW]
        if before and after:
            between = text[view.tokens[m.last].end : view.tokens[after[0].first].start]
            if not _CLAUSE_BREAK.search(between):
                found.add((m.first, m.last))
    return found


@dataclass(frozen=True, slots=True)
class _Age:
    span: _Match
    value: int


def _ages(view: View, by_kind: dict[str, list[_Match]]) -> Iterator[_Age]:
    """Ages under 18 and school grades up to 12: a number then a unit ("15 yo", "quinze ans",
    "7th grade"), or both in one word ("zwölfjährigen"), a prefix then a number ("aged 15",
    "under 18", "u18"), or a birth year ("born in 2012")."""
    if not (NUMBER in by_kind or AGE_COMPOUND in by_kind or "birth_prefixes" in by_kind):
        return  # every age is a number, a number joined to its unit, or a birth year
    numbers = {m.first: m.entry.value for m in by_kind.get(NUMBER, ()) if m.entry.value is not None}
    words = [token.text for token in view.tokens]

    def age(label: str, value: int, unit: _Match, first: int, last: int) -> _Age:
        entry = Entry("minor", f"{label} {value}", unit.entry.language, 0)
        return _Age(_Match(entry, first, last), value)

    for kind, label, limit in (
        ("age_units", "age", ADULT_AGE - 1),
        ("grade_units", "grade", _LAST_SCHOOL_GRADE),
    ):
        for unit in by_kind.get(kind, ()):
            found = _number_before(unit.first - 1, numbers, words)
            if found is not None and found[0] <= limit:
                yield age(label, found[0], unit, found[1], unit.last)
    for compound in by_kind.get(AGE_COMPOUND, ()):
        if compound.entry.value is not None:
            yield age("age", compound.entry.value, compound, compound.first, compound.last)
    for prefix in by_kind.get("age_prefixes", ()):
        value = _number_after(prefix.last, numbers)
        if value is not None and value < ADULT_AGE:
            yield age("age", value, prefix, prefix.first, prefix.last + 1)
    for prefix in by_kind.get("under_prefixes", ()):
        value = _number_after(prefix.last, numbers)
        if value is not None and _YOUNGEST_UNDER <= value <= ADULT_AGE:
            yield age("under", value, prefix, prefix.first, prefix.last + 1)
    for prefix in by_kind.get("birth_prefixes", ()):
        after = prefix.last + 1
        if after < len(words) and words[after].isdigit() and int(words[after]) in _BIRTH_YEARS:
            years = datetime.now(UTC).year - int(words[after])

            if 0 <= years < ADULT_AGE:
                yield age("born", int(words[after]), prefix, prefix.first, after)


def _number_after(index: int, numbers: Mapping[int, int]) -> int | None:
    """The number right after word ``index``, with its units ("twenty two", "vinte e dois")."""
    value = numbers.get(index + 1)
    if value is None:
        return None
    after = numbers.get(index + 2)
    if after is not None and value % 10 == 0 and value >= 10 and after < 10:
        return value + after
    return value


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
    ones: list[_Match],
    others: list[_Match],
    view: View,
    text: str,
    blockers: set[int],
    deadline: Deadline,
) -> Iterator[tuple[_Match, _Match]]:
    """Each match of ``ones`` with each of ``others`` at most ``PAIR_WINDOW`` words away, in
    the same clause of ``text``, with none of the ``blockers`` words between them ("remove
    the stain from her shirt")."""
    if not ones or not others:
        return
    others = sorted(others, key=lambda m: m.first)
    firsts = [m.first for m in others]
    for one in deadline.over(ones):
        low = bisect.bisect_left(firsts, one.first - PAIR_WINDOW)
        high = bisect.bisect_right(firsts, one.last + PAIR_WINDOW)
        for other in others[low:high]:
            if other.first <= one.last and other.last >= one.first:
                continue  # the same words
            left, right = (one, other) if one.first < other.first else (other, one)
            between = text[view.tokens[left.last].end : view.tokens[right.first].start]
            if _CLAUSE_BREAK.search(between) or blockers.intersection(
                range(left.last + 1, right.first)
            ):
                continue
            yield one, other
