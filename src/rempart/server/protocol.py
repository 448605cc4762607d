"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes a connection idle between requests (``timeout_keep_alive``) but gives a client
as long as it likes to finish its headers: a few connections that send a header line a minute
(slowloris) hold a worker's sockets forever. Here a request's headers must be complete within
``REMPART_API_HEADER_TIMEOUT`` seconds of the connection opening or of the request's first
byte; else the client gets 408 and the connection is closed. The body's deadline is the
``BodyLimit`` middleware's.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from rempart.config import load_settings

__all__ = ["HeaderDeadline"]

_TIMED_OUT: Final = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)


@functools.cache
def header_timeout() -> float:
    """The seconds a client has for its headers, from the worker's environment (each worker
    builds its protocol from an import path, so it cannot be handed the settings)."""
    return load_settings(os.environ).api_header_timeout


class HeaderDeadline(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes a connection whose headers are late (408)."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        """A request's first byte: its headers must follow in time (a kept-alive connection
        is idle until now, and uvicorn's own timeout covers that)."""
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        """The headers are in: the clock stops."""
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Nothing to time any more."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(header_timeout(), self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()
