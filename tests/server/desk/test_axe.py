"""Every desk page, in French and in English, through axe-core in a real browser: no serious or
critical accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from rempart.access.keys import ApiKeys, Role
from tests.desk.browser import browser_fixture  # noqa: F401
from tests.server.desk.conftest import LiveDesk, desk_settings

if TYPE_CHECKING:  # Playwright may be absent: the fixtures then skip
    from playwright.sync_api import Browser, Page

SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    server = LiveDesk(desk_settings(tmp_path_factory.mktemp("desk") / "data")).start()
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


def _victim_pages(page: Page, url: str) -> Iterator[str]:
    """Walk the victim's pages, yielding each one's name once it is shown."""
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
    page.fill("#urls", "https://example.com/a")
    page.click("#report button[type=submit]")
    yield "card"
    page.goto(f"{url}/desk/status")
    yield "status"
    page.goto(f"{url}/desk/sign-in")
    yield "sign-in"
    page.fill("#number", "R-AAAAAAAAAA")
    page.fill("#secret", "AAAAA-AAAAA-AAAAA-AAAAA")
    page.click("main button[type=submit]")
    yield "sign-in: refused"
    page.goto(f"{url}/desk/nowhere")
    yield "not found"


def _staff_pages(page: Page, url: str, key: str) -> Iterator[str]:
    page.goto(f"{url}/desk/staff")
    yield "staff sign-in"
    page.fill("#key", key)
    page.click("main button[type=submit]")
    yield "queue"
    number = re.search(r"R-[A-Z2-7]{10}", page.inner_text("main"))
    assert number is not None
    page.goto(f"{url}/desk/staff/cases/{number.group(0)}?sealed=1")
    yield "case"
    page.goto(f"{url}/desk/staff/new")
    yield "new case under a mandate"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_no_page_has_a_serious_accessibility_violation(
    browser: Browser, live: LiveDesk, language: str
) -> None:
    admin = ApiKeys(live.app.state.services.runtime.store).create(Role.ADMIN).secret
    context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    seen: dict[str, list[dict[str, Any]]] = {}
    for walk in (_victim_pages(page, live.url), _staff_pages(page, live.url, admin)):
        for name in walk:
            assert page.locator("html").get_attribute("lang") == language, name
            seen[name] = _violations(page)
    assert len(seen) == 14
    assert not {name: found for name, found in seen.items() if found}
    context.close()
