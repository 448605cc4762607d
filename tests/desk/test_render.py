"""A notice's renderings: every element in text, HTML and PDF/A-3b (read back with pypdf), in
English and French, the record attached, no identity where the record has none, nothing
fetched."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pypdf
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from markupsafe import escape

from rempart.desk import render as rendering
from rempart.desk.notice_model import STATEMENTS, NoticeRecord
from rempart.desk.render import (
    ATTACHMENT,
    DOMAIN,
    render,
    render_html,
    render_pdf,
    render_text,
    subject,
)
from rempart.desk.web import LOCALE, TEMPLATES
from tests.desk.records import EXPLANATION, a_record

HEADINGS = {
    "en": [
        "Notice of illegal content",
        "Notifier (DSA Art. 16(2)(c))",
        "Explanation and legal ground (DSA Art. 16(2)(a))",
        "Exact location of each item (DSA Art. 16(2)(b))",
        "Signature (TAKE IT DOWN Act § 3(a)(1)(B)(i))",
        "Statements (quoted word for word)",
        "Jurisdictions and what each asks",
        "Suggested for your statement of reasons (DSA Art. 17)",
    ],
    "fr": [
        "Notification de contenus illicites",
        "Auteur de la notification (DSA, art. 16, par. 2, point c)",
        "Explication et fondement juridique (DSA, art. 16, par. 2, point a)",
        "Emplacement exact de chaque contenu (DSA, art. 16, par. 2, point b)",
        "Signature (TAKE IT DOWN Act, § 3(a)(1)(B)(i))",
        "Déclarations (citées mot pour mot)",
        "Droits applicables et ce que chacun exige",
        "Suggestions pour votre exposé des motifs (DSA, art. 17)",
    ],
}
SOR_FIELDS = (
    "decision_ground",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "category",
    "category_specification",
    "content_type",
    "source_type",
)


def elements(record: NoticeRecord) -> list[str]:
    """What a rendering of ``record`` must show, word for word."""
    language = record.language.split("-")[0]
    notifier = record.notifier
    shown = [
        record.reference,
        record.platform_title,
        record.legal_ground,
        record.explanation,
        record.digest(),
        *(item.url for item in record.items),
        *(value for value in (notifier.name, notifier.email, notifier.trusted_flagger) if value),
        *(value for value in (notifier.mandate_reference, notifier.signatory) if value),
        *(STATEMENTS[s].text(language) for s in record.statements),
        *record.statements,
        *record.jurisdictions,
        *SOR_FIELDS,
        record.sor.decision_ground,
        record.sor.category,
        *record.sor.category_specification,
        *record.sor.content_type,
        record.sor.source_type,
    ]
    if record.signature is not None:
        shown.append(record.signature.name)
    return shown


def in_order(text: str, parts: list[str]) -> bool:
    """Whether each of ``parts`` is in ``text``, each after the one before."""
    at = 0
    for part in parts:
        at = text.find(part, at)
        if at < 0:
            return False
    return True


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_text_shows_every_element_in_order(language: str) -> None:
    record = a_record(language=language)
    text = render_text(record)
    missing = [element for element in elements(record) if element not in text]
    assert not missing, missing
    assert in_order(text, HEADINGS[language])
    numbered = [f"{n}. {item.url}" for n, item in enumerate(record.items, start=1)]
    assert in_order(text, numbered)
    other = HEADINGS["fr" if language == "en" else "en"]
    assert not [heading for heading in other[1:] if heading in text]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_html_shows_every_element_in_order(language: str) -> None:
    record = a_record(language=language)
    page = render_html(record)
    missing = [element for element in elements(record) if str(escape(element)) not in page]
    assert not missing, missing
    assert f'<html lang="{language}">' in page
    assert in_order(page, HEADINGS[language])
    assert page.count("<li>https://example.com/p/") == len(record.items)


def test_the_subject_names_the_reference_the_law_the_items_and_the_platform() -> None:
    assert subject(a_record(count=3)) == (
        "Notice N-12 under DSA Art. 16 / TAKE IT DOWN Act § 3: 3 items — Example Social"
    )
    assert subject(a_record(count=1, language="fr-FR")) == (
        "Notification N-12 (DSA, art. 16 / TAKE IT DOWN Act, § 3) : 1 contenu — Example Social"
    )


def test_times_are_written_as_the_language_does_in_utc() -> None:
    assert "Date: December 2, 2026, 9:30:00\u202fAM UTC" in render_text(a_record())
    assert "Date : 2 décembre 2026, 09:30:00 TU" in render_text(a_record(language="fr"))


@pytest.mark.parametrize(("tag", "heading"), [("fr-CA", "fr"), ("de", "en"), ("EN-gb", "en")])
def test_a_language_the_desk_does_not_speak_falls_back_to_english(tag: str, heading: str) -> None:
    assert render_text(a_record(language=tag)).startswith(HEADINGS[heading][0])


def test_an_association_notice_holds_no_identity_of_the_person_depicted() -> None:
    for record in (a_record(association=True), a_record(association=False, victim=False)):
        assert record.victim is None
        pdf_text = _pdf_text(render_pdf(record))
        for shown in (render_text(record), render_html(record), pdf_text):
            assert "Alice" not in shown
            assert "alice@example.org" not in shown
            assert "The person depicted (TAKE IT DOWN" not in shown


def test_the_person_depicted_is_named_where_the_record_holds_them() -> None:
    record = a_record(association=False, victim=True)
    text = render_text(record)
    assert in_order(
        text,
        [
            "== The person depicted (TAKE IT DOWN Act § 3(a)(1)(B)(ii) and (iv)) ==",
            "Name: Alice Dupont",
            "Contact: alice@example.org",
            "Typed electronic signature: Alice Dupont",
            "Signed by: the person depicted, who consented to this notice",
            "Signed on: December 1, 2026",
        ],
    )


@pytest.mark.parametrize(
    ("nature", "shown"),
    [
        ("csam", "Name: not given (not required for offences against minors)"),
        ("ncii", "Name: missing: this notice cannot be sent without it"),
    ],
)
def test_a_notifier_left_out_is_said_to_be_allowed_only_on_a_minors_notice(
    nature: str, shown: str
) -> None:
    record = NoticeRecord.from_json(
        {
            **a_record().to_json(),
            "nature": nature,
            "notifier": {"kind": "deployment", "name": None, "email": None},
        }
    )
    text = render_text(record)
    assert shown in text
    assert "Mandate" not in text


def test_a_url_is_shown_exactly_in_text_and_escaped_in_html() -> None:
    hostile = 'https://example.com/p/1?q="><img src="http://127.0.0.1:9/x.png">&b=<b>'
    record = a_record(item_urls=(hostile,))
    assert f"1. {hostile}\n" in render_text(record)
    page = render_html(record)
    assert "<img" not in page
    assert "<b>" not in page
    assert "&lt;img src=&#34;http://127.0.0.1:9/x.png&#34;&gt;&amp;b=&lt;b&gt;" in page
    assert hostile in _pdf_text(render_pdf(record)).replace("\n", "")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_pdf_is_pdf_a_3b_with_the_record_attached(language: str) -> None:
    record = a_record(language=language, count=10)
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(record)))
    text = _text_of(reader)
    assert record.reference in text
    assert all(item.url in text for item in record.items)
    assert STATEMENTS[record.statements[0]].text(language) in " ".join(text.split())
    assert reader.attachments[ATTACHMENT] == [record.canonical()]
    assert NoticeRecord.from_json(json.loads(reader.attachments[ATTACHMENT][0])) == record
    xmp = reader.xmp_metadata
    assert xmp is not None
    packet = xmp.stream.get_data().decode()
    assert 'pdfaid:part="3"' in packet
    assert 'pdfaid:conformance="B"' in packet
    assert reader.metadata is not None
    assert reader.metadata.title == record.reference
    root: Any = reader.trailer["/Root"]
    assert root["/Lang"] == language
    resources: list[Any] = [page["/Resources"] for page in reader.pages]
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for found in resources
        for font in found["/Font"].values()
    }
    assert fonts
    assert all(font.startswith("DejaVu-Sans") for font in fonts), fonts


def test_the_same_record_makes_the_same_pdf() -> None:
    record = a_record()
    pdf = render_pdf(record)
    assert render_pdf(record) == pdf
    root: Any = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    _, spec = root["/Names"]["/EmbeddedFiles"]["/Names"]
    params = spec.get_object()["/EF"]["/F"].get_object()["/Params"]
    # The record's times, not the clock's (which would change the bytes every second).
    assert (params["/CreationDate"], params["/ModDate"]) == (
        "D:20261201210801Z",
        "D:20261202093000Z",
    )


def test_fifty_items_fit_and_are_all_listed() -> None:
    record = a_record(count=50)
    text = _pdf_text(render_pdf(record))
    assert all(item.url in text for item in record.items)
    assert "50. https://example.com/p/50?from=feed&x=1" in render_text(record)


class _Counting(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]]

    def do_GET(self) -> None:
        self.asked.append(self.path)
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback web server, and the paths it was asked for."""
    asked: list[str] = []
    handler = type("Handler", (_Counting,), {"asked": asked})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_pdf_fetches_nothing(
    web_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, asked = web_server
    record = a_record()
    page = render_html(record).replace(
        "</head>",
        f'<link rel="stylesheet" href="{url}/style.css">'
        f"<style>@import url({url}/imported.css); @font-face {{ font-family: X; "
        f"src: url({url}/font.woff2) }}</style></head>",
    )
    page = page.replace("<body>", f'<body><img src="{url}/pixel.png" alt="">')
    monkeypatch.setattr(rendering, "render_html", lambda _record: page)
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(record)))
    assert record.reference in _text_of(reader)
    assert asked == []


def test_render_gives_every_rendering_of_one_record() -> None:
    record = a_record()
    rendered = render(record)
    assert rendered.record is record
    assert (rendered.subject, rendered.text, rendered.html) == (
        subject(record),
        render_text(record),
        render_html(record),
    )
    assert EXPLANATION in _pdf_text(rendered.pdf).replace("\n", " ")


def test_every_string_of_the_notices_has_its_translation() -> None:
    # _states.html's words are said by the dossier too: both catalogues hold them.
    method_map = [
        ("notices/*.html", "jinja2"),
        ("notices/*.txt", "jinja2"),
        ("_states.html", "jinja2"),
    ]
    used = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(TEMPLATES),
            method_map=method_map,
            options_map={pattern: {"extensions": "jinja2.ext.i18n"} for pattern, _ in method_map},
        )
    }
    assert len(used) > 30
    for language in ("en", "fr"):
        path = LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as po:
            catalogue = {m.id: m.string for m in read_po(po) if m.id}
        assert set(catalogue) == used, language
        if language == "fr":
            untranslated = [
                m for m, s in catalogue.items() if not all(s if isinstance(s, tuple) else [s])
            ]
            assert not untranslated


def _text_of(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def _pdf_text(pdf: bytes) -> str:
    return _text_of(pypdf.PdfReader(io.BytesIO(pdf)))


def test_making_a_pdf_leaves_truncated_uploads_refused() -> None:
    """WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the process when imported; a server
    that renders a notice must go on refusing a truncated upload (rempart.media)."""
    from PIL import ImageFile

    from rempart.errors import MediaError, MediaErrorCode
    from rempart.media import load_bytes
    from tests.images import encode, gradient

    render_pdf(a_record())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    jpeg = encode(gradient(400, 300, seed=2), "JPEG", quality=90)
    with pytest.raises(MediaError) as refused:
        load_bytes(jpeg[: len(jpeg) // 2]).decode()
    assert refused.value.code == MediaErrorCode.TRUNCATED
