"""``GateRequest``: one generation request as every interface gives it to the gate, read by one
function from a JSON object (an API body, a line of ``rempart gate --batch``).

Fields: ``prompt``, ``negative_prompt``, ``inputs`` (uploaded photos), ``output`` (the generated
image), ``person_photo`` and ``id``. Images are file paths on the command line and base64 on
the API. Older batch files' names still read: ``text`` for ``prompt``, ``negative`` for
``negative_prompt`` and ``has_input_photo`` for ``person_photo``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from rempart.errors import MalformedBodyError, RequestError
from rempart.types import ImageInput

__all__ = [
    "FIELDS",
    "MAX_INPUTS",
    "GateRequest",
    "ImageEncoding",
    "parse_gate_request",
    "read_json",
]

MAX_INPUTS: Final = 4
"""Most uploaded photos one request may carry."""
FIELDS: Final = {
    "prompt": "The prompt, as the user wrote it.",
    "negative_prompt": "The negative prompt.",
    "inputs": "Uploaded photos the request edits.",
    "output": "The generated image or video, when checking the output (a video's signals name "
    "the timestamps of the frames that gave them).",
    "person_photo": "The request edits a photo of a person that is not sent (counts as an "
    "uploaded photo with a face).",
    "id": "Anything that identifies the request; rempart gate --batch gives it back with its "
    "verdict.",
}
"""Each field and what it means (the API's schema says it too)."""
_OLD_NAMES: Final = {
    "text": "prompt",
    "negative": "negative_prompt",
    "has_input_photo": "person_photo",
}


class ImageEncoding(StrEnum):
    """How a request carries its images."""

    PATH = "path"
    BASE64 = "base64"


@dataclass(frozen=True, slots=True)
class GateRequest:
    """One generation request: what ``Gate.check_request`` judges."""

    prompt: str
    negative_prompt: str | None = None
    inputs: tuple[ImageInput, ...] = ()
    output: ImageInput | None = None
    person_photo: bool = False
    id: Any = None

    @property
    def images(self) -> int:
        """How many images the request carries."""
        return len(self.inputs) + (self.output is not None)


def parse_gate_request(data: object, *, images: ImageEncoding) -> GateRequest:
    """The request a JSON object describes; ``RequestError`` naming the field that is wrong.

    Other members are ignored, as they always were (a batch file's lines may carry their own
    labels); a field given under both its name and its old name is refused."""
    if not isinstance(data, Mapping):
        raise RequestError("a request must be a JSON object")
    for old, new in _OLD_NAMES.items():
        if old in data and new in data:
            raise RequestError(f'give "{new}" or its old name "{old}", not both', field=new)
    fields = {_OLD_NAMES.get(str(key), str(key)): value for key, value in data.items()}
    prompt = fields.get("prompt")
    if not isinstance(prompt, str):
        raise RequestError('"prompt" must be a string', field="prompt")
    negative = fields.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        raise RequestError('"negative_prompt" must be a string or null', field="negative_prompt")
    inputs = fields.get("inputs") or []
    if not isinstance(inputs, list):
        raise RequestError('"inputs" must be a list of images', field="inputs")
    if len(inputs) > MAX_INPUTS:
        raise RequestError(
            f'"inputs" holds at most {MAX_INPUTS} images, not {len(inputs)}', field="inputs"
        )
    person_photo = fields.get("person_photo", False)
    if "has_input_photo" in data:  # the old batch flag: a photo the line does not pass
        person_photo = bool(person_photo) and not inputs
    if not isinstance(person_photo, bool):
        raise RequestError('"person_photo" must be true or false', field="person_photo")
    output = fields.get("output")
    return GateRequest(
        prompt=prompt,
        negative_prompt=negative,
        inputs=tuple(_image(item, f"inputs.{n}", images) for n, item in enumerate(inputs)),
        output=None if output is None else _image(output, "output", images),
        person_photo=person_photo,
        id=fields.get("id"),
    )


def read_json(data: bytes | str) -> object:
    """The JSON value of a body or a line; ``MalformedBodyError`` saying why when it is not
    JSON (not UTF-8, cut short, or beyond the parser: nested thousands deep, an integer of
    thousands of digits), never the parser's own exception."""
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise MalformedBodyError(
            f"the body is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None
    except json.JSONDecodeError as exc:
        raise MalformedBodyError(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # an integer beyond the digits Python converts
        raise MalformedBodyError(f"the body is not JSON Rempart reads: {exc}") from None
    except RecursionError:
        raise MalformedBodyError("the body is not JSON Rempart reads: nested too deep") from None


def _image(value: object, field: str, encoding: ImageEncoding) -> ImageInput:
    if not isinstance(value, str):
        kind = "a path" if encoding is ImageEncoding.PATH else "base64 text"
        raise RequestError(f'"{field}" must be {kind}', field=field)
    if encoding is ImageEncoding.PATH:
        return value
    try:  # line breaks, as MIME-style encoders write them, are no error
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(f'"{field}" is not valid base64', field=field) from None
