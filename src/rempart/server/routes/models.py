"""``POST /v1/models/audit``: a hub audits an upload as it arrives, from the file's first bytes,
its card and its sidecar, as ``rempart audit`` judges a file on disk.

Only what judging needs travels: the header (a safetensors or GGUF header, an LFS pointer, a
pickle), never the weights. The answer is the audit's record without the path or the
fingerprint (the weights did not come). ``/v1/audit`` is the request log, not this.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.config import Settings
from rempart.errors import RequestError
from rempart.gate.request import read_json
from rempart.server import metrics
from rempart.server.auth import Permission, require
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, is_json, media_type, runtime

if TYPE_CHECKING:
    from rempart.hub import Auditor
    from rempart.text import PersonName

__all__ = ["MODEL_BODY", "router"]

router = APIRouter(prefix="/v1/models", tags=["models"])

PARTS: Final = ("header", "card", "sidecar", "name")
MAX_NAME_CHARS: Final = 1024
"""Longest file name read: more than any file system allows."""
_FIELDS: Final = {
    "header": "The model file's first bytes: a safetensors header (with its 8-byte length), "
    "a GGUF header, a Git LFS pointer or a pickle",
    "card": "The repository's README.md, as text",
    "sidecar": "The model's .civitai.info, a JSON object",
    "name": "The file's name as uploaded (jane_doe_v2.safetensors): read as the audit reads "
    "a file's own name",
}
MODEL_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["header"],
                    "properties": {
                        "header": {
                            "type": "string",
                            "format": "byte",
                            "description": _FIELDS["header"] + " (base64)",
                        },
                        "card": {"type": ["string", "null"], "description": _FIELDS["card"]},
                        "sidecar": {"type": ["object", "null"], "description": _FIELDS["sidecar"]},
                        "name": {"type": ["string", "null"], "description": _FIELDS["name"]},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["header"],
                    "properties": {
                        "header": {
                            "type": "string",
                            "format": "binary",
                            "description": _FIELDS["header"],
                        },
                        "card": {"type": "string", "description": _FIELDS["card"]},
                        "sidecar": {"type": "string", "description": _FIELDS["sidecar"]},
                        "name": {"type": "string", "description": _FIELDS["name"]},
                    },
                }
            },
        },
    }
}
"""The body ``_upload`` reads, as OpenAPI describes it."""


@dataclass(frozen=True, slots=True)
class _Upload:
    """What a request sends of a model: its first bytes, and the texts beside it."""

    header: bytes
    card: bytes | None = None
    sidecar: bytes | None = None
    name: str | None = None


@router.post(
    "/audit",
    summary="Audit a model file from its header, card and sidecar",
    dependencies=[Depends(require(Permission.MODELS))],
    openapi_extra=MODEL_BODY,
)
async def audit_model(request: Request) -> JSONResponse:
    """``{"format", "bytes", "verdict", "signals", "warnings"}``, as ``rempart audit``
    writes each file, without its path or fingerprint, under the hub policy (or the server's
    own, ``REMPART_POLICY``, when one is set)."""
    found = runtime(request)
    upload = await _upload(request, found.settings.model_max_header_bytes)
    auditor = await run_in_threadpool(_auditor, request)  # the first builds it: lexicons
    result = await run_in_threadpool(
        auditor.audit_bytes,
        upload.header,
        card=upload.card,
        sidecar=upload.sidecar,
        file_name=upload.name,
    )
    verdict = result.verdict
    metrics.VERDICTS.labels("models", verdict.action.value).inc()
    audit(
        request,
        outcome=verdict.action.value,
        detail={
            "format": result.model.format.value,
            "categories": [category.name for category in verdict.categories],
            "rules": [reason.rule for reason in verdict.reasons],
        },
    )
    return _Record(result.to_api_json())


async def _upload(request: Request, limit: int) -> _Upload:
    """The header, card and sidecar of a JSON or multipart body; 413 for a header over
    ``limit`` (``REMPART_MODEL_MAX_HEADER_BYTES``), 415 for a body of another type."""
    sent = media_type(request)
    if is_json(sent):
        upload = _from_json(read_json(await request.body()))
    elif sent == "multipart/form-data":
        upload = _from_form(request.headers.get("content-type", ""), await request.body())
    else:
        raise Problem(
            "unsupported-media-type",
            "send application/json or multipart/form-data with the parts header, card and "
            f"sidecar (got {sent or 'none'!r})",
        )
    if len(upload.header) > limit:
        raise Problem(
            "body-too-large",
            f"the header is {len(upload.header):,} bytes, over the {limit:,} this server reads "
            "(REMPART_MODEL_MAX_HEADER_BYTES); send the file's first bytes only",
        )
    return upload


def _from_json(data: object) -> _Upload:
    """``{"header": base64, "card": text, "sidecar": object, "name": text}``."""
    if not isinstance(data, dict):
        raise RequestError('the body must be a JSON object {"header", "card", "sidecar", "name"}')
    unknown = sorted(set(data) - set(PARTS))
    if unknown:
        raise RequestError(f"unknown field {unknown[0]!r}", field=unknown[0])
    header = data.get("header")
    if not isinstance(header, str):
        raise RequestError('"header" must be base64 text: the file\'s first bytes', field="header")
    try:  # line breaks, as MIME-style encoders write them, are no error
        raw = base64.b64decode("".join(header.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError('"header" is not valid base64', field="header") from None
    card, sidecar = data.get("card"), data.get("sidecar")
    if card is not None and not isinstance(card, str):
        raise RequestError('"card" must be text: the README.md', field="card")
    if sidecar is not None and not isinstance(sidecar, dict):
        raise RequestError('"sidecar" must be an object: the .civitai.info', field="sidecar")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise RequestError('"name" must be text: the file\'s name', field="name")
    return _Upload(
        raw,
        None if card is None else card.encode("utf-8", "surrogatepass"),
        # ASCII: a lone surrogate the body escaped stays an escape, for read_sidecar to decode.
        None if sidecar is None else json.dumps(sidecar).encode("ascii"),
        _name(name),
    )


def _name(name: str | bytes | None) -> str | None:
    """An uploaded file's name as text, its folders dropped; 422 past ``MAX_NAME_CHARS``."""
    if name is None:
        return None
    text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    if len(text) > MAX_NAME_CHARS:
        raise RequestError(f'"name" is over {MAX_NAME_CHARS:,} characters', field="name")
    return text.replace("\\", "/").rsplit("/", 1)[-1]


def _from_form(content_type: str, body: bytes) -> _Upload:
    """The parts ``header``, ``card``, ``sidecar`` and ``name`` of a ``multipart/form-data``
    body."""
    parts = _form_parts(_boundary(content_type), body)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise RequestError(f"unknown part {unknown[0]!r}", field=unknown[0])
    if "header" not in parts:
        raise RequestError("no part 'header': the model file's first bytes", field="header")
    return _Upload(
        parts["header"], parts.get("card"), parts.get("sidecar"), _name(parts.get("name"))
    )


def _boundary(content_type: str) -> bytes:
    """The ``boundary`` parameter of a multipart ``Content-Type``."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1")
    raise RequestError("the multipart Content-Type names no boundary")


def _form_parts(boundary: bytes, body: bytes) -> dict[str, bytes]:
    """Each named part's bytes, exactly as sent (RFC 7578: parts between ``--boundary``
    lines, headers then a blank line then the content)."""
    delimiter = b"--" + boundary
    pieces = (b"\r\n" + body).split(b"\r\n" + delimiter)
    if len(pieces) < 3 or not pieces[-1].startswith(b"--"):
        raise RequestError("the multipart body is cut short or has no parts")
    parts: dict[str, bytes] = {}
    for piece in pieces[1:-1]:
        head, separator, content = piece.partition(b"\r\n\r\n")
        if not separator:
            raise RequestError("a multipart part has no blank line after its headers")
        name = _part_name(head.decode("latin-1").split("\r\n"))
        if name in parts:
            raise RequestError(f"the part {name!r} is sent twice", field=name)
        parts[name] = content
    return parts


def _part_name(lines: Sequence[str]) -> str:
    """The ``name`` a part's ``Content-Disposition: form-data; name="..."`` gives."""
    for line in lines:
        field, _, value = line.partition(":")
        if field.strip().lower() != "content-disposition":
            continue
        for parameter in value.split(";")[1:]:
            key, _, named = parameter.strip().partition("=")
            if key.strip().lower() == "name":
                return named.strip().strip('"')
    raise RequestError("a multipart part has no Content-Disposition name")


class _Record(JSONResponse):
    """A record as JSON in UTF-8, a lone surrogate in its texts (a model's header and sidecar
    are JSON that may escape one) written as its JSON escape instead of failing."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class _Built:
    """The auditor, and the list of persons it was built with."""

    persons: Sequence[PersonName]
    auditor: Auditor


_BUILDING: Final = threading.Lock()


def _auditor(request: Request) -> Auditor:
    """The worker's auditor, built on first use and again when the protected persons change
    (the runtime replaces its list of names then)."""
    found = runtime(request)
    persons = found.person_names()
    with _BUILDING:
        built: _Built | None = getattr(request.app.state, "auditor", None)
        if built is None or built.persons is not persons:
            built = _Built(persons, _build(found.settings, persons))
            request.app.state.auditor = built
        return built.auditor


def _build(settings: Settings, persons: Sequence[PersonName]) -> Auditor:
    """An auditor under the hub policy, or the server's own when ``REMPART_POLICY`` names one
    other than the built-in default."""
    from rempart.hub import AuditorSpec  # the lexicons load with the first audit, not before

    policy = settings.policy if settings.policy != "default" else "hub"
    spec = AuditorSpec(
        policy=policy,
        persons=tuple(persons),
        max_header_bytes=settings.model_max_header_bytes,
    )
    return spec.build()
