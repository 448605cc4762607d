"""The metadata image generators write into their files, and the prompt it carries.

Read from PNG text chunks and, for JPEG and WebP, from EXIF:

- AUTOMATIC1111 and Forge: ``parameters`` (PNG) or EXIF ``UserComment``: the prompt, then
  ``Negative prompt: ...``, then a ``Steps: 20, Sampler: ..., Model: ..., Version: ...`` line
  (Forge's versions start with ``f``).
- ComfyUI: ``prompt`` (the API graph, JSON) and ``workflow`` (the editor's graph, JSON); in WebP,
  EXIF strings ``Prompt:{...}`` and ``Workflow:{...}``. Prompts are the ``text`` inputs of
  text-encode nodes, positive or negative by the sampler input they feed.
- InvokeAI: ``invokeai_metadata`` (JSON), older ``sd-metadata`` (JSON) and ``Dream`` (text).
- Fooocus: ``parameters`` as JSON (``fooocus_scheme`` = ``fooocus``), or A1111 text whose
  version names Fooocus.
- NovelAI: ``Software`` = ``NovelAI``, ``Description`` (the prompt), ``Source`` (the model) and
  ``Comment`` (JSON with ``prompt`` and ``uc``, the negative prompt).

Metadata a generator wrote but that cannot be read (a truncated JSON graph) is reported as a
problem rather than raised: the caller turns it into an error signal, and the rest still counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_PROMPT_CHARS", "GeneratorMetadata", "read_generator_metadata"]

MAX_PROMPT_CHARS: Final = 10_000
"""Longest prompt kept as evidence; longer ones are cut and marked ``truncated``."""

_MAX_CHUNK_CHARS: Final = 4 * 1024 * 1024  # a ComfyUI workflow is rarely over 1 MB
_SETTINGS_LINE: Final = re.compile(r"^Steps: \d+", re.MULTILINE)
_SETTING: Final = re.compile(r'\s*([\w /+-]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')
_DREAM_PROMPT: Final = re.compile(r'^"((?:\\.|[^\\"])*)"')
_EXIF_USER_COMMENT: Final = 0x9286
_EXIF_STRING_TAGS: Final = (0x010E, 0x010F, 0x0110)  # ImageDescription, Make, Model


@dataclass(frozen=True, slots=True)
class GeneratorMetadata:
    """What a generator recorded about the image it made.

    Attributes:
        generator: ``a1111``, ``forge``, ``comfyui``, ``invokeai``, ``fooocus`` or ``novelai``.
        source: where it was found (``png:parameters``, ``exif:UserComment``).
        prompt: the prompt text, when recorded (several prompts joined by new lines).
        negative_prompt: the negative prompt, when recorded.
        model: the checkpoint or model name, when recorded.
    """

    generator: str
    source: str
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None

    def evidence(self) -> dict[str, Any]:
        """The JSON-ready evidence of a ``provenance.generator`` signal."""
        record: dict[str, Any] = {"source": self.source}
        for key in ("prompt", "negative_prompt"):
            text = getattr(self, key)
            if text:
                record[key] = text[:MAX_PROMPT_CHARS]
                if len(text) > MAX_PROMPT_CHARS:
                    record[f"{key}_truncated"] = True
        if self.model:
            record["model"] = self.model
        return record


def read_generator_metadata(
    text: Mapping[str, str], exif: Mapping[int, object] | None = None
) -> tuple[list[GeneratorMetadata], list[str]]:
    """Every generator record in the text chunks and EXIF tags, and the problems met."""
    found: list[GeneratorMetadata] = []
    problems: list[str] = []
    for reader in (_a1111_or_fooocus, _comfyui, _invokeai, _novelai):
        try:
            found.extend(reader(text))
        except _UnreadableError as exc:
            problems.append(str(exc))
    if exif:
        try:
            found.extend(_from_exif(exif))
        except _UnreadableError as exc:
            problems.append(str(exc))
    return found, problems


class _UnreadableError(Exception):
    """Metadata a generator wrote that cannot be read."""


def _json(value: str, where: str) -> Any:
    if len(value) > _MAX_CHUNK_CHARS:
        raise _UnreadableError(
            f"{where}: {len(value):,} characters, over the {_MAX_CHUNK_CHARS:,} read"
        )
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of 4,301 digits
        raise _UnreadableError(f"{where}: not valid JSON ({exc})") from None


def _a1111_or_fooocus(text: Mapping[str, str]) -> Iterator[GeneratorMetadata]:
    parameters = text.get("parameters")
    if parameters is None:
        return
    if parameters.lstrip().startswith("{") or text.get("fooocus_scheme") == "fooocus":
        yield _fooocus_json(_json(parameters, "png:parameters"), "png:parameters")
    else:
        yield _parse_parameters(parameters, "png:parameters")


def _parse_parameters(parameters: str, source: str) -> GeneratorMetadata:
    """AUTOMATIC1111's ``parameters`` text (also Forge's, and Fooocus's A1111 scheme)."""
    # The last settings line: a prompt may itself contain "Steps: 3".
    settings_match = next(reversed(list(_SETTINGS_LINE.finditer(parameters))), None)
    head = parameters[: settings_match.start()] if settings_match else parameters
    settings = _settings(parameters[settings_match.start() :]) if settings_match else {}
    prompt, _, negative = head.partition("\nNegative prompt:")
    if head.startswith("Negative prompt:"):
        prompt, negative = "", head.removeprefix("Negative prompt:")
    version = settings.get("Version", "")
    generator = "a1111"
    if version.startswith("f") and version[1:2].isdigit():
        generator = "forge"
    elif "fooocus" in version.lower():
        generator = "fooocus"
    return GeneratorMetadata(
        generator=generator,
        source=source,
        prompt=prompt.strip() or None,
        negative_prompt=negative.strip() or None,
        model=settings.get("Model"),
    )


def _settings(line: str) -> dict[str, str]:
    return {key.strip(): value.strip().strip('"') for key, value in _SETTING.findall(line)}


def _fooocus_json(data: Any, source: str) -> GeneratorMetadata:
    if not isinstance(data, dict):
        raise _UnreadableError(f"{source}: expected a JSON object of Fooocus parameters")
    value = _first(data, "Prompt", "prompt")
    return GeneratorMetadata(
        generator="fooocus",
        source=source,
        prompt=value,
        negative_prompt=_first(data, "Negative Prompt", "negative_prompt"),
        model=_first(data, "Base Model", "base_model"),
    )


def _first(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _comfyui(text: Mapping[str, str]) -> Iterator[GeneratorMetadata]:
    for key in ("prompt", "workflow"):
        if key in text:
            yield _comfyui_graph(_json(text[key], f"png:{key}"), f"png:{key}")
            return


def _comfyui_graph(graph: Any, source: str) -> GeneratorMetadata:
    """Prompts from a ComfyUI API graph (``prompt``) or editor graph (``workflow``)."""
    if isinstance(graph, dict) and isinstance(graph.get("nodes"), list):
        nodes = {str(node.get("id")): node for node in graph["nodes"] if isinstance(node, dict)}
        texts = {
            node_id: [v for v in node.get("widgets_values") or [] if isinstance(v, str)][:1]
            for node_id, node in nodes.items()
            if "TextEncode" in str(node.get("type", ""))
        }
        negative_ids = _workflow_negative_ids(graph)
    elif isinstance(graph, dict):
        nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}
        texts = {
            node_id: [
                value
                for name, value in (node.get("inputs") or {}).items()
                if name.startswith("text") and isinstance(value, str)
            ]
            for node_id, node in nodes.items()
            if "TextEncode" in str(node.get("class_type", ""))
        }
        negative_ids = {
            str(link[0])
            for node in nodes.values()
            for name, link in (node.get("inputs") or {}).items()
            if name == "negative" and isinstance(link, list) and link
        }
    else:
        raise _UnreadableError(f"{source}: expected a ComfyUI graph (a JSON object)")
    positive = [t for node_id, ts in texts.items() if node_id not in negative_ids for t in ts]
    negative = [t for node_id, ts in texts.items() if node_id in negative_ids for t in ts]
    model = next(
        (
            str(node.get("inputs", {}).get("ckpt_name"))
            for node in nodes.values()
            if isinstance(node.get("inputs"), dict) and node["inputs"].get("ckpt_name")
        ),
        None,
    )
    return GeneratorMetadata(
        generator="comfyui",
        source=source,
        prompt="\n".join(positive) or None,
        negative_prompt="\n".join(negative) or None,
        model=model,
    )


def _workflow_negative_ids(graph: Mapping[str, Any]) -> set[str]:
    """Editor-graph nodes whose output feeds a sampler's ``negative`` input."""
    negative_links = {
        entry.get("link")
        for node in graph["nodes"]
        if isinstance(node, dict)
        for entry in node.get("inputs") or []
        if isinstance(entry, dict) and entry.get("name") == "negative"
    }
    # A link is [id, from_node, from_slot, to_node, to_slot, type].
    return {
        str(link[1])
        for link in graph.get("links") or []
        if isinstance(link, list) and len(link) > 1 and link[0] in negative_links
    }


def _invokeai(text: Mapping[str, str]) -> Iterator[GeneratorMetadata]:
    if "invokeai_metadata" in text:
        data = _json(text["invokeai_metadata"], "png:invokeai_metadata")
        if not isinstance(data, dict):
            raise _UnreadableError("png:invokeai_metadata: expected a JSON object")
        model = data.get("model")
        yield GeneratorMetadata(
            generator="invokeai",
            source="png:invokeai_metadata",
            prompt=_first(data, "positive_prompt", "prompt"),
            negative_prompt=_first(data, "negative_prompt"),
            model=_first(model, "name", "model_name") if isinstance(model, dict) else None,
        )
    elif "sd-metadata" in text:
        data = _json(text["sd-metadata"], "png:sd-metadata")
        image = data.get("image") if isinstance(data, dict) else None
        if not isinstance(image, dict):
            raise _UnreadableError("png:sd-metadata: expected an object with an 'image' object")
        prompt = image.get("prompt")
        if isinstance(prompt, list):
            prompt = "\n".join(
                str(p.get("prompt", "")) if isinstance(p, dict) else str(p) for p in prompt
            )
        yield GeneratorMetadata(
            generator="invokeai",
            source="png:sd-metadata",
            prompt=str(prompt).strip() or None if prompt else None,
            model=_first(data, "model_weights"),
        )
    elif "Dream" in text:
        match = _DREAM_PROMPT.match(text["Dream"])
        yield GeneratorMetadata(
            generator="invokeai",
            source="png:Dream",
            prompt=match.group(1) if match else text["Dream"].strip() or None,
        )


def _novelai(text: Mapping[str, str]) -> Iterator[GeneratorMetadata]:
    if text.get("Software", "").strip().lower() != "novelai":
        return
    comment = _json(text["Comment"], "png:Comment") if "Comment" in text else {}
    if not isinstance(comment, dict):
        raise _UnreadableError("png:Comment: expected a JSON object of NovelAI parameters")
    yield GeneratorMetadata(
        generator="novelai",
        source="png:Comment" if comment else "png:Description",
        prompt=_first(comment, "prompt") or text.get("Description", "").strip() or None,
        negative_prompt=_first(comment, "uc"),
        model=text.get("Source", "").strip() or None,
    )


def _from_exif(exif: Mapping[int, object]) -> Iterator[GeneratorMetadata]:
    comment = exif.get(_EXIF_USER_COMMENT)
    if isinstance(comment, bytes) and len(comment) > 8:
        decoded = _user_comment(comment)
        if _SETTINGS_LINE.search(decoded) or "Negative prompt:" in decoded:
            yield _parse_parameters(decoded, "exif:UserComment")
    for tag in _EXIF_STRING_TAGS:
        value = exif.get(tag)
        if isinstance(value, str) and value[:7].lower() in ("prompt:", "workflo"):
            label, _, payload = value.partition(":")
            source = f"exif:{label}"
            yield _comfyui_graph(_json(payload, source), source)
            return


def _user_comment(value: bytes) -> str:
    """EXIF UserComment: an 8-byte character code, then the text (EXIF 2.32, 4.6.5)."""
    code, body = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        # UCS-2; A1111 (through piexif) writes big-endian, some tools little-endian.
        endian = "utf-16-le" if body[1:2] == b"\0" and body[:1] != b"\0" else "utf-16-be"
        return body.decode(endian, "replace").rstrip("\0")
    return body.decode("utf-8", "replace").rstrip("\0")
