"""The files beside a model that speak of it: its card (``README.md``: YAML front matter and
a body) and Civitai's same-stem ``.civitai.info`` (JSON), found, read within limits and
decoded without trusting them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import yaml

from rempart.errors import MediaErrorCode, ModelFileError
from rempart.modelfile.model import ModelCard, Sidecars
from rempart.modelfile.source import FileSource, corrupt, opened
from rempart.modelfile.values import bounded, decode_json

__all__ = [
    "CARD_NAME",
    "MAX_CARD_BYTES",
    "MAX_SIDECAR_BYTES",
    "SIDECAR_SUFFIX",
    "beside",
    "read_card",
    "read_sidecar",
    "read_text_file",
]

MAX_CARD_BYTES: Final = 1 << 20
MAX_SIDECAR_BYTES: Final = 16 << 20
CARD_NAME: Final = "README.md"
SIDECAR_SUFFIX: Final = ".civitai.info"
_FENCE: Final = "---"
# libyaml's safe loader where PyYAML was built with it: the same safe constructors, a scanner
# in C that refuses deep nesting at once (the pure-Python one takes seconds to recurse).
_SAFE_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_card(data: bytes) -> ModelCard:
    """A model card: the YAML between a first line ``---`` and the next ``---`` line (loaded
    safely; a damaged one gives a warning and no front matter), and the body after it."""
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _FENCE:
        return ModelCard(front_matter={}, body=text)
    close = next((i for i, line in enumerate(lines[1:], 1) if line.rstrip() == _FENCE), None)
    if close is None:
        return ModelCard(front_matter={}, body=text, warnings=("front matter: no closing ---",))
    body = "".join(lines[close + 1 :])
    front_matter, warning = _front_matter("".join(lines[1:close]))
    return ModelCard(front_matter, body, (warning,) if warning else ())


def _front_matter(source: str) -> tuple[Mapping[str, Any], str | None]:
    try:
        value = yaml.load(source, Loader=_SAFE_LOADER)
    except MemoryError:
        raise
    except Exception as exc:  # YAMLError, RecursionError on deep nesting
        return {}, f"front matter: not YAML ({type(exc).__name__}: {str(exc)[:200]})"
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return {}, f"front matter: a {type(value).__name__}, not a mapping"
    # Without aliases a document holds fewer values than characters: more means aliases
    # expanded (a "billion laughs"), refused before anyone walks them.
    why = bounded(value, max_nodes=len(source) + 1)
    return ({}, f"front matter: {why}") if why else (value, None)


def read_sidecar(data: bytes) -> Mapping[str, Any]:
    """A ``.civitai.info``: a JSON object (``corrupt`` when it is not one)."""
    value, why = decode_json(data)
    if why is not None:
        raise corrupt(f"the sidecar is {why}")
    if not isinstance(value, dict):
        raise corrupt(f"the sidecar is a JSON {type(value).__name__}, not an object")
    return value


def read_text_file(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """A card's or sidecar's bytes, at most ``limit`` (``too_large`` beyond)."""
    with opened(path) as (fd, size):
        if size > limit:
            raise ModelFileError(
                MediaErrorCode.TOO_LARGE, f"{path}: {size:,} bytes, over the limit of {limit:,}"
            )
        return FileSource(fd, size, str(path)).read(0, size)


def beside(path: str, root: str | None) -> Sidecars:
    """The nearest ``README.md`` (the model's folder, then each parent up to and including
    ``root``; only the model's folder when ``root`` is None) and the same-stem
    ``<stem>.civitai.info`` in the model's folder."""
    folder = os.path.dirname(path) or "."
    stem = os.path.splitext(os.path.basename(path))[0]
    sidecar = os.path.join(folder, stem + SIDECAR_SUFFIX)
    return Sidecars(
        card=_nearest_card(folder, root),
        sidecar=sidecar if os.path.isfile(sidecar) else None,
    )


def _nearest_card(folder: str, root: str | None) -> str | None:
    current = os.path.normpath(folder)
    top = os.path.abspath(root) if root is not None else None
    if top is not None and os.path.commonpath([os.path.abspath(current), top]) != top:
        top = None  # a model outside the folder named: its own folder only
    while True:
        card = os.path.join(current, CARD_NAME)
        if os.path.isfile(card):
            return card
        here = os.path.abspath(current)
        if top is None or here == top or os.path.dirname(here) == here:
            return None
        current = os.path.normpath(os.path.join(current, os.pardir))
