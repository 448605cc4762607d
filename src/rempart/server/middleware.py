"""The ASGI middlewares, pure ASGI so that they add microseconds, not a task per request.

``Authentication`` finds the API key of every request to ``/v1`` or ``/metrics``, and applies
its rate limit, before anything reads the body: a caller without a key cannot make the server
read or parse one.
``BodyLimit`` answers 413 before reading a body whose Content-Length is over the limit, and
stops reading one (chunked, or lying about its length) as soon as it passes the limit; it
answers 408 to a body that stalls or trickles in.
``Recorder`` writes each request to the audit log and to the metrics once it is answered.
``SecurityHeaders`` tells browsers not to sniff types, and HTML pages to load nothing from
elsewhere; the desk's responses (``/desk``) also to send no referrer, connect nowhere and cache
nothing.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rempart.access.audit import AuditEntry
from rempart.errors import StoreError
from rempart.server import metrics
from rempart.server.problems import Problem, error_problem
from rempart.store import utc_now

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "DESK_CONTENT_SECURITY_POLICY",
    "DESK_FORM_LIMIT",
    "DESK_PREFIX",
    "DESK_PREVIEW_CONTENT_SECURITY_POLICY",
    "JSON_LIMIT",
    "MIN_BODY_RATE",
    "PROTECTED_PATHS",
    "AuditNote",
    "Authentication",
    "BodyLimit",
    "Recorder",
    "SecurityHeaders",
    "content_length",
    "is_desk",
    "problem_answer",
]

# Probes answer every few seconds with nothing to audit; every other request is recorded.
_UNRECORDED = frozenset({"/healthz", "/readyz"})
PROTECTED_PATHS = ("/v1/", "/metrics")
JSON_LIMIT: Final = 2 * 1024 * 1024
# Bodies that carry files as base64 JSON: an image, or a model file's header.
_IMAGES_IN_JSON = frozenset(
    {"/v1/gate", "/v1/guard", "/v1/persons", "/v1/registry", "/v1/models/audit"}
)
MIN_BODY_RATE: Final = 16 * 1024
"""Bytes a second a body must average once it has taken its timeout: a slow phone line
passes, a client trickling a byte at a time to hold the connection does not."""
# Swagger UI sets styles inline and shows data: images; it needs nothing from elsewhere.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
DESK_PREFIX: Final = "/desk"
DESK_FORM_LIMIT: Final = 64 * 1024
"""Bytes a desk body may hold: a form of hashes, links and words, never a file."""
# The desk's pages run only their own scripts (the hashing worker included) and connect
# nowhere: a photo read into a page has no way out but the form, which carries its hash only.
DESK_CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; connect-src 'none'; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# A notice's HTML preview, shown in a sandboxed frame of the staff's notice page: its own
# inline style, nothing run, nothing fetched, no form, framed by the desk only.
DESK_PREVIEW_CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; sandbox; "
    "form-action 'none'; frame-ancestors 'self'; base-uri 'none'"
)
_PREVIEW: Final = DESK_PREVIEW_CONTENT_SECURITY_POLICY.encode()
_DESK_HEADERS: Final = (
    (b"content-security-policy", DESK_CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
_PREVIEW_HEADERS: Final = ((b"content-security-policy", _PREVIEW), *_DESK_HEADERS[1:])


class Authentication:
    """Refuse requests to protected paths without a valid key (401) or over its rate (429);
    the key goes on ``request.state.key``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_protected(scope)):
            await self.app(scope, receive, send)
            return
        auth = _services(scope).auth
        try:
            key = await auth.authenticate(Request(scope))
            scope.setdefault("state", {})["key"] = key
            auth.check_rate(key)
        except Problem as problem:
            await problem_answer(scope, problem)(scope, receive, send)
            return
        except StoreError as exc:
            await problem_answer(scope, error_problem(exc))(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over their limit with 413, reading no more of them: ``limit``
    bytes for images, hash lists and the JSON that carries images (``/v1/gate``,
    ``/v1/persons``), ``JSON_LIMIT`` for any other JSON, which holds hashes and names only.
    Refuse with 408 a body whose next part takes over ``timeout`` seconds to come, or that
    averages under ``MIN_BODY_RATE`` once it has taken ``timeout`` seconds. A desk body
    (``/desk``) may hold ``DESK_FORM_LIMIT`` bytes, and is refused by its route, as a page."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = content_length(scope)
        # The desk's routes answer in pages: 415 to a body that is not a form, unread,
        # whatever its size; 413 once a form passes the limit (below).
        if declared is not None and declared > limit and not is_desk(scope["path"]):
            await problem_answer(scope, _too_large(limit, declared))(scope, receive, send)
            return
        seen, complete, started = 0, False, time.monotonic()

        async def limited() -> Message:
            nonlocal seen, complete
            if complete:  # after the body, a receive waits for the client to hang up
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise _too_slow(f"no part of the body came for {self.timeout:g} s") from None
            seen += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body")
            if seen > limit:
                raise _too_large(limit, seen)
            elapsed = time.monotonic() - started
            if not complete and elapsed > self.timeout and seen < MIN_BODY_RATE * elapsed:
                raise _too_slow(
                    f"the body came at {seen / elapsed:,.0f} bytes a second, under the "
                    f"{MIN_BODY_RATE:,} a body must average after {self.timeout:g} s"
                )
            return message

        await self.app(scope, limited, send)

    def _limit(self, scope: Scope) -> int:
        if is_desk(scope["path"]):
            return min(self.limit, DESK_FORM_LIMIT)
        if scope["path"] in _IMAGES_IN_JSON or _header(scope, b"content-type").find(b"json") < 0:
            return self.limit
        return min(self.limit, JSON_LIMIT)


def problem_answer(scope: Scope, problem: Problem) -> Response:
    """``problem`` as the answer to the request of ``scope``, the one place a refusal is
    written: on the paths of an API whose errors carry ``message`` (HMA's, under
    ``--hma-compat``: the app's ``message_paths``) the problem has ``message`` too, whether a
    middleware refused the request (no key, too large) or a route did."""
    paths: tuple[str, ...] = getattr(scope["app"].state, "message_paths", ())
    path = scope["path"]
    return problem.response(path, message=bool(paths) and path.startswith(paths))


def is_desk(path: str) -> bool:
    """Whether ``path`` is one of the desk's (``/desk`` and below)."""
    return path == DESK_PREFIX or path.startswith(DESK_PREFIX + "/")


def _too_large(limit: int, size: int) -> Problem:
    setting = {JSON_LIMIT: "the JSON limit", DESK_FORM_LIMIT: "the desk's form limit"}.get(
        limit, "REMPART_API_MAX_BODY_BYTES"
    )
    return Problem(
        "body-too-large",
        f"the body is over the limit of {limit:,} bytes ({setting})",
        limit=limit,
        received=size,
    )


def _too_slow(detail: str) -> Problem:
    return Problem(
        "request-timeout", f"{detail} (REMPART_API_BODY_TIMEOUT)", headers={"Connection": "close"}
    )


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every response, and on HTML ones a
    Content-Security-Policy that lets a page load only what this server serves (unless the
    response sets a stricter one of its own). Every desk
    response gets the desk's stricter policy, no referrer and no caching instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        desk = is_desk(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-content-type-options", b"nosniff")]
                if desk:
                    # A notice's preview keeps its stricter policy; any other, the desk's.
                    preview = (b"content-security-policy", _PREVIEW) in headers
                    replaced = {name for name, _ in _DESK_HEADERS}
                    headers = [h for h in headers if h[0].lower() not in replaced]
                    headers.extend(_PREVIEW_HEADERS if preview else _DESK_HEADERS)
                elif any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                ) and not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    # A page that sets a stricter policy of its own (a notice's preview) keeps it.
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AuditNote:
    """What a handler adds to its request's audit entry (``request.state.audit``).
    ``now``: commit the entry before the response goes out (the request changed something)."""

    __slots__ = ("detail", "now", "outcome", "target")

    def __init__(
        self,
        *,
        target: str | None = None,
        outcome: str | None = None,
        detail: dict[str, Any] | None = None,
        now: bool = False,
    ) -> None:
        self.target = target
        self.outcome = outcome
        self.detail = detail
        self.now = now


class Recorder:
    """Audit and measure every request but the probes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNRECORDED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        arrived = utc_now()
        status = 500
        written: AuditEntry | None = None  # committed before the response went out

        async def recording_send(message: Message) -> None:
            nonlocal status, written
            if message["type"] == "http.response.start":
                status = message["status"]
                note = scope.get("state", {}).get("audit")
                if isinstance(note, AuditNote) and note.now and status < 400:
                    written = _entry(scope, status, started, arrived)
                    await run_in_threadpool(_services(scope).audit.write, written)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            entry = written or _entry(scope, status, started, arrived)
            if written is None:
                _services(scope).audit.record(entry)
            method = metrics.method_label(entry.method)
            metrics.REQUESTS.labels(method, entry.route, str(status)).inc()
            metrics.LATENCY.labels(entry.route).observe(time.perf_counter() - started)


def _protected(scope: Scope) -> tuple[str, ...]:
    """The app's paths that need a key: /v1 and /metrics, and HMA's when it serves them."""
    found: tuple[str, ...] = getattr(scope["app"].state, "protected_paths", PROTECTED_PATHS)
    return found


def _services(scope: Scope) -> Any:
    return scope["app"].state.services


def _entry(scope: Scope, status: int, started: float, arrived: datetime) -> AuditEntry:
    state = scope.get("state", {})
    key = state.get("key")
    note = state.get("audit")
    # A desk request without a staff key may be a victim's: their address is never written.
    client = scope.get("client") if key is not None or not is_desk(scope["path"]) else None
    return AuditEntry(
        method=scope["method"],
        route=_route(scope),
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000),
        key_id=key.key_id if key is not None else None,
        role=key.role.value if key is not None else None,
        target=note.target if isinstance(note, AuditNote) else None,
        outcome=note.outcome if isinstance(note, AuditNote) else None,
        detail=note.detail if isinstance(note, AuditNote) else None,
        client=client[0] if client else None,
        at=arrived,
    )


def _route(scope: Scope) -> str:
    """The route template the request went to (``/v1/banks/{name}``); for a request refused
    before routing (no key), the route it would have gone to."""
    route = scope.get("route")
    if route is None:
        matched = [r for r in scope["app"].state.routes if r.matches(scope)[0] is not Match.NONE]
        full = [r for r in matched if r.matches(scope)[0] is Match.FULL]
        route = (full or matched or [None])[0]
    return getattr(route, "path", None) or "(no route)"


def _header(scope: Scope, wanted: bytes) -> bytes:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).lower()
    return b""


def content_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``; None when absent or not a number."""
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None
