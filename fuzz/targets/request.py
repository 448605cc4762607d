"""Fuzz target ``request``: what the server does with a JSON body before an app sees it.

The bytes are read as ``/v1/gate`` reads its body (``read_json``), then as a generation
request (``parse_gate_request``, with images as base64 and as paths, as the API and
``rempart gate --batch`` give them), and validated against every JSON body model of the API,
whose errors must make a problem document (``invalid_request``). The same bytes also build a
JSON value directly (``structured``), so that a coverage-guided fuzzer reaches the readers'
branches without first finding valid JSON. Only Rempart's own errors, and pydantic's
validation errors that the server answers with 422, are expected.
"""

from __future__ import annotations

import base64
import struct
from contextlib import suppress
from typing import Final

from pydantic import BaseModel, ValidationError

from rempart.errors import RempartError
from rempart.gate import ImageEncoding, parse_gate_request
from rempart.gate.request import read_json
from rempart.server.problems import invalid_request
from rempart.server.routes.admin import KeyCreate
from rempart.server.routes.banks import (
    BankCreate,
    BankUpdate,
    HashAdd,
    VideoThresholdsBody,
    Withdrawal,
)
from rempart.server.routes.cases import (
    CaseCreate,
    CaseMove,
    ItemBody,
    ItemMove,
    ItemsAdd,
    MandateBody,
)
from rempart.server.routes.checks import MatchRequest, VideoMatchRequest
from rempart.server.routes.notices import (
    DeliveryBody,
    EscalationBody,
    NoticeCreate,
    OrderBody,
    ReplyBody,
    SendBody,
)
from rempart.server.routes.persons import Enrolment

MODELS: Final[tuple[type[BaseModel], ...]] = (
    MatchRequest,
    VideoMatchRequest,
    VideoThresholdsBody,
    Enrolment,
    KeyCreate,
    BankCreate,
    BankUpdate,
    HashAdd,
    Withdrawal,
    CaseCreate,
    ItemBody,
    MandateBody,
    ItemsAdd,
    CaseMove,
    ItemMove,
    NoticeCreate,
    SendBody,
    DeliveryBody,
    ReplyBody,
    OrderBody,
    EscalationBody,
)
# Members the server's bodies have, old names included.
MEMBERS: Final = (
    "prompt", "negative_prompt", "inputs", "output", "person_photo", "id", "text", "negative",
    "has_input_photo", "hashes", "dihedral", "name", "photos", "aliases", "distinctive",
    "largest", "role", "rate_limit", "threshold", "source", "category", "reason",
    "case", "platform", "items", "nature", "signatory", "language", "again", "at", "how",
    "ticket", "kind", "item", "decision", "automated", "redress", "reference", "puid", "step",
    "target", "url", "pdq", "quality", "age", "words", "mandate", "scope", "starts", "ends",
    "state", "note", "description", "enabled", "entry_ids", "hash", "source_ref",
    "video_thresholds", "distance", "query_percent", "stored_percent", "vpdq", "mirrored",
    "md5", "sha256",
)  # fmt: skip
_MAX_DEPTH: Final = 4


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as every JSON body the server reads, and as a value built from it."""
    with suppress(RempartError):
        check(read_json(data))
    check(structured(data))


def check(value: object) -> None:
    """Read a decoded JSON value as a generation request and as every body model."""
    for encoding in ImageEncoding:
        with suppress(RempartError):
            parse_gate_request(value, images=encoding)
    for model in MODELS:
        try:
            model.model_validate(value)
        except ValidationError as exc:
            invalid_request(exc.errors()).response("/v1/fuzz")  # renders its JSON


def structured(data: bytes) -> object:
    """A JSON value the bytes describe: an object of the server's members, mostly."""
    reader = _Reader(data)
    return _value(reader, 0, kind=7)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> bytes:
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def byte(self) -> int:
        chunk = self.take(1)
        return chunk[0] if chunk else 0


def _value(reader: _Reader, depth: int, kind: int | None = None) -> object:
    kind = reader.byte() % 9 if kind is None else kind
    if depth >= _MAX_DEPTH:
        kind = kind % 6
    if kind == 0:
        return None
    if kind == 1:
        return bool(reader.byte() & 1)
    if kind == 2:
        return int.from_bytes(reader.take(8), "little", signed=True)
    if kind == 3:
        raw = reader.take(8).ljust(8, b"\0")
        return float(struct.unpack("<d", raw)[0])
    if kind == 4:  # text, lone surrogates included
        return reader.take(reader.byte() % 48).decode("utf-8", "surrogateescape")
    if kind == 5:  # base64, as images come
        return base64.b64encode(reader.take(reader.byte() % 48)).decode()
    if kind in (6, 8):
        return [_value(reader, depth + 1) for _ in range(reader.byte() % 6)]
    return {
        MEMBERS[reader.byte() % len(MEMBERS)]: _value(reader, depth + 1)
        for _ in range(reader.byte() % 6)
    }
