"""The desk's staff pages: reviewers and trusted flaggers sign in with their API key (checked
as every API request's is, with its throttling), then see the queue, a case with its sealed
notes, and act on it; a flagger sees its own cases and opens new ones under a mandate.

A reviewer (``desk:review``) works every case; a flagger (``desk:report``) opens cases under a
mandate and sees its own; the flagger holding a case, or an admin, reissues its secret and
withdraws it (as ``Desk`` allows). Each request re-reads the key: a revoked key ends the
session at once. The audit log records the key id of every staff request.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rempart.access.keys import Role
from rempart.desk import (
    AgeAnswer,
    Branch,
    CaseState,
    ItemState,
    Mandate,
    staff,
)
from rempart.desk.states import CASE_MOVES, ITEM_MOVES
from rempart.errors import RempartError
from rempart.server.auth import Permission, check_role
from rempart.server.desk.evidence_pages import case_evidence
from rempart.server.desk.forms import Form, choice, day
from rempart.server.desk.keys import SIGN_IN, has_desk, may, review_post, staff_key, staff_post
from rempart.server.desk.notice_pages import case_notices, notices, waiting
from rempart.server.desk.pages import (
    DeskRoute,
    Page,
    confirmed,
    desk,
    form_post,
    form_values,
    open_case,
    page_of,
    problem_page,
    redirect,
    render,
)
from rempart.server.desk.session import SessionKind
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services

__all__ = ["router"]

router = APIRouter(prefix="/desk/staff", route_class=DeskRoute, include_in_schema=False)


@router.get("")
async def sign_in_form(request: Request) -> Response:
    """Staff sign in with their API key."""
    return render(request, "staff/sign_in.html")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the key as the API does (throttled); a new staff session on success."""
    request.state.back = SIGN_IN
    page, form = await form_post(request)
    auth = services(request).auth
    try:
        key = await auth.verify(form.one("key"))
        auth.check_rate(key)
    except Problem as problem:
        return problem_page(request, "staff/sign_in.html", problem, page=page)
    if not has_desk(key):
        return render(
            request,
            "staff/sign_in.html",
            page=page,
            status=403,
            problem="unauthenticated",
            detail=f"the {key.role.value} role has no access to the desk",
        )
    request.state.key = key
    audit(request, target=key.key_id, outcome="signed-in", now=True)
    signed_in = page.signed_in(request, SessionKind.STAFF, key.key_id)
    return redirect(request, "/desk/staff/queue", signed_in)


@router.get("/queue")
async def queue(request: Request) -> Response:
    """Open cases (minors first, then those with sightings, then the oldest); a flagger's
    own only."""
    page = page_of(request)
    key = await staff_key(request, page.session)
    if key is None:
        return redirect(request, SIGN_IN, page)
    reviewer = may(key, Permission.DESK_REVIEW)
    flagger = None if reviewer else key.key_id
    cases = await run_in_threadpool(desk(request).queue, flagger_key_id=flagger)
    found = notices(request)
    clocks = await run_in_threadpool(found.case_clocks, [c.number for c in cases])
    return render(
        request,
        "staff/queue.html",
        page=page,
        key=key,
        cases=cases,
        clocks=clocks,
        waiting={
            case.number: sorted({host for _, host in waiting(found.book, case)}) for case in cases
        },
        reviewer=reviewer,
        may_report=may(key, Permission.DESK_REPORT),
    )


@router.get("/cases/{number}")
async def case_page(request: Request, number: str) -> Response:
    """A case: its items, sealed notes, events, and what this key may do to it."""
    page = page_of(request)
    key = await staff_key(request, page.session)
    if key is None:
        return redirect(request, SIGN_IN, page)
    found = desk(request)
    case = await run_in_threadpool(found.get, number, staff(key))  # a flagger: its own only
    reviewer = may(key, Permission.DESK_REVIEW)
    # Sealed text is opened only when asked for: each reading is an event of the case.
    sealed = None
    if request.query_params.get("sealed") == "1":
        sealed = await run_in_threadpool(found.sealed, number, staff(key))
    events = await run_in_threadpool(found.events, number)
    return render(
        request,
        "staff/case.html",
        page=page,
        case=case,
        **await case_notices(request, case, key),
        **await case_evidence(request, case, key),
        events=events,
        sealed=sealed,
        reviewer=reviewer,
        open=case.state is not CaseState.WITHDRAWN,
        # Withdrawing and reissuing the secret: the flagger holding the case, or an admin.
        holds=case.flagger_key_id == key.key_id or key.role is Role.ADMIN,
        case_moves=CASE_MOVES,
        item_moves=ITEM_MOVES,
        case_states=list(CaseState),
        branches=list(Branch),
        item_states=list(ItemState),
    )


def _back_to(request: Request, number: str, page: Page | None = None) -> Response:
    return redirect(request, f"/desk/staff/cases/{number}", page or page_of(request))


@router.post("/cases/{number}/move")
async def move(request: Request, number: str) -> Response:
    """Move the case to another state (with an optional sealed note)."""
    form, key = await review_post(request, number, "moved")
    to = choice(CaseState, form.one("state"))
    note = form.one("note") or None
    await run_in_threadpool(desk(request).move, number, to, staff(key), note=note)
    return _back_to(request, number)


@router.post("/cases/{number}/items/{item_id}/move")
async def move_item(request: Request, number: str, item_id: int) -> Response:
    """Move one item to another state."""
    form, key = await review_post(request, number, "item-moved")
    to = choice(ItemState, form.one("state"))
    await run_in_threadpool(desk(request).move_item, number, item_id, to, staff(key))
    return _back_to(request, number)


@router.post("/cases/{number}/items/{item_id}/confirm")
async def confirm(request: Request, number: str, item_id: int) -> Response:
    """Confirm an item's hash: from now on, platforms that check it block it."""
    _, key = await review_post(request, number, "confirmed")
    await run_in_threadpool(desk(request).confirm, number, item_id, staff(key))
    return _back_to(request, number)


@router.post("/cases/{number}/notes")
async def add_note(request: Request, number: str) -> Response:
    """Add a sealed note."""
    form, key = await review_post(request, number, "noted")
    text = form.one("text")
    if not text:
        raise Problem("invalid-request", "write the note first")
    await run_in_threadpool(desk(request).add_note, number, text, staff(key))
    return _back_to(request, number)


@router.post("/cases/{number}/withdraw")
async def withdraw(request: Request, number: str) -> Response:
    """Withdraw the case, as the victim asked (the flagger holding it, or an admin)."""
    _, form, key = await staff_post(request, f"/desk/staff/cases/{number}")
    audit(request, target=number, outcome="withdrawn", now=True)
    confirmed(form)
    await run_in_threadpool(desk(request).withdraw, number, staff(key))
    return _back_to(request, number)


@router.post("/cases/{number}/secret")
async def new_secret(request: Request, number: str) -> Response:
    """Issue the victim a new secret (the flagger holding the mandate, or an admin): a new
    card, shown once."""
    page, _, key = await staff_post(request, f"/desk/staff/cases/{number}")
    audit(request, target=number, outcome="new-secret", now=True)
    found = desk(request)
    secret = await run_in_threadpool(found.new_secret, number, staff(key))
    case = await run_in_threadpool(found.get, number)
    return render(request, "card.html", page=page, case=case, secret=secret)


@router.get("/new")
async def new_case_form(request: Request) -> Response:
    """A new case under a mandate."""
    page = page_of(request)
    key = await staff_key(request, page.session)
    if key is None:
        return redirect(request, SIGN_IN, page)
    check_role(key, Permission.DESK_REPORT)
    return render(request, "staff/new.html", page=page, **_new_case_values(None))


@router.post("/new")
async def new_case(request: Request) -> Response:
    """Open the case; the card shows its number and secret, to hand to the person."""
    page, form, key = await staff_post(request, "/desk/staff/new")
    check_role(key, Permission.DESK_REPORT)
    try:
        answer = choice(AgeAnswer, form.one("age"))
        mandate = Mandate(
            reference=form.one("reference"),
            scope=form.one("scope"),
            starts=day(form.one("starts")),
            ends=day(form.one("ends")) if form.one("ends") else None,
        )
        new = await open_case(request, page, form, answer, staff(key), mandate)
    except (Problem, RempartError) as error:
        values = _new_case_values(form)
        return problem_page(request, "staff/new.html", error, page=page, **values)
    audit(request, target=new.case.number, outcome="reported", now=True)
    return render(request, "card.html", page=page, status=201, case=new.case, secret=new.secret)


def _new_case_values(form: Form | None) -> dict[str, Any]:
    """What the new-case form shows: empty, or as sent (to correct it)."""

    def value(name: str) -> str:
        return form.one(name) if form is not None else ""

    return {
        "age": value("age"),
        "mandate": {name: value(name) for name in ("reference", "scope", "starts", "ends")},
        **form_values(form),
    }
