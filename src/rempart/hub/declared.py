"""What a model file and the files beside it declare, as signals: the flags its card and its
Civitai sidecar set (``model.nsfw``, ``model.poi``, ``model.minor``), the imports of its pickle
that run code (``model.pickle.code``) and whether it is a copy of a model blocked before
(``model.copy``). Each scores 1.0 but a pickle import only refused (``pickles``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from rempart.hub import pickles
from rempart.hub.known import KnownModels
from rempart.hub.signals import DETECTOR
from rempart.modelfile import CARD_NAME, SIDECAR_SUFFIX, ModelCard, ModelFile
from rempart.signals import Signal

__all__ = [
    "NOT_FOR_ALL_AUDIENCES",
    "NSFW_LEVEL_PG",
    "copy_signals",
    "flag_signals",
    "pickle_signals",
]

NOT_FOR_ALL_AUDIENCES: Final = "not-for-all-audiences"
"""The Hugging Face card tag of a model whose outputs are not for every audience."""
NSFW_LEVEL_PG: Final = 1
"""Civitai's ``nsfwLevel`` of an image rated PG (a bit field: 2 PG-13, 4 R, 8 X, 16 XXX):
anything above it is declared not safe for work."""
_NOT_NSFW: Final = frozenset({"none", "false", ""})  # Civitai's image "nsfw": "None", "Soft", "X"


def flag_signals(
    card: ModelCard | None,
    sidecar: Mapping[str, Any] | None,
    *,
    version: str,
    sidecar_name: str = SIDECAR_SUFFIX,
) -> list[Signal]:
    """``model.nsfw``, ``model.poi`` and ``model.minor`` as the card and sidecar declare them,
    each once, its evidence the first field that declares it."""
    found: dict[str, Signal] = {}
    for name, field in _flags(card, sidecar, sidecar_name):
        if name not in found:
            found[name] = Signal(
                name, 1.0, DETECTOR, version, value=True, evidence={"field": field}
            )
    return list(found.values())


def _flags(
    card: ModelCard | None, sidecar: Mapping[str, Any] | None, name: str
) -> Iterator[tuple[str, str]]:
    tags = card.front_matter.get("tags") if card is not None else None
    for index, tag in enumerate(tags if isinstance(tags, list) else ()):
        if isinstance(tag, str) and tag.strip().lower() == NOT_FOR_ALL_AUDIENCES:
            yield "model.nsfw", f"{CARD_NAME}:tags[{index}]"
    if sidecar is None:
        return
    model = sidecar.get("model")
    if isinstance(model, Mapping):
        for flag in ("nsfw", "poi", "minor"):
            if model.get(flag) is True:
                yield f"model.{flag}", f"{name}:model.{flag}"
    images = sidecar.get("images")
    for index, image in enumerate(images if isinstance(images, list) else ()):
        if not isinstance(image, Mapping):
            continue
        nsfw, level = image.get("nsfw"), image.get("nsfwLevel")
        if nsfw is True or (isinstance(nsfw, str) and nsfw.strip().lower() not in _NOT_NSFW):
            yield "model.nsfw", f"{name}:images[{index}].nsfw"
        if isinstance(level, int) and not isinstance(level, bool) and level > NSFW_LEVEL_PG:
            yield "model.nsfw", f"{name}:images[{index}].nsfwLevel"


def pickle_signals(model: ModelFile, *, version: str) -> list[Signal]:
    """``model.pickle.code`` for each import ``torch.load(weights_only=True)`` refuses, its
    value the import: 1.0 when it runs code, ``pickles.REFUSED_SCORE`` otherwise."""
    found = []
    for name in model.imports:
        score = pickles.score(name)
        if score is not None:
            found.append(
                Signal(
                    "model.pickle.code",
                    score,
                    DETECTOR,
                    version,
                    value=name,
                    evidence={"import": name},
                )
            )
    return found


def copy_signals(model: ModelFile, known: KnownModels | None, *, version: str) -> list[Signal]:
    """``model.copy`` when ``model``'s fingerprint is one of ``known``'s blocked models."""
    earlier = known.get(model.fingerprint) if known is not None else None
    if earlier is None:
        return []
    evidence: dict[str, Any] = {"known": earlier.path, "fingerprint": model.fingerprint}
    if earlier.categories:
        evidence["category"] = earlier.categories[0]
        evidence["categories"] = list(earlier.categories)
    return [Signal("model.copy", 1.0, DETECTOR, version, value=earlier.path, evidence=evidence)]
