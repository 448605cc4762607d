"""Administration: API keys and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.access.audit import read_audit
from rempart.access.keys import MAX_NAME_LENGTH, Role
from rempart.server.auth import Permission, require
from rempart.server.routes.common import audit, runtime, services

router = APIRouter(prefix="/v1", tags=["admin"])


class KeyCreate(BaseModel):
    """A key to create."""

    role: Role
    name: str = Field(default="", max_length=MAX_NAME_LENGTH)
    rate_limit: int | None = Field(default=None, ge=1, description="Requests a second.")


@router.get(
    "/keys", summary="List API keys", dependencies=[Depends(require(Permission.KEYS_ADMIN))]
)
async def list_keys(request: Request) -> JSONResponse:
    """``{"keys": [{"key_id", "name", "role", "rate_limit", "created_at", "revoked_at"}]}``;
    never a secret or its hash."""
    keys = await run_in_threadpool(services(request).keys.list)
    return JSONResponse({"keys": [key.to_json() for key in keys]})


@router.post(
    "/keys",
    summary="Create an API key (its secret is in this response only)",
    status_code=201,
    dependencies=[Depends(require(Permission.KEYS_ADMIN))],
)
async def create_key(request: Request, body: KeyCreate) -> JSONResponse:
    """The key, and ``secret``: shown this once; only its Argon2 hash is stored."""
    new = await run_in_threadpool(
        lambda: services(request).keys.create(body.role, name=body.name, rate_limit=body.rate_limit)
    )
    audit(
        request,
        target=new.key.key_id,
        outcome="created",
        detail={"role": body.role.value},
        now=True,
    )
    return JSONResponse({**new.key.to_json(), "secret": new.secret}, status_code=201)


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key",
    dependencies=[Depends(require(Permission.KEYS_ADMIN))],
)
async def revoke_key(request: Request, key_id: str) -> JSONResponse:
    """The key as revoked; every worker refuses it within seconds."""
    key = await run_in_threadpool(services(request).keys.revoke, key_id)
    audit(request, target=key_id, outcome="revoked", now=True)
    return JSONResponse(key.to_json())


@router.get(
    "/audit", summary="Read the audit log", dependencies=[Depends(require(Permission.AUDIT_READ))]
)
async def read_log(
    request: Request,
    after: Annotated[int, Query(ge=0, description="Entries with an id above this.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    key_id: Annotated[str | None, Query(max_length=32)] = None,
) -> JSONResponse:
    """``{"entries": [{"id", "at", "key_id", "role", "method", "route", "target", "status",
    "outcome", "detail", "client", "duration_ms"}]}``, oldest first."""
    entries = await run_in_threadpool(
        lambda: read_audit(runtime(request).store, after=after, limit=limit, key_id=key_id)
    )
    return JSONResponse({"entries": entries})
