"""Who staff are on the desk's pages: the API key a staff session was opened with, re-read on
every request (a revoked key ends the session at once), its permissions, and the checks every
staff POST passes."""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from rempart.access.keys import ApiKey
from rempart.server.auth import PERMISSIONS, Permission, check_role
from rempart.server.desk.forms import Form
from rempart.server.desk.pages import Page, form_post
from rempart.server.desk.session import Session, SessionKind
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services

__all__ = ["SIGN_IN", "has_desk", "may", "review_post", "staff_key", "staff_post"]

SIGN_IN: Final = "/desk/staff"


def may(key: ApiKey, permission: Permission) -> bool:
    """Whether the key's role has ``permission``."""
    return permission in PERMISSIONS[key.role]


async def staff_key(request: Request, session: Session) -> ApiKey | None:
    """The active key a staff session was opened with, if its role still has the desk; its
    rate applies, and the audit log records it."""
    if session.kind is not SessionKind.STAFF or session.subject is None:
        return None
    found = services(request)
    key = await run_in_threadpool(found.keys.find, session.subject)
    if key is None or not key.active or not has_desk(key):
        return None
    found.auth.check_rate(key)
    request.state.key = key
    return key


def has_desk(key: ApiKey) -> bool:
    """Whether the key's role works at the desk (reviews, or reports under a mandate)."""
    return may(key, Permission.DESK_REVIEW) or may(key, Permission.DESK_REPORT)


async def staff_post(request: Request, back: str) -> tuple[Page, Form, ApiKey]:
    """A staff POST's checks (``form_post``'s, then a live key): page, form and key."""
    request.state.back = back
    page, form = await form_post(request, kind=SessionKind.STAFF)
    key = await staff_key(request, page.session)
    if key is None:
        raise Problem("unauthenticated", "the key is revoked or has no desk permission")
    return page, form, key


async def review_post(request: Request, number: str, action: str) -> tuple[Form, ApiKey]:
    """A reviewer's action on a case: ``staff_post``'s checks, the reviewer's role, and the
    audit note naming the case."""
    _, form, key = await staff_post(request, f"/desk/staff/cases/{number}")
    check_role(key, Permission.DESK_REVIEW)
    audit(request, target=number, outcome=action, now=True)
    return form, key
