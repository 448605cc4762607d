"""The desk's notices to platforms over the API: drafted for a case's items, previewed as text,
HTML or PDF, sent (or their delivery by hand recorded), and the platform's answers, an
authority's order and escalations recorded; the items whose clocks run; the platforms known.

A reviewer works every case's notices (``desk:review``), a flagger those of the cases it holds
(``desk:report``: the service decides, and answers another's reference with the 404 a reference
no notice has). Only names, references and words travel: a body that is not JSON is 415."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from rempart.access.keys import ApiKey
from rempart.desk import staff
from rempart.desk.model import MAX_ITEMS, MAX_TEXT
from rempart.desk.notice_model import Decision, EscalationStep, Nature, Notice, ReplyKind
from rempart.desk.notices import Notices
from rempart.server.auth import Permission, require
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services

__all__ = ["platforms_router", "router"]

router = APIRouter(prefix="/v1/notices", tags=["notices"])
platforms_router = APIRouter(prefix="/v1/platforms", tags=["notices"])

_STAFF: Final = require(Permission.DESK_REPORT, Permission.DESK_REVIEW)
# A preview is the platform's to read, not the reviewer's browser's to run: no script, nothing
# loaded from anywhere, only the notice's own inline style; opened in a browser, a sandbox
# (an origin of its own, no form) that no page may frame.
PREVIEW_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; sandbox; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
JSON_LINES: Final = "application/x-ndjson"
_NAME: Final = 200  # characters in a name, a reference, a ticket number

Key = Annotated[ApiKey, Depends(_STAFF)]


class NoticeCreate(BaseModel):
    """A new draft to one platform for items of one case."""

    case: str = Field(max_length=40, description="The case's number, R-XXXXXXXXXX.")
    platform: str = Field(max_length=_NAME, description="The platform profile's name.")
    items: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="The case's item ids [default: every item with a URL on the platform that "
        "no other open notice names].",
    )
    nature: Nature | None = Field(
        default=None,
        description="What the items are (a minor's: csam or csam-deepfake) [default: ncii; "
        "a minor's case: csam].",
    )
    signatory: str | None = Field(
        default=None, max_length=_NAME, description="Who signs for the association (a flagger)."
    )
    language: str | None = Field(
        default=None, max_length=8, description="[default: the platform's language]."
    )


class SendBody(BaseModel):
    """Send a notice; ``again`` (a reviewer's) for one already sent."""

    again: bool = False


class DeliveryBody(BaseModel):
    """A notice delivered by hand (a web form, a letter)."""

    at: AwareDatetime = Field(description="When, with its offset; not in the future.")
    how: str = Field(min_length=1, max_length=MAX_TEXT, description="How it went.")
    ticket: str | None = Field(default=None, max_length=_NAME, description="The platform's ticket.")


class ReplyBody(BaseModel):
    """A platform's receipt or decision, on one item or all of the notice's."""

    kind: ReplyKind
    at: AwareDatetime | None = Field(default=None, description="[default: now].")
    item: int | None = Field(default=None, description="[default: every item of the notice].")
    decision: Decision | None = Field(default=None, description="With kind decision.")
    automated: bool | None = Field(default=None, description="Whether it was made automatically.")
    redress: str | None = Field(
        default=None, max_length=MAX_TEXT, description="The redress the platform offers."
    )
    reference: str | None = Field(
        default=None, max_length=_NAME, description="The platform's reference."
    )
    puid: str | None = Field(
        default=None,
        max_length=_NAME,
        description="The statement of reasons' PUID (DSA Transparency Database).",
    )


class OrderBody(BaseModel):
    """An authority's removal order."""

    reference: str = Field(min_length=1, max_length=_NAME, description="The order's reference.")
    at: AwareDatetime | None = Field(default=None, description="[default: now].")


class EscalationBody(BaseModel):
    """An escalation step taken."""

    step: EscalationStep
    item: int | None = Field(default=None, description="[default: every item of the notice].")
    target: str | None = Field(
        default=None, max_length=_NAME, description="[default: the step's usual target]."
    )


def _notices(request: Request) -> Notices:
    notices = services(request).notices
    if notices is None:
        raise Problem(
            "desk-unavailable",
            "the desk is off on this server: create its key file (rempart desk init), then "
            "restart the server",
        )
    return notices


async def _shown(notices: Notices, notice: Notice, key: ApiKey) -> dict[str, Any]:
    """The notice as JSON, with ``missing``: for one not sent yet, each element its
    jurisdictions need that it lacks (``{"element", "why"}``), which ``send`` would refuse."""
    shown = notice.to_json()
    if notice.sent_at is None:
        missing = await run_in_threadpool(notices.missing, notice.reference, staff(key))
        shown["missing"] = [{"element": element, "why": why} for element, why in missing]
    return shown


async def _noted(
    request: Request,
    notice: Notice,
    key: ApiKey,
    outcome: str,
    *,
    status_code: int = 200,
    **detail: Any,
) -> JSONResponse:
    """The notice as JSON, its change audited: the reference, the case and what changed;
    never a victim's name or a record's words."""
    audit(
        request,
        target=notice.reference,
        outcome=outcome,
        detail={"case": notice.case, "platform": notice.platform, **detail},
        now=True,
    )
    return JSONResponse(await _shown(_notices(request), notice, key), status_code=status_code)


@router.post("", summary="Draft a notice to a platform for items of a case", status_code=201)
async def draft_notice(request: Request, body: NoticeCreate, key: Key) -> JSONResponse:
    """The draft (201) with ``missing``: the elements it still lacks. 404
    ``platform-unknown``; 422 ``notice-invalid`` (``element`` ``url``) for an item without a
    URL or on another platform's host."""
    notices = _notices(request)
    notice = await run_in_threadpool(
        lambda: notices.draft(
            body.case,
            body.platform,
            staff(key),
            item_ids=body.items,
            nature=body.nature,
            signatory=body.signatory,
            language=body.language,
        )
    )
    items = len(notice.clocks)
    return await _noted(request, notice, key, "drafted", status_code=201, items=items)


@router.get("", summary="A case's notices")
async def list_notices(
    request: Request,
    key: Key,
    case: Annotated[str, Query(max_length=40, description="The case's number.")],
) -> JSONResponse:
    """``{"notices": [...]}``, oldest first (without ``missing``: ask for one notice)."""
    notices = _notices(request)
    found = await run_in_threadpool(notices.for_case, case, staff(key))
    return JSONResponse({"notices": [notice.to_json() for notice in found]})


@router.get("/due", summary="The items whose clocks run, most urgent first")
async def due_items(
    request: Request,
    key: Key,
    output: Annotated[
        Literal["json", "jsonl"] | None,
        Query(alias="format", description="jsonl: one item a line [default: as Accept asks]."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> Response:
    """``{"due": [...]}``: minors' items first, then overdue, then by due time (a flagger's
    own cases only); JSON Lines, one item a line, with ``?format=jsonl`` or ``Accept:
    application/x-ndjson``."""
    notices = _notices(request)
    found = await run_in_threadpool(lambda: notices.due(staff(key), limit=limit))
    records = [item.to_json() for item in found]
    lines = output == "jsonl" or (
        output is None and JSON_LINES in request.headers.get("accept", "")
    )
    if lines:
        text = "".join(json.dumps(record) + "\n" for record in records)
        return Response(text, media_type=JSON_LINES)
    return JSONResponse({"due": records})


@router.get("/{reference}", summary="A notice: its state, clocks, deliveries and replies")
async def show_notice(request: Request, reference: str, key: Key) -> JSONResponse:
    """The notice (``N-<id>``), with ``missing`` while it is not sent; never its record's
    sealed parts (the preview shows the record)."""
    notices = _notices(request)
    notice = await run_in_threadpool(notices.get, reference, staff(key))
    return JSONResponse(await _shown(notices, notice, key))


@router.get(
    "/{reference}/preview",
    summary="The notice as the platform reads it: text, HTML or PDF",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/plain": {},
                "text/html": {},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def preview_notice(
    request: Request,
    reference: str,
    key: Key,
    form: Annotated[
        Literal["text", "html", "pdf"], Query(alias="format", description="The rendering.")
    ] = "text",
) -> Response:
    """As sent (a sent notice's sealed record), or for a draft as it would be sent now. HTML
    under a policy that loads and runs nothing; a PDF (PDF/A-3b, its record attached as
    ``notice.json``) as an attachment ``N-<id>.pdf``."""
    notices = _notices(request)
    actor = staff(key)
    notice = await run_in_threadpool(notices.get, reference, actor)
    rendered = await run_in_threadpool(notices.render, notice.reference, actor, form)
    if isinstance(rendered, bytes):
        return Response(
            rendered,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{notice.reference}.pdf"'},
        )
    if form == "html":
        return Response(
            rendered,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": PREVIEW_POLICY},
        )
    return Response(rendered, media_type="text/plain; charset=utf-8")


@router.post("/{reference}/send", summary="Check every element, then send the notice")
async def send_notice(
    request: Request, reference: str, key: Key, body: SendBody | None = None
) -> JSONResponse:
    """The notice sent, its clocks started. 422 ``notice-invalid`` naming the first element
    missing (or ``channel`` for a platform whose notices go by hand: record the delivery, or
    ``state`` for one sent already unless a reviewer asks ``again``); 502 ``delivery-failed``
    (it stays drafted with the error, and may be sent again)."""
    notices = _notices(request)
    again = body is not None and body.again
    notice = await run_in_threadpool(lambda: notices.send(reference, staff(key), again=again))
    return await _noted(request, notice, key, "sent again" if again else "sent")


@router.post("/{reference}/deliveries", summary="Record a delivery made by hand")
async def record_delivery(
    request: Request, reference: str, body: DeliveryBody, key: Key
) -> JSONResponse:
    """The notice, sent at ``at`` (checked as a send is): its clocks run from then."""
    notices = _notices(request)
    notice = await run_in_threadpool(
        lambda: notices.record_delivery(
            reference, staff(key), at=body.at, how=body.how, ticket=body.ticket
        )
    )
    return await _noted(request, notice, key, "delivered by hand")


@router.post("/{reference}/replies", summary="Record a platform's receipt or decision")
async def record_reply(request: Request, reference: str, body: ReplyBody, key: Key) -> JSONResponse:
    """The notice; a decision stops the item's clock, and a removal moves the item."""
    notices = _notices(request)
    notice = await run_in_threadpool(
        lambda: notices.reply(
            reference,
            staff(key),
            kind=body.kind,
            at=body.at,
            item_id=body.item,
            decision=body.decision,
            automated=body.automated,
            redress=body.redress,
            platform_reference=body.reference,
            puid=body.puid,
        )
    )
    outcome = body.decision.value if body.decision is not None else body.kind.value
    return await _noted(request, notice, key, f"reply: {outcome}", item=body.item)


@router.post("/{reference}/order", summary="Record an authority's removal order")
async def record_order(request: Request, reference: str, body: OrderBody, key: Key) -> JSONResponse:
    """The notice; a jurisdiction that counts from an order (``fr-authority``) starts its
    clock at ``at``."""
    notices = _notices(request)
    notice = await run_in_threadpool(
        lambda: notices.order(
            reference,
            staff(key),
            at=body.at or notices.desk.clock.now(),
            order_ref=body.reference,
        )
    )
    return await _noted(request, notice, key, "order recorded")


@router.post("/{reference}/escalations", summary="Record an escalation step taken")
async def record_escalation(
    request: Request, reference: str, body: EscalationBody, key: Key
) -> JSONResponse:
    """The notice, with the step in ``escalations``."""
    notices = _notices(request)
    notice = await run_in_threadpool(
        lambda: notices.escalate(
            reference, staff(key), body.step, item_id=body.item, target=body.target
        )
    )
    return await _noted(request, notice, key, f"escalated: {body.step.value}", item=body.item)


@platforms_router.get("", summary="The platforms and jurisdictions notices can go to")
async def list_platforms(request: Request, key: Key) -> JSONResponse:
    """``{"dsa_hours", "jurisdictions", "platforms"}`` as ``rempart desk platforms --format
    json`` prints them: the built-in ones and the deployment's (``REMPART_DESK_PLATFORMS``);
    a jurisdiction's ``hours`` null when the deployment sets them (``dsa_hours``). Not the
    files they were read from: those are the server's."""
    book = _notices(request).book
    return JSONResponse(
        {
            "dsa_hours": services(request).runtime.settings.dsa_hours,
            "jurisdictions": [_public(law.to_json()) for law in book.jurisdictions.values()],
            "platforms": [_public(platform.to_json()) for platform in book.platforms.values()],
        }
    )


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """A platform's or jurisdiction's JSON without ``source``, the server's file and line."""
    return {name: value for name, value in entry.items() if name != "source"}
