"""How notices reach platforms: ``Channel.send(outgoing) -> Delivery``. SMTP (the standard
library's smtplib, STARTTLS or implicit TLS, ``REMPART_SMTP_*``; text and HTML bodies, the PDF
attached, the Message-ID kept) for a platform that takes e-mail; a reviewer's record of when and
how it went (and the platform's ticket number) for a web form or another way. The same SMTP
channel tells a victim that there is news (``send_text``), nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from rempart.config import Settings
from rempart.desk.notice_model import ChannelKind, Delivery
from rempart.desk.render import Rendered

__all__ = ["Channel", "Outgoing", "SmtpChannel", "manual_delivery"]


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
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpChannel | None:
        """The channel the settings configure; None without ``REMPART_SMTP_HOST``;
        ``ConfigError`` for a setting it cannot use (no sender, ``none`` security to a host
        that is not loopback)."""
        raise NotImplementedError

    def send(self, outgoing: Outgoing, *, at: datetime, actor: str) -> Delivery:
        """Send the notice; ``DeliveryFailedError`` (saying why, never the password) when
        the server cannot be reached or refuses."""
        raise NotImplementedError

    def send_text(self, to: str, subject: str, text: str) -> str:
        """Send a short plain-text mail; its Message-ID. ``DeliveryFailedError`` as ``send``."""
        raise NotImplementedError


def manual_delivery(
    notice: str, kind: ChannelKind, *, at: datetime, actor: str, how: str, ticket: str | None
) -> Delivery:
    """A delivery a reviewer records: when it went, how (the form, a letter, a call), and the
    platform's ticket number."""
    raise NotImplementedError
