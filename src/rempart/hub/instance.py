"""A model trained on one person: DreamBooth's instance token before a class of person.

DreamBooth and kohya's trainers teach a model one subject under a rare identifier followed by
its class: "ohwx woman", "a photo of sks man", "zwx femme". When the class is a person, the
model was trained to reproduce one real person, named or not: ``text.likeness``, as a likeness
word would give. The identifier is any word that is neither an ordinary word of the six
languages nor a word of the lexicons (so "the woman", "nsfw woman" and "jane woman" are not).
It is read where the trainers write it: kohya's ``class_tokens``, a card's
``instance_prompt``, ``modelspec.trigger_phrase`` and a sidecar's ``trainedWords``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Final

from rempart.hub.texts import ModelText
from rempart.signals import Signal

__all__ = ["INSTANCE_FIELDS", "INSTANCE_TERM", "PERSON_CLASSES", "instance_signals"]

PERSON_CLASSES: Final = frozenset(
    {"woman", "man", "girl", "boy", "person", "lady", "guy", "female", "male"}
    | {"femme", "homme", "fille", "garçon", "garcon", "personne"}
    | {"frau", "mann", "mädchen", "madchen", "junge", "person"}
    | {"mujer", "hombre", "chica", "chico", "persona"}
    | {"donna", "uomo", "ragazza", "ragazzo"}
    | {"mulher", "homem", "garota", "garoto", "menina", "menino", "pessoa", "moça", "moca"}
)
"""The classes of person trainers put after an instance token, in the six languages."""
INSTANCE_FIELDS: Final = ("class_tokens", "instance_prompt", "trigger_phrase", "trainedWords")
"""The last key of the fields an instance token is written in."""
INSTANCE_TERM: Final = "instance token + person"
_MIN_TOKEN: Final = 3  # "a woman", "un homme": articles are no identifiers
_WORD: Final = re.compile(r"[^\W_]+")


def instance_signals(
    text: ModelText, known: Callable[[str], bool], *, version: str, detector: str
) -> Iterator[Signal]:
    """``text.likeness`` for each instance token before a class of person in ``text``, when
    ``text`` is in one of ``INSTANCE_FIELDS``; ``known`` tells the words that are no
    identifier (ordinary or lexicon words)."""
    if not _in_instance_field(text.field):
        return
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text.text)]
    for (start, _, token), (_, end, noun) in pairwise(words):
        if noun in PERSON_CLASSES and _identifier(token) and not known(token):
            evidence = {"field": text.field, "match": text.text[start:end], "term": INSTANCE_TERM}
            yield Signal(
                "text.likeness",
                round(text.weight, 4),
                detector,
                version,
                value=INSTANCE_TERM,
                evidence=evidence,
            )


def _in_instance_field(field: str) -> bool:
    last = re.split(r"[.:]", field)[-1]
    return last.split("[", 1)[0] in INSTANCE_FIELDS


def _identifier(word: str) -> bool:
    """A word that may be a trainer's identifier: three characters or more, a letter among
    them, not a class of person itself."""
    return (
        len(word) >= _MIN_TOKEN
        and not word.isdigit()
        and any(c.isalpha() for c in word)
        and word not in PERSON_CLASSES
    )
