"""The notice pages over HTTP, as a browser without JavaScript uses them, with a real mail
server (aiosmtpd on loopback): the victim consents and leaves a news address, a reviewer
drafts, previews (HTML under its own policy, the PDF read back), sends, records the receipt
and the decision; the victim reads "sent on ..., answer due by ..." and the outcome in English
and French; a lost secret's link works once; what no profile names waits, saying so."""

from __future__ import annotations

import html
import io
import re
import time
from datetime import timedelta
from email.message import EmailMessage

import httpx
from pypdf import PdfReader
from sqlalchemy import update

from rempart.access.roles import Role
from rempart.desk import VICTIM
from rempart.server.middleware import (
    DESK_CONTENT_SECURITY_POLICY,
    DESK_PREVIEW_CONTENT_SECURITY_POLICY,
)
from rempart.store.schema import desk_notices
from tests.desk.smtp import SmtpServer
from tests.server.desk.conftest import DeskServer, Visitor, card, new_key, report, staff_visitor

URL = "https://example.org/p/1"  # the test platform "social" (DSA and TAKE IT DOWN)
NEWS = "person@example.net"
_REFERENCE = re.compile(r"/desk/staff/notices/(N-\d+)")


def _text(response: httpx.Response) -> str:
    """A page's words, without its tags, unescaped and with its spaces run together."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def _mails(smtp: SmtpServer, count: int) -> list[EmailMessage]:
    """The first ``count`` messages, once they came (a link is mailed after the answer)."""
    for _ in range(200):
        if len(smtp.messages) >= count:
            break
        time.sleep(0.05)
    return smtp.messages


def _body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _victim(server: DeskServer, url: str = URL) -> tuple[Visitor, str]:
    """A victim signed in to a new adult case with ``url``, who consents and leaves an
    address for news."""
    visitor = server.visitor(**{"Accept-Language": "en"})
    number, _ = card(report(visitor, url=url))
    status = visitor.get("/desk/status")
    assert "TAKE IT DOWN" in status.text
    refused = visitor.post(
        "/desk/status/consent", {"name": "Person One", "contact": NEWS, "signature": "P One"}
    )
    assert refused.status_code == 422  # the box not ticked: nothing recorded
    assert 'role="alert"' in refused.text
    consented = visitor.post(
        "/desk/status/consent",
        {"name": "Person One", "contact": NEWS, "signature": "Person One", "confirm": "yes"},
    )
    assert consented.status_code == 303, consented.text
    assert visitor.post("/desk/status/news", {"address": "not an address"}).status_code == 422
    assert visitor.post("/desk/status/news", {"address": NEWS}).status_code == 303
    return visitor, number


def _draft(reviewer: Visitor, number: str) -> str:
    """Draft a notice from the case's page; its reference."""
    page = reviewer.get(f"/desk/staff/cases/{number}")
    assert "Draft a notice to Social Test" in _text(page)
    item = re.search(r'name="item" value="(\d+)"', page.text)
    assert item is not None
    drafted = reviewer.post(
        f"/desk/staff/cases/{number}/notices",
        {"platform": "social", "item": item.group(1), "nature": "ncii"},
    )
    assert drafted.status_code == 303, drafted.text
    found = _REFERENCE.search(drafted.headers["location"])
    assert found is not None
    return found.group(1)


def test_a_notice_is_drafted_previewed_sent_and_answered_and_the_victim_reads_it(
    notice_server: DeskServer, smtp_server: SmtpServer
) -> None:
    victim, number = _victim(notice_server)
    reviewer = staff_visitor(notice_server, new_key(notice_server, Role.REVIEWER))
    reference = _draft(reviewer, number)
    assert "Draft a notice to" not in _text(reviewer.get(f"/desk/staff/cases/{number}"))
    page = reviewer.get(f"/desk/staff/notices/{reference}")
    assert page.status_code == 200
    assert "Nothing: every element its jurisdictions require is there." in _text(page)
    assert f'src="/desk/staff/notices/{reference}/preview"' in page.text
    assert "sandbox" in page.text
    assert URL in page.text  # the text rendering
    # The HTML preview: the stricter policy, nothing run, framed by the desk only.
    preview = reviewer.get(f"/desk/staff/notices/{reference}/preview")
    assert preview.status_code == 200
    assert preview.headers["content-security-policy"] == DESK_PREVIEW_CONTENT_SECURITY_POLICY
    assert preview.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in preview.text
    assert URL in preview.text
    assert page.headers["content-security-policy"] == DESK_CONTENT_SECURITY_POLICY
    # The PDF, as a download, read back.
    pdf = reviewer.get(f"/desk/staff/notices/{reference}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{reference}.pdf"'
    assert URL in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert smtp_server.messages == []
    # Sent: the platform's mail, then the victim's news (nothing of the case in it).
    sent = reviewer.post(f"/desk/staff/notices/{reference}/send")
    assert sent.status_code == 303, sent.text
    mails = _mails(smtp_server, 2)
    assert [mail["To"] for mail in mails] == ["abuse@social.test", NEWS]
    assert reference in mails[0]["Subject"]
    news = _body(mails[1])
    for said in (number, reference, URL, "Social"):
        assert said not in news
        assert said not in mails[1]["Subject"]
    page = reviewer.get(f"/desk/staff/notices/{reference}")
    assert "Record the platform's answer" in _text(page)
    notice_server.clock.advance(timedelta(minutes=20))  # the session lives on
    received = reviewer.post(
        f"/desk/staff/notices/{reference}/reply", {"kind": "receipt", "at": "2026-12-01T13:10"}
    )
    assert received.status_code == 303, received.text
    decided = reviewer.post(
        f"/desk/staff/notices/{reference}/reply",
        {
            "kind": "decision",
            "decision": "removed",
            "automated": "no",
            "reference": "T-1",
            "at": "2026-12-01T13:15",
        },
    )
    assert decided.status_code == 303, decided.text
    notice = notice_server.app.state.services.notices.for_case(number, VICTIM)[0]
    assert [reply.kind.value for reply in notice.replies] == ["receipt", "decision"]
    assert notice.replies[0].at.isoformat() == "2026-12-01T12:10:00+00:00"  # Paris, in winter
    # The victim reads it, in English and in French, times in the desk's zone.
    status = _text(victim.get("/desk/status?lang=en"))
    assert re.search(r"Sent to Social Test on .+, answer due by .+\.", status), status
    assert "The platform confirmed it received the notice." in status
    assert "The platform's decision: removed." in status
    french = _text(victim.get("/desk/status?lang=fr"))
    assert re.search(r"Envoyée à Social Test le .+, réponse attendue au plus tard le .+\.", french)
    assert "Décision de la plateforme : supprimé." in french
    assert "1 décembre 2026, 13:00:00 +0100" in french  # sent at noon UTC, shown in Paris
    queue = reviewer.get("/desk/staff/queue")
    assert number in queue.text


def test_a_lost_secret_is_reset_by_a_link_that_works_once(
    notice_server: DeskServer, smtp_server: SmtpServer
) -> None:
    victim, number = _victim(notice_server)
    stranger = notice_server.visitor()
    assert "/desk/lost" in stranger.get("/desk/sign-in").text
    stranger.get("/desk/lost")
    asked = stranger.post("/desk/lost", {"number": number})
    unknown = notice_server.visitor()
    unknown.get("/desk/lost")
    other = unknown.post("/desk/lost", {"number": "R-AAAAAAAAAA"})
    assert asked.status_code == other.status_code == 200
    assert _text(asked) == _text(other)  # the same answer, address or none
    [mail] = _mails(smtp_server, 1)
    assert mail["To"] == NEWS
    link = next(line for line in _body(mail).split() if "/desk/reset/" in line)
    path = link.removeprefix(notice_server.url)
    assert path.startswith("/desk/reset/")
    opened = stranger.get(path)
    assert opened.status_code == 200
    assert "Show my new secret" in opened.text
    shown = stranger.post(path)
    assert shown.status_code == 200, shown.text
    again_number, secret = card(shown)
    assert again_number == number
    assert notice_server.desk.sign_in(number, secret).number == number
    assert stranger.get("/desk/status").status_code == 200  # signed in with the new secret
    assert victim.get("/desk/status").status_code == 303  # the old secret's session ended
    assert stranger.get(path).status_code == 404
    refused = stranger.post(path)
    assert refused.status_code == 404
    assert "This link does not work" in _text(refused)
    assert "secret-reset" in [event.kind for event in notice_server.desk.events(number)]


def test_what_no_profile_names_waits_and_a_form_platform_takes_a_delivery(
    notice_server: DeskServer,
) -> None:
    visitor = notice_server.visitor()
    number, _ = card(report(visitor, url="https://unknown.example.net/a\nhttps://forms.test/p/2"))
    reviewer = staff_visitor(notice_server, new_key(notice_server, Role.REVIEWER))
    page = _text(reviewer.get(f"/desk/staff/cases/{number}"))
    assert "waiting: no platform profile names unknown.example.net" in page
    queue = _text(reviewer.get("/desk/staff/queue"))
    assert "Waiting: no platform profile names unknown.example.net" in queue
    assert "Draft a notice to UK Form" in page
    drafted = reviewer.post(
        f"/desk/staff/cases/{number}/notices", {"platform": "uk-form", "nature": "ncii"}
    )
    reference = drafted.headers["location"].rsplit("/", 1)[1]
    notice = reviewer.get(f"/desk/staff/notices/{reference}")
    assert "Record the delivery" in _text(notice)
    assert 'name="how"' in notice.text
    refused = reviewer.post(
        f"/desk/staff/notices/{reference}/delivery", {"at": "yesterday", "how": "the form"}
    )
    assert refused.status_code == 400 or refused.status_code == 422
    # Paris's first offset (LMT) is +00:09:21: this time's UTC is before year 1.
    edge = reviewer.post(
        f"/desk/staff/notices/{reference}/delivery", {"at": "0001-01-01T00:05", "how": "the form"}
    )
    assert edge.status_code in (400, 422), edge.text
    notice_server.clock.advance(timedelta(minutes=10))
    recorded = reviewer.post(
        f"/desk/staff/notices/{reference}/delivery",
        {"at": "2026-12-01T13:05", "how": "the web form", "ticket": "TK-9"},
    )
    assert recorded.status_code == 303, recorded.text
    sent = _text(reviewer.get(f"/desk/staff/notices/{reference}"))
    assert "ticket TK-9" in sent
    assert "Suggested next steps" not in sent  # on time: nothing to escalate yet
    listing = reviewer.get("/desk/staff/platforms")
    platforms = _text(listing)
    for name in ("us-take-it-down", "eu-dsa", "fr-authority", "UK Form", "example, never sent to"):
        assert name in platforms
    # Words a template writes apart stay apart (the page, not _text, which spaces tags out).
    assert "48 hours from sending (provisional)" in " ".join(listing.text.split())


def test_notice_forms_need_the_session_and_its_token(notice_server: DeskServer) -> None:
    _, number = _victim(notice_server)
    reviewer = staff_visitor(notice_server, new_key(notice_server, Role.REVIEWER))
    reference = _draft(reviewer, number)
    forged = reviewer.post(f"/desk/staff/notices/{reference}/send", {"csrf": "x"})
    assert forged.status_code == 403
    elsewhere = reviewer.post(f"/desk/staff/notices/{reference}/send", origin="https://evil.test")
    assert elsewhere.status_code == 403
    visitor = notice_server.visitor()
    assert visitor.get(f"/desk/staff/notices/{reference}").status_code == 303
    assert visitor.get(f"/desk/staff/notices/{reference}/pdf").status_code == 401
    assert (
        notice_server.app.state.services.notices.for_case(number, VICTIM)[0].state.value == "draft"
    )


def test_a_draft_lacking_an_element_says_which_and_is_not_sent(
    notice_server: DeskServer, smtp_server: SmtpServer
) -> None:
    visitor = notice_server.visitor()
    number, _ = card(report(visitor, url=URL))  # no consent: no signature
    reviewer = staff_visitor(notice_server, new_key(notice_server, Role.REVIEWER))
    reference = _draft(reviewer, number)
    page = reviewer.get(f"/desk/staff/notices/{reference}")
    assert "What it lacks" in _text(page)
    assert "<strong>signature</strong>" in page.text
    assert re.search(r"<button type=\"submit\" disabled>Send the notice by e-mail", page.text)
    refused = reviewer.post(f"/desk/staff/notices/{reference}/send")
    assert refused.status_code == 422
    assert "The notice is not complete" in _text(refused)
    assert "signature" in refused.text
    assert smtp_server.messages == []


def test_a_minors_status_page_asks_for_no_address_and_keeps_none(
    notice_server: DeskServer,
) -> None:
    visitor = notice_server.visitor(**{"Accept-Language": "en"})
    number, _ = card(report(visitor, age="under-18", url=URL))
    adult = notice_server.visitor(**{"Accept-Language": "en"})
    card(report(adult, url=URL))
    assert 'name="address"' in adult.get("/desk/status").text  # the form, on an adult's case
    status = visitor.get("/desk/status")
    assert status.status_code == 200
    assert 'name="address"' not in status.text
    refused = visitor.post("/desk/status/news", {"address": NEWS})
    assert refused.status_code == 422
    assert notice_server.app.state.services.news.address(number) is None


def test_a_notice_left_sending_is_offered_to_a_reviewer_to_send(
    notice_server: DeskServer, smtp_server: SmtpServer
) -> None:
    _, number = _victim(notice_server)
    reviewer = staff_visitor(notice_server, new_key(notice_server, Role.REVIEWER))
    reference = _draft(reviewer, number)
    with notice_server.store.write() as connection:  # as a server stopped mid-attempt leaves it
        connection.execute(
            update(desk_notices)
            .where(desk_notices.c.id == int(reference[2:]))
            .values(state="sending")
        )
    page = reviewer.get(f"/desk/staff/notices/{reference}")
    assert "An attempt to send it has not finished" in _text(page)
    assert "Send it now" in page.text
    sent = reviewer.post(f"/desk/staff/notices/{reference}/send", {"again": "yes"})
    assert sent.status_code == 303, sent.text
    assert len(_mails(smtp_server, 1)) >= 1
    assert (
        notice_server.app.state.services.notices.for_case(number, VICTIM)[0].state.value == "sent"
    )
