"""Ordinary words of the six languages, from wordfreq's frequency lists.

A view that re-joins or re-splits words can invent a word across languages: "violin" read as
"viol" + "in", a French crime in an English instrument. A word that is already an ordinary
word of English, French, Spanish, German, Italian or Portuguese is read as typed, never split
(``is_ordinary``). The same lists tell which parts of a protected person's name are rare
enough to stand alone (``commonness``).
"""

from __future__ import annotations

import functools
from typing import Final

import wordfreq

from rempart.text.normalise import without_accents

__all__ = [
    "LANGUAGES",
    "ORDINARY_ZIPF",
    "SHORT_ORDINARY_ZIPF",
    "commonness",
    "is_ordinary",
    "ordinary_words",
]

LANGUAGES: Final = ("en", "fr", "es", "de", "it", "pt")
ORDINARY_ZIPF: Final = 2.5
"""A word at least this frequent (Zipf scale: 2.5 is about three times in ten million words)
in one of the languages is an ordinary word."""
SHORT_ORDINARY_ZIPF: Final = 4.0
"""A word of two or three letters must be this frequent (once in a hundred thousand words):
the lists hold nearly every short string of letters, as an abbreviation or a name."""
_SHORT: Final = 3


def is_ordinary(word: str) -> bool:
    """Whether ``word`` (lower case, accents or not) is an ordinary word of a language."""
    return word in ordinary_words()


@functools.cache
def ordinary_words() -> frozenset[str]:
    """Every alphabetic word at least ``ORDINARY_ZIPF`` frequent in one of the languages
    (``SHORT_ORDINARY_ZIPF`` for two or three letters), as written and without accents. Read
    once per process (about a second)."""
    lists = wordfreq.available_languages("large")
    deepest = round((9 - ORDINARY_ZIPF) * 100)  # the lists are indexed by -centibels
    short = round((9 - SHORT_ORDINARY_ZIPF) * 100)
    found: set[str] = set()
    for language in LANGUAGES:
        buckets = wordfreq.read_cBpack(lists[language])
        for index, bucket in enumerate(buckets[: deepest + 1]):
            least = _SHORT + 1 if index > short else 2
            for word in bucket:
                if len(word) >= least and word.isalpha():
                    found.add(word)
                    if not word.isascii():
                        found.add(without_accents(word))
    return frozenset(found)


def commonness(word: str) -> float:
    """How common ``word`` is in the language where it is most common, on the Zipf scale (0:
    unknown, 3: once in a million words, 6: once in a thousand)."""
    return max(wordfreq.zipf_frequency(word, language, wordlist="small") for language in LANGUAGES)
