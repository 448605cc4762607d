"""A notice's renderings, all from one canonical record (``NoticeRecord``) and the same Jinja2
templates (``web/templates/notices/``), in the record's language (French or English; any other
falls back to English): plain text (the mail's body), HTML (the mail's alternative and the
preview), and PDF/A-3b (WeasyPrint) with the record's JSON attached, fonts embedded and no
resource fetched from anywhere."""

from __future__ import annotations

from dataclasses import dataclass

from rempart.desk.notice_model import NoticeRecord

__all__ = ["Rendered", "render", "render_html", "render_pdf", "render_text", "subject"]


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
    raise NotImplementedError


def render_text(record: NoticeRecord) -> str:
    """The notice as plain text."""
    raise NotImplementedError


def render_html(record: NoticeRecord) -> str:
    """The notice as a standalone HTML page (its style inline, nothing fetched)."""
    raise NotImplementedError


def render_pdf(record: NoticeRecord) -> bytes:
    """The notice as PDF/A-3b, the record's canonical JSON attached as ``notice.json``."""
    raise NotImplementedError


def render(record: NoticeRecord) -> Rendered:
    """Every rendering of the record."""
    raise NotImplementedError
