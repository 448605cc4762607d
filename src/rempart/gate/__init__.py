"""The generation gate: a generator calls it on each request (prompt, negative prompt, uploaded
photos) and on the image it made, and gets a ``Verdict`` that explains itself."""

from rempart.gate.gate import Gate, GateDetectors, Persons
from rempart.gate.request import (
    FIELDS,
    MAX_INPUTS,
    GateRequest,
    ImageEncoding,
    parse_gate_request,
)

__all__ = [
    "FIELDS",
    "MAX_INPUTS",
    "Gate",
    "GateDetectors",
    "GateRequest",
    "ImageEncoding",
    "Persons",
    "parse_gate_request",
]
