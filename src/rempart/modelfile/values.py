"""Values read from untrusted text: JSON and YAML decoded only as deep and as large as Rempart
will walk, so that nothing downstream recurses or loops without end on them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MAX_DEPTH", "MAX_NODES", "bounded", "decode_json", "decode_metadata"]

MAX_DEPTH: Final = 64
"""Deepest nesting of lists and objects kept; kohya's deepest value (``ss_datasets``) has 5."""
MAX_NODES: Final = 5_000_000
"""Most values walked in one document, counting a YAML alias each time it is reached (so that
a "billion laughs" of aliases is refused, not expanded by whoever walks it)."""


def bounded(value: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why ``value`` is too deep or too large to walk, or None when it is not."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return f"more than {max_nodes:,} values"
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= max_depth:
            return f"nested deeper than {max_depth}"
        stack.extend((child, depth + 1) for child in children)
    return None


def decode_json(text: str | bytes) -> tuple[Any, str | None]:
    """``text`` decoded as JSON, or None and why it could not be (not JSON, too deep)."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, "nested too deep"
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        return None, f"not JSON ({exc})"
    why = bounded(value)
    return (None, why) if why else (value, None)


def decode_metadata(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A safetensors ``__metadata__``: each string value that looks like JSON (``{``, ``[``)
    decoded; a value that is not a string, or does not decode, kept as it is with a warning."""
    metadata: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        metadata[key] = value
        if not isinstance(value, str):
            warnings.append(f"{key}: not a string ({type(value).__name__})")
            continue
        if value.lstrip()[:1] not in ("{", "["):
            continue
        decoded, why = decode_json(value)
        if why is None:
            metadata[key] = decoded
        else:
            warnings.append(f"{key}: {why}")
    return metadata, warnings
