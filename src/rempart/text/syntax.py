"""Prompt-editing syntax expanded, so that every branch a generator may draw is read.

Stable Diffusion front ends let a prompt hold alternatives: ``[a|b]`` alternates a and b from
step to step (AUTOMATIC1111), ``[a:b:0.5]`` draws a then b, ``{a|b}`` picks one (Dynamic
Prompts, ``{2$$a|b|c}`` picks two), and ``(a:1.2)`` or ``[a]`` only weights a. Any of them can
hide a word from a filter that reads the prompt as typed. ``expand_prompt`` gives the prompt's
branches with every alternative in at least one of them, next to the words around it: all the
combinations while there are at most ``MAX_BRANCHES`` and they fit the budget, else the first
alternative of every choice, then one branch holding each other alternative with the words
either side of it. The branches hold at most the prompt's length and ``_BRANCH_CHARS``
characters in all, besides the alternatives themselves, so that reading them is linear in the
prompt's length however the choices are built: with many alternatives, each has less context.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Final

from rempart.text.deadline import NO_DEADLINE, Deadline

__all__ = ["MAX_BRANCHES", "expand_prompt"]

MAX_BRANCHES: Final = 64
_MAX_DEPTH: Final = 32
_CONTEXT: Final = 160  # characters of the prompt kept either side of an alternative, at most
_BRANCH_CHARS: Final = 4_096  # characters the branches may hold in all, besides the prompt's
# Between two alternatives in one branch: a line break (a clause break) and a number no lexicon
# holds, so that no term, name or age is read across it.
_APART: Final = "\n1234\n"
_SYNTAX: Final = frozenset("([{\\")
_WEIGHT: Final = re.compile(r":\s*-?\d*\.?\d+\s*$")
_NUMBER: Final = re.compile(r"\s*-?\d*\.?\d+\s*")
_PICK_COUNT: Final = re.compile(r"^\s*\d+(-\d+)?\$\$")


def expand_prompt(prompt: str, deadline: Deadline = NO_DEADLINE) -> list[str]:
    """The branches of ``prompt`` (the prompt itself when it uses no such syntax); reading
    its syntax stops with ``DeadlinePassed`` once ``deadline`` has passed."""
    if not _SYNTAX.intersection(prompt):
        return [prompt]
    expander = _Expander(len(prompt) + _BRANCH_CHARS, deadline)
    return expander.expand(_parse(prompt, expander))


# A node of a sequence: text, or a choice's alternatives (each already expanded).
_Node = str | list[str]
# The prompt in pieces: a group holding no other (read in one piece), an escape, a run of text,
# or one syntax character.
_PIECES: Final = re.compile(
    r"\{[^\\()\[\]{}]*\}|\[[^\\()\[\]{}]*\]|\([^\\()\[\]{}]*\)|\\.?|[^\\()\[\]{}|:]+|.",
    re.DOTALL,
)
_SEPARATORS: Final = {"(": ")", "[": "]|:", "{": "}|"}
_CLOSERS: Final = {"(": ")", "[": "]", "{": "}"}
_EDITING_SPLIT: Final = re.compile(r"([|:])")


class _Group:
    """A group being read: its opener, the parts read so far (split at its separators), the
    part being read, and which separators split it."""

    __slots__ = ("current", "kinds", "literal", "opener", "parts", "separators")

    def __init__(self, opener: str) -> None:
        self.opener = opener
        self.separators = _SEPARATORS.get(opener, "")
        self.parts: list[list[_Node]] = []
        self.current: list[_Node] = []
        self.literal: list[str] = []
        self.kinds: set[str] = set()

    def end_part(self) -> None:
        self.current.append("".join(self.literal))
        self.parts.append(self.current)
        self.current, self.literal = [], []

    def add(self, node: _Node) -> None:
        """A choice read inside this group: one alternative is text like any other."""
        if len(node) == 1:
            self.literal.append(node[0])
        else:
            self.current.append("".join(self.literal))
            self.current.append(node)
            self.literal = []


def _parse(text: str, expander: _Expander) -> list[_Node]:
    """``text`` as a sequence of text and choices, each choice's alternatives expanded (by
    ``expander``) as soon as its group closes. One pass over the text's pieces, no recursion:
    a group holding no other is read in one piece."""
    stack = [_Group("")]
    _read(stack, _PIECES.findall(text), expander)
    while len(stack) > 1:  # groups never closed end with the text
        group = stack.pop()
        group.end_part()
        stack[-1].add(_choice(group, expander))
    top = stack[0]
    top.end_part()
    return top.parts[0]


def _read(stack: list[_Group], pieces: list[str], expander: _Expander) -> None:
    """Each piece read in turn (text, an escape, a whole group, or one syntax character)."""
    tick = expander.deadline.tick
    for piece in pieces:
        tick()
        group = stack[-1]
        char = piece[0]
        if len(piece) == 1:
            if char in group.separators:
                if char != _CLOSERS[group.opener]:
                    group.end_part()
                    group.kinds.add(char)
                    continue
                stack.pop()
                current = group.current
                if not group.parts and not group.literal and len(current) == 2 and not current[0]:
                    stack[-1].add(current[1])  # a group holding one other alone: its choice
                    continue
                if not group.parts and not current:  # text alone, without separators
                    stack[-1].add([_alone(group.opener, "".join(group.literal))])
                    continue
                group.end_part()
                stack[-1].add(_choice(group, expander))
            elif char in _CLOSERS and len(stack) <= _MAX_DEPTH:
                stack.append(_Group(char))
            else:
                group.literal.append(char)
        elif char == "\\":
            group.literal.append(piece[1])
        elif char in _CLOSERS and piece[-1] == _CLOSERS[char]:
            if len(stack) <= _MAX_DEPTH:
                group.add(_flat(char, piece[1:-1], expander))
            else:  # too deep to be a group: its characters read one by one
                _read(stack, [char, *_PIECES.findall(piece[1:-1]), piece[-1]], expander)
        else:
            group.literal.append(piece)


def _flat(opener: str, inside: str, expander: _Expander) -> list[str]:
    """The alternatives of a group that holds no other group or escape; the common groups
    read without building one (a prompt may hold thousands)."""
    if opener == "(" or (opener == "[" and "|" not in inside and ":" not in inside):
        return [_alone(opener, inside)]
    if opener == "{" or ":" not in inside:
        options = inside.split("|")
        options[0] = _alone(opener, options[0])
        return [option for option in options if option.strip()] or [""]
    pieces = _EDITING_SPLIT.split(inside)  # "[a:b:0.5]", "[a:b|c]"
    options = pieces[::2]
    if "|" not in pieces[1::2] and _NUMBER.fullmatch(options[-1]):
        options.pop()  # [from:to:when]: when is not text
    return [option for option in options if option.strip()] or [""]


def _alone(opener: str, text: str) -> str:
    """The text of a group's only part (or a ``{`` group's first), without its weight
    ("a:1.2") or pick count ("2$$"); nothing when it is blank."""
    if opener == "{":
        text = _PICK_COUNT.sub("", text) if "$" in text else text
    elif ":" in text:
        text = _WEIGHT.sub("", text)
    return text if text.strip() else ""


def _choice(group: _Group, expander: _Expander) -> list[str]:
    """A closed group's alternatives: weights, pick counts and editing steps are not text."""
    parts = group.parts
    if group.opener == "(":
        parts = [_unweighted(parts[0])]
    elif group.opener == "{":
        parts[0] = _without_pick_count(parts[0])
    elif ":" in group.kinds and "|" not in group.kinds:
        parts = _editing_parts(parts)
    elif len(parts) == 1:
        parts = [_unweighted(parts[0])]
    options = [part for part in parts if _has_text(part)] or [[""]]
    return [branch for option in options for branch in expander.expand(option)]


def _unweighted(nodes: list[_Node]) -> list[_Node]:
    """``a:1.2`` read as ``a``."""
    if nodes and isinstance(nodes[-1], str):
        return [*nodes[:-1], _WEIGHT.sub("", nodes[-1])]
    return nodes


def _editing_parts(parts: list[list[_Node]]) -> list[list[_Node]]:
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


def _without_pick_count(nodes: list[_Node]) -> list[_Node]:
    """``{2$$a|b}``: how many to pick is not text."""
    if nodes and isinstance(nodes[0], str):
        return [_PICK_COUNT.sub("", nodes[0]), *nodes[1:]]
    return nodes


def _has_text(nodes: list[_Node]) -> bool:
    return any(not isinstance(node, str) or node.strip() for node in nodes)


class _Expander:
    """Expands parsed nodes into branches, spending a budget of characters (``budget``) shared
    by every level of nesting, until ``deadline`` passes."""

    def __init__(self, budget: int, deadline: Deadline) -> None:
        self.budget = budget
        self.deadline = deadline

    def expand(self, nodes: list[_Node]) -> list[str]:
        """Every branch of ``nodes`` (text, and choices' alternatives): all combinations when
        there are at most ``MAX_BRANCHES`` and they fit the budget, else ``_windows``."""
        self.deadline.tick()
        parts = [[node] if isinstance(node, str) else node for node in nodes if node != ""]
        if not parts:
            return [""]
        if len(parts) == 1 and len(parts[0]) <= MAX_BRANCHES:  # nothing to combine
            return parts[0]
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
        for part in self.deadline.over(parts):
            end = at + len(part[0])
            if len(part) > 1:
                before, after = _before(text, at, width), _after(text, end, width)
                for alternative in self.deadline.over(part[1:]):
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
