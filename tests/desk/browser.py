"""A real browser for the desk's tests and benchmark: Debian's chromium driven by Playwright
(never Playwright's own download), and a loopback site serving the desk's static files, the
test pages of ``tests/desk/pages`` and files made by a test.

Fixtures ``browser`` (one chromium per module) and ``site``: a test module imports
``browser_fixture`` and ``site_fixture`` to have them. Without chromium or Playwright they
skip, saying why, unless TEST_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

import importlib.util
import mimetypes
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; .ci/run installs it
CHROMIUM_ARGS = (
    "--no-sandbox",  # containers and CI runners have no user namespaces for it
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebGL2 without a GPU: SwiftShader, the software renderer chromium ships.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
)
STATIC = Path(__file__).resolve().parents[2] / "src" / "rempart" / "desk" / "web" / "static"
PAGES = Path(__file__).resolve().parent / "pages"


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -e '.[dev]'"
    if shutil.which(CHROMIUM) is None:
        return f"chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


@contextmanager
def launch() -> Iterator[Browser]:
    """Start headless chromium; close it on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class Site:
    """A loopback HTTP server: ``/desk/static/NAME`` from the package's static files (the
        path the desk serves them at), ``/pages/NAME`` from the test pages, ``/files/NAME`` from
        what ``put`` was given. A thread in this process serves it: pixels and photos reach the
    page far faster than through Playwright's routing."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.body(self.path)
                if body is None:
                    self.send_error(404)
                    return
                kind = mimetypes.guess_type(self.path)[0] or "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows the failures that matter

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.server.server_port}"

    def put(self, name: str, data: bytes) -> str:
        """Serve ``data`` at ``/files/NAME``; its URL."""
        self.files[name] = data
        return f"{self.url}/files/{name}"

    def body(self, path: str) -> bytes | None:
        """The bytes served at ``path``, or None (404)."""
        folder, _, name = path.split("?")[0].rpartition("/")
        if folder == "/files":
            return self.files.get(name)
        roots = {"/desk/static": STATIC, "/pages": PAGES}
        if folder in roots and name and (roots[folder] / name).is_file():
            return (roots[folder] / name).read_bytes()
        return None

    def open(self, browser: Browser, path: str) -> Page:
        """A new page, in a context of its own, at ``path`` on this site."""
        page = browser.new_context().new_page()
        page.goto(self.url + path)
        return page

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """One headless chromium for the module (skipped, or failed in CI, where absent)."""
    reason = missing_browser()
    if reason is not None:
        unavailable(reason, "TEST_REQUIRE_BROWSER")
    with launch() as started:
        yield started


@pytest.fixture(scope="module", name="site")
def site_fixture() -> Iterator[Site]:
    """The loopback site, for the module."""
    served = Site()
    yield served
    served.close()
