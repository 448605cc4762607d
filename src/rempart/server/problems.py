"""Errors as RFC 9457 problem details (``application/problem+json``), one stable type each.

A type is ``urn:rempart:problem:<slug>``: clients match on it, never on the wording of
``detail``. ``PROBLEMS`` lists every type; docs/server.md lists them too (a test checks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from rempart.errors import MediaErrorCode, PromptErrorCode, RempartError, StoreError
from rempart.modelfile import ERROR_CODES as MODEL_ERROR_CODES
from rempart.video import ERROR_CODES as VIDEO_ERROR_CODES

__all__ = [
    "PROBLEMS",
    "Problem",
    "ProblemKind",
    "error_problem",
    "invalid_request",
    "problem_response",
]

_LOG = logging.getLogger(__name__)
TYPE_PREFIX: Final = "urn:rempart:problem:"
MEDIA_TYPE: Final = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemKind:
    """One type of problem: its slug, HTTP status and title."""

    slug: str
    status: int
    title: str

    @property
    def type(self) -> str:
        """The problem's ``type`` URI."""
        return TYPE_PREFIX + self.slug


_KINDS: list[ProblemKind] = [
    ProblemKind("unauthenticated", 401, "No valid API key"),
    ProblemKind("forbidden", 403, "The key's role may not do this"),
    ProblemKind("not-found", 404, "No such endpoint"),
    ProblemKind("method-not-allowed", 405, "Method not allowed on this endpoint"),
    ProblemKind("invalid-request", 422, "The request is not valid"),
    ProblemKind("malformed-body", 400, "The body cannot be read"),
    ProblemKind("request-timeout", 408, "The request did not arrive in time"),
    ProblemKind("body-too-large", 413, "The request body is too large"),
    ProblemKind("unsupported-media-type", 415, "The body's Content-Type is not accepted here"),
    ProblemKind("rate-limited", 429, "Too many requests for this key"),
    ProblemKind("bank-not-found", 404, "No such bank"),
    ProblemKind("bank-exists", 409, "A bank has this name already"),
    ProblemKind("bank-invalid", 422, "The bank operation is not valid"),
    ProblemKind("import-invalid", 422, "The hash list is not valid; nothing was imported"),
    ProblemKind("person-not-found", 404, "No such protected person"),
    ProblemKind("person-invalid", 422, "The protected-persons operation is not valid"),
    ProblemKind("enrolment-failed", 422, "No usable face in a photo; nothing was enrolled"),
    ProblemKind("key-not-found", 404, "No such API key"),
    ProblemKind("key-invalid", 422, "The key cannot be created as asked"),
    ProblemKind("case-not-found", 404, "No case with this number and secret"),
    ProblemKind("case-invalid", 422, "The case operation is not valid"),
    ProblemKind("case-state-conflict", 409, "The case or item is not in a state that allows this"),
    ProblemKind("hash-low-quality", 422, "The hash is too featureless to act on"),
    ProblemKind("notice-invalid", 422, "The notice lacks an element it needs, or cannot be sent"),
    ProblemKind("notice-not-found", 404, "No such notice"),
    ProblemKind("sor-invalid", 422, "A statement of reasons the Transparency Database refuses"),
    ProblemKind("evidence-refused", 422, "The capture may not be made, read or kept as asked"),
    ProblemKind("evidence-not-found", 404, "No such capture"),
    ProblemKind("fetch-refused", 422, "The URL's address may not be fetched"),
    ProblemKind("fetch-failed", 502, "The URL could not be fetched"),
    ProblemKind("platform-unknown", 404, "No platform profile has this name or names this host"),
    ProblemKind("delivery-failed", 502, "The notice could not be delivered; it stays drafted"),
    ProblemKind("detector-unavailable", 503, "A detector this needs is not installed"),
    ProblemKind("not-ready", 503, "The server is still loading its hash banks"),
    ProblemKind("database-unavailable", 503, "The database cannot be reached"),
    ProblemKind("index-unavailable", 503, "The saved match index cannot be read"),
    ProblemKind("misconfigured", 503, "The server's configuration cannot do this"),
    ProblemKind("overloaded", 503, "The server is decoding all the images it may at once"),
    ProblemKind("desk-unavailable", 503, "The desk has no usable key file"),
    ProblemKind("internal-error", 500, "Internal error"),
]

_MEDIA_STATUS: Final[dict[str, int]] = {
    MediaErrorCode.TOO_LARGE: 413,
    MediaErrorCode.UNSUPPORTED_FORMAT: 415,
}


def _coded(problem: str, title: str, codes: Iterable[StrEnum]) -> list[ProblemKind]:
    """One type per reason code: ``<problem>-too-large`` (413), ``<problem>-unsupported-format``
    (415), the others 422, each titled ``<title>: <reason>``."""
    return [
        ProblemKind(
            f"{problem}-{code.value.replace('_', '-')}",
            _MEDIA_STATUS.get(code.value, 422),
            f"{title}: {code.value.replace('_', ' ')}",
        )
        for code in codes
    ]


# image-* for every MediaErrorCode (those of videos included, as before video-* existed).
_KINDS += _coded("image", "The image cannot be used", MediaErrorCode)
_KINDS += _coded("video", "The video cannot be used", VIDEO_ERROR_CODES)
_KINDS += _coded("model", "The model file cannot be read", MODEL_ERROR_CODES)
_KINDS += _coded("prompt", "The prompt cannot be read", PromptErrorCode)
PROBLEMS: Final = {kind.slug: kind for kind in _KINDS}


class Problem(HTTPException):
    """Raised anywhere in a request to answer with a problem of kind ``slug``. An
    ``HTTPException``, so that FastAPI passes it on even from inside reading the body."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.kind = PROBLEMS[slug]
        super().__init__(self.kind.status, detail, dict(headers) if headers else None)
        self.extra = extra

    def response(self, instance: str | None = None, *, message: bool = False) -> JSONResponse:
        """The problem as a response; with ``message``, the detail repeated as ``message``
        too, for the clients of an API whose errors carry that field (HMA's)."""
        extra = {**self.extra, "message": self.detail} if message else self.extra
        return problem_response(self.kind, self.detail, instance, extra, self.headers)


def problem_response(
    kind: ProblemKind,
    detail: str,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``{"type", "title", "status", "detail", "instance", ...extra}`` with its status."""
    body = {
        "type": kind.type,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        **({"instance": instance} if instance else {}),
        **(extra or {}),
    }
    return JSONResponse(body, status_code=kind.status, headers=headers, media_type=MEDIA_TYPE)


def error_problem(error: RempartError) -> Problem:
    """The problem for any ``RempartError``: its type from ``error.problem_slug``, its
    members from ``error.problem_extra()``. A database that cannot be reached is logged here
    (its address, the driver's message) and not told to the client."""
    if isinstance(error, StoreError):
        _LOG.error("database unavailable: %s", error)
        return Problem(error.problem_slug, "the database cannot be reached; see the server's log")
    return Problem(
        error.problem_slug, str(error), headers=error.problem_headers(), **error.problem_extra()
    )


def invalid_request(raw: Sequence[Mapping[str, Any]]) -> Problem:
    """422 ``invalid-request`` for pydantic's validation errors: each one's location and
    message, the first in ``detail``."""
    errors = [
        {"location": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in raw
    ]
    first = errors[0] if errors else {"location": "", "message": "invalid request"}
    return Problem(
        "invalid-request", f"{first['location']}: {first['message']}", errors=errors[:20]
    )
