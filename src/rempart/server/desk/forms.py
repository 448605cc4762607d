"""The bodies the desk reads: URL-encoded forms of at most ``FORM_LIMIT`` bytes, parsed by the
standard library. There is no multipart parser and no file field anywhere on the desk: a photo
is hashed in the browser and only its hash is posted, so any other body (an image, a
multipart upload) is refused with 415 before it is read, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Final, TypeVar
from urllib.parse import parse_qs

from starlette.requests import Request

from rempart.server.middleware import DESK_FORM_LIMIT, content_length
from rempart.server.problems import Problem
from rempart.server.routes.common import media_type

__all__ = [
    "FORM_LIMIT",
    "FORM_TYPE",
    "MAX_FIELDS",
    "Form",
    "choice",
    "day",
    "local_moment",
    "parse_form",
    "read_form",
    "require_form",
]

FORM_TYPE: Final = "application/x-www-form-urlencoded"
FORM_LIMIT: Final = DESK_FORM_LIMIT
"""Bytes a desk form may hold: a report's hashes (about 90 bytes each), its links and words."""
MAX_FIELDS: Final = 1000
_E = TypeVar("_E", bound=StrEnum)


class Form:
    """A parsed form: each field's values in the order they came."""

    def __init__(self, fields: Mapping[str, list[str]]) -> None:
        self._fields = fields

    def one(self, name: str) -> str:
        """The field's first value, stripped ("" when absent)."""
        values = self._fields.get(name)
        return values[0].strip() if values else ""

    def all(self, name: str) -> list[str]:
        """Every value of the field, stripped, empty ones left out."""
        return [value.strip() for value in self._fields.get(name, []) if value.strip()]

    def lines(self, name: str) -> list[str]:
        """Every non-empty line of every value of the field (a text area of one item a line)."""
        return [
            line.strip() for value in self.all(name) for line in value.splitlines() if line.strip()
        ]


def require_form(request: Request) -> None:
    """``Problem`` 415, before any of the body is read, unless it is a URL-encoded form."""
    content_type = media_type(request)
    if content_type != FORM_TYPE:
        raise Problem(
            "unsupported-media-type",
            f"send the form as {FORM_TYPE} (got {content_type or 'none'!r}); "
            "the desk takes no files: photos are hashed in the browser",
        )


async def read_form(request: Request) -> Form:
    """The request's form; a ``Problem``: 415 for any other content type (multipart
    included), 413 over ``FORM_LIMIT`` bytes, 400 for a body that is not a well-formed form."""
    require_form(request)
    # Refused unread, as BodyLimit does elsewhere (absent, it is counted as it comes).
    if (content_length(request.scope) or 0) > FORM_LIMIT:
        raise _too_large()
    return parse_form(await request.body())  # BodyLimit stops reading past the desk's limit


def parse_form(body: bytes) -> Form:
    """A URL-encoded body as a form; ``Problem`` 413 over ``FORM_LIMIT`` bytes, 400 for a body
    that is not a well-formed form (not ASCII, escapes that are not UTF-8, a field without
    ``=``, over ``MAX_FIELDS`` fields)."""
    if len(body) > FORM_LIMIT:
        raise _too_large()
    try:
        fields = parse_qs(
            body.decode("ascii"),  # a urlencoded body is ASCII; its escapes decode as UTF-8
            keep_blank_values=True,
            strict_parsing=bool(body),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise Problem("malformed-body", "the body is not a well-formed URL-encoded form") from None
    return Form(fields)


def _too_large() -> Problem:
    return Problem("body-too-large", f"the form is over {FORM_LIMIT:,} bytes")


def choice(kind: type[_E], value: str) -> _E:
    """``value`` as one of ``kind``'s members; ``invalid-request`` naming the kind."""
    try:
        return kind(value)
    except ValueError:
        raise Problem("invalid-request", f"{value!r} is not a {kind.__name__}") from None


def day(value: str) -> date:
    """A ``date`` field's value; ``invalid-request`` for anything else."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Problem("invalid-request", f"{value!r} is not a date (YYYY-MM-DD)") from None


def local_moment(value: str, zone: tzinfo) -> datetime:
    """A ``datetime-local`` field's value, read in the desk's time zone, as UTC;
    ``invalid-request`` for anything else."""
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M")
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: its UTC falls off the calendar
        raise Problem(
            "invalid-request", f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)"
        ) from None
