"""Views of a prompt: the same words with one more disguise undone in each.

A filter that reads only the prompt as typed is walked past by "teen" written with a Cyrillic
"e", a zero-width space, spaced letters ("t e e n"), leetspeak ("t33n"), repeated letters
("teeeen") or words run together ("teennude"). ``views`` gives, in order:

- ``unicode``: compatibility forms folded (NFKC: full-width and mathematical letters, ligatures),
  case folded, invisible and control characters removed;
- ``confusables``: letters of other scripts that look like Latin ones mapped to them (Unicode
  TR39 confusables, via ``confusable_homoglyphs``);
- ``accents``: diacritics removed (``é`` -> ``e``, ``ß`` -> ``ss``);
- ``masked``: a word censored with symbols read as the one term it can be ("n*de", "p.rn"),
  or cut by symbols read whole ("tay-lor");
- ``spacing``: runs of single letters joined ("t e e n", "n.u.d.e");
- ``leet``: digits and symbols inside words read as letters ("t4ylor", "n00d");
- ``repeats``: runs of three or more of a letter shortened ("nuuuude", "teeeen");
- ``joined``: words run together split ("scarlettjohansson", "teennude");
- ``reversed``: words spelled backwards read forwards ("ecnoyeb", "edun").

Every view after the first is given only when it changes something, and the last four change a
word only into one the ``Vocabulary`` knows, so they cannot invent words a prompt did not hold.
Each token keeps its span in the prompt as given, so a match is reported on the text the user
typed. All of it is linear in the prompt's length, and ``iter_views`` stops with
``DeadlinePassed`` once the ``Deadline`` it is given has passed (``rempart.text.deadline``).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import ahocorasick

from rempart.text.deadline import NO_DEADLINE, SHORT, Deadline

__all__ = [
    "VIEW_NAMES",
    "Token",
    "View",
    "Vocabulary",
    "fold_accents",
    "iter_views",
    "unicode_form",
    "views",
    "without_accents",
    "words",
]

VIEW_NAMES: Final = (
    "unicode",
    "confusables",
    "accents",
    "masked",
    "spacing",
    "leet",
    "repeats",
    "joined",
    "reversed",
)

# A word: letters and digits (with combining marks), the @ and $ of leetspeak, and a ! between
# letters ("sw!ft").
_WORD: Final = re.compile(r"[@$\u0300-\u036f]*[^\W_](?:[^\W_]|[@$\u0300-\u036f]|!(?=[^\W_]))*")
_LEET_SYMBOLS: Final = re.compile(r"[@$!]")
# Symbols that hide a letter of a censored word; "." and "-" only between or beside letters.
_MASKS: Final = re.compile(r"[*\u2022\u00b7#]|[^\W\d_][.\-][^\W\d_]")
_MASK_RUN: Final = re.compile(r"[*\u2022\u00b7#]+|[.\-]")
_MASK_CHARS: Final = frozenset("*\u2022\u00b7#")
_MASK_OPENERS: Final = frozenset("([{,;:\"'")  # what may come before a censored word's symbols
_MASK_AFTER: Final = re.compile(r"[*\u2022\u00b7#]+(?=[\s)\]},;:.!?\"']|\Z)")
_DIGITS_OR_LETTERS: Final = re.compile(r"\d+|\D+")
_REPEATS: Final = re.compile(r"(.)\1{2,}")
_LEADING_NUMBER: Final = re.compile(r"\d+(?=\D*[^\W\d_])")
# Leetspeak: each character with the letters it stands for, likeliest first.
_LEET: Final[Mapping[str, str]] = {
    "0": "o",
    "1": "il",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "9": "g",
    "@": "a",
    "$": "s",
    "!": "i",
}
# Letters drawn with symbols, longest first.
_LEET_DRAWINGS: Final = {
    "|\\/|": "m",
    "\\/\\/": "w",
    "|\\|": "n",
    "|_|": "u",
    "|-|": "h",
    "|<": "k",
    "/\\": "a",
    "\\/": "v",
}
_LEET_LETTERS: Final = re.compile("|".join(re.escape(drawn) for drawn in _LEET_DRAWINGS))
_MIN_PIECE: Final = 3  # the joined view splits off no shorter word ("tit" + "an"), but
_MIN_SPLIT: Final = 4  # the function words it is given ("ragazza" + "di")
_RUN_EDGE: Final = 2  # one-letter words at a spaced run's ends that may stay apart
_MAX_FRAGMENT: Final = 3  # letters: a longer word is no fragment of a spaced-out one
_STEM_KEY: Final = 3  # letters by which stems are looked up (every stem has at least these)
_SPLITS_REMEMBERED: Final = 65_536
_MAX_SPLIT: Final = 256  # longer runs of letters are not split (a prompt holds no such word)
# Emoji that stand for a word a lexicon holds, read as that word (a skin-tone modifier after one
# is no word, and goes).
_EMOJI_WORDS: Final = {
    "\U0001f467": " little girl ",  # girl
    "\U0001f466": " little boy ",  # boy
    "\U0001f9d2": " child ",  # child
    "\U0001f476": " infant ",  # baby
    "\U0001f6b8": " children ",  # children crossing
    "\U0001f459": " bikini ",  # bikini
    "\U0001f51e": " nsfw ",  # no one under eighteen
}
_LONGEST_FORM: Final = 4  # characters a character's compatibility form may have
# Letters that fold to more than one (NFD leaves them whole).
_EXPANSIONS: Final = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "þ": "th"}


class Token(NamedTuple):
    """A word of a view, and where it came from in the prompt (``start``, ``end``)."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class View:
    """A prompt's words after one more normalisation; ``changed``: the indices of the tokens
    that differ from the ``unicode`` view's (a match in a later view must take one of them)."""

    name: str
    tokens: tuple[Token, ...]
    changed: frozenset[int]

    @property
    def text(self) -> str:
        """The tokens joined by single spaces, between spaces: what the lexicon is matched on."""
        return " " + " ".join(token.text for token in self.tokens) + " "


class Vocabulary:
    """The words a view may turn a disguised word into. ``words``: each term and name of the
    lexicons and the registry written as one word, with what it reads as ("taylorswift" reads
    as "taylor swift"); the joined view splits words into these, and into the ``short``
    function words. ``parts``: every word of every term, which the spacing, leet and repeats
    views may also read a word as. ``sensitive``: the one-word terms a censored word ("n*de")
    may stand for. ``stems``: the one-word terms that match any word they start ("nudist*"),
    which a disguised word may also be read as. ``ordinary``: whether a word is an ordinary
    word of a language, which is never split into others ("violin" is not "viol" + "in")."""

    def __init__(
        self,
        words: Mapping[str, str],
        parts: Iterable[str] = (),
        short: Iterable[str] = (),
        *,
        sensitive: Iterable[str] = (),
        stems: Iterable[str] = (),
        ordinary: Callable[[str], bool] = lambda word: False,
    ) -> None:
        self.words = dict(words)
        self.parts = frozenset(parts)
        self._stems_by_start: dict[str, list[str]] = {}
        for stem in set(stems):
            if len(stem) >= _STEM_KEY:  # a shorter stem would read nearly any word
                self._stems_by_start.setdefault(stem[:_STEM_KEY], []).append(stem)
        self.ordinary = ordinary
        self._splits: dict[str, list[str] | None] = {}
        self.sensitive: dict[int, list[str]] = {}
        # The same words by their length and one letter's place: a censored word is compared
        # with those that share its rarest letter, not with every word of its length.
        self._sensitive_by_letter: dict[tuple[int, int, str], list[str]] = {}
        for word in sorted(set(sensitive)):
            self.sensitive.setdefault(len(word), []).append(word)
            for place, letter in enumerate(word):
                self._sensitive_by_letter.setdefault((len(word), place, letter), []).append(word)
        allowed = frozenset(short)  # function words shorter than _MIN_PIECE ("de", "in")
        automaton = ahocorasick.Automaton()
        for word in self.words:
            if len(word) >= _MIN_PIECE or word in allowed:
                automaton.add_word(word, len(word))
        if len(automaton):
            automaton.make_automaton()
        self._pieces = automaton

    def knows(self, word: str) -> bool:
        """Whether ``word`` is a known word, starts with a known stem ("collégienne"), or
        splits wholly into known words."""
        return (
            word in self.words
            or word in self.parts
            or any(map(word.startswith, self._stems_by_start.get(word[:_STEM_KEY], ())))
            or self.split(word) is not None
        )

    def split(self, word: str) -> list[str] | None:
        """``word`` as the fewest known words that make it up exactly, when there are at least
        two ("teennude" -> ["teen", "nude"]); None when it is not made of known words, or is
        an ordinary word. Remembered: prompts repeat their words."""
        if word in self._splits:
            return self._splits[word]
        found = self._split(word)
        if len(self._splits) >= _SPLITS_REMEMBERED:
            self._splits.clear()
        self._splits[word] = found
        return found

    def _split(self, word: str) -> list[str] | None:
        if not (_MIN_SPLIT <= len(word) <= _MAX_SPLIT) or not len(self._pieces):
            return None
        if self.ordinary(word):
            return None
        found = [(end + 1, length) for end, length in self._pieces.iter(word)]
        if not found or found[-1][0] != len(word):
            return None
        unreachable = len(word) + 1
        fewest = [0] + [unreachable] * len(word)  # fewest pieces that make up word[:i]
        last = [0] * (len(word) + 1)
        for end, length in found:  # in order of their end
            if fewest[end - length] + 1 < fewest[end]:
                fewest[end], last[end] = fewest[end - length] + 1, length
        if not 2 <= fewest[-1] < unreachable:
            return None
        pieces: list[str] = []
        end = len(word)
        while end:
            pieces.append(word[end - last[end] : end])
            end -= last[end]
        return pieces[::-1]

    def unmasked(self, template: str) -> str | None:
        """The one sensitive term that ``template`` ("n?de": letters, and ``?`` for each
        hidden one) can stand for, or None when none or several can."""
        words = self.sensitive.get(len(template), ())
        if not words:
            return None
        known = [(len(template), place, t) for place, t in enumerate(template) if t != "?"]
        if known:
            by_letter = self._sensitive_by_letter
            words = min((by_letter.get(key, ()) for key in known), key=len)
        found = None
        for word in words:
            if all(t in ("?", w) for t, w in zip(template, word, strict=True)):
                if found is not None:
                    return None  # several
                found = word
        return found

    def reading(self, word: str) -> list[str]:
        """What ``word`` reads as: itself, or the words a joined name or term stands for."""
        return self.words.get(word, word).split()


def views(text: str, vocabulary: Vocabulary) -> list[View]:
    """Every view of ``text`` that differs from the one before it, ``unicode`` first."""
    return list(iter_views(text, vocabulary))


def iter_views(
    text: str, vocabulary: Vocabulary, deadline: Deadline = NO_DEADLINE
) -> Iterator[View]:
    """``views``, each made when the one before it has been read: a reader whose
    ``deadline`` passes has read the first views whole, not all of them in part."""
    chars, origin = unicode_form(text, deadline)
    words = _tokens(chars, origin, deadline)
    split: dict[Token, list[Token]] = {}  # each word's numbers split once for every view
    base = _split_digits(words, split, deadline)
    last = View("unicode", tuple(base), frozenset())
    yield last
    unchanged = set(base)

    def stepped(name: str, tokens: list[Token]) -> Iterator[View]:
        nonlocal last
        view = _view(last, unchanged, name, _split_digits(tokens, split, deadline), deadline)
        if view is not None:
            last = view
            yield view

    if not chars.isascii():
        confusable = chars.translate(_confusables_table())
        if confusable != chars:
            words = _tokens(confusable, origin, deadline)
            yield from stepped("confusables", words)
        folded, origin = fold_accents(confusable, origin, deadline)
        if folded != confusable:
            words = _tokens(folded, origin, deadline)
            yield from stepped("accents", words)
    if _MASKS.search(text):
        unmasked = _unmask(words, vocabulary, text, deadline)
        if unmasked != words:
            words = unmasked
            yield from stepped("masked", words)
    for name, step in (
        ("spacing", _join_letters),
        ("leet", _read_leet),
        ("repeats", _shorten_repeats),
        ("joined", _split_joined),
        ("reversed", _read_reversed),
    ):
        after = step(words, vocabulary, deadline)  # which ticks for each word
        if after != words:
            words = after
            yield from stepped(name, words)


def words(text: str) -> list[str]:
    """The words of ``text`` as the ``unicode`` view reads them."""
    chars, origin = unicode_form(text)
    return [token.text for token in _split_digits(_tokens(chars, origin))]


def unicode_form(text: str, deadline: Deadline = NO_DEADLINE) -> tuple[str, list[int]]:
    """``text`` in NFKC, case folded, without invisible or control characters (whitespace
    becomes a space), and for each character, the index of the character it came from."""
    if text.isascii() and not _ASCII_CONTROLS.search(text):
        folded, origin = text.lower(), list(range(len(text)))
    else:
        chars: list[str] = []
        origin = []
        run: set[str] = set()  # the emoji read as words since the last letter or digit
        for index, char in enumerate(text):
            if index and not index % _CHARS_PER_CHECK:
                deadline.check()
            form = _char_form(char)
            if char in _EMOJI_WORDS:
                # A run of emoji reads each word once: a run of thousands would otherwise make
                # the words to read thirteen times as many as the characters typed.
                form = " " if char in run else form
                run.add(char)
            elif run and form.isalnum():
                run.clear()
            chars.append(form)
            origin.extend([index] * len(form))
        folded = "".join(chars)
    if _LEET_LETTERS.search(folded):
        return _letters_drawn(folded, origin, deadline)
    return folded, origin


def _letters_drawn(text: str, origin: list[int], deadline: Deadline) -> tuple[str, list[int]]:
    """``text`` with letters drawn in symbols ("|_|" for u, "|<" for k) read as letters."""
    chars: list[str] = []
    kept: list[int] = []
    at = 0
    for match in deadline.over(_LEET_LETTERS.finditer(text)):
        chars.append(text[at : match.start()])
        kept.extend(origin[at : match.start()])
        chars.append(_LEET_DRAWINGS[match.group()])
        kept.append(origin[match.start()])
        at = match.end()
    chars.append(text[at:])
    kept.extend(origin[at:])
    return "".join(chars), kept


def without_accents(word: str) -> str:
    """``word`` without diacritics (``fold_accents`` without the origins)."""
    return fold_accents(word, range(len(word)))[0]


def fold_accents(
    text: str, origin: Sequence[int], deadline: Deadline = NO_DEADLINE
) -> tuple[str, list[int]]:
    """``text`` without diacritics, and each character's origin carried along."""
    if text.isascii():
        return text, list(origin)
    chars: list[str] = []
    folded_origin: list[int] = []
    for index, (char, source) in enumerate(zip(text, origin, strict=True)):
        if index and not index % _CHARS_PER_CHECK:
            deadline.check()
        form = _folded(char)
        chars.append(form)
        folded_origin.extend([source] * len(form))
    return "".join(chars), folded_origin


_ASCII_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not tab or newline
_CHARS_PER_CHECK: Final = 256  # characters folded between two readings of the deadline's clock


@functools.lru_cache(maxsize=8192)
def _char_form(char: str) -> str:
    if char in _EMOJI_WORDS:
        return _EMOJI_WORDS[char]
    category = unicodedata.category(char)
    if char.isspace() or category in ("Zl", "Zp"):
        return " "
    if category in ("Cc", "Cf", "Cs", "Co", "Cn") or _is_variation_selector(char):
        return ""
    form = unicodedata.normalize("NFKC", char).casefold()
    # A few characters stand for a phrase (U+FDFA, eighteen characters): read as a space, they
    # cannot make the text to read many times longer than the prompt, and no lexicon holds them.
    return " " if len(form) > _LONGEST_FORM else form


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF or code == 0x034F


@functools.lru_cache(maxsize=8192)
def _folded(char: str) -> str:
    if char in _EXPANSIONS:
        return _EXPANSIONS[char]
    decomposed = unicodedata.normalize("NFD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.cache
def _confusables_table() -> dict[int, str]:
    """Each non-ASCII character that Unicode's confusables (TR39) map to a Latin letter or a
    digit, to that character in lower case. Characters whose prototype is another non-Latin
    character (Cyrillic т -> small capital T) are followed to the letter, through upper case."""
    from confusable_homoglyphs import confusables

    data: Mapping[str, list[dict[str, str]]] = confusables.confusables_data
    table: dict[int, str] = {}
    for char in data:
        if len(char) == 1 and not char.isascii():
            latin = _latin(char, data) or _latin(char.upper(), data)
            if latin:
                table[ord(char)] = latin
    return table


def _latin(char: str, data: Mapping[str, list[dict[str, str]]], depth: int = 0) -> str | None:
    if char.isascii():
        return char.lower() if char.isalnum() else None
    if depth > 3:
        return None
    for homoglyph in data.get(char, ()):
        target = homoglyph["c"]
        if len(target) == 1:
            latin = _latin(target, data, depth + 1)
            if latin:
                return latin
    return None


def _tokens(chars: str, origin: Sequence[int], deadline: Deadline = NO_DEADLINE) -> list[Token]:
    """The words of ``chars``; a "+" after a number is the word "plus" ("18+")."""
    matches = _WORD.finditer(chars)
    each = deadline.over(list(matches) if len(chars) <= SHORT else matches)
    if "+" not in chars:
        return [
            Token(match.group(), origin[match.start()], origin[match.end() - 1] + 1)
            for match in each
        ]
    found = []
    for match in each:
        end = match.end()
        found.append(Token(match.group(), origin[match.start()], origin[end - 1] + 1))
        if end < len(chars) and chars[end] == "+" and chars[end - 1].isdigit():
            found.append(Token("plus", origin[end], origin[end] + 1))
    return found


def _split_digits(
    tokens: Iterable[Token],
    memo: dict[Token, list[Token]] | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> list[Token]:
    """Numbers split from the letters they touch ("15yo" -> "15", "yo"), the way ages are read;
    each word's parts kept in ``memo``, for the next view, which holds most of the same words."""
    result: list[Token] = []
    for token in deadline.over(tokens):
        text = token.text
        if text.isalpha() or text.isdigit():
            result.append(token)
            continue
        parts = memo.get(token) if memo is not None else None
        if parts is None:
            parts = _digits_apart(token)
            if memo is not None:
                memo[token] = parts
        result.extend(parts)
    return result


def _digits_apart(token: Token) -> list[Token]:
    text = token.text
    if _LEET_SYMBOLS.search(text):
        text = _LEET_SYMBOLS.sub("", text)
    exact = len(text) == token.end - token.start  # else each part spans the whole token
    parts = []
    for part in _DIGITS_OR_LETTERS.finditer(text):
        start = token.start + part.start() if exact else token.start
        end = token.start + part.end() if exact else token.end
        parts.append(Token(part.group(), start, end))
    return parts


def _view(
    last: View, unchanged: set[Token], name: str, tokens: list[Token], deadline: Deadline
) -> View | None:
    """The view ``name`` of ``tokens``, unless it reads as the one before it (``last``); its
    changed words are those not ``unchanged`` from the first view (same word, same place)."""
    if [t.text for t in deadline.over(tokens)] == [t.text for t in last.tokens]:
        return None
    changed = frozenset(
        index for index, t in enumerate(deadline.over(tokens)) if t not in unchanged
    )
    return View(name, tuple(tokens), changed)


def _unmask(
    tokens: list[Token], vocabulary: Vocabulary, text: str, deadline: Deadline
) -> list[Token]:
    """Words cut by censoring symbols ("n*de", "t**n", "p.rn", "*ude") joined into the one
    sensitive term they can stand for, each symbol a hidden letter; or, failing that, into the
    known word they make without the symbols ("tay-lor", "nu.de")."""
    result: list[Token] = []
    index = 0
    while index < len(tokens):
        deadline.tick()
        last = index
        while last + 1 < len(tokens) and _MASK_RUN.fullmatch(
            text[tokens[last].end : tokens[last + 1].start]
        ):
            deadline.tick()
            last += 1
        group = tokens[index : last + 1]
        lead = _mask_before(text, group[0].start)
        trail = _MASK_AFTER.match(text, group[-1].end)
        start = lead if lead is not None else group[0].start
        end = trail.end() if trail else group[-1].end
        template = "".join(
            "?" * (b.start - a.end) + b.text for a, b in itertools.pairwise([group[0], *group])
        )
        template = "?" * (group[0].start - start) + template + "?" * (end - group[-1].end)
        word = vocabulary.unmasked(template) if "?" in template else None
        # or symbols put between pieces of a word ("tay-lor"; single letters are the spacing
        # view's: "n.u.d.e")
        if word is None and len(group) > 1 and any(len(token.text) > 1 for token in group):
            joined = "".join(token.text for token in group)
            word = joined if vocabulary.knows(joined) else None
        result.extend([Token(word, start, end)] if word else group)
        index = last + 1
    return result


def _mask_before(text: str, at: int) -> int | None:
    """Where the censoring symbols right before ``at`` start ("*ude"), when they start a word
    (after a space, an opening bracket or punctuation, or the text's start); None if there
    are none. Read backwards from ``at``: a search from the text's start would read the
    prompt once for each word (issue 17)."""
    start = at
    while start > 0 and text[start - 1] in _MASK_CHARS:
        start -= 1
    if start == at:
        return None
    before = text[start - 1] if start > 0 else " "
    return start if before.isspace() or before in _MASK_OPENERS else None


def _join_letters(tokens: list[Token], vocabulary: Vocabulary, deadline: Deadline) -> list[Token]:
    """Runs of two or more fragments (words of one character, or of two or three letters)
    joined, when that makes a known word of more than ordinary words; up to two words at
    either end of a run may stay apart ("a t e e n" -> "a", "teen"; "tay lor swi ft" ->
    "taylorswift")."""

    def fragment(token: Token) -> bool:
        return len(token.text) == 1 or (len(token.text) <= _MAX_FRAGMENT and token.text.isalpha())

    if not any(fragment(a) and fragment(b) for a, b in itertools.pairwise(tokens)):
        return tokens
    result: list[Token] = []
    for run in _runs(deadline.over(tokens), fragment):
        while run:  # a run may hold several words
            if len(run) > 1:  # a word alone is no run to join, and costs nothing to try
                deadline.tick(len(run))
            found = _joined_run(run, vocabulary)
            if found is None:
                result.extend(run)
                break
            before, joined, run = found
            result.extend([*before, joined])
    return result


def _joined_run(
    run: list[Token], vocabulary: Vocabulary
) -> tuple[list[Token], Token, list[Token]] | None:
    """The run's longest inner part that makes a known word (never one made only of ordinary
    words: "a pen is"), joined, with the words before and after it; None when there is none."""
    letters = [len(token.text) == 1 for token in run]
    if not any(map(operator.and_, letters, letters[1:])) and all(
        letter or vocabulary.ordinary(token.text)
        for letter, token in zip(letters, run, strict=True)
    ):
        return None  # ordinary words and letters that stand alone: no part to try
    for left in range(min(_RUN_EDGE, len(run) - 2) + 1):
        for right in range(min(_RUN_EDGE, len(run) - left - 2) + 1):
            inner = run[left : len(run) - right]
            pieces = [token.text for token in inner if len(token.text) > 1]
            if pieces and all(vocabulary.ordinary(piece) for piece in pieces):
                continue
            joined = "".join(token.text for token in inner)
            if _known(joined, vocabulary):
                word = Token(joined, inner[0].start, inner[-1].end)
                return run[:left], word, run[len(run) - right :]
    return None


def _runs(tokens: Iterable[Token], inside: Callable[[Token], bool]) -> Iterator[list[Token]]:
    run: list[Token] = []
    for token in tokens:
        if inside(token):
            run.append(token)
            continue
        if run:
            yield run
            run = []
        yield [token]
    if run:
        yield run


def _read_leet(tokens: list[Token], vocabulary: Vocabulary, deadline: Deadline) -> list[Token]:
    """Words that mix letters with digits or symbols read as letters, when that makes a known
    word; "15yo" stays as it is (an age), "t4ylor" becomes "taylor"."""
    return [_leet_token(token, vocabulary) for token in deadline.over(tokens)]


def _leet_token(token: Token, vocabulary: Vocabulary) -> Token:
    text = token.text
    if text.isalpha() or text.isdigit() or not any(char in _LEET for char in text):
        return token
    if _known(text, vocabulary):
        return token
    for reading in _leet_readings(text):
        if _known(reading, vocabulary):
            return Token(reading, token.start, token.end)
    return token


def _leet_readings(text: str) -> Iterator[str]:
    """The letter readings of a leet word: each ambiguous character ("1": i or l) tried in
    turn for the whole word, at most a few readings."""
    yield _likeliest(text)
    number = _LEADING_NUMBER.match(text)
    if number:  # "15y0": the number stays a number, the rest is read ("15yo")
        yield number.group() + _likeliest(text[number.end() :])
    for char, letters in _LEET.items():
        if len(letters) > 1 and char in text:
            for letter in letters[1:]:
                yield "".join(letter if c == char else _LEET.get(c, c)[0] for c in text)


def _likeliest(text: str) -> str:
    """``text`` with each leet character read as its likeliest letter."""
    return "".join(_LEET.get(char, char)[0] for char in text)


def _shorten_repeats(
    tokens: list[Token], vocabulary: Vocabulary, deadline: Deadline
) -> list[Token]:
    """Runs of three or more of a character cut to two, or to one, whichever makes a known
    word ("teeeen" -> "teen", "nuuuude" -> "nude")."""
    if not any(_REPEATS.search(token.text) for token in deadline.over(tokens)):
        return tokens
    result: list[Token] = []
    for token in deadline.over(tokens):
        if not _REPEATS.search(token.text):
            result.append(token)
            continue
        for repeat in (r"\1\1", r"\1"):
            shortened = _REPEATS.sub(repeat, token.text)
            if _known(shortened, vocabulary):
                token = Token(shortened, token.start, token.end)
                break
        result.append(token)
    return result


def _read_reversed(tokens: list[Token], vocabulary: Vocabulary, deadline: Deadline) -> list[Token]:
    """Words spelled backwards read forwards, when they are no ordinary word and their
    reverse is a known word ("ecnoyeb" -> "beyonce", "tfiws rolyat" -> "swift taylor")."""
    return [
        Token(token.text[::-1], token.start, token.end)
        if len(token.text) >= _MIN_SPLIT
        and token.text.isalpha()
        and not vocabulary.ordinary(token.text)
        and not vocabulary.knows(token.text)
        and vocabulary.knows(token.text[::-1])
        else token
        for token in deadline.over(tokens)
    ]


def _split_joined(tokens: list[Token], vocabulary: Vocabulary, deadline: Deadline) -> list[Token]:
    """Words the vocabulary does not know split into words it does, numbers apart, and joined
    names or terms read as their words ("scarlettjohansson" -> "scarlett", "johansson";
    "nude15yearold" -> "nude", "15", "year", "old")."""
    result: list[Token] = []
    for token in deadline.over(tokens):
        text = token.text
        if text.isalpha():
            pieces = [text] if text in vocabulary.words else vocabulary.split(text)
        else:
            pieces = [
                piece
                for part in _DIGITS_OR_LETTERS.findall(text)
                for piece in (
                    [part]
                    if part.isdigit() or part in vocabulary.words
                    else vocabulary.split(part) or [part]
                )
            ]
        if pieces is None or [w for p in pieces for w in vocabulary.reading(p)] == [text]:
            result.append(token)
        else:
            result.extend(_pieces(token, pieces, vocabulary))
    return result


def _pieces(token: Token, pieces: list[str], vocabulary: Vocabulary) -> list[Token]:
    """Tokens for the words of ``pieces``, each spanning its piece of ``token`` when the token's
    text maps one to one onto the prompt, else the whole token."""
    exact = token.end - token.start == len(token.text)
    result: list[Token] = []
    offset = token.start
    for piece in pieces:
        end = offset + len(piece) if exact else token.end
        start = offset if exact else token.start
        result.extend(Token(word, start, end) for word in vocabulary.reading(piece))
        offset = end if exact else offset
    return result


def _known(word: str, vocabulary: Vocabulary) -> bool:
    """A known word, or one that reads as numbers and known words once they are split
    ("15yo" -> "15", "yo"; "ragazzadi14anni"; not "y34r" -> "y", "34", "r")."""
    if vocabulary.knows(word):
        return True
    parts = _DIGITS_OR_LETTERS.findall(word)
    return len(parts) > 1 and all(
        part.isdigit()
        or (len(part) > 1 and (part in vocabulary.words or vocabulary.split(part) is not None))
        for part in parts
    )
