"""``/healthz`` (the process answers), ``/readyz`` (it can serve, and how far it has applied the
database's change logs), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import os
from typing import Final

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from rempart.server import metrics
from rempart.server.auth import Permission, require
from rempart.server.routes.common import services

router = APIRouter(tags=["probes"])

# The number (0, 1, ...) of the worker process of ``rempart serve`` this is; set by ``launch``.
WORKER_ENV: Final = "RMP_SERVE_WORKER"


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the process runs; no key needed."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the hash banks are loaded")
async def readyz(request: Request) -> JSONResponse:
    """200 once the match index is loaded, else 503 with the reason; no key needed. Both say
    ``position``, how far the worker that answered has applied the change logs (``banks``: the
    last bank change in its index, -1 while it loads; ``persons``: the last person change;
    ``keys``: keys created plus keys revoked), and ``worker``, which worker of the server it
    is: a load balancer or a test waits for a position on every worker."""
    found = services(request)
    position = {**found.runtime.positions(), "keys": found.auth.position}
    worker = int(os.environ.get(WORKER_ENV, "0"))
    if not found.runtime.ready:
        reason = found.runtime.load_error or "loading the hash banks"
        return JSONResponse(
            {"status": "loading", "reason": reason, "position": position, "worker": worker},
            status_code=503,
        )
    hashes = len(found.runtime.require_matcher())
    body = {"status": "ready", "hashes": hashes, "position": position, "worker": worker}
    return JSONResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(require(Permission.METRICS))],
    response_class=Response,
)
async def metrics_endpoint() -> Response:
    """Requests, latency, verdicts and the match index, in Prometheus' text format."""
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)
