"""How notices reach platforms: ``Channel.send(outgoing) -> Delivery``. SMTP (the standard
library's smtplib, STARTTLS or implicit TLS, ``REMPART_SMTP_*``; text and HTML bodies, the PDF
attached, the Message-ID kept) for a platform that takes e-mail; a reviewer's record of when and
how it went (and the platform's ticket number) for a web form or another way. The same SMTP
channel tells a victim that there is news (``send_text``), nothing more."""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Final, Protocol

from rempart.config import SMTP_SECURITY, Settings
from rempart.desk.notice_model import ChannelKind, Delivery
from rempart.desk.render import Rendered
from rempart.errors import ConfigError, DeliveryFailedError, NoticeInvalidError

__all__ = ["MAX_HOW", "MAX_TICKET", "Channel", "Outgoing", "SmtpChannel", "manual_delivery"]

MAX_HOW: Final = 2000
"""Longest account of how a notice went that a reviewer may record."""
MAX_TICKET: Final = 128
"""Longest ticket number of a platform a reviewer may record."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A rendered notice and where it goes."""

    rendered: Rendered
    to: str
    reply_to: str | None = None


class Channel(Protocol):
    """Delivers a notice; raises ``DeliveryFailedError`` when it could not."""

    kind: ChannelKind

    def send(self, outgoing: Outgoing, *, at: datetime, actor: str) -> Delivery:
        """Deliver ``outgoing``; the delivery it made (``ok``, its Message-ID)."""
        ...


class SmtpChannel:
    """E-mail through the deployment's mail server."""

    kind = ChannelKind.EMAIL

    def __init__(
        self,
        host: str,
        *,
        port: int,
        security: str,
        sender: str,
        user: str = "",
        password_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        if security not in SMTP_SECURITY:
            raise ConfigError(
                f"REMPART_SMTP_SECURITY={security!r} is not one of {', '.join(SMTP_SECURITY)}"
            )
        # In clear, the addresses checked are the ones connected to: a name resolved again at
        # each send could point off this machine by then.
        addresses = _loopback(host, port) if security == "none" else (host,)
        if not addresses:
            raise ConfigError(
                f"REMPART_SMTP_SECURITY=none sends mail in clear: only to a mail server on this "
                f"machine (loopback), and {host!r} is not one; use starttls or tls"
            )
        if "@" not in parseaddr(sender)[1]:
            raise ConfigError(
                f"the sender {sender!r} is not an e-mail address: set REMPART_SMTP_FROM "
                "or REMPART_DESK_NOTIFIER_EMAIL"
            )
        if user and password_file is None:
            raise ConfigError(
                "REMPART_SMTP_USER is set without REMPART_SMTP_PASSWORD_FILE: name the file "
                "holding the mail server's password"
            )
        self.host = host
        self.addresses = addresses
        """Where to connect, in turn: ``host``, or in clear the loopback addresses it
        resolved to (``localhost`` may be ``::1`` first, and the server on 127.0.0.1 only)."""
        self.port = port
        self.security = security
        self.sender = sender
        self.user = user
        self.password_file = password_file
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel | None:
        """The channel the settings configure; None without ``REMPART_SMTP_HOST``;
        ``ConfigError`` for a setting it cannot use (no sender, ``none`` security to a host
        that is not loopback)."""
        if not settings.smtp_host:
            return None
        sender = settings.smtp_from or settings.desk_notifier_email
        if not sender:
            raise ConfigError(
                "REMPART_SMTP_HOST is set but mail has no sender: set REMPART_SMTP_FROM "
                "or REMPART_DESK_NOTIFIER_EMAIL"
            )
        return cls(
            settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            sender=sender,
            user=settings.smtp_user,
            password_file=settings.smtp_password_file,
            timeout=settings.smtp_timeout,
        )

    def send(self, outgoing: Outgoing, *, at: datetime, actor: str) -> Delivery:
        """Send the notice; ``DeliveryFailedError`` (saying why, never the password) when
        the server cannot be reached or refuses."""
        rendered = outgoing.rendered
        message = self._message(outgoing.to, rendered.subject, at, outgoing.reply_to)
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        message.add_attachment(
            rendered.pdf,
            maintype="application",
            subtype="pdf",
            filename=f"{rendered.record.reference}.pdf",
        )
        self._deliver(message)
        return Delivery(
            notice=rendered.record.reference,
            channel=self.kind,
            at=at,
            actor=actor,
            ok=True,
            message_id=str(message["Message-ID"]),
        )

    def send_text(self, to: str, subject: str, text: str) -> str:
        """Send a short plain-text mail; its Message-ID. ``DeliveryFailedError`` as ``send``."""
        message = self._message(to, subject, datetime.now(UTC))
        message.set_content(text)
        self._deliver(message)
        return str(message["Message-ID"])

    @property
    def server(self) -> str:
        """``host:port``, as errors name the server."""
        return f"{self.host}:{self.port}"

    def _message(
        self, to: str, subject: str, at: datetime, reply_to: str | None = None
    ) -> EmailMessage:
        """A message's headers: who from, to whom, when, its Message-ID."""
        if "@" not in parseaddr(to)[1]:
            raise DeliveryFailedError(f"cannot address the mail to {to!r}: not an e-mail address")
        message = EmailMessage()
        try:
            message["From"] = self.sender
            message["To"] = to
            if reply_to:
                message["Reply-To"] = reply_to
            message["Subject"] = subject
        except (ValueError, IndexError) as error:  # what the header parser says of a bad one
            raise DeliveryFailedError(f"cannot address the mail to {to!r}: {error}") from None
        message["Date"] = format_datetime(at.astimezone(UTC))
        message["Message-ID"] = make_msgid(domain=parseaddr(self.sender)[1].rpartition("@")[2])
        return message

    def _deliver(self, message: EmailMessage) -> None:
        """Hand ``message`` to the server, naming the step that failed if one did."""
        step = "connecting"
        try:
            with self._connection() as smtp:
                if self.user:
                    step = "reading the password file"
                    password = self._password()
                    step = f"logging in as {self.user!r}"
                    smtp.login(self.user, password)
                step = "sending"
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            # Only the code: a server's text about a login may repeat what it was sent.
            raise DeliveryFailedError(
                f"mail server {self.server}: {step} failed (refused, {error.smtp_code})"
            ) from None
        except _StepError as failed:
            raise DeliveryFailedError(
                f"mail server {self.server}: {failed.step} failed: {_reason(failed.error)}"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailedError(
                f"mail server {self.server}: {step} failed: {_reason(error)}"
            ) from None

    @contextmanager
    def _connection(self) -> Iterator[smtplib.SMTP]:
        """A connection secured as ``security`` says, closed on the way out."""
        if self.security == "tls":
            try:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            except (smtplib.SMTPException, OSError) as error:
                raise _StepError("connecting with TLS", error) from error
        else:
            smtp = self._plain()
        with smtp:
            if self.security == "starttls":
                try:
                    smtp.starttls(context=ssl.create_default_context())
                except (smtplib.SMTPException, OSError) as error:
                    raise _StepError("starting TLS (STARTTLS)", error) from error
            yield smtp

    def _plain(self) -> smtplib.SMTP:
        """A connection not yet secured, to the first of ``addresses`` that answers."""
        failed: OSError | None = None
        for address in self.addresses:
            try:
                return smtplib.SMTP(address, self.port, timeout=self.timeout)
            except OSError as error:  # smtplib's own errors are OSErrors too
                failed = error
        assert failed is not None  # __init__ leaves at least one address
        raise failed

    def _password(self) -> str:
        """The password, read from its file now (so that a new one is used without a
        restart), without the line end an editor leaves."""
        assert self.password_file is not None  # __init__ requires it with a user
        try:
            return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = (
                error.strerror or type(error).__name__
                if isinstance(error, OSError)
                else "not UTF-8 text"
            )
            raise _StepError(
                f"reading the password file {self.password_file}", OSError(reason)
            ) from None


class _StepError(Exception):
    """A step of a delivery that failed, and why: turned into ``DeliveryFailedError``."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(step)
        self.step = step
        self.error = error


def _reason(error: BaseException) -> str:
    """What went wrong, in a line: the server's reply, else the error."""
    if isinstance(error, smtplib.SMTPResponseException):
        said = error.smtp_error
        text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        return f"{error.smtp_code} {text}".strip()
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "the server refused " + ", ".join(sorted(error.recipients))
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the server's certificate was not accepted ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__


def _loopback(host: str, port: int) -> tuple[str, ...]:
    """The addresses ``host`` resolves to, in order, when every one is a loopback one; else
    none."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise ConfigError(f"REMPART_SMTP_HOST={host!r} cannot be resolved: {error}") from None
    addresses = tuple(dict.fromkeys(str(entry[4][0]) for entry in found))
    if not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        return ()
    return addresses


def manual_delivery(
    notice: str, kind: ChannelKind, *, at: datetime, actor: str, how: str, ticket: str | None
) -> Delivery:
    """A delivery a reviewer records: when it went, how (the form, a letter, a call), and the
    platform's ticket number."""
    how = how.strip()
    if not how:
        raise NoticeInvalidError("how", "say how the notice went (the form, a letter, a call)")
    if len(how) > MAX_HOW:
        raise NoticeInvalidError("how", f"how it went is {len(how)} characters, over {MAX_HOW}")
    ticket = (ticket or "").strip() or None
    if ticket is not None and len(ticket) > MAX_TICKET:
        raise NoticeInvalidError(
            "ticket", f"the ticket number is {len(ticket)} characters, over {MAX_TICKET}"
        )
    return Delivery(notice, kind, at, actor, ok=True, ticket=ticket, how=how)
