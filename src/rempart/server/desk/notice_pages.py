"""The staff's notice pages: draft a notice from a case's page, read it as it would go (its
text, its HTML in a sandboxed frame, its PDF), see what it lacks by name, send it (e-mail) or
record how it went by hand, record the platform's replies and an authority's order, take the
escalation steps its clocks suggest; and the platforms the desk knows.

The pages parse, call ``rempart.desk.notices.Notices`` and render; the rules (who may send,
what a notice must hold) are the service's. Every POST passes the staff checks (``staff_post``:
same origin, the session's token, a live key) and is audited with the notice's reference.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rempart.access.keys import ApiKey
from rempart.desk import Case, staff
from rempart.desk.notice_model import MINOR_NATURES, Decision, EscalationStep, Nature, ReplyKind
from rempart.desk.notices import Notices
from rempart.desk.platforms import Platform, PlatformBook
from rempart.server.auth import Permission
from rempart.server.desk.forms import Form, choice, local_moment
from rempart.server.desk.keys import SIGN_IN, may, staff_key, staff_post
from rempart.server.desk.pages import (
    DeskRoute,
    desk,
    desk_part,
    desk_web,
    page_of,
    redirect,
    render,
)
from rempart.server.middleware import DESK_PREVIEW_CONTENT_SECURITY_POLICY
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services

__all__ = ["case_notices", "notices", "router"]

NOTICES: Final = "/desk/staff/notices"
router = APIRouter(prefix="/desk/staff", route_class=DeskRoute, include_in_schema=False)


def notices(request: Request) -> Notices:
    """The worker's notices; 503 ``desk-unavailable`` when the server has none."""
    return desk_part(services(request).notices)


def waiting(book: PlatformBook, case: Case) -> list[tuple[int, str]]:
    """The case's items whose URL's host no platform profile names, with that host: they
    wait, in the queue and on the case's page, until a profile is added."""
    return [
        (item.id, urlsplit(item.url).hostname or item.url)
        for item in case.items
        if item.url is not None and book.for_url(item.url) is None
    ]


async def case_notices(request: Request, case: Case, key: ApiKey) -> dict[str, Any]:
    """What a case's page shows of its notices: each notice, and the items no notice names
    yet grouped by the platform that covers their host (those no profile names wait, saying
    which host)."""
    found = notices(request)
    listed = await run_in_threadpool(found.for_case, case.number, staff(key))
    # An item already in a notice to its platform is not offered again.
    noticed = {(n.platform, clock.item_id) for n in listed for clock in n.clocks}
    platforms: dict[str, Platform] = {}
    covered: defaultdict[str, list[int]] = defaultdict(list)
    for item in case.items:
        platform = found.book.for_url(item.url) if item.url else None
        if platform is not None and (platform.name, item.id) not in noticed:
            platforms[platform.name] = platform
            covered[platform.name].append(item.id)
    return {
        "notices": listed,
        "draftable": [(platforms[name], ids) for name, ids in sorted(covered.items())],
        "waiting": waiting(found.book, case),
        "natures": [n for n in Nature if (n in MINOR_NATURES) == (case.branch.value == "minor")],
    }


async def _key(request: Request) -> ApiKey | None:
    return await staff_key(request, page_of(request).session)


@router.post("/cases/{number}/notices")
async def draft(request: Request, number: str) -> Response:
    """Draft a notice to one platform for the items ticked; then its page."""
    _, form, key = await staff_post(request, f"/desk/staff/cases/{number}")
    audit(request, target=number, outcome="notice-drafted", now=True)
    ids = [_whole(value, "item") for value in form.all("item")]
    nature = choice(Nature, form.one("nature")) if form.one("nature") else None
    made = await run_in_threadpool(
        notices(request).draft,
        number,
        form.one("platform"),
        staff(key),
        item_ids=ids or None,
        nature=nature,
        signatory=form.one("signatory") or None,
    )
    return redirect(request, f"{NOTICES}/{made.reference}", page_of(request))


@router.get("/notices/{reference}")
async def notice_page(request: Request, reference: str) -> Response:
    """A notice: its preview, what it lacks, its deliveries, replies, clocks and the
    escalation steps suggested, with a form for each thing staff may record."""
    page = page_of(request)
    key = await _key(request)
    if key is None:
        return redirect(request, SIGN_IN, page)
    found = notices(request)
    actor = staff(key)
    notice = await run_in_threadpool(found.get, reference, actor)
    missing = await run_in_threadpool(found.missing, reference, actor)
    text = await run_in_threadpool(found.render, reference, actor, "text")
    case = await run_in_threadpool(desk(request).get, notice.case, actor)
    platform = found.book.platforms.get(notice.platform)
    suggested = sorted(
        {(clock.item_id, step) for clock in notice.clocks for step in clock.suggested}
    )
    return render(
        request,
        "staff/notice.html",
        page=page,
        notice=notice,
        case=case,
        platform=platform,
        missing=missing,
        text=text,
        suggested=suggested,
        reviewer=may(key, Permission.DESK_REVIEW),
        decisions=list(Decision),
    )


@router.get("/notices/{reference}/preview")
async def preview(request: Request, reference: str) -> Response:
    """The notice's HTML, as the platform will read it: shown in the notice page's
    sandboxed frame, under a policy that runs nothing and fetches nothing."""
    key = await _key(request)
    if key is None:
        raise Problem("unauthenticated", "sign in first")
    html = await run_in_threadpool(notices(request).render, reference, staff(key), "html")
    response = Response(str(html), media_type="text/html; charset=utf-8")
    response.headers["content-security-policy"] = DESK_PREVIEW_CONTENT_SECURITY_POLICY
    return response


@router.get("/notices/{reference}/pdf")
async def pdf(request: Request, reference: str) -> Response:
    """The notice's PDF, as a download: never opened in the desk's own origin."""
    key = await _key(request)
    if key is None:
        raise Problem("unauthenticated", "sign in first")
    audit(request, target=reference, outcome="notice-pdf")
    body = await run_in_threadpool(notices(request).render, reference, staff(key), "pdf")
    assert isinstance(body, bytes)
    name = "".join(c for c in reference if c.isalnum() or c == "-")
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


async def _notice_post(request: Request, reference: str, outcome: str) -> tuple[Form, ApiKey]:
    """A notice form's checks, and the audit note naming the notice."""
    _, form, key = await staff_post(request, f"{NOTICES}/{reference}")
    audit(request, target=reference, outcome=outcome, now=True)
    return form, key


def _back(request: Request, reference: str) -> Response:
    return redirect(request, f"{NOTICES}/{reference}", page_of(request))


@router.post("/notices/{reference}/send")
async def send(request: Request, reference: str) -> Response:
    """Send the notice through the platform's channel (again, when a reviewer asks)."""
    form, key = await _notice_post(request, reference, "notice-sent")
    again = form.one("again") == "yes"
    await run_in_threadpool(notices(request).send, reference, staff(key), again=again)
    return _back(request, reference)


@router.post("/notices/{reference}/delivery")
async def delivery(request: Request, reference: str) -> Response:
    """Record a delivery made by hand: when, how, and the platform's ticket."""
    form, key = await _notice_post(request, reference, "notice-delivered")
    at = _moment(request, form)
    how = form.one("how")
    if not how:
        raise Problem("invalid-request", "say how the notice went (the form, a letter...)")
    await run_in_threadpool(
        notices(request).record_delivery,
        reference,
        staff(key),
        at=at,
        how=how,
        ticket=form.one("ticket") or None,
    )
    return _back(request, reference)


@router.post("/notices/{reference}/reply")
async def reply(request: Request, reference: str) -> Response:
    """Record a platform's receipt or decision, for one item or all of the notice's."""
    form, key = await _notice_post(request, reference, "notice-reply")
    kind = choice(ReplyKind, form.one("kind"))
    decision = choice(Decision, form.one("decision")) if kind is ReplyKind.DECISION else None
    automated = {"yes": True, "no": False}.get(form.one("automated"))
    await run_in_threadpool(
        notices(request).reply,
        reference,
        staff(key),
        kind=kind,
        at=_moment(request, form),
        item_id=_whole(form.one("item"), "item") if form.one("item") else None,
        decision=decision,
        automated=automated if decision is not None else None,
        redress=form.one("redress") or None,
        platform_reference=form.one("reference") or None,
        puid=form.one("puid") or None,
    )
    return _back(request, reference)


@router.post("/notices/{reference}/order")
async def order(request: Request, reference: str) -> Response:
    """Record an authority's removal order, which starts the clocks that count from one."""
    form, key = await _notice_post(request, reference, "notice-order")
    order_ref = form.one("reference")
    if not order_ref:
        raise Problem("invalid-request", "give the order's reference")
    await run_in_threadpool(
        notices(request).order,
        reference,
        staff(key),
        at=_moment(request, form),
        order_ref=order_ref,
    )
    return _back(request, reference)


@router.post("/notices/{reference}/escalate")
async def escalate(request: Request, reference: str) -> Response:
    """Record an escalation step taken, for one item or all of the notice's."""
    form, key = await _notice_post(request, reference, "escalated")
    await run_in_threadpool(
        notices(request).escalate,
        reference,
        staff(key),
        choice(EscalationStep, form.one("step")),
        item_id=_whole(form.one("item"), "item") if form.one("item") else None,
        target=form.one("target") or None,
    )
    return _back(request, reference)


@router.get("/platforms")
async def platforms(request: Request) -> Response:
    """The jurisdictions and platforms the desk knows: built in, and the deployment's."""
    page = page_of(request)
    key = await _key(request)
    if key is None:
        return redirect(request, SIGN_IN, page)
    book = notices(request).book
    return render(
        request,
        "staff/platforms.html",
        page=page,
        jurisdictions=sorted(book.jurisdictions.values(), key=lambda j: j.name),
        platforms=sorted(book.platforms.values(), key=lambda p: p.name),
    )


def _moment(request: Request, form: Form) -> datetime:
    """The form's ``at``, typed in the desk's time zone; now when left empty (a time typed to
    the minute would fall before a notice sent within that minute)."""
    if not form.one("at"):
        return desk(request).clock.now()
    return local_moment(form.one("at"), desk_web(request).zone)


def _whole(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Problem("invalid-request", f"{what} {value!r} is not a whole number") from None
