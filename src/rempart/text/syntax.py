"""Prompt-editing syntax expanded, so that every branch a generator may draw is read.

Stable Diffusion front ends let a prompt hold alternatives: ``[a|b]`` alternates a and b from
step to step (AUTOMATIC1111), ``[a:b:0.5]`` draws a then b, ``{a|b}`` picks one (Dynamic
Prompts, ``{2$$a|b|c}`` picks two), and ``(a:1.2)`` or ``[a]`` only weights a. Any of them can
hide a word from a filter that reads the prompt as typed. ``expand_prompt`` gives the prompt's
branches with every alternative in at least one of them, next to the words around it: all the
combinations while there are at most ``MAX_BRANCHES``, else one branch for each alternative.
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
_CONTEXT: Final = 160  # characters of the prompt kept either side of an alternative
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
    return _expand(sequence)


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


def _expand(nodes: list[str | _Choice]) -> list[str]:
    """Every branch of ``nodes``: all combinations, or when there are more than
    ``MAX_BRANCHES``, the first alternative of each choice with, in turn, each other
    alternative in place of one, seen with ``_CONTEXT`` characters either side."""
    parts = [
        [node] if isinstance(node, str) else [s for option in node.options for s in _expand(option)]
        for node in nodes
    ]
    if math.prod(len(part) for part in parts) <= MAX_BRANCHES:
        return ["".join(combination) for combination in itertools.product(*parts)]
    first = [part[0] for part in parts]
    after = [""] * (len(first) + 1)  # the text after each part, its first _CONTEXT characters
    for index in range(len(first) - 1, -1, -1):
        after[index] = (first[index] + after[index + 1])[:_CONTEXT]
    branches = ["".join(first)]
    before = ""
    for index, part in enumerate(parts):
        branches.extend(before + alternative + after[index + 1] for alternative in part[1:])
        before = (before + first[index])[-_CONTEXT:]
    return branches
