"""The FastAPI application: API v1, probes and metrics, with errors as problem details.

``create_app(settings)`` builds one app; ``rempart serve`` starts ``app_from_environment``
in each worker. Each worker opens the database (migrating it), loads the match index on a
thread, and follows the database from then on (see ``services``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from rempart import __version__
from rempart.config import Settings, load_settings
from rempart.errors import RempartError
from rempart.runtime import Runtime
from rempart.server.middleware import (
    PROTECTED_PATHS,
    Authentication,
    BodyLimit,
    Recorder,
    SecurityHeaders,
    problem_answer,
)
from rempart.server.problems import (
    PROBLEMS,
    Problem,
    error_problem,
    invalid_request,
    problem_response,
)
from rempart.server.routes import (
    admin,
    banks,
    cases,
    checks,
    docs,
    health,
    hma,
    models,
    notices,
    persons,
)
from rempart.server.routes.common import is_json, media_type
from rempart.server.services import Services
from rempart.store import Store

__all__ = [
    "DESK_ENV",
    "WORKERS_ENV",
    "app_from_environment",
    "create_app",
    "handle_errors",
]

WORKERS_ENV: Final = "WEB_CONCURRENCY"  # how many workers serve; set by ``rempart serve``
# "1" when ``rempart serve --desk`` serves the desk's pages (not REMPART_: that is settings').
DESK_ENV: Final = "RMP_SERVE_DESK"
_LOG = logging.getLogger(__name__)


def create_app(settings: Settings, *, workers: int = 1, desk: bool = False) -> FastAPI:
    """The application; the database is opened when it starts, not here. ``desk``: with the
    desk's pages at ``/desk`` (``DeskKeyError`` without its key file)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, Store.open(settings.database_url))
        services = Services(runtime, workers=workers, serve_desk=desk)
        app.state.services = services
        services.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Rempart",
        version=__version__,
        summary="Hash matching, scanning and the generation gate against sexual deepfakes, "
        "NCII and sexualised imagery of minors.",
        lifespan=lifespan,
        docs_url=None,  # served from the installed Swagger UI bundle, not a CDN (routes.docs)
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    routers = [
        module.router
        for module in (health, checks, models, banks, persons, cases, notices, admin, docs)
    ]
    routers += [notices.platforms_router, persons.old_router]
    # HMA's own paths, only when asked (REMPART_HMA_COMPAT): else they are 404.
    app.state.protected_paths = PROTECTED_PATHS
    app.state.message_paths = ()  # where a problem carries HMA's "message" (problem_answer)
    if settings.hma_compat:
        routers.append(hma.router)
        app.state.protected_paths = (*PROTECTED_PATHS, *hma.HMA_PATHS)
        app.state.message_paths = hma.HMA_PATHS
    for router in routers:
        app.include_router(router)
    # Every route, for naming in the audit log a request refused before it was routed.
    app.state.routes = [route for router in routers for route in router.routes]
    if desk:  # imported only then: the pages need the desk extra
        from rempart.server.desk import mount

        mount(app, settings)
    handle_errors(app)
    _document_keys(app)
    # Outermost last: every request is recorded, keys are checked before bodies are read.
    app.add_middleware(
        BodyLimit, limit=settings.api_max_body_bytes, timeout=settings.api_body_timeout
    )
    app.add_middleware(Authentication)
    app.add_middleware(Recorder)
    app.add_middleware(SecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """The app as a worker of ``rempart serve`` builds it, from ``REMPART_*`` variables."""
    workers = int(os.environ.get(WORKERS_ENV, "1"))
    desk = os.environ.get(DESK_ENV) == "1"
    return create_app(load_settings(os.environ), workers=workers, desk=desk)


def _document_keys(app: FastAPI) -> None:
    """Say in the OpenAPI document that ``/v1`` and ``/metrics`` need a bearer key (the
    ``Authentication`` middleware checks it, so no route declares it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `rempart key create --role ROLE`.",
                }
            }
            for path, operations in schema["paths"].items():
                if path.startswith(app.state.protected_paths):
                    for operation in operations.values():
                        operation["security"] = [{"apiKey": []}]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def handle_errors(app: FastAPI) -> None:
    """Every error becomes a problem document with a stable type: Rempart's own by the type
    each ``RempartError`` names, the framework's by their status."""

    def handler(convert: type[Exception], to_problem: object) -> None:
        async def handle(request: Request, exc: Exception) -> Response:
            return problem_answer(request.scope, to_problem(exc))  # type: ignore[operator]

        app.add_exception_handler(convert, handle)

    handler(Problem, lambda exc: exc)
    handler(RempartError, error_problem)
    # A client that hangs up mid-body: no server error, no traceback in the log.
    handler(
        ClientDisconnect,
        lambda exc: Problem("invalid-request", "the client closed the connection mid-body"),
    )
    handler(HTTPException, _http_problem)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_answer(request.scope, _validation_problem(exc, request))

    app.add_exception_handler(RequestValidationError, invalid)

    async def internal(request: Request, exc: Exception) -> Response:
        _LOG.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(PROBLEMS["internal-error"], "the server failed; see its log")

    app.add_exception_handler(Exception, internal)


def _validation_problem(exc: RequestValidationError, request: Request) -> Problem:
    """422 ``invalid-request`` listing what is wrong; but a JSON body that cannot be parsed is
    400 ``malformed-body``, and a body sent as another type than JSON is 415."""
    raw = exc.errors()
    if any(error["type"] == "json_invalid" for error in raw):
        return Problem("malformed-body", f"the body is not valid JSON: {_json_error(raw)}")
    sent = media_type(request)
    if sent and not is_json(sent) and any(error["loc"][:1] == ("body",) for error in raw):
        return Problem(
            "unsupported-media-type",
            f"send the body as application/json (got {sent!r})",
        )
    return invalid_request(raw)


def _json_error(errors: Any) -> str:
    found = next(error for error in errors if error["type"] == "json_invalid")
    return str(found.get("ctx", {}).get("error") or found["msg"])


def _http_problem(exc: HTTPException) -> Problem:
    slug = {
        400: "malformed-body",
        404: "not-found",
        405: "method-not-allowed",
        413: "body-too-large",
    }.get(exc.status_code, "invalid-request")
    return Problem(slug, str(exc.detail), headers=exc.headers)
