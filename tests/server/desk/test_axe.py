"""Every desk page, in French and in English, through axe-core in a real browser: no serious or
critical accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from rempart.access.keys import ApiKeys, Role
from tests.desk.browser import browser_fixture  # noqa: F401
from tests.desk.smtp import SmtpServer
from tests.server.desk.conftest import LiveDesk, desk_settings, notice_environ

if TYPE_CHECKING:  # Playwright may be absent: the fixtures then skip
    from playwright.sync_api import Browser, Page

SERIOUS = {"serious", "critical"}
CARD = re.compile(r"(R-[A-Z2-7]{10}).*?([A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5})", re.S)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    """A desk that sends notices, to a mail server of its own."""
    folder = tmp_path_factory.mktemp("desk")
    with SmtpServer() as mail:
        environ = notice_environ(folder / "platforms", mail)
        server = LiveDesk(desk_settings(folder / "data", **environ)).start()
        yield server
        server.stop()


def _violations(page: Page) -> list[dict[str, Any]]:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    found: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"][:3]]}
        for v in found
        if v["impact"] in SERIOUS
    ]


def _victim_pages(page: Page, url: str, card: list[str]) -> Iterator[str]:
    """Walk the victim's pages, yielding each one's name once it is shown; ``card`` gets the
    case's number and secret."""
    page.goto(f"{url}/desk")
    yield "home"
    page.goto(f"{url}/desk/report")
    yield "report: the age question"
    page.goto(f"{url}/desk/report?age=under-18")
    yield "report: a minor's items"
    page.goto(f"{url}/desk/report?age=adult")
    yield "report: an adult's items"
    page.fill("#urls", "not a link")
    page.click("#report button[type=submit]")
    yield "report: refused, to correct"
    page.fill("#urls", "https://example.org/a")  # a platform under TAKE IT DOWN
    page.click("#report button[type=submit]")
    yield "card"
    found = CARD.search(page.inner_text(".card"))
    assert found is not None
    card.extend(found.groups())
    page.goto(f"{url}/desk/status")
    yield "status: consent and news forms"
    page.fill("#consent-name", "Person One")
    page.fill("#consent-contact", "person@example.net")
    page.fill("#consent-signature", "Person One")
    page.click("form[action='/desk/status/consent'] button")
    yield "status: refused consent, to correct"
    page.check("#consent-confirm")
    page.click("form[action='/desk/status/consent'] button")
    page.fill("#news-address", "person@example.net")
    page.click("form:has(#news-address) button")
    yield "status: consent given, news address set"
    page.goto(f"{url}/desk/lost")
    yield "lost secret"
    page.fill("#number", "R-AAAAAAAAAA")
    page.click("main button[type=submit]")
    yield "lost secret: asked"
    page.goto(f"{url}/desk/reset/{'a' * 43}")
    yield "reset: a link that does not work"
    page.goto(f"{url}/desk/sign-in")
    yield "sign-in"
    page.fill("#number", "R-AAAAAAAAAA")
    page.fill("#secret", "AAAAA-AAAAA-AAAAA-AAAAA")
    page.click("main button[type=submit]")
    yield "sign-in: refused"
    page.goto(f"{url}/desk/nowhere")
    yield "not found"


def _staff_pages(page: Page, url: str, key: str, card: list[str]) -> Iterator[str]:
    """Walk the staff's pages, on the case of ``card`` (the victim's walk opened it)."""
    page.goto(f"{url}/desk/staff")
    yield "staff sign-in"
    page.fill("#key", key)
    page.click("main button[type=submit]")
    yield "queue"
    assert card[0] in page.inner_text("main")
    page.goto(f"{url}/desk/staff/cases/{card[0]}?sealed=1")
    yield "case"
    page.click("form[action$='/notices'] button")
    yield "notice: a draft and its preview"
    page.click("main form[action$='/send'] button")
    yield "notice: sent, with its answer forms"
    page.goto(f"{url}/desk/staff/platforms")
    yield "platforms"
    page.goto(f"{url}/desk/staff/new")
    yield "new case under a mandate"


def _victim_again(page: Page, url: str, card: list[str]) -> Iterator[str]:
    """The victim signs in again and reads the notice sent."""
    page.goto(f"{url}/desk/sign-in")
    page.fill("#number", card[0])
    page.fill("#secret", card[1])
    page.click("main button[type=submit]")
    assert "/desk/status" in page.url
    yield "status: a notice sent"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_page_has_a_serious_accessibility_violation(
    browser: Browser, live: LiveDesk, language: str
) -> None:
    admin = ApiKeys(live.app.state.services.runtime.store).create(Role.ADMIN).secret
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    seen: dict[str, list[dict[str, Any]]] = {}
    card: list[str] = []
    walks = (
        _victim_pages(page, live.url, card),
        _staff_pages(page, live.url, admin, card),
        _victim_again(page, live.url, card),
    )
    for walk in walks:
        for name in walk:
            assert page.locator("html").get_attribute("lang") == language, name
            seen[name] = _violations(page)
    assert len(seen) == 23
    assert not {name: found for name, found in seen.items() if found}
    context.close()
