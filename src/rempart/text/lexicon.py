"""Lexicons: the words Rempart looks for in prompts, one YAML file per language, as data.

A file lists terms under ``categories`` (``minor``, ``nudity``, ``revealing``, ``sexual``,
``undress``, ``likeness``: each a ``text.*`` signal), word ``sets`` that only mean something
together or in a negative prompt (``removal`` near ``clothing`` is an undressing request;
``negative_adult`` words in a negative prompt ask for a minor; ``innocent`` phrases hold a term
that is none there), and ``numbers`` written as words. A term is one or more words; a trailing ``*``
matches any word that starts with it; a term matches as typed and without accents, unless a
leading ``=`` keeps its accents ("=bebé": "bebe" is Spanish for "drinks"). ``CompiledLexicon``
puts every language's terms in one Aho-Corasick automaton, so a view of a prompt is matched in
one pass whatever its length, with a ``NameMatcher`` for the protected persons' names.

"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import ahocorasick
import yaml

from rempart.errors import LexiconError
from rempart.text.names import NameMatcher, PersonName, person_names
from rempart.text.normalise import Vocabulary, fold_accents, unicode_form, words
from rempart.text.ordinary import LANGUAGES, is_ordinary

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "SETS",
    "CompiledLexicon",
    "Entry",
    "Lexicon",
    "LexiconError",
    "load_lexicon",
]

CATEGORIES: Final = ("minor", "nudity", "revealing", "sexual", "undress", "likeness")
"""Term categories; each is the signal ``text.<category>``. ``likeness``: words that say a
model or prompt reproduces a real but unnamed person ("influencer", "my ex", "sosie")."""
UNCENSORED: Final = frozenset({"likeness"})
"""Categories whose words nobody censors to slip past a filter: a censored word ("n*de") is
never read as one of them, which would also make it ambiguous with the words that are."""
NEGATIVE_SETS: Final = (
    "negative_adult",
    "negative_adult_word",
    "negative_mature",
    "negative_nudity",
    "ratings",
    "age_looks",
)
"""Sets read only in a negative prompt: they are not words a view may turn a word into."""
SETS: Final = (
    "removal",
    "clothing",
    "sheer",
    "separable",
    "particle",
    "blockers",
    "replace_verbs",
    "replace_with",
    "youthful",
    "childlike",
    "innocent",
    "age_units",
    "grade_units",
    "age_prefixes",
    "under_prefixes",
    "birth_prefixes",
    "filler",
    *NEGATIVE_SETS,
)
"""Word sets that mean something only together, or in a negative prompt, or in an age."""
NUMBER: Final = "number"
AGE_COMPOUND: Final = "age_compound"
ADULT_AGE: Final = 18
"""The age of majority the lexicons' ages are read against."""
_MIN_COMPOUND_UNIT: Final = 4  # letters: "um" + "ano" would be Italian "umano"

# Roman numerals up to 18 ("aged XIV"), but none of one letter, which are words ("x ray").
_ROMAN_NUMERALS: Final = {
    "ii": 2, "iii": 3, "iv": 4, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "xi": 11, "xii": 12,
    "xiii": 13, "xiv": 14, "xv": 15, "xvi": 16, "xvii": 17, "xviii": 18,
}  # fmt: skip


_FILE_KEYS: Final = {"language", "categories", "sets", "numbers"}
_MAX_NUMBER: Final = 99


@dataclass(frozen=True, slots=True)
class Entry:
    """One term: what ``kind`` it is (a category, a set, ``number`` or ``person``), as written,
    in which language, how many words it spans, whether it matches as a prefix, the value of a
    number, and whether it matches only with its accents (``exact``: "niña", not "nina")."""

    kind: str
    term: str
    language: str
    words: int
    prefix: bool = False
    value: int | None = None
    exact: bool = False

    def forms(self) -> list[list[str]]:
        """The term's words as typed and, unless it is ``exact``, without accents."""
        forms = _forms(self.term.rstrip("*"))
        return forms[:1] if self.exact else forms


@dataclass(frozen=True)
class Lexicon:
    """Every language's terms, and a digest of the files they came from."""

    entries: tuple[Entry, ...]
    digest: str

    def compile(
        self, persons: Iterable[str | PersonName] | Mapping[str, Iterable[str]] = ()
    ) -> CompiledLexicon:
        """The automaton and vocabulary for these terms, and the matcher for the protected
        persons' names (names, ``PersonName``s, or each name with its aliases)."""
        return CompiledLexicon(self, NameMatcher(person_names(persons)))


class CompiledLexicon:
    """Terms ready to match: one automaton whose keys are each term's words between spaces
    (as typed and without accents), the protected persons' ``names``, and the ``Vocabulary``
    the views may read words into (terms' and names' words)."""

    def __init__(self, lexicon: Lexicon, names: NameMatcher) -> None:
        self.lexicon = lexicon
        self.names = names
        self.persons = names.persons
        keys: dict[str, list[Entry]] = {}
        vocabulary: dict[str, str] = {}
        parts_seen: set[str] = set()
        sensitive: list[str] = []  # one-word terms a censored word may stand for
        stems: list[str] = []  # one-word prefix terms a disguised word may start with
        for entry in lexicon.entries:
            for parts in entry.forms():
                key = " " + " ".join(parts) + ("" if entry.prefix else " ")
                keys.setdefault(key, []).append(entry)
                if entry.kind in NEGATIVE_SETS:  # read in a negative prompt only: no target
                    continue
                if entry.words == 1 and entry.prefix:
                    stems.append(parts[0])
                if entry.kind == AGE_COMPOUND:  # a word no view splits into its number
                    continue
                vocabulary.setdefault("".join(parts), " ".join(parts))
                parts_seen.update(parts)
                if entry.words == 1 and entry.kind in CATEGORIES and entry.kind not in UNCENSORED:
                    sensitive.append(parts[0])
        for joined, spaced in names.words().items():
            vocabulary.setdefault(joined, spaced)
            parts_seen.update(spaced.split())
            sensitive.extend(word for word in spaced.split() if len(word) > 1)
        self.automaton = ahocorasick.Automaton()
        for key, found in keys.items():
            self.automaton.add_word(key, (len(key), tuple(found)))
        self.automaton.make_automaton()
        short = (e.term for e in lexicon.entries if e.kind == "filler" and len(e.term) < 3)
        self.vocabulary = Vocabulary(
            vocabulary, parts_seen, short, sensitive=sensitive, stems=stems, ordinary=is_ordinary
        )


def load_lexicon(paths: Sequence[str | Path] = ()) -> Lexicon:
    """The built-in lexicons (English, French, Spanish, German, Italian, Portuguese), and any
    further files in ``paths``."""
    sources: list[tuple[str, bytes]] = []
    folder = resources.files("rempart.text") / "lexicons"
    for language in LANGUAGES:
        sources.append((f"{language}.yaml", (folder / f"{language}.yaml").read_bytes()))
    for path in paths:
        try:
            sources.append((str(path), Path(path).read_bytes()))
        except OSError as exc:
            raise LexiconError(f"cannot read lexicon {path}: {exc.strerror}") from exc
    entries = [entry for name, raw in sources for entry in _parse(name, raw)]
    entries.extend(
        Entry(NUMBER, str(number), "", 1, value=number) for number in range(_MAX_NUMBER + 1)
    )
    entries.extend(
        Entry(NUMBER, numeral, "", 1, value=value) for numeral, value in _ROMAN_NUMERALS.items()
    )
    entries.extend(_age_compounds(entries))
    digest = hashlib.sha256(b"\0".join(raw for _, raw in sources)).hexdigest()
    return Lexicon(tuple(entries), digest)


def _age_compounds(entries: Sequence[Entry]) -> list[Entry]:
    """Each number word under 18 written together with a one-word age unit of its language
    ("zwölfjährigen", "fifteenyearold"), an ``AGE_COMPOUND`` whose value is the age: German
    writes ages so, and such a word is an ordinary word, which no view splits."""
    numbers = [
        e for e in entries if e.kind == NUMBER and e.language and e.value is not None
        and e.value < ADULT_AGE and e.words == 1
    ]  # fmt: skip
    return [
        Entry(AGE_COMPOUND, number.term + unit.term, unit.language, 1, unit.prefix, number.value)
        for unit in entries
        if unit.kind == "age_units" and unit.words == 1 and len(unit.term) >= _MIN_COMPOUND_UNIT
        for number in numbers
        if number.language == unit.language
    ]


def _parse(name: str, raw: bytes) -> list[Entry]:
    try:
        spec = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise LexiconError(f"lexicon {name} is not valid YAML: {exc}") from exc
    if not isinstance(spec, dict):
        raise LexiconError(f"lexicon {name} must be a mapping")
    unknown = set(spec) - _FILE_KEYS
    if unknown:
        raise LexiconError(f"lexicon {name}: unknown keys {sorted(unknown)}")
    language = spec.get("language")
    if not isinstance(language, str) or not language:
        raise LexiconError(f"lexicon {name}: 'language' must name the language")
    entries: list[Entry] = []
    for group, allowed in (("categories", CATEGORIES), ("sets", SETS)):
        lists = spec.get(group) or {}
        if not isinstance(lists, dict):
            raise LexiconError(f"lexicon {name}: {group!r} must be a mapping")
        for kind, terms in lists.items():
            if kind not in allowed:
                raise LexiconError(f"lexicon {name}: unknown {group} entry {kind!r}")
            entries.extend(_entry(name, kind, term, language) for term in _terms(name, kind, terms))
    numbers = spec.get("numbers") or {}
    if not isinstance(numbers, dict):
        raise LexiconError(f"lexicon {name}: 'numbers' must map words to numbers")
    for word, value in numbers.items():
        if not isinstance(word, str) or not isinstance(value, int) or isinstance(value, bool):
            raise LexiconError(
                f"lexicon {name}: number {word!r}: {value!r} is not a word and a number"
            )
        entries.append(Entry(NUMBER, word, language, len(words(word)), value=value))
    return entries


def _terms(name: str, kind: str, terms: Any) -> list[str]:
    if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
        raise LexiconError(
            f"lexicon {name}: {kind!r} must be a list of terms (quote a term "
            "YAML would read as something else, such as 'no')"
        )
    return terms


def _entry(name: str, kind: str, term: str, language: str) -> Entry:
    exact = term.startswith("=")
    term = term.removeprefix("=")
    parts = words(term.rstrip("*"))
    if not parts:
        raise LexiconError(f"lexicon {name}: {kind} term {term!r} has no letters or digits")
    return Entry(kind, term, language, len(parts), prefix=term.endswith("*"), exact=exact)


def _forms(term: str) -> list[list[str]]:
    """A term's words as typed and without accents (both, when they differ)."""
    typed = words(term)
    chars, origin = unicode_form(term)
    folded = words(fold_accents(chars, origin)[0])
    return [typed] if folded == typed else [typed, folded]
