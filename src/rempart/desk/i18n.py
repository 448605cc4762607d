"""The desk's French and English: gettext catalogues (``<domain>.po``) compiled in memory with
Babel, and a Jinja2 environment per language with its catalogue installed, so that what one
environment renders is in one language whatever else renders at the same time. The pages
(``rempart.server.desk``, domain ``desk``) and the notices (``rempart.desk.render``, domain
``notices``) both use them."""

from __future__ import annotations

import gettext
import io
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Final

import jinja2
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "environment", "language_of", "translations"]

LANGUAGES: Final = ("fr", "en")
"""The languages the desk speaks."""
DEFAULT_LANGUAGE: Final = "en"


def language_of(tag: str) -> str:
    """The language of ``LANGUAGES`` a language tag ("fr-CA") names, else ``DEFAULT_LANGUAGE``."""
    primary = tag.strip().split("-")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


def translations(locale: Path, language: str, domain: str) -> gettext.GNUTranslations:
    """The catalogue ``<locale>/<language>/LC_MESSAGES/<domain>.po``, compiled in memory."""
    path = locale / language / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=domain, abort_invalid=True)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def environment(
    templates: Path, locale: Path, language: str, domain: str, *, zone: tzinfo = UTC
) -> jinja2.Environment:
    """A Jinja2 environment for the templates under ``templates``, speaking ``language`` from
    the catalogue of ``domain``: HTML escaped, plain text (``.txt``) as it is, and a ``when``
    filter that writes a time as people of the language do, in the time zone ``zone``."""
    made = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        # Text goes out as text (a mail's body): escaping it would show "&amp;" to its reader.
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    found = translations(locale, language, domain)
    made.install_gettext_translations(found, newstyle=True)  # type: ignore[attr-defined]
    made.filters["when"] = partial(_when, language=language, zone=zone)
    return made


def _when(moment: datetime, *, language: str, zone: tzinfo) -> str:
    """A time as people of ``language`` write it, in ``zone`` ("1 décembre 2026 à 21:08:01
    UTC")."""
    return format_datetime(moment, "long", tzinfo=zone, locale=language)
