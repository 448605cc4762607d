"""Prompts built to make the gate's prompt analysis slow: each of the longest accepted size
(``MAX_PROMPT_CHARS``), made of one thing an attacker can repeat or vary: choice groups flat,
nested or wide, short tokens, runs of one letter, spaced letters, names with typos, look-alike
letters of other scripts, leetspeak, censoring symbols, numbers and ages, emoji, words run
together or reversed. ``gate_bench.py`` times them, with the slowest inputs the prompt fuzzer
found (``fuzz/corpus/prompt/slow-*``); ``tests/text/test_cost.py`` counts the work they cost.

Each kind is a function of a random generator, so that a benchmark can draw fresh instances
(words no cache has seen) as an attacker would.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from pathlib import Path

from rempart.text import MAX_PROMPT_CHARS

ROOT = Path(__file__).resolve().parents[1]
SLOW_CORPUS = ROOT / "fuzz" / "corpus" / "prompt"
# Short clinical request words and prompt words the lexicons, the ages and the names read.
WORDS = (
    "nude", "teen", "girl", "boy", "child", "naked", "lingerie", "topless", "bikini",
    "undress", "remove", "her", "clothes", "year", "old", "yo", "aged", "under", "born",
    "in", "ans", "jahre", "anos", "a\u00f1os", "petite", "braces", "schoolgirl", "photo",
    "portrait", "lighthouse", "sunset", "oil", "painting", "taylor", "swift", "emma",
    "watson", "kardashian", "beyonc\u00e9",
)  # fmt: skip
CONFUSABLES = "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u03bf\u03b1\u0391\u0392"
EMOJI = "\U0001f467\U0001f466\U0001f9d2\U0001f476\U0001f6b8\U0001f459\U0001f51e"
SKIN = "\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufe0f"


def fill(make: Callable[[], str], separator: str = " ", size: int = MAX_PROMPT_CHARS) -> str:
    """Pieces from ``make`` joined by ``separator`` up to ``size`` characters, cut there."""
    pieces: list[str] = []
    length = 0
    while length < size:
        piece = make()
        pieces.append(piece)
        length += len(piece) + len(separator)
    return separator.join(pieces)[:size]


def _word(rng: random.Random, low: int = 3, high: int = 10) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(low, high)))


def _typo(rng: random.Random, word: str) -> str:
    """``word`` with one letter doubled, dropped, swapped or changed (not the first)."""
    if len(word) < 3:
        return word
    at = rng.randrange(1, len(word) - 1)
    edit = rng.randrange(4)
    if edit == 0:
        return word[:at] + word[at] + word[at:]
    if edit == 1:
        return word[:at] + word[at + 1 :]
    if edit == 2:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word[:at] + rng.choice(string.ascii_lowercase) + word[at + 1 :]


def _leet(rng: random.Random, word: str) -> str:
    table = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7", "l": "1", "g": "9"}
    return "".join(rng.choice(table[c]) if c in table and rng.random() < 0.6 else c for c in word)


def kinds(names: Sequence[str]) -> dict[str, Callable[[random.Random], str]]:
    """Each kind of worst prompt, by name, as a function of a random generator; ``names``:
    the protected persons' names the typos are made on."""
    parts = [part.lower() for name in names for part in name.split()] or ["taylor", "swift"]

    def choice(rng: random.Random, count: int, word: Callable[[], str]) -> str:
        return "{" + "|".join(word() for _ in range(count)) + "}"

    return {
        # choice groups: the 13,000 characters that took 1.7 s, and their relatives
        "choices flat": lambda rng: fill(lambda: "{a|b|c}"),
        "choices of words": lambda rng: fill(
            lambda: choice(rng, 3, lambda: rng.choice(WORDS)) + " " + rng.choice(WORDS), ", "
        ),
        "choices alternating": lambda rng: fill(lambda: f"[{_word(rng, 1, 2)}|{_word(rng, 1, 2)}]"),
        "choices editing": lambda rng: fill(lambda: f"[{rng.choice(WORDS)}:{_word(rng)}:0.5]"),
        "choices nested": lambda rng: fill(lambda: "{" * 30 + "a|b" + "|c}" * 30),
        "choices deep brackets": lambda rng: fill(lambda: "(" * 31 + "[a|b:1.2]" + ")" * 31),
        "choices wide": lambda rng: "{" + fill(lambda: rng.choice(WORDS), "|")[:-2] + "}",
        "choices spread": lambda rng: fill(
            lambda: (
                choice(rng, 40, lambda: _word(rng, 1, 3))
                + " "
                + fill(lambda: rng.choice(WORDS), " ", 60)
            )
        ),
        "weights": lambda rng: fill(lambda: f"({rng.choice(WORDS)}:1.{rng.randint(0, 9)})"),
        # tokens
        "one letter run": lambda rng: "a" * MAX_PROMPT_CHARS,
        "spaced letters": lambda rng: fill(lambda: rng.choice(string.ascii_lowercase)),
        "spaced words": lambda rng: fill(lambda: " ".join(rng.choice(WORDS))),
        "short tokens": lambda rng: fill(lambda: _word(rng, 2, 3)),
        "random words": lambda rng: fill(lambda: _word(rng)),
        "long words": lambda rng: fill(lambda: _word(rng, 60, 64)),
        "names with typos": lambda rng: fill(lambda: _typo(rng, rng.choice(parts))),
        "names run together": lambda rng: fill(
            lambda: "".join(_typo(rng, rng.choice(parts)) for _ in range(3))
        ),
        "words run together": lambda rng: fill(
            lambda: "".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        ),
        "reversed words": lambda rng: fill(lambda: rng.choice(WORDS + tuple(parts))[::-1]),
        "repeated letters": lambda rng: fill(
            lambda: "".join(c * rng.randint(1, 5) for c in rng.choice(WORDS))
        ),
        # disguises
        "leetspeak": lambda rng: fill(lambda: _leet(rng, rng.choice(WORDS + tuple(parts)))),
        "digits and ones": lambda rng: fill(lambda: "".join(rng.choices("1!l|0o", k=7))),
        "confusables": lambda rng: fill(
            lambda: "".join(
                rng.choice(CONFUSABLES) if rng.random() < 0.4 else c for c in rng.choice(WORDS)
            )
        ),
        "mixed scripts": lambda rng: fill(
            lambda: "".join(rng.choices(CONFUSABLES + "aeiounrst\u00e9\u00df" + INVISIBLE, k=6))
        ),
        "censored": lambda rng: fill(
            lambda: "".join(
                rng.choice("*#.\u2022-") if rng.random() < 0.4 else c for c in rng.choice(WORDS)
            )
        ),
        "censoring symbols": lambda rng: fill(lambda: "*." * rng.randint(1, 4) + "a", ""),
        "letters drawn": lambda rng: fill(lambda: rng.choice(["|_|", "|<", "/\\", "|\\|", "n"])),
        # numbers, ages, emoji
        "numbers and ages": lambda rng: fill(
            lambda: (
                rng.choice(["aged", "under", "born in", "u", ""])
                + f" {rng.randint(0, 2030)} "
                + rng.choice(["yo", "year old", "ans", "jahre", "+", ""])
            )
        ),
        "numbers": lambda rng: fill(lambda: str(rng.randint(0, 99))),
        "emoji": lambda rng: "".join(rng.choices(EMOJI + SKIN, k=MAX_PROMPT_CHARS)),
        "emoji between letters": lambda rng: fill(lambda: rng.choice(EMOJI) + "a", ""),
        "invisible between letters": lambda rng: fill(
            lambda: rng.choice(string.ascii_lowercase) + rng.choice(INVISIBLE), ""
        ),
    }


def slow_corpus() -> dict[str, str]:
    """The slowest inputs the prompt fuzzer found (``fuzz/corpus/prompt/slow-*``), decoded as
    the fuzz target decodes them."""
    return {
        f"fuzzed {path.name}": path.read_bytes().decode("utf-8", "replace")[:MAX_PROMPT_CHARS]
        for path in sorted(SLOW_CORPUS.glob("slow-*"))
    }
