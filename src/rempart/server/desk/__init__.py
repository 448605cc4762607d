"""The desk's pages at ``/desk`` (``rempart serve --desk``): server-rendered, in French and
English, usable without JavaScript except to hash a photo, which never leaves the browser.

``mount(app, settings)`` adds them to the app: the victim's pages (``pages``), the staff's
(``staff``) and the static files (style sheet, hashing scripts) at ``/desk/static/``.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from rempart.config import Settings
from rempart.desk import Clock, DeskKeys, SystemClock
from rempart.desk.access import AddressThrottle
from rempart.desk.web import LOCALE, STATIC, TEMPLATES
from rempart.server.desk import evidence_pages, notice_pages, pages, staff, victim
from rempart.server.desk.i18n import Catalogues
from rempart.server.desk.pages import SIGN_INS_PER_MINUTE, DeskWeb
from rempart.server.desk.session import SessionCodec
from rempart.server.middleware import DESK_PREFIX

__all__ = ["mount"]


def mount(app: FastAPI, settings: Settings, *, clock: Clock | None = None) -> None:
    """Serve the desk's pages from ``app``; ``DeskKeyError`` without a usable key file (it
    seals the sessions, as it seals the cases)."""
    sessions = SessionCodec(
        DeskKeys.load(settings.desk_key_file),
        idle=timedelta(minutes=settings.desk_sessions_minutes),
        clock=clock or SystemClock(),
    )
    reports = AddressThrottle(settings.desk_reports_per_minute, clock=sessions.clock)
    sign_ins = AddressThrottle(SIGN_INS_PER_MINUTE, clock=sessions.clock)
    catalogues = Catalogues(TEMPLATES, LOCALE, timezone=settings.desk_timezone)
    zone = ZoneInfo(settings.desk_timezone)
    app.state.desk_web = DeskWeb(catalogues, sessions, reports, sign_ins, zone)
    # The static files first: the pages' last route answers any other /desk path (404).
    app.mount(f"{DESK_PREFIX}/static", StaticFiles(directory=STATIC), name="desk-static")
    # The pages' router last: its last route answers any other /desk path (404).
    for router in (
        staff.router,
        notice_pages.router,
        evidence_pages.router,
        victim.router,
        pages.router,
    ):
        app.include_router(router)
        app.state.routes.extend(router.routes)
