"""Fuzz target ``request``: what the server does with a JSON body before an app sees it.

The bytes are read as ``/v1/gate`` reads its body (``read_json``), then as a generation
request (``parse_gate_request``, with images as base64 and as paths, as the API and
``rempart gate --batch`` give them), and validated against every JSON body model of the API,
whose errors must make a problem document (``invalid_request``). Only Rempart's own errors,
and pydantic's validation errors that the server answers with 422, are expected.
"""

from __future__ import annotations

from contextlib import suppress

from pydantic import BaseModel, ValidationError

from rempart.errors import RempartError
from rempart.gate import ImageEncoding, parse_gate_request
from rempart.gate.request import read_json
from rempart.server.app import invalid_request
from rempart.server.routes.admin import KeyCreate
from rempart.server.routes.banks import BankCreate, BankUpdate, HashAdd, Withdrawal
from rempart.server.routes.checks import MatchRequest
from rempart.server.routes.persons import Enrolment

MODELS: tuple[type[BaseModel], ...] = (
    MatchRequest,
    Enrolment,
    KeyCreate,
    BankCreate,
    BankUpdate,
    HashAdd,
    Withdrawal,
)


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as every JSON body the server reads."""
    try:
        value = read_json(data)
    except RempartError:
        return
    for encoding in ImageEncoding:
        with suppress(RempartError):
            parse_gate_request(value, images=encoding)
    for model in MODELS:
        try:
            model.model_validate(value)
        except ValidationError as exc:
            invalid_request(exc.errors()).response("/v1/fuzz")  # renders its JSON
