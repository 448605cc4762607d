"""Protected persons' names as people write them.

A name is typed with typos ("Tayllor Swfit"), an initial ("T. Swift"), the surname first
("Swift Taylor"), run together in a handle ("@taylorswift13"), or shortened to a part that
names the person alone ("Kardashian"). ``NameMatcher`` finds each of these in a view's words:

- every form of a person: the name, each alias (the registry's, and for a public figure, the
  names they are widely known by: ``aliases.yaml``), the name with its first part as an
  initial, the first name with the surname's initial ("Kim K"), the name reversed, the first
  and last parts without the middle ones, each written apart or run together, and each
  ``distinctive`` part alone;
- each word of a form may be off by a few edits, scaled to its length (none up to three
  letters, one up to eight, two beyond), doubled letters counting for nothing, the first letter
  always right; a whole form, by at most one edit in five letters;
- a word of five letters or more spelled as another of the six languages would write its
  sound ("Uatson", "Teilor", "Bejonsé") is one edit away, two when one sound is off;

- a word that is not spelled exactly (doubled letters aside) and is an ordinary word of one of
  the six languages counts only beside words spelled exactly, one to a name: "Tailor Swift"
  and "Ariana Grand" are their persons, but "Scarlet Johnson" is not Scarlett Johansson, nor
  "tailor" alone anyone.

Candidates come from a deletion index (every word of every form with up to its budget of
letters deleted, the symmetric-delete scheme of SymSpell), so a word costs a few dictionary
look-ups whatever the registry's size; each candidate is then confirmed with its
optimal-string-alignment distance (``rapidfuzz``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final, NamedTuple

import yaml
from rapidfuzz.distance import OSA

from rempart.text.deadline import NO_DEADLINE, Deadline
from rempart.text.normalise import without_accents, words
from rempart.text.ordinary import commonness, is_ordinary

__all__ = [
    "DISTINCTIVE_ZIPF",
    "NameMatch",
    "NameMatcher",
    "PersonName",
    "known_aliases",
    "person_names",
]

DISTINCTIVE_ZIPF: Final = 4.0
"""A surname rarer than this (Zipf scale, in every language) names its person alone, unless
the registry entry says which parts do."""
_MIN_DISTINCTIVE: Final = 5  # letters: no shorter part stands alone by default
_LETTERS_PER_EDIT: Final = 5
_MAX_EDITS: Final = 2  # the most a word is ever off by
_MIN_RUN_TOGETHER: Final = 6  # letters: a shorter form run together ("klee") stands for no one
_MAX_TOKEN: Final = 64  # longer words are no name
_CACHE_LIMIT: Final = 65_536
_DOUBLES: Final = re.compile(r"(.)\1+")
_MIN_SOUNDED: Final = 5  # letters: shorter words are compared as spelled only
# Spellings of one sound across the six languages, in order; each with a letter the spelling
# holds, which a word without it skips (a pattern's search costs more than the test).
_SOUNDS: Final = tuple(
    (letter, re.compile(pattern), sound)
    for letter, pattern, sound in (
        ("p", "ph", "f"),
        ("q", "qu", "k"),
        ("g", "gu(?=[aeiou])", "u"),  # "Guatson"
        ("w", "w", "u"),
        ("", "[yj]", "i"),  # "Bejonsé"
        ("c", "c(?=[ei])", "s"),
        ("c", "c", "k"),
        ("z", "z", "s"),
        ("x", "x", "ks"),
        ("h", "(?<![sc])h", ""),
        ("o", "ou", "u"),
        ("i", "[ae]i", "e"),  # "Teilor", "Taylor"
        ("e", "ee", "i"),
    )
)


@dataclass(frozen=True, slots=True)
class PersonName:
    """A protected person as the prompt analysis reads them: the ``name``, other names they go
    by (``aliases``), and which parts of the name may stand alone (``distinctive``; None: a
    surname rarer than ``DISTINCTIVE_ZIPF``)."""

    name: str
    aliases: tuple[str, ...] = ()
    distinctive: tuple[str, ...] | None = None


def person_names(
    persons: Iterable[str | PersonName] | Mapping[str, Iterable[str]],
) -> list[PersonName]:
    """``persons`` as ``PersonName``s (from names, ``PersonName``s, or names mapped to
    aliases), each with the other names a public figure is known by (``known_aliases``)."""
    if isinstance(persons, Mapping):
        given = [PersonName(name, tuple(aliases)) for name, aliases in persons.items()]
    else:
        given = [p if isinstance(p, PersonName) else PersonName(p) for p in persons]
    known = known_aliases()
    return [
        dataclasses.replace(p, aliases=tuple(dict.fromkeys((*p.aliases, *known[key]))))
        if (key := _key(p.name)) in known
        else p
        for p in given
    ]


@functools.cache
def known_aliases() -> dict[str, tuple[str, ...]]:
    """The other names public figures often targeted by sexual deepfakes are known by
    (``aliases.yaml``), by their name folded (no case, no accents)."""
    spec = yaml.safe_load((resources.files("rempart.text") / "aliases.yaml").read_bytes())
    return {_key(name): tuple(aliases) for name, aliases in spec.items()}


def _key(name: str) -> str:
    return " ".join(without_accents(word) for word in words(name))


@dataclass(frozen=True, slots=True)
class NameMatch:
    """A person found in a view: the form that matched (as registered or derived: "T Swift"),
    the tokens it spans, and how many edits away the words were."""

    person: str
    form: str
    first: int
    last: int
    edits: int


@dataclass(frozen=True, slots=True)
class _Form:
    person: str
    text: str  # what the evidence shows
    parts: tuple[str, ...]
    alone: bool  # a single word that names the person by itself
    sounded: bool = True  # also matched by what it sounds like


class NameMatcher:
    """Finds the forms of ``persons``' names in a sequence of words."""

    def __init__(self, persons: Sequence[PersonName]) -> None:
        self.persons = tuple(dict.fromkeys(p.name for p in persons if words(p.name)))
        described = sorted(json.dumps([p.name, p.aliases, p.distinctive]) for p in persons)
        self.digest = hashlib.sha256("\n".join(described).encode()).hexdigest()
        """A digest of every person's names and parts, which a verdict's version names."""
        self._forms: dict[tuple[str, ...], list[_Form]] = {}  # by their first two words
        self._singles: dict[str, list[_Form]] = {}  # the forms of one word, by it
        self._pairs: dict[str, dict[str, list[_Form]]] = {}  # the others, by their first two
        self._cache: dict[str, dict[str, _Near]] = {}
        deletions: dict[str, set[str]] = {}
        sounds: dict[str, set[str]] = {}  # the same, for what the words sound like
        for person in persons:
            for form in _forms(person):
                self._forms.setdefault(form.parts[:2], []).append(form)
                if len(form.parts) == 1:
                    self._singles.setdefault(form.parts[0], []).append(form)
                else:
                    seconds = self._pairs.setdefault(form.parts[0], {})
                    seconds.setdefault(form.parts[1], []).append(form)
                for part in form.parts:
                    _index(part, deletions, sounds if form.sounded else None)
        # Tuples of strings, unlike sets, leave the garbage collector nothing to scan, so full
        # collections stay short with many names (benchmarks/gate_bench.py, 1,000 names).
        self._deletions = {key: tuple(parts) for key, parts in deletions.items()}
        self._sounds = {key: tuple(parts) for key, parts in sounds.items()}
        self._sound_of = {part: _sound(part) for parts in self._sounds.values() for part in parts}
        self.longest_form = max((len(parts) for parts in self._forms_parts()), default=1)
        """The most words a form spans."""
        # No word longer than these by more than its budget is near any: not looked up.
        self._longest = max(
            (len(part) for parts in deletions.values() for part in parts), default=0
        )
        self._longest_sound = max(map(len, sounds), default=0) + 1

    def _forms_parts(self) -> Iterator[tuple[str, ...]]:
        return (form.parts for form in itertools.chain.from_iterable(self._forms.values()))

    def words(self) -> dict[str, str]:
        """Every form run together, with its words ("taylorswift": "taylor swift"), for the
        views that read disguised words."""
        found: dict[str, str] = {}
        for form in itertools.chain.from_iterable(self._forms.values()):
            joined = "".join(form.parts)
            if len(form.parts) > 1 or joined not in found:  # the words, not the run-together
                found[joined] = " ".join(form.parts)
        return found

    def forget(self) -> None:
        """Drop the words' candidates remembered so far (each is found once, then recalled)."""
        self._cache.clear()

    def find(
        self,
        tokens: Sequence[str],
        starts: Iterable[int] | None = None,
        deadline: Deadline = NO_DEADLINE,
    ) -> Iterator[NameMatch]:
        """Every form found in ``tokens`` (starting at ``starts`` only, when given): at each
        position, the longest, then the closest, then the one spelled most like the words.
        Stops with ``DeadlinePassed`` once ``deadline`` has passed."""
        near = [self._near(token, deadline) for token in deadline.over(tokens)]
        for index in deadline.over(range(len(tokens)) if starts is None else sorted(starts)):
            if not near[index]:
                continue  # most words are near no name's
            best: tuple[tuple[int, int, int], _Form] | None = None
            length = len(tokens[index])
            for form in self._starting(near, index):
                edits = _edits(form, near[index : index + len(form.parts)])
                if edits is None:
                    continue
                key = (-len(form.parts), edits, abs(len(form.parts[0]) - length))
                if best is None or key < best[0]:
                    best = (key, form)
            if best is not None:
                (_, edits, _), form = best
                yield NameMatch(form.person, form.text, index, index + len(form.parts) - 1, edits)

    def _starting(self, near: Sequence[dict[str, _Near]], index: int) -> Iterator[_Form]:
        """The forms whose first two words (or only word) are near the words at ``index``."""
        following = near[index + 1] if index + 1 < len(near) else {}
        for first in near[index]:
            yield from self._singles.get(first, ())
            seconds = self._pairs.get(first)
            if seconds and following:
                for second in following:
                    yield from seconds.get(second, ())

    def _near(self, token: str, deadline: Deadline = NO_DEADLINE) -> dict[str, _Near]:
        """The words of forms within their edit budget of ``token``, and how near."""
        found = self._cache.get(token)
        if found is not None:
            return found
        deadline.check()  # a word not seen before costs up to hundreds of look-ups
        found = {}
        if 0 < len(token) <= _MAX_TOKEN and not token.isdigit():
            ordinary = is_ordinary(token)
            for part, distance in self._spelled(token) | self._sounded(token):
                if part == token:
                    found[part] = _Near(0, _EXACT)
                elif part not in found or distance < found[part].edits:
                    found[part] = _Near(distance, _WORD if ordinary and distance else _CLOSE)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = found
        return found

    def _spelled(self, token: str) -> set[tuple[str, int]]:
        """The words of forms spelled within their budget of ``token`` (doubled letters free,
        the first letter right), with the edits."""
        squeezed = _squeeze(token)
        if len(squeezed) > self._longest + _MAX_EDITS:
            return set()
        budget = _budget(len(token) + _MAX_EDITS)  # a part may be that much longer
        candidates: set[str] = set()
        for variant in {token, squeezed}:
            for key in _deleted(variant, budget):
                candidates.update(self._deletions.get(key, ()))
        found = set()
        for part in candidates:
            if part[0] != token[0]:
                continue
            limit = _budget(len(part))
            distance = min(
                OSA.distance(token, part, score_cutoff=limit + 1),
                OSA.distance(squeezed, _squeeze(part), score_cutoff=limit + 1),
            )
            if distance <= limit:
                found.add((part, distance))
        return found

    def _sounded(self, token: str) -> set[tuple[str, int]]:
        """The words of forms that sound like ``token`` when read as any of the six languages
        would write them ("Uatson", "Bejonsé", "Teilor"): one edit for the same sound, two for
        one sound off, for words of five letters or more."""
        if len(token) < _MIN_SOUNDED:
            return set()
        sound = _sound(token)
        if len(sound) > self._longest_sound:
            return set()
        candidates: set[str] = set()
        for key in _deleted(sound, 1):
            candidates.update(self._sounds.get(key, ()))
        found = set()
        for part in candidates:
            other = self._sound_of[part]
            if other[0] == sound[0]:
                distance = OSA.distance(sound, other, score_cutoff=2)
                if distance <= 1:
                    found.add((part, 1 + distance))
        return found


def _index(part: str, deletions: dict[str, set[str]], sounds: dict[str, set[str]] | None) -> None:
    """File ``part`` under every deletion of its letters within its budget, and of its sound
    (unless ``sounds`` is None)."""
    budget = _budget(len(part))
    for variant in {part, _squeeze(part)}:
        for key in _deleted(variant, budget):
            deletions.setdefault(key, set()).add(part)
    if sounds is not None and len(part) >= _MIN_SOUNDED:
        for key in _deleted(_sound(part), 1):
            sounds.setdefault(key, set()).add(part)


_EXACT, _CLOSE, _WORD = 0, 1, 2
# a word as typed; near it; an ordinary word near it


class _Near(NamedTuple):
    """How near a word is to a form's word: the ``edits`` (doubled letters free), and
    whether it is the word as typed, close to it, or an ordinary word close to it."""

    edits: int
    kind: int


def _edits(form: _Form, near: Sequence[dict[str, _Near]]) -> int | None:
    """The edits ``form`` takes on the words ``near`` it, or None when it is not there: every
    word within its budget, the whole within one edit in five letters; an ordinary word that
    is not the form's own ("tailor" for "taylor") counts only beside words typed exactly (more
    than an initial), one to a form, and never alone."""
    if len(near) < len(form.parts):
        return None
    if len(form.parts) == 1:  # most forms: the rules below, for one word
        (part,) = form.parts
        one = near[0].get(part)
        if one is None or one.kind == _WORD:  # an ordinary word never names anyone alone
            return None
        return one.edits if one.edits <= max(1, len(part) // _LETTERS_PER_EDIT) else None
    found = [candidates.get(part) for part, candidates in zip(form.parts, near, strict=False)]
    if None in found:
        return None
    words = [near for near in found if near is not None]
    edits = sum(near.edits for near in words)
    if edits > max(1, sum(map(len, form.parts)) // _LETTERS_PER_EDIT):
        return None
    kinds = [near.kind for near in words]
    if _WORD in kinds:
        spelled = [part for part, kind in zip(form.parts, kinds, strict=True) if kind == _EXACT]
        whole = any(len(part) > 1 for part in spelled)  # an initial is no word spelled out
        if kinds.count(_WORD) > 1 or _CLOSE in kinds or not whole:
            return None
    return edits


def _forms(person: PersonName) -> Iterator[_Form]:
    """Every form of a person's name: see the module's docstring."""
    name = person.name
    parts = tuple(words(name))
    if not parts:
        return
    given: list[tuple[str, tuple[str, ...]]] = [(name, parts)]
    given.extend((alias, tuple(words(alias))) for alias in person.aliases if words(alias))
    derived: dict[tuple[str, ...], str] = {}
    if len(parts) > 1:
        first, last = parts[0], parts[-1]
        derived = {
            (first[0], *parts[1:]): f"{first[0].upper()} {' '.join(parts[1:]).title()}",
            (last, first): f"{last.title()} {first.title()}",
            (first, last): f"{first.title()} {last.title()}",
            (first, last[0]): f"{first.title()} {last[0].upper()}",
        }
    forms = [*given, *((text, each) for each, text in derived.items() if each != parts)]
    forms.extend((part.title(), (part,)) for part in _distinctive(person, parts))
    for text, each in forms:
        for spelled in dict.fromkeys((each, tuple(without_accents(part) for part in each))):
            yield _Form(name, text, spelled, alone=len(spelled) == 1)
            joined = "".join(spelled)
            if len(spelled) < 2 or len(joined) < _MIN_RUN_TOGETHER:
                continue
            initial = len(spelled[0]) == 1
            if not (initial and spelled[1].startswith(spelled[0])):  # "kkardashian"
                # An initial run into the surname ("tswift") is read as spelled, never by its
                # sound: "zstaycey" sounds like the surname "staycey" alone.
                yield _Form(name, text, (joined,), alone=True, sounded=not initial)


def _distinctive(person: PersonName, parts: tuple[str, ...]) -> list[str]:
    if person.distinctive is not None:
        return [w for given in person.distinctive for w in words(given)]
    if len(parts) < 2:
        return []
    last = parts[-1]
    rare = len(last) >= _MIN_DISTINCTIVE and commonness(last) < DISTINCTIVE_ZIPF
    return [last] if rare else []


def _sound(word: str) -> str:
    """What ``word`` sounds like, written one way whatever the language's spelling: "watson",
    "uatson" and "guatson" are "uatson"; "taylor", "teilor" are "telor"; "beyonce", "bejonse"
    are "beonse". A key for comparing names, not a pronunciation."""
    key = _squeeze(without_accents(word))
    for letter, pattern, sound in _SOUNDS:
        if letter in key:
            key = pattern.sub(sound, key)
    return _squeeze(key)


def _budget(length: int) -> int:
    """Edits a word of ``length`` letters may be off by."""
    if length <= 3:
        return 0
    return 1 if length <= 8 else 2


def _squeeze(word: str) -> str:
    """``word`` with every run of a letter cut to one ("tayllor" -> "taylor")."""
    return _DOUBLES.sub(r"\1", word)


def _deleted(word: str, budget: int) -> set[str]:
    """``word`` with up to ``budget`` letters deleted every way, but never its first (a name's
    first letter is always right, and an alignment that keeps it is as short): by slicing, a
    level of deletions at a time."""
    found = {word}
    level = found
    for _ in range(min(budget, len(word) - 1)):
        level = {each[:i] + each[i + 1 :] for each in level for i in range(1, len(each))}
        found = found | level
    return found
