"""The app served in this process, for the API's contract tests: no socket and no process, so
that a test reads what the app answers and nothing else.

The app's lifespan (open the database, load the match index, follow the database) runs on an
event loop in a thread of its own, as it would in a worker; clients are ordinary
``httpx.Client``s whose transport hands each request to the app on that loop. The tests that are
about processes (a crash, a kill, several workers, raw sockets) use ``RunningServer`` instead.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future

import httpx

from rempart.config import Settings
from rempart.server import create_app

__all__ = ["InProcessServer"]


class InProcessServer:
    """``create_app(settings)`` with its lifespan running; ``client`` talks to it."""

    url = "http://rempart.test"

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lifespan: Future[None] | None = None

    def start(self, *, timeout: float = 60) -> InProcessServer:
        """Run the lifespan and wait until ``/readyz`` says the match index is loaded."""
        self._thread.start()
        started: Future[None] = Future()
        self._lifespan = asyncio.run_coroutine_threadsafe(self._live(started), self._loop)
        started.result(timeout=timeout)
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while client.get("/readyz").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not become ready")
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        """End the lifespan (the audit queue is committed, the database closed)."""
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._lifespan is not None:
            self._lifespan.result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def client(self, key: str | None = None, **options: object) -> httpx.Client:
        """A client of the app, sending ``key`` as a bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=60,
            transport=_Bridge(self.app, self._loop),
            **options,  # type: ignore[arg-type]
        )

    async def _live(self, started: Future[None]) -> None:
        self._stopping = asyncio.Event()
        async with self.app.router.lifespan_context(self.app):
            started.set_result(None)
            await self._stopping.wait()


class _Bridge(httpx.BaseTransport):
    """A synchronous transport that sends each request to the app on its loop."""

    def __init__(self, app: object, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))  # type: ignore[arg-type]
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The body is read here: the ASGI transport wants a stream it can read asynchronously.
        body = request.read()
        copied = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        found = asyncio.run_coroutine_threadsafe(self._send(copied), self._loop)
        status, headers, content = found.result(timeout=120)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return response.status_code, response.headers, content
