"""A victim's report in a real browser (Debian's chromium), JavaScript on and off, with every
request the browser makes intercepted before it goes: none carries 16 bytes in a row of the
photo, none goes to another origin, and the case holds the hash ``rempart hash`` gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from rempart.hashing import hamming, pack
from rempart.hashing.files import hash_media
from rempart.media import load_bytes
from rempart.server.desk.pages import NEUTRAL_PAGE
from tests.desk.browser import Site, browser_fixture, site_fixture  # noqa: F401
from tests.images import encode, gradient
from tests.server.desk.conftest import LiveDesk, desk_settings

if TYPE_CHECKING:  # Playwright may be absent: the fixtures then skip
    from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Request, Route

WINDOW = 16
NUMBER = re.compile(r"R-[A-Z2-7]{10}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDesk]:
    server = LiveDesk(desk_settings(tmp_path_factory.mktemp("desk") / "data")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A benign made-up PNG: a textured gradient under a mosaic of coloured squares."""
    cells = np.random.default_rng(18).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    mosaic = np.kron(cells, np.ones((20, 20, 1), np.uint8)).astype(np.float32)
    under = np.asarray(gradient(640, 480, seed=18), np.float32)
    return encode(Image.fromarray((0.7 * mosaic + 0.3 * under).astype(np.uint8)), "PNG")


class Watched:
    """Every request of a browser context, recorded before it goes; those to another origin
    are recorded and stopped."""

    def __init__(self, context: BrowserContext, origin: str) -> None:
        self.origin = origin
        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        context.route("**/*", self._handle)

    def _handle(self, route: Route, request: Request) -> None:
        body = request.post_data_buffer or b""
        self.requests.append((request.url, request.method, body, request.headers))
        if request.url.startswith(self.origin + "/"):
            route.continue_()
        else:
            route.abort()

    def check(self, photo: bytes) -> None:
        """Nothing went elsewhere; no request carried 16 bytes in a row of the photo."""
        assert self.requests
        for url, _, body, _ in self.requests:
            assert url.startswith(self.origin + "/"), url
            for sent in (body, url.encode()):
                for start in range(max(0, len(sent) - WINDOW + 1)):
                    assert sent[start : start + WINDOW] not in photo, (url, start)


def _report(page: Page, live: LiveDesk, photo: bytes, *, hashed: bool) -> str:
    """Report the photo (hashed in the page where ``hashed``) and a link; the case number."""
    page.goto(f"{live.url}/desk/report")
    page.check("#age-adult")
    page.click("main button[type=submit]")
    chosen: FilePayload = {"name": "photo.png", "mimeType": "image/png", "buffer": photo}
    page.set_input_files("#photos", files=[chosen])
    if hashed:
        page.wait_for_selector("#report input[name=pdq]", state="attached", timeout=60_000)
    page.fill("#urls", "https://example.com/reported")
    page.click("#report button[type=submit]")
    page.wait_for_selector(".card")
    found = NUMBER.search(page.inner_text(".card"))
    assert found is not None
    return found.group(0)


def _distance(a: str, b: str) -> int:
    return int(hamming(pack([a]), pack([b]))[0])


def test_a_photo_hashed_in_the_page_is_reported_by_its_hash_alone(
    browser: Browser, live: LiveDesk, photo: bytes
) -> None:
    context = browser.new_context()
    watched = Watched(context, live.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    number = _report(page, live, photo, hashed=True)
    assert not errors, errors
    case = live.desk.get(number)
    hashes = [item for item in case.items if item.pdq]
    assert len(hashes) == 1
    expected = hash_media(load_bytes(photo), path="-")
    assert _distance(hashes[0].pdq or "", expected.pdq) <= 4
    assert [item.url for item in case.items if item.url] == ["https://example.com/reported"]
    # The browser's own form post passed the origin check (Origin: null under no-referrer).
    posts = [headers for url, method, _, headers in watched.requests if method == "POST"]
    assert posts
    watched.check(photo)
    # The worker that hashed it was loaded from this site too.
    assert any(url.endswith("/desk/static/pdq.js") for url, *_ in watched.requests)
    context.close()


def test_without_javascript_links_are_reported_and_the_photo_stays(
    browser: Browser, live: LiveDesk, photo: bytes
) -> None:
    context = browser.new_context(java_script_enabled=False)
    watched = Watched(context, live.url)
    page = context.new_page()
    number = _report(page, live, photo, hashed=False)
    case = live.desk.get(number)
    assert [(item.url, item.pdq) for item in case.items] == [("https://example.com/reported", None)]
    watched.check(photo)
    context.close()


def test_quick_exit_leaves_at_once_and_forgets_the_session(
    browser: Browser, live: LiveDesk, photo: bytes
) -> None:
    context = browser.new_context(java_script_enabled=False)
    Watched(context, live.url)
    page = context.new_page()
    _report(page, live, photo, hashed=False)
    page.goto(f"{live.url}/desk/status")
    assert NUMBER.search(page.inner_text("main"))
    with page.expect_request(NEUTRAL_PAGE):  # where the browser goes (stopped here)
        page.click("text=Quick exit")
    assert not [c for c in context.cookies() if c["name"] != "lang"]
    # A fresh tab: the stopped exit's error page may still be committing in the old one,
    # and would interrupt a navigation there.
    again = context.new_page()
    again.goto(f"{live.url}/desk/status")
    assert again.url.endswith("/desk/sign-in")
    context.close()


def test_a_form_on_another_site_cannot_act_on_a_case(
    browser: Browser, live: LiveDesk, site: Site, photo: bytes
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    number = _report(page, live, photo, hashed=False)
    page.goto(f"{live.url}/desk/status")
    forged = site.put(
        "forged.html",
        (
            f'<form method="post" action="{live.url}/desk/status/withdraw">'
            '<input name="confirm" value="yes"><input name="csrf" value="x">'
            '<button id="go">go</button></form>'
        ).encode(),
    )
    page.goto(forged)
    with page.expect_response(f"{live.url}/desk/status/withdraw") as answer:
        page.click("#go")
    assert answer.value.status == 403
    assert live.desk.get(number).state.value != "withdrawn"
    context.close()


def test_the_photo_is_made_here(photo: bytes) -> None:
    # The photo is a gradient made by the test, never a file of people.
    assert photo.startswith(b"\x89PNG")
    assert hash_media(load_bytes(photo), path="-").quality >= 80
