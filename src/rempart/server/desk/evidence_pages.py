"""The staff's removal checks and evidence, on a case's page: each URL item's last check and a
"Check now" button, a capture of an adult case's URL item with a reason, the case's captures
(kept until when, held and why, purged and why) with a form to hold, release or purge each,
and moving the case to the other branch.

Reviewers only (``desk:review``); every POST passes ``review_post`` (same origin, the
session's token, a live key, the role) and is audited with the case's number. The rules (no
capture of a minor's case, a reason each time) are ``Evidence``'s and ``Desk``'s: a refusal
shows as an error page and changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rempart.access.keys import ApiKey
from rempart.desk import Branch, Case, staff
from rempart.desk.evidence import Evidence
from rempart.desk.recheck import Rechecker
from rempart.server.auth import Permission
from rempart.server.desk.forms import Form, choice
from rempart.server.desk.keys import may, review_post
from rempart.server.desk.pages import DeskRoute, confirmed, desk, desk_part, page_of, redirect
from rempart.server.problems import Problem
from rempart.server.routes.common import services

__all__ = ["case_evidence", "router"]

router = APIRouter(prefix="/desk/staff", route_class=DeskRoute, include_in_schema=False)


def evidence(request: Request) -> Evidence:
    """The worker's evidence service; 503 ``desk-unavailable`` when the server has none."""
    return desk_part(
        services(request).evidence, "the desk's evidence is off: run rempart desk init"
    )


def rechecker(request: Request) -> Rechecker:
    """The worker's removal checks; 503 ``desk-unavailable`` when the server has none."""
    return desk_part(services(request).rechecker, "the desk's removal checks are off")


async def case_evidence(request: Request, case: Case, key: ApiKey) -> dict[str, Any]:
    """What a case's page shows of checks and evidence: each item's last check, and for a
    reviewer the case's captures (none while the server has no evidence service)."""
    found = services(request)
    checks = {}
    if found.rechecker is not None:
        checks = await run_in_threadpool(found.rechecker.checks, case.number)
    captures = []
    if found.evidence is not None and may(key, Permission.DESK_REVIEW):
        captures = await run_in_threadpool(found.evidence.captures, case.number, staff(key))
    return {
        "checks": checks,
        "captures": captures,
        "checking": found.rechecker is not None,
        "capturing": found.evidence is not None,
    }


def _back(request: Request, number: str) -> Response:
    return redirect(request, f"/desk/staff/cases/{number}", page_of(request))


def _reason(form: Form) -> str:
    """The form's reason; ``invalid-request`` when there is none (the service checks the rest)."""
    reason = form.one("reason")
    if not reason:
        raise Problem("invalid-request", "give a reason: it is recorded with who and when")
    return reason


async def _item_of(request: Request, number: str, item_id: int, key: ApiKey) -> None:
    """``invalid-request`` unless the item is one of the case's."""
    case = await run_in_threadpool(desk(request).get, number, staff(key))
    if all(item.id != item_id for item in case.items):
        raise Problem("invalid-request", f"item {item_id} is not one of case {case.number}'s")


async def _capture_of(request: Request, number: str, capture_id: int, key: ApiKey) -> None:
    """``evidence-not-found`` unless the capture is one of the case's."""
    capture = await run_in_threadpool(evidence(request).get, capture_id, staff(key))
    case = await run_in_threadpool(desk(request).get, number, staff(key))
    if capture.case != case.number:
        raise Problem("evidence-not-found", f"no capture {capture_id} in case {number}")


@router.post("/cases/{number}/items/{item_id}/check")
async def check_now(request: Request, number: str, item_id: int) -> Response:
    """Check the item's URL now (a minor's item: HEAD only), whether it is due or not."""
    _, key = await review_post(request, number, "checked")
    await _item_of(request, number, item_id, key)
    await run_in_threadpool(lambda: rechecker(request).recheck(items=[item_id], actor=staff(key)))
    return _back(request, number)


@router.post("/cases/{number}/items/{item_id}/capture")
async def capture(request: Request, number: str, item_id: int) -> Response:
    """Capture the item's URL as evidence (an adult case's only), with the reviewer's reason."""
    form, key = await review_post(request, number, "evidence-captured")
    reason = _reason(form)
    await _item_of(request, number, item_id, key)
    found = evidence(request)
    await run_in_threadpool(lambda: found.capture(item_id, staff(key), reason=reason))
    return _back(request, number)


@router.post("/cases/{number}/evidence/{capture_id}/{action}")
async def keep_or_purge(request: Request, number: str, capture_id: int, action: str) -> Response:
    """Hold a capture for proceedings, release it, or purge it now, with a reason."""
    form, key = await review_post(request, number, f"evidence-{action}")
    found = evidence(request)
    act = {"hold": found.hold, "release": found.release, "purge": found.purge}.get(action)
    if act is None:
        raise Problem("not-found", f"no action {action[:20]!r} on a capture")
    reason = _reason(form)
    await _capture_of(request, number, capture_id, key)
    await run_in_threadpool(lambda: act(capture_id, staff(key), reason=reason))
    return _back(request, number)


@router.post("/cases/{number}/branch")
async def move_branch(request: Request, number: str) -> Response:
    """Move the case to the other branch (to minor: its words, notes and captures erased at
    once), once the reviewer ticked the box, with a reason."""
    form, key = await review_post(request, number, "branch-moved")
    to = choice(Branch, form.one("branch"))
    reason = _reason(form)
    confirmed(form)
    found = desk(request)
    await run_in_threadpool(lambda: found.move_branch(number, to, staff(key), reason=reason))
    return _back(request, number)
