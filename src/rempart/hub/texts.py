"""The texts around a model file, each by its key path: what its metadata, card and sidecar
say about what it was trained on and is for.

Each tag, name, trigger or class token is its own text, so that words of neighbouring tags
never make a phrase ("school" in one tag, "girl" in the next); within one, underscores and
hyphens join its words ("school_uniform" reads "school uniform"). A tag of ``ss_tag_frequency``
weighs by its share of its folder's training images (``FULL_SHARE``): a general model whose
tags hold a word once among 100,000 images is not a model trained on it. Prompts (a card's
``instance_prompt`` and widgets, a sidecar's sample images) are read as the gate reads them;
descriptions and a card's body as prose (``Reading.PROSE``).

Field names are key paths: ``ss_tag_frequency/<folder>/<tag>``, ``ss_dataset_dirs/<folder>``,
``ss_datasets[0].subsets[1].class_tokens``, ``modelspec.tags[2]``, ``README.md:tags[0]``,
``README.md:widget[0].text``, ``<stem>.civitai.info:trainedWords[0]``, ...
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from rempart.modelfile import CARD_NAME, SIDECAR_SUFFIX, ModelCard, ModelFile

__all__ = [
    "FILE_NAME",
    "FULL_SHARE",
    "MAX_CACHED_CHARS",
    "ModelText",
    "Reading",
    "as_terms",
    "texts",
]

FULL_SHARE: Final = 0.2
"""The share of a folder's training images from which a tag weighs fully: a tag on a fifth of
the images weighs 1.0, one on a tenth 0.5 (what the policy's groups need), one on a
hundredth 0.05."""
MAX_CACHED_CHARS: Final = 1024
"""The longest tag or name whose words are cached for the run."""
FILE_NAME: Final = "file name"
"""The field of the text a model's own file name gives."""
_REPEATS: Final = re.compile(r"^\d+_")  # kohya's "10_jane doe": 10 repeats of "jane doe"
_JOINERS: Final = str.maketrans("_-", "  ")
_LIST_KEYS: Final = (
    "ss_output_name",
    "modelspec.tags",
    "ssmd_keywords",
    "ssmd_tags",
    "general.tags",  # GGUF's
)
"""Metadata values that are comma-separated lists: each item is its own text."""
_NAME_KEYS: Final = ("ss_sd_model_name", "modelspec.title", "modelspec.trigger_phrase")
_NAME_KEYS_SSMD: Final = ("ssmd_display_name", "name")  # "name": ai-toolkit's
_NAME_KEYS_GGUF: Final = ("general.name", "general.basename", "general.finetune")
_PROSE_KEYS: Final = (
    "ss_training_comment",
    "modelspec.description",
    "ssmd_description",
    "general.description",
)
_SUBSET_KEYS: Final = ("class_tokens", "caption_prefix", "caption_suffix")


class Reading(StrEnum):
    """How a text is read: as terms (a tag, a name: ``PromptAnalyser.hits``), as a prompt (as
    the gate reads one, with its negative prompt) or as prose (paragraphs, where a sentence
    that forbids a use does not count its minor terms)."""

    TERMS = "terms"
    PROMPT = "prompt"
    PROSE = "prose"


@dataclass(frozen=True, slots=True)
class ModelText:
    """One text about a model: where it is (``field``, a key path), what it says, how much it
    weighs (1.0 but for a tag's share of the training images, ``share``), how it is read,
    and for a prompt its negative prompt (``negative_field``)."""

    field: str
    text: str
    weight: float = 1.0
    reading: Reading = Reading.TERMS
    share: float | None = None
    negative: str | None = None
    negative_field: str | None = None


def texts(
    model: ModelFile,
    card: ModelCard | None = None,
    sidecar: Mapping[str, Any] | None = None,
    *,
    sidecar_name: str = SIDECAR_SUFFIX,
    file_name: str | None = None,
) -> list[ModelText]:
    """Every text of ``model``'s metadata, of its ``card`` and of its ``sidecar`` (a
    ``.civitai.info`` object, named ``sidecar_name`` in the fields), and the model's own
    ``file_name`` less its suffix (field ``file name``: an upload is often named for what it
    is), empty ones left out."""
    found = [*_metadata(model.metadata)]
    if file_name:
        found.append(ModelText(FILE_NAME, as_terms(file_name.rsplit(".", 1)[0])))
    if card is not None:
        found.extend(_card(card))
    if sidecar is not None:
        found.extend(_sidecar(sidecar, sidecar_name))
    return [text for text in found if text.text.strip() or text.negative]


def as_terms(text: str) -> str:
    """A tag or name as words: underscores and hyphens join them (cached when short: a hub's
    models share their tags; a long one, unshared, would hold its megabytes for the run)."""
    return _cached_terms(text) if len(text) <= MAX_CACHED_CHARS else _terms_of(text)


def _terms_of(text: str) -> str:
    return " ".join(text.translate(_JOINERS).split())


_cached_terms: Final = functools.lru_cache(maxsize=100_000)(_terms_of)


def _metadata(metadata: Mapping[str, Any]) -> Iterator[ModelText]:
    for key in _NAME_KEYS + _NAME_KEYS_SSMD + _NAME_KEYS_GGUF:
        yield from _terms(key, metadata.get(key))
    for key in _LIST_KEYS:
        yield from _listed(key, metadata.get(key))
    for key in _PROSE_KEYS:
        value = metadata.get(key)
        if isinstance(value, str):
            yield ModelText(key, value, reading=Reading.PROSE)
    dirs = metadata.get("ss_dataset_dirs")
    dirs = dirs if isinstance(dirs, Mapping) else {}
    for folder in dirs:
        yield ModelText(f"ss_dataset_dirs/{folder}", _folder_name(str(folder)))
    total = metadata.get("ss_num_train_images")
    yield from _tag_frequency("ss_tag_frequency", metadata.get("ss_tag_frequency"), dirs, total)
    datasets = metadata.get("ss_datasets")
    for d, dataset in enumerate(datasets if isinstance(datasets, list) else ()):
        if not isinstance(dataset, Mapping):
            continue
        where = f"ss_datasets[{d}]"
        subsets = dataset.get("subsets")
        subsets = (
            [s for s in subsets if isinstance(s, Mapping)] if isinstance(subsets, list) else []
        )
        # Newer kohya writes each dataset's tags here; its subsets' folders, by name.
        folders = {
            _basename(s.get("image_dir")): s for s in subsets if _basename(s.get("image_dir"))
        }
        frequency = dataset.get("tag_frequency")
        yield from _tag_frequency(f"{where}.tag_frequency", frequency, folders, total)
        for s, subset in enumerate(subsets):
            at = f"{where}.subsets[{s}]"
            if folder := _basename(subset.get("image_dir")):
                yield ModelText(f"{at}.image_dir", _folder_name(folder))
            for key in _SUBSET_KEYS:
                yield from _terms(f"{at}.{key}", subset.get(key))


def _basename(value: Any) -> str:
    """The last part of a folder's path as a trainer wrote it (Windows' or POSIX'), or ""."""
    if not isinstance(value, str):
        return ""
    return value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _tag_frequency(
    field: str, frequencies: Any, dirs: Mapping[str, Any], total: Any
) -> Iterator[ModelText]:
    """Each tag of a tag frequency table (``{folder: {tag: images}}``), weighted by its share
    of its folder's images (fully when its count is not a whole number); a folder that
    ``dirs`` does not name gives its own name too."""
    if not isinstance(frequencies, Mapping):
        return
    for folder, tags in frequencies.items():
        if folder not in dirs:
            yield ModelText(f"{field}/{folder}", _folder_name(str(folder)))
        if not isinstance(tags, Mapping):
            continue
        counts = {str(tag): count for tag, count in tags.items() if _is_count(count)}
        images = _images(dirs.get(folder), counts, total)
        prefix = f"{field}/{folder}/"
        for tag, count in tags.items():
            if not _is_count(count):  # no share to weigh it by: it weighs fully, never hides
                yield ModelText(prefix + str(tag), as_terms(str(tag)))
                continue
            share = min(1.0, count / images) if images > 0 else 1.0
            weight = min(1.0, share / FULL_SHARE)
            yield ModelText(prefix + str(tag), as_terms(str(tag)), weight, share=round(share, 4))


def _images(folder: Any, counts: Mapping[str, int], total: Any) -> int:
    """How many training images a folder holds: its ``img_count`` when given, else the count
    of its most frequent tag, else ``ss_num_train_images``."""
    if isinstance(folder, Mapping) and _is_count(folder.get("img_count")):
        return int(folder["img_count"])
    if counts:
        return max(counts.values())
    return int(total) if _is_count(total) else 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _folder_name(folder: str) -> str:
    """A kohya training folder's name less its repeat count: "10_jane doe" -> "jane doe"."""
    return as_terms(_REPEATS.sub("", folder))


def _terms(field: str, value: Any) -> Iterator[ModelText]:
    """A name or tag at ``field``; a list's items each at ``field[i]``."""
    if isinstance(value, str):
        yield ModelText(field, as_terms(value))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield ModelText(f"{field}[{index}]", as_terms(item))


def _listed(field: str, value: Any) -> Iterator[ModelText]:
    """A comma-separated list (or a list): each item its own text, at ``field[i]`` when
    there are several."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return
    kept = [item for item in items if isinstance(item, str) and item.strip()]
    if len(kept) == 1:
        yield ModelText(field, as_terms(kept[0]))
        return
    for index, item in enumerate(kept):
        yield ModelText(f"{field}[{index}]", as_terms(item))


def _card(card: ModelCard) -> Iterator[ModelText]:
    front = card.front_matter
    where = f"{CARD_NAME}:"
    for key in ("tags", "base_model"):
        yield from _terms(where + key, front.get(key))
    prompt = front.get("instance_prompt")
    if isinstance(prompt, str):
        yield ModelText(where + "instance_prompt", prompt, reading=Reading.PROMPT)
    widgets = front.get("widget")
    for index, widget in enumerate(widgets if isinstance(widgets, list) else ()):
        text = widget.get("text") if isinstance(widget, Mapping) else None
        if isinstance(text, str):
            yield ModelText(f"{where}widget[{index}].text", text, reading=Reading.PROMPT)
    yield ModelText(where + "body", card.body, reading=Reading.PROSE)


def _sidecar(sidecar: Mapping[str, Any], name: str) -> Iterator[ModelText]:
    where = f"{name}:"
    yield from _terms(where + "name", sidecar.get("name"))
    words = sidecar.get("trainedWords")
    for index, word in enumerate(words if isinstance(words, list) else ()):
        yield from _listed(f"{where}trainedWords[{index}]", word)
    model = sidecar.get("model")
    if isinstance(model, Mapping):
        yield from _terms(where + "model.name", model.get("name"))
        yield from _terms(where + "model.tags", model.get("tags"))
    images = sidecar.get("images")
    for index, image in enumerate(images if isinstance(images, list) else ()):
        meta = image.get("meta") if isinstance(image, Mapping) else None
        if not isinstance(meta, Mapping):
            continue
        prompt, negative = meta.get("prompt"), meta.get("negativePrompt")
        field = f"{where}images[{index}].meta"
        yield ModelText(
            f"{field}.prompt",
            prompt if isinstance(prompt, str) else "",
            reading=Reading.PROMPT,
            negative=negative if isinstance(negative, str) and negative.strip() else None,
            negative_field=f"{field}.negativePrompt",
        )
