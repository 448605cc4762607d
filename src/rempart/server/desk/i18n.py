"""The desk's pages in French and English: the gettext catalogues (``desk.po``) are read once at
start (``rempart.desk.i18n``), and each language gets its own Jinja2 environment, so that a page
renders in one language whatever the other requests do.

The language is the one ``?lang=`` names, else the ``lang`` cookie (set when ``?lang=`` is
followed), else the first of ``Accept-Language`` the desk speaks, else English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request

from rempart.desk.i18n import DEFAULT_LANGUAGE, LANGUAGES, environment

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "Catalogues",
    "accepted_language",
    "choose_language",
]

DOMAIN: Final = "desk"
LANGUAGE_COOKIE: Final = "lang"
_MAX_ACCEPT: Final = 32  # languages of Accept-Language considered; a longer list is noise


class Catalogues:
    """A Jinja2 environment per language, each with its catalogue installed."""

    def __init__(self, templates: Path, locale: Path, *, timezone: str = "UTC") -> None:
        """``timezone``: the IANA zone every page shows times in (``REMPART_DESK_TIMEZONE``)."""
        self._environments = {
            language: environment(templates, locale, language, DOMAIN, zone=ZoneInfo(timezone))
            for language in LANGUAGES
        }

    def environment(self, language: str) -> jinja2.Environment:
        """The environment that renders pages in ``language`` (one of ``LANGUAGES``)."""
        return self._environments[language]


def choose_language(request: Request) -> tuple[str, bool]:
    """The page's language, and whether it came from ``?lang=`` (then the page sets the
    cookie that keeps it)."""
    asked = request.query_params.get("lang", "")
    if asked in LANGUAGES:
        return asked, True
    kept = request.cookies.get(LANGUAGE_COOKIE, "")
    if kept in LANGUAGES:
        return kept, False
    return accepted_language(request.headers.get("accept-language", "")), False


def accepted_language(header: str) -> str:
    """The language of ``LANGUAGES`` an ``Accept-Language`` header prefers most (ties go to
    the first listed), else ``DEFAULT_LANGUAGE``."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:_MAX_ACCEPT]):
        tag, _, parameters = part.partition(";")
        primary = tag.strip().split("-")[0].lower()
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
