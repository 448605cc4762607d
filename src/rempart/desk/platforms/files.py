"""Platform files read as YAML nodes that keep their line, so that every error names the file
and line it is about; safely: no tags, no aliases (no "billion laughs"), nesting and size
bounded, and any bytes give a node tree or a ``PlatformFileError``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml

from rempart.errors import PlatformFileError

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "Node", "parse", "read_folder"]

MAX_FILE_BYTES: Final = 1 << 20
MAX_FILES: Final = 1000
"""``*.yaml`` files a deployment's folder may hold."""
MAX_TEXT: Final = 1000
"""Characters of one value (a title, an address)."""
_MAX_DEPTH: Final = 20
"""Nesting of mappings and lists; a platform file needs 5."""
_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_BOOL: Final = "tag:yaml.org,2002:bool"


@dataclass(frozen=True, slots=True)
class Node:
    """A YAML node of a file, which knows where it is."""

    file: str
    node: yaml.Node

    @property
    def source(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.node.start_mark.line + 1}"

    def fail(self, message: str) -> NoReturn:
        """Raise ``PlatformFileError`` naming this node's file and line."""
        raise PlatformFileError(f"{self.source}: {message}")

    def pairs(self, what: str) -> list[tuple[Node, Node]]:
        """A mapping's keys and values, in order; keys are text and appear once."""
        if not isinstance(self.node, yaml.MappingNode):
            self.fail(f"{what} must be a mapping")
        seen: set[str] = set()
        pairs = []
        for key, value in self.node.value:
            name = Node(self.file, key).text(f"a key of {what}")
            if name in seen:
                Node(self.file, key).fail(f"{what}: {name!r} appears twice")
            seen.add(name)
            pairs.append((Node(self.file, key), Node(self.file, value)))
        return pairs

    def fields(self, what: str, keys: dict[str, bool]) -> dict[str, Node]:
        """A mapping's values by key: ``keys`` names those allowed (True: required)."""
        found = {}
        for key, value in self.pairs(what):
            name = key.text("a key")
            if name not in keys:
                key.fail(f"{what}: unknown key {name!r}; allowed: {', '.join(keys)}")
            found[name] = value
        missing = [key for key, required in keys.items() if required and key not in found]
        if missing:
            self.fail(f"{what} lacks {', '.join(missing)}")
        return found

    def items(self, what: str) -> list[Node]:
        """A non-empty list's items."""
        if not isinstance(self.node, yaml.SequenceNode) or not self.node.value:
            self.fail(f"{what} must be a non-empty list")
        return [Node(self.file, item) for item in self.node.value]

    def is_text(self) -> bool:
        """Whether the node is a string (quoted, or plain and not a number or a flag)."""
        return self._scalar(_STR)

    def _scalar(self, tag: str) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == tag

    def text(self, what: str) -> str:
        """A non-empty string, its ends stripped."""
        value = self.node.value if self.is_text() else None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{what} must be text")
        if len(value) > MAX_TEXT or not value.isprintable():
            self.fail(f"{what} must be one line of at most {MAX_TEXT} characters")
        return value.strip()

    def choice(self, what: str, allowed: Sequence[str]) -> str:
        """One of ``allowed``."""
        value = self.text(what)
        if value not in allowed:
            self.fail(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def integer(self, what: str) -> int:
        """A whole number written in decimal (no sign, no 0x, at most 9 digits)."""
        value = self.node.value if self._scalar(_INT) else ""
        if not value.isdigit() or len(value) > 9:
            self.fail(f"{what} must be a whole number")
        return int(value)

    def flag(self, what: str) -> bool:
        """``true`` or ``false``."""
        if not self._scalar(_BOOL):
            self.fail(f"{what} must be true or false")
        return str(self.node.value).lower() in ("true", "yes", "on")


def parse(source: str, raw: bytes) -> Node:
    """The top node of the file in ``raw`` (``source`` names it in errors)."""
    if len(raw) > MAX_FILE_BYTES:
        raise PlatformFileError(f"{source}:1: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PlatformFileError(f"{source}:{line}: not UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _Refused as exc:
        raise PlatformFileError(f"{source}:{exc.mark.line + 1}: {exc.reason}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PlatformFileError(f"{source}:{line}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML does not allow
        line = text[: getattr(exc, "position", 0)].count("\n") + 1
        raise PlatformFileError(f"{source}:{line}: not valid YAML: {exc}") from None
    except RecursionError:
        raise PlatformFileError(f"{source}:1: nested too deeply to read") from None
    if node is None:
        raise PlatformFileError(f"{source}:1: empty; a platform file holds version: 1")
    return Node(source, node)


def read_folder(folder: Path) -> list[Node]:
    """Every ``*.yaml`` file of ``folder``, by name."""
    if not folder.is_dir():
        raise PlatformFileError(
            f"{folder}: no such folder; platform profiles are read from a folder of *.yaml files"
        )
    paths = sorted(path for path in folder.glob("*.yaml") if path.is_file())
    if len(paths) > MAX_FILES:
        raise PlatformFileError(f"{folder}: more than {MAX_FILES} *.yaml files")
    files = []
    for path in paths:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise PlatformFileError(f"{path}: cannot be read: {exc.strerror}") from None
        files.append(parse(str(path), raw))
    return files


class _Refused(yaml.YAMLError):
    """What the loader refuses to compose, where."""

    def __init__(self, mark: Any, reason: str) -> None:
        super().__init__(reason)
        self.mark = mark
        self.reason = reason


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer, refusing aliases (a small file could otherwise stand for a huge
    tree) and nesting deeper than a platform file has any use for (PyYAML recurses, and its
    scanner slows down with every open bracket)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """The next node, unless it is an alias or too deep."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, "aliases (*name) are not allowed in platform files")
        if self.depth >= _MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested more than {_MAX_DEPTH} deep")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
