"""A notice's renderings, all from one canonical record (``NoticeRecord``) and the same Jinja2
templates (``web/templates/notices/``), in the record's language (French or English; any other
falls back to English): plain text (the mail's body), HTML (the mail's alternative and the
preview), and PDF/A-3b (WeasyPrint) with the record's JSON attached, fonts embedded and no
resource fetched from anywhere."""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import Final, NoReturn

import jinja2
from PIL import ImageFile

from rempart.desk.i18n import environment, language_of
from rempart.desk.notice_model import STATEMENTS, NoticeRecord, StatementOfReasons
from rempart.desk.web import LOCALE, TEMPLATES

__all__ = [
    "ATTACHMENT",
    "DOMAIN",
    "Rendered",
    "render",
    "render_html",
    "render_pdf",
    "render_text",
    "subject",
    "template",
    "write_pdf",
]

DOMAIN: Final = "notices"
"""The gettext domain of the notices' catalogues (``notices.po``)."""
ATTACHMENT: Final = "notice.json"
"""The name the record's canonical JSON has inside the PDF."""
_SOR_FIELDS: Final = (
    "decision_ground",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "category",
    "category_specification",
    "content_type",
    "source_type",
)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A notice as it goes out: its subject, text, HTML and PDF."""

    record: NoticeRecord
    subject: str
    text: str
    html: str
    pdf: bytes


def subject(record: NoticeRecord) -> str:
    """The mail's subject: the notice's reference, the law and the platform."""
    return " ".join(_render(record, "subject.txt").split())


def render_text(record: NoticeRecord) -> str:
    """The notice as plain text."""
    return _render(record, "notice.txt")


def render_html(record: NoticeRecord) -> str:
    """The notice as a standalone HTML page (its style inline, nothing fetched)."""
    return _render(record, "notice.html")


def render_pdf(record: NoticeRecord) -> bytes:
    """The notice as PDF/A-3b, the record's canonical JSON attached as ``notice.json``."""
    return _pdf(record, render_html(record))


def render(record: NoticeRecord) -> Rendered:
    """Every rendering of the record."""
    html = render_html(record)
    return Rendered(record, subject(record), render_text(record), html, _pdf(record, html))


@cache
def _environment(language: str) -> jinja2.Environment:
    """The notices' environment for ``language``, built once: its catalogue is read then."""
    return environment(TEMPLATES, LOCALE, language, DOMAIN)


def template(name: str, language: str) -> jinja2.Template:
    """The template ``notices/<name>`` in ``language`` (a tag; French or else English), with
    the notices' catalogue: the notices and the yearly report share them."""
    return _environment(language_of(language)).get_template(f"notices/{name}")


def _render(record: NoticeRecord, name: str) -> str:
    language = language_of(record.language)
    return template(name, language).render(
        record=record,
        lang=language,
        statements=[STATEMENTS[statement] for statement in record.statements],
        sor=_sor_rows(record.sor),
        digest=record.digest(),
    )


def _sor_rows(sor: StatementOfReasons) -> list[tuple[str, str]]:
    """The suggested statement of reasons as (Transparency Database field, value) rows."""
    rows = []
    for name in _SOR_FIELDS:
        value = getattr(sor, name)
        rows.append((name, ", ".join(value) if isinstance(value, tuple) else str(value)))
    return rows


def _pdf(record: NoticeRecord, html: str) -> bytes:
    return write_pdf(
        html,
        source=record.canonical(),
        name=ATTACHMENT,
        description=f"{record.reference}: canonical record (JSON, SHA-256 {record.digest()})",
        # The record's own time, not the clock's: the same record makes the same PDF.
        created=record.drafted_at,
        modified=record.sent_at or record.drafted_at,
    )


def write_pdf(
    html: str,
    *,
    source: bytes,
    name: str,
    description: str,
    created: datetime,
    modified: datetime,
) -> bytes:
    """``html`` as PDF/A-3b with ``source`` (the data it shows) attached as ``name``, nothing
    fetched from anywhere: a notice, and the yearly report."""
    weasyprint = _weasyprint()
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(source),
        name=name,
        description=description,
        relationship="Source",
        url_fetcher=_refuse,
        created=created,
        modified=modified,
    )
    pdf: bytes = weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf(
        pdf_variant="pdf/a-3b", attachments=[attachment]
    )
    return pdf


def _weasyprint() -> ModuleType:
    """WeasyPrint, imported on first use: it (and Pango behind
    it) takes a while to load, and only a PDF needs it. Importing it sets Pillow's
    ``LOAD_TRUNCATED_IMAGES`` for the whole process, which would let every truncated upload
    through the scanner and the server that render notices too: the flag is put back (a notice
    holds no image)."""
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        return importlib.import_module("weasyprint")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated


def _refuse(url: str, *args: object, **kwargs: object) -> NoReturn:
    """WeasyPrint's URL fetcher for notices: nothing is fetched, whatever a URL in the record
    or the template names (a notice must not call anyone's server, nor depend on one)."""
    raise PermissionError(f"a notice fetches nothing ({url[:80]!r})")
