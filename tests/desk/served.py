"""A real HTTP server for the desk's fetches (removal checks, captures): the standard
library's ``ThreadingHTTPServer`` on 127.0.0.1, in a thread of the test's process, answering
each path as a test sets it and keeping every request it received.

A test module imports the fixture::

    from tests.desk.served import Site, site_fixture  # noqa: F401

    def test_it(site: Site) -> None:
        site.serve("/a.png", png_bytes, "image/png")
        site.serve("/gone", b"", status=404)
        site.redirect("/r", "http://169.254.169.254/")
        ...  # fetch site.url("/a.png") with HttpFetcher(allow=[site.allow])
        assert [r.method for r in site.requests] == ["HEAD"]

A path nobody set answers 404. ``site.allow`` is the ``REMPART_DESK_FETCH_ALLOW`` entry
(``127.0.0.1:PORT``) that lets a fetcher reach this server and nothing else on loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

__all__ = ["Answer", "Seen", "Site", "site_fixture"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server answers on a path."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """The server: set answers with ``serve``/``redirect``, read ``requests``."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def _answer(self, *, body: bool) -> None:
                with site._lock:
                    site.requests.append(Seen(self.command, self.path, dict(self.headers)))
                    answer = site.answers.get(self.path.split("?", 1)[0], Answer(404, b"gone"))
                if answer.delay:
                    threading.Event().wait(answer.delay)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                if body:
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: pytest shows what matters

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def allow(self) -> str:
        """The ``REMPART_DESK_FETCH_ALLOW`` entry for this server alone."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The server's address for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        *,
        status: int = 200,
        headers: tuple[tuple[str, str], ...] = (),
        delay: float = 0.0,
    ) -> None:
        """Answer ``path`` with this status, body and type from now on."""
        with self._lock:
            self.answers[path] = Answer(status, body, content_type, headers, delay)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location``."""
        self.serve(path, b"", status=status, headers=(("Location", location),))

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture(name="site")
def site_fixture() -> Iterator[Site]:
    """A fresh local web server for one test."""
    with Site() as site:
        yield site
