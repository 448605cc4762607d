"""Prompt-editing syntax expanded, so that every branch a generator may draw is read.

Stable Diffusion front ends let a prompt hold alternatives: ``[a|b]`` alternates a and b from
step to step (AUTOMATIC1111), ``[a:b:0.5]`` draws a then b, ``{a|b}`` picks one (Dynamic
Prompts, ``{2$$a|b|c}`` picks two), and ``(a:1.2)`` or ``[a]`` only weights a. Any of them can
hide a word from a filter that reads the prompt as typed. ``expand_prompt`` gives the prompt's
branches with every alternative in at least one of them, next to the words around it: all the
combinations while there are at most ``MAX_BRANCHES`` and they fit the budget, else the first
alternative of every choice, then one branch holding each other alternative with the words
either side of it. The branches hold at most ``_BRANCH_CHARS`` characters in all (or twice the
prompt's length) besides the alternatives themselves, so that reading them is linear in the
prompt's length however the choices are built: with many alternatives, each has less context.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Final

__all__ = ["MAX_BRANCHES", "expand_prompt"]

MAX_BRANCHES: Final = 64
_MAX_DEPTH: Final = 32
_CONTEXT: Final = 160  # characters of the prompt kept either side of an alternative, at most
_BRANCH_CHARS: Final = 32_768  # characters the branches may hold in all (see the docstring)
# Between two alternatives in one branch: a line break (a clause break) and a number no lexicon
# holds, so that no term, name or age is read across it.
_APART: Final = "\n1234567890\n"
_SYNTAX: Final = frozenset("([{\\")
_SPECIAL: Final = re.compile(r"[\\()\[\]{}|:]")
_WEIGHT: Final = re.compile(r":\s*-?\d*\.?\d+\s*$")
_NUMBER: Final = re.compile(r"\s*-?\d*\.?\d+\s*")
_PICK_COUNT: Final = re.compile(r"^\s*\d+(-\d+)?\$\$")


@dataclass(slots=True)
class _Choice:
    """Alternatives, each a sequence of text and further choices."""

    options: list[list[str | _Choice]] = field(default_factory=list)


def expand_prompt(prompt: str) -> list[str]:
    """The branches of ``prompt`` (the prompt itself when it uses no such syntax)."""
    if not _SYNTAX.intersection(prompt):
        return [prompt]
    sequence, _ = _Parser(prompt).sequence("", 0)
    return _Expander(max(_BRANCH_CHARS, 2 * len(prompt))).expand(sequence)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def sequence(self, closers: str, depth: int) -> tuple[list[str | _Choice], str]:
        """Text and choices up to one of ``closers`` (consumed and returned) or the end."""
        nodes: list[str | _Choice] = []
        literal: list[str] = []
        text = self.text
        while self.at < len(text):
            special = _SPECIAL.search(text, self.at)
            if special is None:
                literal.append(text[self.at :])
                self.at = len(text)
                break
            literal.append(text[self.at : special.start()])
            char = special.group()
            self.at = special.end()
            if char in closers:
                nodes.append("".join(literal))
                return nodes, char
            if char == "\\" and self.at < len(text):
                literal.append(text[self.at])
                self.at += 1
            elif char in "([{" and depth < _MAX_DEPTH:
                nodes.append("".join(literal))
                literal = []
                nodes.append(self.group(char, depth + 1))
            else:
                literal.append(char)
        nodes.append("".join(literal))
        return nodes, ""

    def group(self, opener: str, depth: int) -> _Choice:
        if opener == "(":
            inner, _ = self.sequence(")", depth)
            return _Choice([_unweighted(inner)])
        closer = "]" if opener == "[" else "}"
        separators = closer + "|" + (":" if opener == "[" else "")
        parts: list[list[str | _Choice]] = []
        kinds: set[str] = set()
        while True:
            part, ended_by = self.sequence(separators, depth)
            parts.append(part)
            if ended_by in (closer, ""):
                break
            kinds.add(ended_by)
        if opener == "{":
            parts[0] = _without_pick_count(parts[0])
        elif ":" in kinds and "|" not in kinds:
            parts = _editing_parts(parts)
        elif len(parts) == 1:
            parts = [_unweighted(parts[0])]
        return _Choice([part for part in parts if _has_text(part)] or [[""]])


def _unweighted(nodes: list[str | _Choice]) -> list[str | _Choice]:
    """``a:1.2`` read as ``a``."""
    if nodes and isinstance(nodes[-1], str):
        return [*nodes[:-1], _WEIGHT.sub("", nodes[-1])]
    return nodes


def _editing_parts(parts: list[list[str | _Choice]]) -> list[list[str | _Choice]]:
    """``[from:to:when]``, ``[to:when]``, ``[from::when]``: the prompts drawn, without when."""
    last = parts[-1]
    if (
        len(parts) > 1
        and len(last) == 1
        and isinstance(last[0], str)
        and _NUMBER.fullmatch(last[0])
    ):
        return parts[:-1]
    return parts


def _without_pick_count(nodes: list[str | _Choice]) -> list[str | _Choice]:
    """``{2$$a|b}``: how many to pick is not text."""
    if nodes and isinstance(nodes[0], str):
        return [_PICK_COUNT.sub("", nodes[0]), *nodes[1:]]
    return nodes


def _has_text(nodes: list[str | _Choice]) -> bool:
    return any(not isinstance(node, str) or node.strip() for node in nodes)


class _Expander:
    """Expands parsed nodes into branches, spending a budget of characters (``budget``) shared
    by every level of nesting."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def expand(self, nodes: list[str | _Choice]) -> list[str]:
        """Every branch of ``nodes``: all combinations when there are at most
        ``MAX_BRANCHES`` and they fit the budget, else ``_windows``."""
        parts = [
            [node]
            if isinstance(node, str)
            else [s for option in node.options for s in self.expand(option)]
            for node in nodes
        ]
        count = math.prod(len(part) for part in parts)
        if count <= MAX_BRANCHES:
            size = count * sum(max(map(len, part)) for part in parts)
            if count == 1 or size <= self.budget:
                self.budget -= size
                return ["".join(combination) for combination in itertools.product(*parts)]
        return self._windows(parts)

    def _windows(self, parts: list[list[str]]) -> list[str]:
        """The first alternative of each part, and one branch holding each other alternative
        (once) with the first alternatives' text either side: ``_CONTEXT`` characters, or as
        many as the budget leaves, whole words only."""
        first = [part[0] for part in parts]
        text = "".join(first)
        extras = sum(len(part) - 1 for part in parts)
        self.budget -= len(text)
        if not extras:
            return [text]
        width = max(0, min(_CONTEXT, self.budget // (2 * extras)))
        windows: dict[str, None] = {}
        at = 0
        for part in parts:
            end = at + len(part[0])
            before, after = _before(text, at, width), _after(text, end, width)
            for alternative in part[1:]:
                windows[before + alternative + after] = None
            at = end
        packed = _APART.join(windows)
        self.budget -= len(packed) - sum(len(a) for part in parts for a in part[1:])
        return [text, packed]


def _before(text: str, at: int, width: int) -> str:
    """Up to ``width`` characters of ``text`` before ``at``, without a word cut at its start."""
    if width <= 0:
        return ""
    start = max(0, at - width)
    if start > 0 and not text[start - 1].isspace():
        space = text.find(" ", start, at)
        start = at if space < 0 else space
    return text[start:at]


def _after(text: str, at: int, width: int) -> str:
    """Up to ``width`` characters of ``text`` after ``at``, without a word cut at its end."""
    if width <= 0:
        return ""
    end = min(len(text), at + width)
    if end < len(text) and not text[end].isspace():
        space = text.rfind(" ", at, end)
        end = at if space < 0 else space
    return text[at:end]
