"""The desk's cases over the API: a flagger reports, follows and (for the victim) withdraws its
own cases (``desk:report``), a reviewer works every case (``desk:review``); an admin does both.
Only hashes, URLs and words travel: a body that is not JSON (an image, a multipart form) is 415
and nothing is stored."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.access.keys import ApiKey
from rempart.desk import (
    AgeAnswer,
    Case,
    CaseState,
    Desk,
    ItemInput,
    ItemState,
    Mandate,
    staff,
)
from rempart.desk.model import MAX_ITEMS, MAX_TEXT
from rempart.server.auth import PERMISSIONS, Permission, require
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services

router = APIRouter(prefix="/v1/cases", tags=["cases"])

_REPORTERS: Final = require(Permission.DESK_REPORT)
_REVIEWERS: Final = require(Permission.DESK_REVIEW)
_READERS: Final = require(Permission.DESK_REPORT, Permission.DESK_REVIEW)


class ItemBody(BaseModel):
    """What to take down: a URL, a PDQ hash made where the photo is, or both."""

    url: str | None = Field(default=None, description="Where it is, http(s).")
    pdq: str | None = Field(default=None, description="Its PDQ hash, 64 hex digits.")
    quality: int | None = Field(
        default=None, description="The hash's quality, 0-100 (50 at least)."
    )


class MandateBody(BaseModel):
    """The victim's mandate to the flagger; the signed paper stays with the association."""

    reference: str = Field(max_length=200)
    scope: str = Field(max_length=2000)
    starts: date
    ends: date | None = None


class CaseCreate(BaseModel):
    """A new case."""

    age: AgeAnswer = Field(
        description="The person's age when the image was made (under-18 and unsure open a "
        "minor's case: hashes, URLs and metadata only)."
    )
    items: list[ItemBody] = Field(min_length=1, max_length=MAX_ITEMS)
    words: str | None = Field(
        default=None, max_length=MAX_TEXT, description="The victim's words, sealed (adults only)."
    )
    language: str = Field(default="en", max_length=8)
    mandate: MandateBody | None = Field(default=None, description="Required from a flagger.")


class ItemsAdd(BaseModel):
    """More items for a case."""

    items: list[ItemBody] = Field(min_length=1, max_length=MAX_ITEMS)


class CaseMove(BaseModel):
    """A case's next state, and a note sealed with it (adults' cases only)."""

    state: CaseState = Field(description="Withdrawn is reached only through /withdraw.")
    note: str | None = Field(default=None, max_length=MAX_TEXT)


class ItemMove(BaseModel):
    """An item's next state."""

    state: ItemState


def _desk(request: Request) -> Desk:
    desk = services(request).desk
    if desk is None:
        raise Problem(
            "desk-unavailable",
            "the desk is off on this server: create its key file (rempart desk init), then "
            "restart the server",
        )
    return desk


def _reviews(key: ApiKey) -> bool:
    return Permission.DESK_REVIEW in PERMISSIONS[key.role]


async def _visible(request: Request, key: ApiKey, number: str) -> Case:
    """The case, if the key may see it: a reviewer any, a flagger its own (else the 404 a
    number no case has gets, word for word, so that a flagger learns nothing of others')."""
    return await run_in_threadpool(_desk(request).get, number, staff(key))


def _items(bodies: list[ItemBody]) -> list[ItemInput]:
    return [ItemInput(url=body.url, pdq=body.pdq, quality=body.quality) for body in bodies]


def _mandate(body: MandateBody | None) -> Mandate | None:
    if body is None:
        return None
    return Mandate(reference=body.reference, scope=body.scope, starts=body.starts, ends=body.ends)


def _noted(request: Request, case: Case, outcome: str) -> JSONResponse:
    """The case as JSON, its change audited: the number and what changed, never sealed text."""
    audit(request, target=case.number, outcome=outcome, now=True)
    return JSONResponse(case.to_json())


@router.post(
    "",
    summary="Report a case (its secret is in this response only)",
    status_code=201,
)
async def create_case(
    request: Request, body: CaseCreate, key: Annotated[ApiKey, Depends(_REPORTERS)]
) -> JSONResponse:
    """The case, and ``secret``: shown this once, for the victim's card; only its SHA-256 is
    stored. A flagger gives the victim's ``mandate``."""
    desk = _desk(request)
    new = await run_in_threadpool(
        lambda: desk.report(
            body.age,
            _items(body.items),
            words=body.words,
            language=body.language,
            actor=staff(key),
            mandate=_mandate(body.mandate),
        )
    )
    case = new.case
    audit(
        request,
        target=case.number,
        outcome="reported",
        detail={"branch": case.branch.value, "items": len(case.items)},
        now=True,
    )
    return JSONResponse({**case.to_json(), "secret": new.secret}, status_code=201)


@router.get("", summary="The queue of open cases (a flagger's own)")
async def list_cases(
    request: Request,
    key: Annotated[ApiKey, Depends(_READERS)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """``{"cases": [...]}``: open cases, minors' first, then those with a sighted or
    reappeared item, then the oldest."""
    desk = _desk(request)
    mine = None if _reviews(key) else key.key_id
    found = await run_in_threadpool(lambda: desk.queue(flagger_key_id=mine, limit=limit))
    return JSONResponse({"cases": [case.to_json() for case in found]})


@router.get("/{number}", summary="A case, its items and its events")
async def show_case(
    request: Request, number: str, key: Annotated[ApiKey, Depends(_READERS)]
) -> JSONResponse:
    """The case with ``events``, oldest first; never sealed text, never the secret."""
    case = await _visible(request, key, number)
    events = await run_in_threadpool(_desk(request).events, case.number)
    return JSONResponse({**case.to_json(), "events": [event.to_json() for event in events]})


@router.post("/{number}/items", summary="Add items to a case")
async def add_items(
    request: Request, number: str, body: ItemsAdd, key: Annotated[ApiKey, Depends(_REPORTERS)]
) -> JSONResponse:
    """The case with its new items; their hashes match at once, as the first ones did."""
    case = await _visible(request, key, number)
    desk = _desk(request)
    case = await run_in_threadpool(
        lambda: desk.add_items(case.number, _items(body.items), staff(key))
    )
    return _noted(request, case, f"{len(body.items)} added")


@router.post("/{number}/move", summary="Move a case to another state")
async def move_case(
    request: Request, number: str, body: CaseMove, key: Annotated[ApiKey, Depends(_REVIEWERS)]
) -> JSONResponse:
    """The case moved; 409 ``case-state-conflict``, naming the moves allowed, for another."""
    desk = _desk(request)
    case = await run_in_threadpool(
        lambda: desk.move(number, body.state, staff(key), note=body.note)
    )
    return _noted(request, case, f"moved to {body.state.value}")


@router.post("/{number}/items/{item_id}/move", summary="Move an item to another state")
async def move_item(
    request: Request,
    number: str,
    item_id: int,
    body: ItemMove,
    key: Annotated[ApiKey, Depends(_REVIEWERS)],
) -> JSONResponse:
    """The case with the item moved; 409 ``case-state-conflict`` for a move not allowed."""
    desk = _desk(request)
    case = await run_in_threadpool(lambda: desk.move_item(number, item_id, body.state, staff(key)))
    return _noted(request, case, f"item {item_id} moved to {body.state.value}")


@router.post(
    "/{number}/items/{item_id}/confirm",
    summary="Confirm an item's hash: from now on it blocks",
)
async def confirm_item(
    request: Request, number: str, item_id: int, key: Annotated[ApiKey, Depends(_REVIEWERS)]
) -> JSONResponse:
    """The case; the item's hash is in the confirmed desk bank, and blocks on every worker
    within seconds. 422 ``case-invalid`` for an item without a hash."""
    desk = _desk(request)
    case = await run_in_threadpool(lambda: desk.confirm(number, item_id, staff(key)))
    return _noted(request, case, f"item {item_id} confirmed")


@router.post("/{number}/withdraw", summary="Withdraw a case: its hashes stop matching")
async def withdraw_case(
    request: Request, number: str, key: Annotated[ApiKey, Depends(_REPORTERS)]
) -> JSONResponse:
    """The case withdrawn, as its victim asked the flagger holding it (or an admin): its
    hashes stop matching on every worker within seconds (but a hash another open case reported
    too), its sealed fields are erased."""
    case = await _visible(request, key, number)
    desk = _desk(request)
    case = await run_in_threadpool(lambda: desk.withdraw(case.number, staff(key)))
    return _noted(request, case, "withdrawn")


@router.post("/{number}/secret", summary="Issue the case a new secret (the old one dies)")
async def new_secret(
    request: Request, number: str, key: Annotated[ApiKey, Depends(_REPORTERS)]
) -> JSONResponse:
    """``{"number", "secret"}``, shown this once: for the flagger holding the case's mandate,
    or an admin."""
    case = await _visible(request, key, number)
    desk = _desk(request)
    secret = await run_in_threadpool(lambda: desk.new_secret(case.number, staff(key)))
    audit(request, target=case.number, outcome="new secret", now=True)
    return JSONResponse({"number": case.number, "secret": secret})
