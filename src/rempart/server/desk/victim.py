"""The victim's pages beyond part 1's: the status page with the notices sent about the case
(when, the answer due by, every outcome), the consent that lets their name, contact and typed
signature travel in notices that need them, the optional news address, and a lost secret's
one-time link (asked for by case number, always answered the same way).

The pages parse, call ``Notices`` and ``News`` and render; the rules live there.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Final

from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rempart.desk import VICTIM, Branch, Case
from rempart.desk.access import secret_tag
from rempart.desk.news import News, mask_address
from rempart.desk.notice_model import NoticeState
from rempart.errors import CaseNotFoundError, RempartError
from rempart.server.desk.forms import Form
from rempart.server.desk.notice_pages import notices
from rempart.server.desk.pages import (
    DeskRoute,
    Page,
    confirmed,
    desk,
    desk_part,
    desk_web,
    form_post,
    page_of,
    problem_page,
    redirect,
    render,
    throttled,
    victim_case,
)
from rempart.server.desk.session import SessionKind
from rempart.server.problems import Problem
from rempart.server.routes.common import services

__all__ = ["router"]

TAKE_IT_DOWN: Final = "us-take-it-down"
"""The jurisdiction whose notices carry the victim's own signature, with their consent."""
_log = logging.getLogger(__name__)
router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)


def news(request: Request) -> News:
    """The worker's news addresses; 503 ``desk-unavailable`` when the server has none."""
    return desk_part(services(request).news)


@router.get("/status")
async def status(request: Request) -> Response:
    """The case: its items and their states, the notices sent about it and their answers,
    what happened, in plain words; consent, news address and withdrawal."""
    page = page_of(request)
    if page.session.kind is not SessionKind.VICTIM:
        return redirect(request, "/desk/sign-in", page)
    try:
        case = await victim_case(request, page)
    except CaseNotFoundError:  # a new secret was issued: this session ends
        visitor = desk_web(request).sessions.begin(SessionKind.VISITOR)
        return redirect(request, "/desk/sign-in", replace(page, session=visitor))
    return await _status_page(request, page, case)


async def _status_page(
    request: Request, page: Page, case: Case, *, status: int = 200, **values: Any
) -> Response:
    """The status page (again, with a form's problem where ``values`` say so)."""
    found = notices(request)
    events = await run_in_threadpool(desk(request).events, case.number)
    listed = await run_in_threadpool(found.for_case, case.number, VICTIM)
    sent = [notice for notice in listed if notice.state is NoticeState.SENT]
    book = found.book
    platforms = {notice.platform for notice in listed} | {
        platform.name
        for item in case.items
        if item.url and (platform := book.for_url(item.url)) is not None
    }
    needs = any(
        TAKE_IT_DOWN in platform.jurisdictions
        for name in platforms
        if (platform := book.platforms.get(name)) is not None  # a profile removed since
    )
    address = await run_in_threadpool(news(request).address, case.number)
    values.setdefault("news_problem", None)
    values.setdefault("consent_problem", None)
    values.setdefault("consent_values", {"name": "", "contact": "", "signature": ""})
    return render(
        request,
        "status.html",
        page=page,
        status=status,
        case=case,
        events=events,
        notices=sent,
        titles={name: platform.title for name, platform in book.platforms.items()},
        # Consent is the victim's own, on an adult's case: an association sends in its name.
        consent_form=case.branch is Branch.ADULT and case.flagger_key_id is None,
        consent_needed=needs,
        consented=await run_in_threadpool(found.has_consent, case.number),
        # A minor's case keeps no address (``rempart.desk.news``): no form to give one.
        news_sends=news(request).sends and case.branch is Branch.ADULT,
        news_address=mask_address(address) if address else None,
        **values,
    )


async def _victim_post(request: Request) -> tuple[Page, Form, Case]:
    """A victim's POST: the checks, and the case it is signed in to."""
    request.state.back = "/desk/status"
    page, form = await form_post(request, kind=SessionKind.VICTIM)
    return page, form, await victim_case(request, page)


@router.post("/status/news")
async def set_news(request: Request) -> Response:
    """Set the news address (or, with ``remove``, take it away)."""
    page, form, case = await _victim_post(request)
    if form.one("remove") == "yes":
        await run_in_threadpool(news(request).clear_address, case.number)
        return redirect(request, "/desk/status#news", page)
    try:
        await run_in_threadpool(news(request).set_address, case.number, form.one("address"))
    except RempartError as error:
        return await _status_page(request, page, case, status=422, news_problem=error)
    return redirect(request, "/desk/status#news", page)


@router.post("/status/consent")
async def consent(request: Request) -> Response:
    """Give consent, with a typed signature; or (``withdraw``) take it back."""
    page, form, case = await _victim_post(request)
    found = notices(request)
    if form.one("withdraw") == "yes":
        await run_in_threadpool(found.withdraw_consent, case.number, VICTIM)
        return redirect(request, "/desk/status#consent", page)
    values = {name: form.one(name) for name in ("name", "contact", "signature")}
    try:
        confirmed(form)
        if not all(values.values()):
            raise Problem("invalid-request", "give your name, a contact and your signature")
        await run_in_threadpool(found.consent, case.number, VICTIM, **values)
    except (Problem, RempartError) as error:
        return await _status_page(
            request, page, case, status=422, consent_problem=error, consent_values=values
        )
    return redirect(request, "/desk/status#consent", page)


@router.get("/lost")
async def lost_form(request: Request) -> Response:
    """A lost secret: the case number, to have a one-time link sent to its news address."""
    return render(request, "lost.html", resets=news(request).resets, asked=False)


@router.post("/lost")
async def lost(request: Request) -> Response:
    """Send the link when the case has a news address; answer the same whether or not, and
    send it after answering, so that the time taken tells nothing either."""
    request.state.back = "/desk/lost"
    page, form = await form_post(request)
    throttled(request, desk_web(request).sign_ins, "sign-in attempts")
    found = news(request)
    response = render(request, "lost.html", page=page, resets=found.resets, asked=True)
    response.background = BackgroundTask(_request_reset, found, form.one("number"))
    return response


def _request_reset(found: News, number: str) -> None:
    try:
        found.request_reset(number)
    except RempartError as error:  # its kind only: the message may name the address
        _log.warning("a reset link could not be sent: %s", type(error).__name__)


@router.get("/reset/{token}")
async def reset_form(request: Request, token: str) -> Response:
    """A reset link: a button that sets the new secret (opening the link changes nothing:
    a mail scanner that follows it spends nothing)."""
    try:
        await run_in_threadpool(news(request).check_token, token)
    except CaseNotFoundError:
        return render(request, "reset.html", status=404, live=False, token="")
    return render(request, "reset.html", live=True, token=token)


@router.post("/reset/{token}")
async def reset(request: Request, token: str) -> Response:
    """Set the new secret: the card shows it, this once, and the browser is signed in."""
    request.state.back = "/desk/lost"
    page, _ = await form_post(request)
    try:
        number, secret = await run_in_threadpool(news(request).reset, token)
    except CaseNotFoundError as error:
        return problem_page(request, "reset.html", error, page=page, live=False, token="")
    signed_in = page.signed_in(request, SessionKind.VICTIM, number, tag=secret_tag(secret))
    case = await run_in_threadpool(desk(request).get, number)
    return render(request, "card.html", page=signed_in, case=case, secret=secret)
