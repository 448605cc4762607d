"""What every desk page shares: rendering in the visitor's language with their session renewed,
the checks every POST passes (same-origin ``Origin``, the session's CSRF token) before anything
changes, and errors shown as pages; and the victim's pages: home, report, the card, sign-in,
withdrawal, sign-out and quick exit (the status page is ``victim``'s).

The pages only parse, call ``rempart.desk.Desk`` and render: every rule of a case lives there.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any, Final, TypeVar

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from rempart.desk import (
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    Case,
    Desk,
    ItemInput,
    Mandate,
    NewCase,
)
from rempart.desk.access import AddressThrottle, secret_tag
from rempart.desk.model import branch_for
from rempart.errors import RempartError
from rempart.server.desk.forms import Form, read_form, require_form
from rempart.server.desk.i18n import LANGUAGE_COOKIE, LANGUAGES, Catalogues, choose_language
from rempart.server.desk.session import (
    Session,
    SessionCodec,
    SessionKind,
    delete_cookie,
    set_cookie,
)
from rempart.server.problems import Problem, error_problem
from rempart.server.routes.common import services

__all__ = [
    "NEUTRAL_PAGE",
    "SIGN_INS_PER_MINUTE",
    "DeskRoute",
    "DeskWeb",
    "Page",
    "as_problem",
    "confirmed",
    "desk",
    "desk_part",
    "form_post",
    "form_values",
    "items_of",
    "open_case",
    "problem_page",
    "render",
    "router",
    "throttled",
    "victim_case",
]

NEUTRAL_PAGE: Final = "https://www.wikipedia.org/"
"""Where quick exit goes: a page anyone may be seen reading."""
SIGN_INS_PER_MINUTE: Final = 30
"""Sign-in attempts from one address a minute, in each worker: a victim who mistypes is not
stopped, and no one client can spend the desk's limit on attempts in all (20 a second), which
would lock everyone out."""
_NO_KEY_FILE: Final = "the desk has no key file: run rempart desk init"
_Part = TypeVar("_Part")


@dataclass(frozen=True, slots=True)
class DeskWeb:
    """What the desk's pages hold in each worker: templates in each language, the sessions,
    how many reports and sign-ins each address may make, and the time zone times are shown
    and typed in."""

    catalogues: Catalogues
    sessions: SessionCodec
    reports: AddressThrottle
    sign_ins: AddressThrottle
    zone: tzinfo


def desk_web(request: Request) -> DeskWeb:
    """The worker's desk pages (``mount`` set them up)."""
    found: DeskWeb = request.app.state.desk_web
    return found


def desk(request: Request) -> Desk:
    """The worker's desk; 503 ``desk-unavailable`` when the server has none."""
    return desk_part(services(request).desk)


def desk_part(found: _Part | None, detail: str = _NO_KEY_FILE) -> _Part:
    """A part of the desk the worker holds (its cases, notices, news, evidence, checks); 503
    ``desk-unavailable`` when it has none, which is when the desk has no key file."""
    if found is None:
        raise Problem("desk-unavailable", detail)
    return found


@dataclass(frozen=True, slots=True)
class Page:
    """A request's session (renewed on the response) and the language its page speaks."""

    session: Session
    language: str
    switch: bool  # the language came from ?lang=: keep it in the cookie

    def signed_in(
        self, request: Request, kind: SessionKind, subject: str, *, tag: str = ""
    ) -> Page:
        """This page with a new session, signed in as ``subject`` (a victim's with the
        ``secret_tag`` of its secret): a token planted before is worthless after."""
        return replace(self, session=desk_web(request).sessions.begin(kind, subject, tag=tag))

    def case_number(self) -> str:
        """The case a victim's session is signed in to; 403 for any other session."""
        if self.session.kind is not SessionKind.VICTIM or self.session.subject is None:
            raise Problem("forbidden", "sign in to the case first")
        return self.session.subject


def page_of(request: Request, session: Session | None = None) -> Page:
    """The request's page context: its session (``session``, else the cookie's, else a new
    visitor's) and its language."""
    language, switch = choose_language(request)
    if session is None:
        sessions = desk_web(request).sessions
        session = sessions.read(request) or sessions.begin(SessionKind.VISITOR)
    return Page(session, language, switch)


def render(
    request: Request,
    template: str,
    *,
    page: Page | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered in the page's language, its session renewed in the cookie."""
    page = page or page_of(request)
    context.setdefault("problem", None)  # a form shown again says what was wrong with it
    context.setdefault("detail", "")
    environment = desk_web(request).catalogues.environment(page.language)
    body = environment.get_template(template).render(
        lang=page.language,
        session=page.session,
        other_languages=[
            (language, _with_language(request, language))
            for language in LANGUAGES
            if language != page.language
        ],
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    keep(response, request, page)
    return response


def keep(response: Response, request: Request, page: Page) -> None:
    """Put the page's session (renewed) and, when chosen, its language in the cookies."""
    desk_web(request).sessions.write(response, page.session, request)
    if page.switch:
        set_cookie(response, request, LANGUAGE_COOKIE, page.language)


def redirect(request: Request, to: str, page: Page) -> Response:
    """303 to ``to`` (a desk path), with the page's session kept."""
    response = RedirectResponse(to, status_code=303)
    keep(response, request, page)
    return response


def _with_language(request: Request, language: str) -> str:
    """This page's path and query, in ``language``."""
    url = request.url.include_query_params(lang=language)
    return f"{url.path}?{url.query}"


async def form_post(request: Request, *, kind: SessionKind | None = None) -> tuple[Page, Form]:
    """The checks every desk POST passes before it changes anything: a form body (415 for
    anything else, read or not), an ``Origin`` of this site (403), a live session (of
    ``kind`` when given; 403) and its CSRF token (403). The page and the form."""
    require_form(request)
    if not same_origin(request):
        raise Problem("forbidden", "this form did not come from this site (Origin)")
    session = desk_web(request).sessions.read(request)
    if session is None or (kind is not None and session.kind is not kind):
        raise Problem("forbidden", "no live session: the page was open too long, or signed out")
    form = await read_form(request)
    if not session.token_matches(form.one("csrf")):
        raise Problem("forbidden", "the form's token is not this session's")
    return page_of(request, session), form


def same_origin(request: Request) -> bool:
    """Whether the request says it comes from a page of this site. ``Origin`` must be this
    site's; a browser sends ``Origin: null`` instead when the page asked for no referrer (as
    every desk page does), and then ``Sec-Fetch-Site: same-origin`` (a header pages cannot
    set) must say it. No ``Origin`` at all is refused: a ``Referer`` is never sent here."""
    origin = request.headers.get("origin")
    if origin == f"{request.url.scheme}://{request.url.netloc}":
        return True
    return origin == "null" and request.headers.get("sec-fetch-site") == "same-origin"


class DeskRoute(APIRoute):
    """A desk route: its errors (refusals, the desk's own) become pages in the visitor's
    language with the problem's status, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, with its errors rendered."""
        handle = super().get_route_handler()

        async def handle_as_page(request: Request) -> Response:
            try:
                return await handle(request)
            except (Problem, RempartError) as error:
                return error_page(request, as_problem(error))

        return handle_as_page


def as_problem(error: Problem | RempartError) -> Problem:
    """The problem an error answers with."""
    return error if isinstance(error, Problem) else error_problem(error)


def error_page(request: Request, problem: Problem) -> Response:
    """The page that says what went wrong, in words the visitor's language has."""
    return problem_page(
        request, "error.html", problem, back=getattr(request.state, "back", "/desk")
    )


def problem_page(
    request: Request, template: str, error: Problem | RempartError, **values: Any
) -> Response:
    """``template`` again (a form, as sent, to correct) saying what went wrong: the problem's
    status and headers, its words in the visitor's language (its detail for staff only)."""
    problem = as_problem(error)
    response = render(
        request,
        template,
        status=problem.status_code,
        problem=problem.kind.slug,
        detail=problem.detail,
        **values,
    )
    response.headers.update(problem.headers or {})
    return response


async def open_case(
    request: Request,
    page: Page,
    form: Form,
    answer: AgeAnswer,
    actor: Actor,
    mandate: Mandate | None = None,
) -> NewCase:
    """Open the case a report form describes (a victim's, or a flagger's under a mandate)."""
    return await run_in_threadpool(
        desk(request).report,
        answer,
        items_of(form),
        words=form.one("words") or None,
        language=page.language,
        actor=actor,
        mandate=mandate,
    )


router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)


@router.get("")
async def home(request: Request) -> Response:
    """What the desk does and what it promises."""
    return render(request, "home.html")


@router.get("/report")
async def report_form(request: Request) -> Response:
    """The report: first the age question, then (``?age=``) what to report."""
    answer = _age(request.query_params.get("age", ""))
    if answer is None:
        return render(request, "report_age.html")
    return render(request, "report.html", **_report_values(answer, None))


def _report_values(answer: AgeAnswer, form: Form | None) -> dict[str, Any]:
    """What the report form shows: empty, or as sent (to correct it)."""
    return {
        "age": answer.value,
        "minor": branch_for(answer) is Branch.MINOR,
        **form_values(form),
    }


@router.post("/report")
async def report(request: Request) -> Response:
    """Open a case; the card shows its number and secret, this once."""
    request.state.back = "/desk/report"
    page, form = await form_post(request)
    answer = _age(form.one("age"))
    if answer is None:
        raise Problem("invalid-request", "answer the age question first")
    throttled(request, desk_web(request).reports, "reports")
    try:
        new = await open_case(request, page, form, answer, VICTIM)
    except (Problem, RempartError) as error:  # the form again, as sent, saying what is wrong
        return problem_page(
            request, "report.html", error, page=page, **_report_values(answer, form)
        )
    # The victim is signed in to the case they just opened.
    signed_in = page.signed_in(
        request, SessionKind.VICTIM, new.case.number, tag=secret_tag(new.secret)
    )
    return render(
        request, "card.html", page=signed_in, status=201, case=new.case, secret=new.secret
    )


def items_of(form: Form) -> list[ItemInput]:
    """The items a report form names: a hash (with its quality) for each photo hashed in the
    browser, and each link (the desk checks them)."""
    hashes, qualities = form.all("pdq"), form.all("quality")
    if len(hashes) != len(qualities):
        raise Problem("invalid-request", "each photo's hash needs its quality")
    try:
        items = [
            ItemInput(pdq=pdq, quality=int(quality))
            for pdq, quality in zip(hashes, qualities, strict=True)
        ]
    except ValueError:
        raise Problem("invalid-request", "a photo's quality is not a whole number") from None
    return items + [ItemInput(url=url) for url in form.lines("url")]


def confirmed(form: Form) -> None:
    """``invalid-request`` unless the form's confirmation box is ticked."""
    if form.one("confirm") != "yes":
        raise Problem("invalid-request", "tick the box to confirm")


def form_values(form: Form | None) -> dict[str, Any]:
    """What a report form sent back to correct shows: its links, words and the hashes made
    in the browser before (empty for a new form)."""
    if form is None:
        return {"urls": "", "words": "", "hashes": []}
    return {
        "urls": "\n".join(form.lines("url")),
        "words": form.one("words"),
        "hashes": list(zip(form.all("pdq"), form.all("quality"), strict=False)),
    }


def throttled(request: Request, throttle: AddressThrottle, what: str) -> None:
    """``Problem("rate-limited")`` when the request's address has made too many ``what``."""
    address = request.client.host if request.client else ""
    if not throttle.allow(address):
        raise Problem(
            "rate-limited",
            f"too many {what} from this address; wait a minute",
            headers={"Retry-After": "60"},
        )


def _age(value: str) -> AgeAnswer | None:
    try:
        return AgeAnswer(value)
    except ValueError:
        return None


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    """Sign in to a case with its number and secret."""
    return render(request, "sign_in.html", number="")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the number and secret (throttled); a wrong one changes nothing and says only
    that the two do not match."""
    request.state.back = "/desk/sign-in"
    page, form = await form_post(request)
    try:
        # Per address first: the desk's own limit, in all, must not be one client's to spend.
        throttled(request, desk_web(request).sign_ins, "sign-in attempts")
        case = await run_in_threadpool(
            desk(request).sign_in, form.one("number"), form.one("secret")
        )
    except (Problem, RempartError) as error:  # one answer for a wrong number and secret
        return problem_page(request, "sign_in.html", error, page=page, number=form.one("number"))
    signed_in = page.signed_in(
        request, SessionKind.VICTIM, case.number, tag=secret_tag(form.one("secret"))
    )
    return redirect(request, "/desk/status", signed_in)


async def victim_case(request: Request, page: Page) -> Case:
    """The case a victim's session is signed in to; 403 for any other session, and
    ``CaseNotFoundError`` once a new secret replaced the one it signed in with."""
    number = page.case_number()
    return await run_in_threadpool(desk(request).victim_case, number, page.session.tag)


@router.post("/status/withdraw")
async def withdraw(request: Request) -> Response:
    """The victim withdraws the case: every hash leaves the banks, sealed words are erased."""
    page, form = await form_post(request, kind=SessionKind.VICTIM)
    confirmed(form)
    case = await victim_case(request, page)
    await run_in_threadpool(desk(request).withdraw, case.number, VICTIM)
    return redirect(request, "/desk/status", page)


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session here (victim or staff)."""
    await form_post(request)
    response = RedirectResponse("/desk", status_code=303)
    desk_web(request).sessions.delete(response, request)
    return response


@router.get("/exit")
async def quick_exit(request: Request) -> Response:
    """Quick exit: forget the session and the language, and leave for a neutral page."""
    response = RedirectResponse(NEUTRAL_PAGE, status_code=303)
    desk_web(request).sessions.delete(response, request)
    delete_cookie(response, request, LANGUAGE_COOKIE)
    return response


@router.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    """Any other desk path: a page that says so (the routes before this one come first)."""
    raise Problem("not-found", f"no desk page at /desk/{rest}")
