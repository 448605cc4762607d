"""The notices in a real browser (Debian's chromium), against a desk served on loopback that
mails a real mail server (aiosmtpd): the victim consents with a typed signature and leaves a
news address; a reviewer drafts, previews (the HTML in its sandboxed frame, the PDF
downloaded and read back), sends, records the receipt and the decision; the victim reads
"sent on ..., answer due by ..." and the outcome in English and French; a lost secret's link
works once. No request leaves the desk's origin."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from rempart.access.keys import ApiKeys, Role
from tests.desk.browser import browser_fixture  # noqa: F401
from tests.desk.smtp import SmtpServer
from tests.server.desk.conftest import LiveDesk, desk_settings, notice_environ
from tests.server.desk.test_privacy_browser import Watched
from tests.server.running import free_port

if TYPE_CHECKING:  # Playwright may be absent: the fixtures then skip
    from playwright.sync_api import Browser, BrowserContext, Page

URL = "https://example.org/p/1"  # the test platform "social": DSA and TAKE IT DOWN
NEWS = "person@example.net"
NUMBER = re.compile(r"R-[A-Z2-7]{10}")


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, mail: SmtpServer) -> Iterator[LiveDesk]:
    folder = tmp_path_factory.mktemp("desk")
    port = free_port()
    environ = notice_environ(folder / "platforms", mail, desk_url=f"http://127.0.0.1:{port}")
    server = LiveDesk(desk_settings(folder / "data", **environ), port=port).start()
    yield server
    server.stop()


def wait_for_mail(mail: SmtpServer, count: int) -> list[EmailMessage]:
    """The messages once there are ``count`` (a link is mailed after the page answers)."""
    for _ in range(400):
        if len(mail.messages) >= count:
            break
        time.sleep(0.05)
    assert len(mail.messages) >= count, [m["Subject"] for m in mail.messages]
    return mail.messages


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def report_and_consent(page: Page, url: str) -> str:
    """A victim reports ``URL``, consents with a typed signature, leaves a news address."""
    page.goto(f"{url}/desk/report?age=adult&lang=en")
    page.fill("#urls", URL)
    page.click("#report button[type=submit]")
    found = NUMBER.search(page.inner_text(".card"))
    assert found is not None
    page.goto(f"{url}/desk/status")
    page.fill("#consent-name", "Person One")
    page.fill("#consent-contact", NEWS)
    page.fill("#consent-signature", "Person One")
    page.check("#consent-confirm")
    page.click("text=Sign and consent")
    assert "You have consented" in page.inner_text("main")
    page.fill("#news-address", NEWS)
    page.click("text=Save the address")
    assert "News goes to p…@example.net" in page.inner_text("main")
    return found.group(0)


def staff_page(context: BrowserContext, url: str, key: str) -> Page:
    page = context.new_page()
    page.goto(f"{url}/desk/staff?lang=en")
    page.fill("#key", key)
    page.click("main button[type=submit]")
    return page


def test_a_notice_goes_from_draft_to_decision_and_the_victim_reads_it(
    browser: Browser, live: LiveDesk, mail: SmtpServer, tmp_path: Path
) -> None:
    victim_context = browser.new_context()
    staff_context = browser.new_context(accept_downloads=True)
    watched = [Watched(c, live.url) for c in (victim_context, staff_context)]
    victim = victim_context.new_page()
    number = report_and_consent(victim, live.url)
    key = ApiKeys(live.app.state.services.runtime.store).create(Role.REVIEWER).secret
    staff = staff_page(staff_context, live.url, key)
    staff.goto(f"{live.url}/desk/staff/cases/{number}")
    staff.click("text=Draft the notice")
    assert "/desk/staff/notices/N-" in staff.url
    assert "Nothing: every element its jurisdictions require is there." in staff.inner_text("main")
    # The preview: the notice's own HTML in the sandboxed frame, from this site.
    frame = staff.frame_locator("iframe.preview")
    assert URL in frame.locator("body").inner_text()
    with staff.expect_download() as download:
        staff.click("text=Download the PDF")
    saved = tmp_path / "notice.pdf"
    download.value.save_as(saved)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(saved.read_bytes())).pages)
    assert URL in text
    staff.click("text=Send the notice by e-mail")
    assert "Record the platform's answer" in staff.inner_text("main")
    messages = wait_for_mail(mail, 2)
    assert [m["To"] for m in messages[-2:]] == ["abuse@social.test", NEWS]
    assert number not in body(messages[-1])
    staff.check("#kind-receipt")
    staff.click("text=Record the answer")
    staff.check("#kind-decision")
    staff.select_option("#reply-decision", "removed")
    staff.click("text=Record the answer")
    assert "removed" in staff.inner_text("table")
    victim.goto(f"{live.url}/desk/status?lang=en")
    english = victim.inner_text("main")
    assert re.search(r"Sent to Social Test on .+, answer due by .+\.", english), english
    assert "The platform confirmed it received the notice." in english
    assert "The platform's decision: removed." in english
    victim.goto(f"{live.url}/desk/status?lang=fr")
    french = victim.inner_text("main")
    assert re.search(r"Envoyée à Social Test le .+, réponse attendue au plus tard le .+\.", french)
    assert "Décision de la plateforme : supprimé." in french
    for seen in watched:
        seen.check(b"")
    victim_context.close()
    staff_context.close()


def test_a_lost_secrets_link_works_once(browser: Browser, live: LiveDesk, mail: SmtpServer) -> None:
    context = browser.new_context()
    watched = Watched(context, live.url)
    page = context.new_page()
    number = report_and_consent(page, live.url)
    before = len(mail.messages)
    other = browser.new_context()
    lost = other.new_page()
    lost.goto(f"{live.url}/desk/sign-in?lang=en")
    lost.click("text=Lost your secret?")
    lost.fill("#number", number)
    lost.click("main button[type=submit]")
    assert "a link to set a new secret is on its way" in lost.inner_text("main")
    link = next(
        word for word in body(wait_for_mail(mail, before + 1)[-1]).split() if "/desk/reset/" in word
    )
    assert link.startswith(live.url)
    lost.goto(link)
    lost.click("text=Show my new secret")
    card = lost.inner_text(".card")
    assert number in card
    page.goto(f"{live.url}/desk/status")
    assert page.url.endswith("/desk/sign-in")  # the old secret's session ended
    lost.goto(link)
    assert "This link does not work" in lost.inner_text("main")
    watched.check(b"")
    context.close()
    other.close()
