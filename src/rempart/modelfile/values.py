"""Values read from untrusted text: JSON and YAML decoded only as deep and as large as Rempart
will walk, so that nothing downstream recurses or loops without end on them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_DEPTH", "MAX_NODES", "bounded", "decode_json", "decode_metadata", "load_json"]

MAX_DEPTH: Final = 64
"""Deepest nesting of lists and objects kept; kohya's deepest value (``ss_datasets``) has 5."""
MAX_NODES: Final = 5_000_000
"""Most values walked in one document, counting a YAML alias each time it is reached (so that
a "billion laughs" of aliases is refused, not expanded by whoever walks it)."""
_CONTAINERS: Final = (dict, list, tuple)


def bounded(value: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why ``value`` is too deep or too large to walk, or None when it is not. Only the
    containers are visited: scalars are counted, never pushed."""
    if not isinstance(value, _CONTAINERS):
        return None
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 1
    while stack:
        item, depth = stack.pop()
        if depth >= max_depth:
            return f"nested deeper than {max_depth}"
        children = item.values() if isinstance(item, Mapping) else item
        nodes += len(children)
        if nodes > max_nodes:
            return f"more than {max_nodes:,} values"
        stack.extend((child, depth + 1) for child in children if isinstance(child, _CONTAINERS))
    return None


def load_json(text: str | bytes) -> tuple[Any, str | None]:
    """``text`` decoded as JSON, or None and why it could not be; its depth unchecked beyond
    the interpreter's recursion limit (for a document whose shape the caller checks)."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "nested too deep"
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        return None, f"not JSON ({exc})"


def decode_json(text: str | bytes) -> tuple[Any, str | None]:
    """``text`` decoded as JSON, or None and why it could not be (not JSON, too deep)."""
    value, why = load_json(text)
    if why is not None:
        return None, why
    if _brackets(text) <= MAX_DEPTH:
        return value, None  # too few brackets to nest too deep: no need to walk it
    why = bounded(value)
    return (None, why) if why else (value, None)


def _brackets(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def decode_metadata(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A safetensors ``__metadata__``: each string value that looks like JSON (``{``, ``[``)
    decoded; one that does not decode kept as it is, with a warning. A value that is not a
    string is a warning too: a number kept, a list or an object left out (its depth was never
    bounded)."""
    metadata: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        if not isinstance(value, str):
            # The format wants strings. A number is kept; a list or an object is left out,
            # since nothing bounded its depth.
            kept = not isinstance(value, _CONTAINERS)
            dropped = "" if kept else "; left out"
            warnings.append(f"{key}: not a string ({type(value).__name__}){dropped}")
            if kept:
                metadata[key] = value
            continue
        metadata[key] = value
        if value.lstrip()[:1] not in ("{", "["):
            continue
        decoded, why = decode_json(value)
        if why is None:
            metadata[key] = decoded
        else:
            warnings.append(f"{key}: {why}")
    return metadata, warnings
