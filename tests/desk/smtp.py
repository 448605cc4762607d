"""A real mail server for the tests: aiosmtpd on 127.0.0.1, in a thread of the test's process,
keeping every message it accepts as an ``email.message.EmailMessage``.

A test module imports ``smtp_server_fixture`` to have the ``smtp_server`` fixture (a plain
server, no authentication, started on a free port)::

    from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

    def test_it(smtp_server: SmtpServer) -> None:
        ...  # send to smtp_server.host, smtp_server.port, security "none"
        assert smtp_server.messages[0]["To"] == "notices@example.com"

``stop()`` takes it down (SMTP down: a connection is refused) and ``start()`` brings it back on
the same port. For a server that requires a login, or speaks STARTTLS or implicit TLS, build
one: ``with SmtpServer(login=("desk", "secret"), tls=context, implicit_tls=False) as server``.
``refuse`` set to an SMTP reply (``"550 5.7.1 no"``) makes it refuse every message's data.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

__all__ = ["Received", "SmtpServer", "smtp_server_fixture"]


@dataclass(frozen=True, slots=True)
class Received:
    """One accepted message: its envelope and its parsed form."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None
    """The user the client logged in as, or None."""


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives (see the module's doc)."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        login: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.logins: list[tuple[str, str]] = []
        """Every login attempt (user, password), accepted or not."""
        self.refuse: str | None = None
        self._login = login
        self._tls = tls
        self._implicit_tls = implicit_tls
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages accepted so far, oldest first."""
        with self._lock:
            return [received.message for received in self.received]

    def start(self) -> SmtpServer:
        """Listen (again) on the server's port."""
        options: dict[str, Any] = {}
        if self._login is not None:
            options |= {"authenticator": self._authenticate, "auth_require_tls": False}
        if self._tls is not None and self._implicit_tls:
            options["ssl_context"] = self._tls
        elif self._tls is not None:
            options["tls_context"] = self._tls
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening: a client is refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        with self._lock:
            self.logins.append((user, password))
        return AuthResult(success=(user, password) == self._login, handled=False, auth_data=user)

    def _keep(self, envelope: Envelope, session: Session) -> str:
        if self.refuse is not None:
            return self.refuse
        content = envelope.content
        assert isinstance(content, bytes)  # decode_data is off: the raw bytes
        # Lines end as a mailbox stores them (\n), not as they travel (\r\n): a text part
        # then reads back as it was written.
        message = email.message_from_bytes(
            content.replace(b"\r\n", b"\n"), policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        login = session.auth_data
        with self._lock:
            self.received.append(
                Received(
                    str(envelope.mail_from),
                    tuple(envelope.rcpt_tos),
                    message,
                    login if isinstance(login, str) else None,
                )
            )
        return "250 OK"


class _Handler:
    """aiosmtpd's handler: hands each message to its server."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        return self._server._keep(envelope, session)


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """A plain mail server on 127.0.0.1 (no TLS, no login), for the test."""
    with SmtpServer() as server:
        yield server
