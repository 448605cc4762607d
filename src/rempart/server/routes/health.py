"""``/healthz`` (the process answers), ``/readyz`` (it can serve), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, Response

from rempart.server import metrics
from rempart.server.auth import Permission, require
from rempart.server.routes.common import runtime

router = APIRouter(tags=["probes"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the process runs; no key needed."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the hash banks are loaded")
async def readyz(request: Request) -> JSONResponse:
    """200 once the match index is loaded, else 503 with the reason; no key needed."""
    found = runtime(request)
    if not found.ready:
        reason = found.load_error or "loading the hash banks"
        return JSONResponse({"status": "loading", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ready", "hashes": len(found.require_matcher())})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(require(Permission.METRICS))],
    response_class=Response,
)
async def metrics_endpoint() -> Response:
    """Requests, latency, verdicts and the match index, in Prometheus' text format."""
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)
