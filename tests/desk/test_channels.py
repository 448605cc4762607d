"""Notices by e-mail to a real mail server (aiosmtpd on loopback): the mail as a platform gets
it, TLS and login, the server down or refusing, the settings; and a reviewer's record of a
delivery made by hand."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

import pypdf
import pytest

from rempart.config import load_settings
from rempart.desk.channels import MAX_HOW, MAX_TICKET, Outgoing, SmtpChannel, manual_delivery
from rempart.desk.notice_model import ChannelKind
from rempart.desk.render import ATTACHMENT, Rendered, render
from rempart.errors import ConfigError, DeliveryFailedError, NoticeInvalidError
from tests.desk.records import a_record
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401
from tests.desk.tls import self_signed

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
SENDER = "desk@rempart.example"
PLATFORM = "notices@example.com"
PASSWORD = "correct horse battery staple"


@cache
def rendered() -> Rendered:
    """One rendered notice for the module (a PDF takes a while)."""
    return render(a_record())


def channel(server: SmtpServer, **options: object) -> SmtpChannel:
    """A channel to ``server``, in clear unless ``options`` say otherwise."""
    settings: dict[str, object] = {"port": server.port, "security": "none", "sender": SENDER}
    return SmtpChannel(server.host, **(settings | options))  # type: ignore[arg-type]


def outgoing() -> Outgoing:
    return Outgoing(rendered(), to=PLATFORM, reply_to="contact@stopfisha.example")


def test_a_notice_arrives_whole(smtp_server: SmtpServer) -> None:
    delivery = channel(smtp_server).send(outgoing(), at=AT, actor="reviewer:3")
    assert (delivery.notice, delivery.channel, delivery.ok) == ("N-12", ChannelKind.EMAIL, True)
    assert (delivery.at, delivery.actor, delivery.error) == (AT, "reviewer:3", None)
    [received] = smtp_server.received
    assert (received.mail_from, received.rcpt_tos) == (SENDER, (PLATFORM,))
    mail = received.message
    assert mail["From"] == SENDER
    assert mail["To"] == PLATFORM
    assert mail["Reply-To"] == "contact@stopfisha.example"
    assert mail["Subject"] == rendered().subject
    assert mail["Date"].datetime == AT
    assert mail["Message-ID"] == delivery.message_id
    assert str(delivery.message_id).endswith("@rempart.example>")
    text, html = (mail.get_body((kind,)) for kind in ("plain", "html"))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert text.get_content().rstrip("\n") == rendered().text.rstrip("\n")
    assert html.get_content().rstrip("\n") == rendered().html.rstrip("\n")
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "N-12.pdf"
    assert attachment.get_content_type() == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(attachment.get_content()))
    text_of_pdf = "\n".join(page.extract_text() for page in reader.pages)
    assert all(item.url in text_of_pdf for item in rendered().record.items)
    assert reader.attachments[ATTACHMENT] == [rendered().record.canonical()]


def test_news_for_a_victim_is_a_short_plain_mail(smtp_server: SmtpServer) -> None:
    message_id = channel(smtp_server).send_text(
        "alice@example.org", "News on your case", "There is news: see your page."
    )
    [mail] = smtp_server.messages
    assert mail["Message-ID"] == message_id
    assert (mail["To"], mail["Subject"]) == ("alice@example.org", "News on your case")
    assert not mail.is_multipart()
    assert mail.get_content().strip() == "There is news: see your page."


def test_smtp_down_fails_the_delivery_and_the_retry_sends_once(smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with pytest.raises(DeliveryFailedError) as failed:
        channel(smtp_server).send(outgoing(), at=AT, actor="reviewer:3")
    assert f"mail server 127.0.0.1:{smtp_server.port}: connecting failed" in str(failed.value)
    smtp_server.start()
    channel(smtp_server).send(outgoing(), at=AT, actor="reviewer:3")
    assert len(smtp_server.messages) == 1


def test_a_refusing_server_is_quoted(smtp_server: SmtpServer) -> None:
    smtp_server.refuse = "554 5.7.1 Message rejected as spam"
    with pytest.raises(DeliveryFailedError, match=r"sending failed: 554 5\.7\.1 Message rejected"):
        channel(smtp_server).send(outgoing(), at=AT, actor="reviewer:3")
    assert smtp_server.messages == []


def test_the_login_reads_the_password_file_at_send_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = tmp_path / "smtp-password"
    with SmtpServer(login=("desk", PASSWORD)) as server:
        sending = channel(server, user="desk", password_file=secret)
        secret.write_text(f"{PASSWORD}\n")  # written after the channel was made: read at send
        sending.send(outgoing(), at=AT, actor="reviewer:3")
        assert server.received[0].login == "desk"
        secret.write_text("not the password\n")
        with pytest.raises(DeliveryFailedError) as failed:
            sending.send(outgoing(), at=AT, actor="reviewer:3")
        assert [password for _, password in server.logins] == [PASSWORD] + 2 * [
            "not the password"  # smtplib tries PLAIN, then LOGIN
        ]
    said = str(failed.value)
    assert "logging in as 'desk' failed (refused, 535)" in said
    assert "password" not in said.replace("password file", "")
    assert "not the password" not in said
    assert PASSWORD not in said
    assert PASSWORD not in caplog.text
    assert "not the password" not in caplog.text


def test_a_missing_password_file_is_named_without_a_secret(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DeliveryFailedError, match=r"reading the password file .*nowhere failed"):
        channel(smtp_server, user="desk", password_file=missing).send(
            outgoing(), at=AT, actor="reviewer:3"
        )


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_with_a_trusted_certificate_carries_the_login(
    security: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = self_signed(tmp_path, addresses=("127.0.0.1",))
    cert_file, context = certificate.path, certificate.server
    secret = tmp_path / "smtp-password"
    secret.write_text(PASSWORD)
    implicit = security == "tls"
    with SmtpServer(login=("desk", PASSWORD), tls=context, implicit_tls=implicit) as server:
        sending = channel(server, security=security, user="desk", password_file=secret)
        with pytest.raises(DeliveryFailedError, match=r"TLS.*certificate was not accepted"):
            sending.send(outgoing(), at=AT, actor="reviewer:3")  # not trusted yet
        # The system's trust store, as a deployment with its own CA would set it.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
        sending.send(outgoing(), at=AT, actor="reviewer:3")
        assert [received.login for received in server.received] == ["desk"]


def test_tls_to_a_server_without_it_fails_naming_tls(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryFailedError, match="connecting with TLS failed: TLS"):
        channel(smtp_server, security="tls", timeout=5).send(outgoing(), at=AT, actor="r")
    with pytest.raises(DeliveryFailedError, match=r"starting TLS \(STARTTLS\) failed"):
        channel(smtp_server, security="starttls").send(outgoing(), at=AT, actor="r")
    assert smtp_server.messages == []


def test_the_settings_make_the_channel(tmp_path: Path) -> None:
    base = load_settings({"REMPART_DATA_DIR": str(tmp_path)})
    assert SmtpChannel.from_settings(base) is None
    with pytest.raises(ConfigError, match="no sender"):
        SmtpChannel.from_settings(replace(base, smtp_host="mail.example.com"))
    made = SmtpChannel.from_settings(
        replace(base, smtp_host="mail.example.com", desk_notifier_email="desk@rempart.example")
    )
    assert made is not None
    assert (made.host, made.port, made.security, made.sender) == (
        "mail.example.com",
        587,
        "starttls",
        "desk@rempart.example",
    )
    served = SmtpServer()  # not started: only its settings are read
    environ = served.environ() | {"REMPART_DATA_DIR": str(tmp_path), "REMPART_SMTP_FROM": SENDER}
    to_it = SmtpChannel.from_settings(load_settings(environ))
    assert to_it is not None
    assert (to_it.host, to_it.port, to_it.security) == (served.host, served.port, "none")
    chosen = SmtpChannel.from_settings(
        replace(
            base,
            smtp_host="localhost",
            smtp_security="none",
            smtp_from="notices@rempart.example",
            desk_notifier_email="desk@rempart.example",
        )
    )
    assert chosen is not None
    assert chosen.sender == "notices@rempart.example"


@pytest.mark.parametrize("host", ["192.0.2.10", "2001:db8::1"])
def test_mail_in_clear_goes_only_to_loopback(host: str, tmp_path: Path) -> None:
    settings = replace(
        load_settings({"REMPART_DATA_DIR": str(tmp_path)}),
        smtp_host=host,
        smtp_security="none",
        smtp_from=SENDER,
    )
    with pytest.raises(ConfigError, match="only to a mail server on this machine"):
        SmtpChannel.from_settings(settings)


def test_mail_in_clear_goes_to_the_loopback_address_checked(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that resolved to loopback when checked, and off this machine later (its DNS
    changed, or a rebinding attack), still gets the mail on loopback, never in clear elsewhere."""
    resolve = socket.getaddrinfo

    def answer(address: str) -> Callable[..., Any]:
        """A resolver that says ``address`` for the test's name, and the truth otherwise."""
        return lambda host, *args, **kwargs: resolve(
            address if host == "mail.desk.test" else host, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", answer("127.0.0.1"))
    mailer = SmtpChannel(
        "mail.desk.test", port=smtp_server.port, security="none", sender=SENDER, timeout=2
    )
    monkeypatch.setattr(socket, "getaddrinfo", answer("192.0.2.10"))  # TEST-NET: off-machine
    mailer.send_text("alice@example.org", "News on your case", "There is news.")
    assert len(smtp_server.messages) == 1


def test_mail_in_clear_tries_each_loopback_address_in_turn(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``localhost`` as many systems resolve it (``::1`` first), the server on 127.0.0.1 only."""
    resolve = socket.getaddrinfo
    both = [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", smtp_server.port, 0, 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", smtp_server.port)),
    ]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *args, **kwargs: (
            both if host == "mail.desk.test" else resolve(host, *args, **kwargs)
        ),
    )
    mailer = SmtpChannel("mail.desk.test", port=smtp_server.port, security="none", sender=SENDER)
    assert mailer.addresses == ("::1", "127.0.0.1")
    mailer.send_text("alice@example.org", "News on your case", "There is news.")
    assert len(smtp_server.messages) == 1


def test_a_channel_refuses_settings_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an e-mail address"):
        SmtpChannel("localhost", port=25, security="none", sender="the desk")
    with pytest.raises(ConfigError, match="REMPART_SMTP_PASSWORD_FILE"):
        SmtpChannel("localhost", port=25, security="none", sender=SENDER, user="desk")
    with pytest.raises(ConfigError, match="is not one of"):
        SmtpChannel("localhost", port=25, security="ssl", sender=SENDER)


def test_a_reviewer_records_a_delivery_by_hand() -> None:
    made = manual_delivery(
        "N-12", ChannelKind.FORM, at=AT, actor="reviewer:3", how="  their web form  ", ticket=" "
    )
    assert (made.ok, made.how, made.ticket, made.channel) == (
        True,
        "their web form",
        None,
        ChannelKind.FORM,
    )
    ticketed = manual_delivery(
        "N-12", ChannelKind.MANUAL, at=AT, actor="reviewer:3", how="a letter", ticket="T-1"
    )
    assert ticketed.ticket == "T-1"
    refused: dict[str, list[tuple[str, str | None]]] = {
        "how": [("", None), (" ", None), ("x" * (MAX_HOW + 1), None)],
        "ticket": [("form", "t" * (MAX_TICKET + 1))],
    }
    for element, cases in refused.items():
        for how, ticket in cases:
            with pytest.raises(NoticeInvalidError) as bad:
                manual_delivery(
                    "N-12", ChannelKind.FORM, at=AT, actor="reviewer:3", how=how, ticket=ticket
                )
            assert bad.value.element == element


@pytest.mark.parametrize("to", ["", "the platform", "notices@example.com\nBcc: x@example.org"])
def test_a_bad_address_is_refused_before_connecting(smtp_server: SmtpServer, to: str) -> None:
    smtp_server.stop()  # nothing is tried: a connection would fail otherwise
    with pytest.raises(DeliveryFailedError, match="cannot address the mail to"):
        channel(smtp_server).send(replace(outgoing(), to=to), at=AT, actor="reviewer:3")
