"""Loopback fakes of the four exchanges: real HTTP servers on 127.0.0.1 speaking the request and
response shapes python-threatexchange's clients send and parse.

``with fake_exchange("stopncii") as fake:`` starts one; ``make_api(fake.kind, fake.credentials,
url=fake.url, options=fake.options)`` fetches from it. ``add``/``add_many``/``delete`` change
what it serves, ``expire`` makes it refuse the credential (401), ``break_next_page`` makes the
next page unreadable, ``slow`` makes each answer wait, and ``requests`` lists the paths asked
for.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.exchanges.log import EntryLog, Event

__all__ = ["FakeExchange", "Response", "fake_exchange"]

Response = tuple[int, str, bytes]
"""An answer: status, content type, body."""

JSON = "application/json"


def stepping(last: int, count: int) -> int:
    """Stamps for ``count`` changes, one second apart, the last of them now (or after ``last``).

    One stamp per change means a checkpoint (the last stamp seen, even mid-way through a fetch)
    splits the log exactly, so a fake's ``time > checkpoint`` query neither repeats nor drops a
    change; ending now keeps a million of them in the past.
    """
    return max(int(time.time()) - count + 1, last + 1)


class FakeExchange:
    """One exchange's API on loopback. Subclasses answer ``respond`` for their paths."""

    kind: ClassVar[str]
    signal_types: ClassVar[tuple[str, ...]]
    """The pytx signal type names ``add`` takes."""
    malformed_error: ClassVar[tuple[type[BaseException], ...]]
    """What pytx's client raises on the page ``break_next_page`` spoils."""
    expired_status: ClassVar[int] = 401
    """The HTTP status an expired credential gets."""
    steps: ClassVar[bool] = True
    """Each change has its own stamp (see ``stepping``)."""

    def __init__(self, *, page_size: int | None = None) -> None:
        self.log = EntryLog(self.clock, steps=self.steps)
        self.page_size = page_size
        self.requests: list[str] = []
        self.expired = False
        self._broken = False
        self.delay_s = 0.0
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # What the tests use.

    @property
    def url(self) -> str:
        """The base URL ``make_api`` takes."""
        return self.base_url(self._address())

    @property
    def credentials(self) -> str:
        """The credential string ``make_api`` takes (pytx's format for this exchange)."""
        raise NotImplementedError

    @property
    def options(self) -> Mapping[str, str]:
        """The options ``make_api`` takes."""
        return {}

    def add(self, signal_type: str, value: str) -> str:
        """Serve ``value`` as a new (or renewed) hash; returns the key ``signal_records`` gives."""
        self._check_type(signal_type)
        self.log.append(signal_type, [value])
        return self.key(signal_type, value)

    def add_many(self, signal_type: str, values: Sequence[str]) -> None:
        """Serve ``values`` (distinct, not served before) as new hashes; kept, not copied."""
        self._check_type(signal_type)
        self.log.append(signal_type, values)

    def delete(self, signal_type: str, value: str) -> str:
        """Serve a deletion of ``value``; returns the key it names."""
        key = self.key(signal_type, value)
        self.log.append(signal_type, [value], deleted=True)
        return key

    def expire(self) -> None:
        """From now on the credential is refused (401), as an expired or revoked one is."""
        self.expired = True

    def settle(self) -> None:
        """Return once a fetch started now sees every change made so far (see FakeNCMEC)."""

    def slow(self, seconds: float) -> None:
        """From now on each answer waits ``seconds`` first (cut short when the fake stops): an
        exchange slow to answer, to stop a fetch in the middle of."""
        self.delay_s = seconds

    def wait(self) -> None:
        """The wait ``slow`` asked for, before an answer."""
        if self.delay_s:
            self._stopping.wait(self.delay_s)

    def break_next_page(self) -> None:
        """The next page served is malformed (then the fake answers normally again)."""
        self._broken = True

    # What subclasses define.

    def clock(self, last: int, count: int) -> int:
        """The stamp of the first of ``count`` changes (see ``stepping``)."""
        return stepping(last, count)

    def key(self, signal_type: str, value: str) -> str:
        """The ``FetchedSignal.key`` of ``value``."""
        return f"{signal_type}:{value}"

    def base_url(self, address: str) -> str:
        """The URL ``make_api`` takes, from ``http://127.0.0.1:PORT``."""
        return address

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        """The answer to one request."""
        raise NotImplementedError

    # Helpers.

    def take_broken(self) -> bool:
        """True once after ``break_next_page``: the page now being served must be malformed."""
        broken, self._broken = self._broken, False
        return broken

    def capped(self, asked: int) -> int:
        """The page size to serve when the client asks for ``asked``: at most ``page_size``."""
        return min(asked, self.page_size) if self.page_size else asked

    def page_events(self, start: int, stop: int) -> list[Event]:
        """The current changes in ``[start, stop)``."""
        return self.log.events(start, stop)

    def _check_type(self, signal_type: str) -> None:
        if signal_type not in self.signal_types:
            raise ValueError(f"{self.kind} fake serves {self.signal_types}, not {signal_type!r}")

    def _address(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not started (use fake_exchange)")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def json_response(data: Any, status: int = 200) -> Response:
    return status, JSON, json.dumps(data, separators=(",", ":")).encode()


def malformed_json() -> Response:
    """A 200 page cut off half way: what a proxy or a crashed worker leaves."""
    return 200, JSON, b'{"count": 3, "hashRecords": [{"hashValue": '


def _handler_for(fake: FakeExchange) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fake.requests.append(split.path)
            fake.wait()
            query = parse_qs(split.query, keep_blank_values=True)
            try:
                status, content_type, payload = fake.respond(
                    self.command, split.path, query, self.headers, body
                )
            except Exception as exc:  # a fake's bug: say so rather than hang the client
                status, content_type, payload = 599, "text/plain", repr(exc).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows what a test prints, not each request."""

    return Handler


# kind -> the module and class of its fake (imported on use: they import this module)
_FAKES = {
    "stopncii": ("tests.exchanges.stopncii", "FakeStopNCII"),
    "ncmec": ("tests.exchanges.ncmec", "FakeNCMEC"),
    "threatexchange": ("tests.exchanges.threatexchange", "FakeThreatExchange"),
    "tat": ("tests.exchanges.tat", "FakeTAT"),
}


def fake_class(kind: str) -> type[FakeExchange]:
    """The fake of ``kind``."""
    module, name = _FAKES[kind]
    cls: type[FakeExchange] = getattr(importlib.import_module(module), name)
    return cls


@contextmanager
def fake_exchange(kind: str, *, page_size: int | None = None) -> Iterator[FakeExchange]:
    """A started fake of ``kind`` (``stopncii``, ``ncmec``, ``threatexchange``, ``tat``),
    stopped on exit. ``page_size`` is the page size it serves: at most that many where the
    client asks for a size (StopNCII, ThreatExchange), that many where it does not."""
    fake = fake_class(kind)(page_size=page_size)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
