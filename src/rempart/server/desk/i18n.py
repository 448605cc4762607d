"""The desk's pages in French and English: the gettext catalogues (``desk.po``) are read once at
start with Babel, and each language gets its own Jinja2 environment with the i18n extension,
so that a page renders in one language whatever the other requests do.

The language is the one ``?lang=`` names, else the ``lang`` cookie (set when ``?lang=`` is
followed), else the first of ``Accept-Language`` the desk speaks, else English.
"""

from __future__ import annotations

import gettext
import io
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.requests import Request

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "LANGUAGES",
    "LANGUAGE_COOKIE",
    "Catalogues",
    "accepted_language",
    "choose_language",
    "translations",
]

LANGUAGES: Final = ("fr", "en")
DEFAULT_LANGUAGE: Final = "en"
DOMAIN: Final = "desk"
LANGUAGE_COOKIE: Final = "lang"
_MAX_ACCEPT: Final = 32  # languages of Accept-Language considered; a longer list is noise


class Catalogues:
    """A Jinja2 environment per language, each with its catalogue installed."""

    def __init__(self, templates: Path, locale: Path, *, timezone: str = "UTC") -> None:
        """``timezone``: the IANA zone every page shows times in (``REMPART_DESK_TIMEZONE``)."""
        self._environments = {
            language: _environment(
                templates, language, translations(locale, language), ZoneInfo(timezone)
            )
            for language in LANGUAGES
        }

    def environment(self, language: str) -> jinja2.Environment:
        """The environment that renders pages in ``language`` (one of ``LANGUAGES``)."""
        return self._environments[language]


def translations(locale: Path, language: str) -> gettext.GNUTranslations:
    """The catalogue ``<locale>/<language>/LC_MESSAGES/desk.po``, compiled in memory."""
    path = locale / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN, abort_invalid=True)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _environment(
    templates: Path, language: str, found: gettext.GNUTranslations, zone: tzinfo
) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_translations(found, newstyle=True)  # type: ignore[attr-defined]
    environment.filters["when"] = partial(_when, language=language, zone=zone)
    environment.filters["moment"] = partial(_moment, zone=zone)
    return environment


def _when(moment: datetime, *, language: str, zone: tzinfo) -> str:
    """A time as people of ``language`` write it, in the desk's time zone ("1 décembre 2026
    à 21:08:01 UTC")."""
    return format_datetime(moment, "long", tzinfo=zone, locale=language)


def _moment(moment: datetime, *, zone: tzinfo) -> str:
    """A time as a ``datetime-local`` field holds it, in the desk's time zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


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
