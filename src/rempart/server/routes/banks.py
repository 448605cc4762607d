"""Hash banks: create, list, stats, add, import, export, withdraw."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from typing import IO, Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse

from rempart.hashing.pdq import MATCH_THRESHOLD
from rempart.matching.banks import (
    EXPORT_FORMATS,
    Bank,
    Banks,
    HashListFormat,
    ImportReport,
    VideoThresholds,
    write_records,
)
from rempart.matching.banks.bank import MAX_SOURCE, MAX_THRESHOLD
from rempart.matching.formats import BankCategory
from rempart.server.auth import Permission, require
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, media_type, runtime

router = APIRouter(prefix="/v1/banks", tags=["banks"])

_SPOOL_BYTES: Final = 8 * 1024 * 1024
_CHUNK: Final = 256 * 1024
_TEXT_TYPES: Final = ("text/", "application/json", "application/x-ndjson", "application/jsonl")


class VideoThresholdsBody(BaseModel):
    """How a bank's videos match (vPDQ); fields left out keep their value (on creation, the
    reference's: 50, 31, 80, 0)."""

    quality: int | None = Field(default=None, ge=0, le=100)
    distance: int | None = Field(default=None, ge=0, le=MAX_THRESHOLD)
    query_percent: float | None = Field(default=None, gt=0, le=100)
    stored_percent: float | None = Field(default=None, ge=0, le=100)

    def over(self, base: VideoThresholds) -> VideoThresholds:
        """``base`` with the values given here."""
        return replace(base, **self.model_dump(exclude_none=True))


class BankCreate(BaseModel):
    """A new bank."""

    name: str = Field(description="1 to 64 letters, digits, '.', '_' or '-'.")
    description: str = Field(default="", max_length=2000)
    source: str = Field(
        default="local",
        min_length=1,
        max_length=MAX_SOURCE,
        description="Where its hashes come from: local, stopncii, ncmec...",
    )
    category: BankCategory | None = Field(
        default=None,
        description="What its images are [default: child_sexual_abuse for a child-protection "
        "source (ncmec, iwf, thorn, c3p), else ncii].",
    )
    threshold: int = Field(default=MATCH_THRESHOLD, ge=0, le=MAX_THRESHOLD)
    enabled: bool = True
    video_thresholds: VideoThresholdsBody | None = None


class BankUpdate(BaseModel):
    """What to change in a bank; fields left out stay as they are."""

    description: str | None = Field(default=None, max_length=2000)
    threshold: int | None = Field(default=None, ge=0, le=MAX_THRESHOLD)
    enabled: bool | None = None
    category: BankCategory | None = None
    video_thresholds: VideoThresholdsBody | None = None


class HashAdd(BaseModel):
    """One hash to add, with where it came from: a PDQ hash, or a file's exact digest."""

    hash: str = Field(description="A PDQ hash, 64 hex digits; or the digest ``kind`` says.")
    kind: Literal["pdq", "md5", "sha256"] = Field(
        default="pdq", description="pdq, or md5 / sha256: an exact digest of a file's bytes."
    )
    quality: int | None = Field(default=None, ge=0, le=100)
    source_ref: str | None = Field(default=None, max_length=512)
    note: str | None = Field(default=None, max_length=2000)


class Withdrawal(BaseModel):
    """Entries to withdraw, by hash, by exact digest (md5, sha256) or by entry id, and why."""

    hashes: list[str] = Field(default_factory=list, max_length=10_000)
    entry_ids: list[int] = Field(default_factory=list, max_length=10_000)
    md5: list[str] = Field(default_factory=list, max_length=10_000)
    sha256: list[str] = Field(default_factory=list, max_length=10_000)
    reason: str = Field(default="", max_length=2000)


def _banks(request: Request) -> Banks:
    return runtime(request).banks


@router.get("", summary="List banks", dependencies=[Depends(require(Permission.BANKS_READ))])
async def list_banks(request: Request) -> JSONResponse:
    """``{"banks": [{"name", "description", "source", "category", "threshold", ...}]}``."""
    found = await run_in_threadpool(_banks(request).list)
    return JSONResponse({"banks": [bank.to_json() for bank in found]})


@router.post(
    "",
    summary="Create a bank",
    status_code=201,
    dependencies=[Depends(require(Permission.BANKS_ADMIN))],
)
async def create_bank(request: Request, body: BankCreate) -> JSONResponse:
    """The bank created; 409 ``bank-exists`` when the name is taken."""
    bank = await run_in_threadpool(
        lambda: _banks(request).create(
            body.name,
            description=body.description,
            source=body.source,
            category=body.category,
            threshold=body.threshold,
            enabled=body.enabled,
            video=body.video_thresholds.over(VideoThresholds()) if body.video_thresholds else None,
        )
    )
    audit(request, target=bank.name, outcome="created", now=True)
    return JSONResponse(bank.to_json(), status_code=201)


@router.get(
    "/{name}",
    summary="A bank and its counts",
    dependencies=[Depends(require(Permission.BANKS_READ))],
)
async def bank_stats(request: Request, name: str) -> JSONResponse:
    """The bank with its active and withdrawn counts and when it last changed."""
    stats = await run_in_threadpool(_banks(request).stats, name)
    return JSONResponse(stats.to_json())


@router.patch(
    "/{name}",
    summary="Change a bank's description, threshold or enabled flag",
    dependencies=[Depends(require(Permission.BANKS_ADMIN))],
)
async def update_bank(request: Request, name: str, body: BankUpdate) -> JSONResponse:
    """The bank as changed; every worker applies it within seconds."""
    banks = _banks(request)

    def update() -> Bank:
        video = body.video_thresholds
        return banks.update(
            name,
            description=body.description,
            threshold=body.threshold,
            enabled=body.enabled,
            category=body.category,
            video=None if video is None else video.over(banks.get(name).video),
        )

    bank = await run_in_threadpool(update)
    audit(
        request, target=name, outcome="updated", detail=body.model_dump(exclude_none=True), now=True
    )
    return JSONResponse(bank.to_json())


@router.post(
    "/{name}/hashes",
    summary="Add one hash",
    status_code=201,
    dependencies=[Depends(require(Permission.BANKS_ADD))],
)
async def add_hash(request: Request, name: str, body: HashAdd) -> JSONResponse:
    """The import report of the one hash: 201 with ``added`` 1, or 200 with
    ``already_present`` 1 (or ``already_withdrawn`` 1: a withdrawn hash is not restored)."""
    banks = _banks(request)
    if body.kind == "pdq":
        report = await run_in_threadpool(
            lambda: banks.add(
                name, body.hash, quality=body.quality, source_ref=body.source_ref, note=body.note
            )
        )
    else:
        report = await run_in_threadpool(
            lambda: banks.add_digest(
                name, body.kind, body.hash, source_ref=body.source_ref, note=body.note
            )
        )
    _note_import(request, name, report)
    return JSONResponse(report.to_json(), status_code=201 if report.added else 200)


@router.post(
    "/{name}/import",
    summary="Import a hash list, all or nothing",
    dependencies=[Depends(require(Permission.BANKS_ADMIN))],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The hash list as UTF-8 text (hex, pytx, csv, jsonl, te or stopncii).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def import_hashes(
    request: Request,
    name: str,
    list_format: Annotated[
        HashListFormat | None,
        Query(alias="format", description="The list's format [default: from its first line]."),
    ] = None,
) -> JSONResponse:
    """``{"bank", "import_id", "added", "already_present", ...}``. An invalid line imports
    nothing (422 ``import-invalid``, with its ``line`` and byte ``offset``), and nor does a
    request cut off: the list is committed in one transaction once it has all arrived."""
    content_type = media_type(request)
    if not content_type.startswith(_TEXT_TYPES) and content_type != "application/octet-stream":
        raise Problem(
            "unsupported-media-type",
            f"send the hash list as text, e.g. Content-Type text/plain (got {content_type!r})",
        )
    banks = _banks(request)
    await run_in_threadpool(banks.get, name)  # an unknown bank is named before the list is read
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed below
    try:
        async for chunk in request.stream():
            await run_in_threadpool(spool.write, chunk)  # past 8 MiB, a disk write
        spool.seek(0)
        report = await run_in_threadpool(
            lambda: banks.import_list(name, spool, origin="api", fmt=list_format)
        )
    finally:
        spool.close()
    _note_import(request, name, report)
    return JSONResponse(report.to_json())


def _note_import(request: Request, name: str, report: ImportReport) -> None:
    audit(
        request,
        target=name,
        outcome=f"{report.added} added",
        detail={
            "import_id": report.import_id,
            "added": report.added,
            "already_present": report.already_present,
            "withdrawn": report.withdrawn,
        },
        now=True,
    )


@router.get(
    "/{name}/export",
    summary="Export a bank's hashes",
    dependencies=[Depends(require(Permission.BANKS_EXPORT))],
    response_class=StreamingResponse,
)
async def export_hashes(
    request: Request,
    name: str,
    list_format: Annotated[
        str, Query(alias="format", description=f"One of {', '.join(EXPORT_FORMATS)}.")
    ] = HashListFormat.PYTX.value,
    include_withdrawn: bool = False,
) -> StreamingResponse:
    """The bank's hashes as text, pytx by default (readable by python-threatexchange)."""
    if list_format not in EXPORT_FORMATS:
        raise Problem(
            "invalid-request",
            f"cannot export as {list_format!r}; choose one of {', '.join(EXPORT_FORMATS)}",
        )
    banks = _banks(request)
    spool = await run_in_threadpool(
        _export, banks, name, HashListFormat(list_format), include_withdrawn
    )
    audit(request, target=name, outcome="exported", detail={"format": list_format})
    return StreamingResponse(_chunks(spool), media_type="text/plain; charset=utf-8")


def _export(banks: Banks, name: str, fmt: HashListFormat, include_withdrawn: bool) -> IO[bytes]:
    banks.get(name)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - read, closed
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_records(banks.entries(name, include_withdrawn=include_withdrawn), fmt, text)
    text.flush()
    text.detach()
    spool.seek(0)
    return spool


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(_CHUNK):
            yield chunk


@router.post(
    "/{name}/withdraw",
    summary="Withdraw hashes: they stop matching within seconds, and stay on record",
    dependencies=[Depends(require(Permission.BANKS_WITHDRAW))],
)
async def withdraw(request: Request, name: str, body: Withdrawal) -> JSONResponse:
    """``{"bank", "withdrawn", "already_withdrawn", "not_found"}``."""
    digests = [("md5", d) for d in body.md5] + [("sha256", d) for d in body.sha256]
    if not body.hashes and not body.entry_ids and not digests:
        raise Problem("invalid-request", "give hashes, md5, sha256 or entry_ids to withdraw")
    report = await run_in_threadpool(
        lambda: _banks(request).withdraw(
            name,
            hashes=body.hashes,
            entry_ids=body.entry_ids,
            digests=digests,
            reason=body.reason,
        )
    )
    detail: dict[str, Any] = {"withdrawn": report.withdrawn, "reason": body.reason[:200]}
    audit(request, target=name, outcome=f"{report.withdrawn} withdrawn", detail=detail, now=True)
    return JSONResponse(report.to_json())
