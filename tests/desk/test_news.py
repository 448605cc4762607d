"""A victim's news address on a real database (SQLite and PostgreSQL) and a real mail server
(aiosmtpd on loopback): sealed, told only that there is news, and a one-time link that sets a
new secret once, within the hour, and says nothing to whoever asks for one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

import rempart.desk.news
from rempart.config import load_settings
from rempart.desk import VICTIM, AgeAnswer, Desk, DeskKeys, FixedClock, ItemInput
from rempart.desk.access import secret_tag
from rempart.desk.channels import SmtpChannel
from rempart.desk.model import MINOR_TEXT
from rempart.desk.news import RESETS_PER_HOUR, News, check_address, mask_address
from rempart.errors import CaseInvalidError, CaseNotFoundError, ConfigError, DeliveryFailedError
from rempart.store import Store
from rempart.store.schema import desk_events, desk_reset_tokens, desk_sealed
from tests.desk import without_cases
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADDRESS = "person@example.org"
DESK_URL = "https://desk.example.org"
URL = "https://example.com/p/1"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def desk(store: Store, tmp_path: Path, clock: FixedClock) -> Desk:
    without_cases(store)
    return Desk(store, keys=DeskKeys.create(tmp_path / "desk.key"), clock=clock)


@pytest.fixture
def news(desk: Desk, smtp_server: SmtpServer) -> News:
    channel = SmtpChannel(
        smtp_server.host, port=smtp_server.port, security="none", sender="desk@example.net"
    )
    return News(desk, channel, desk_url=DESK_URL)


def _case(desk: Desk, *, answer: AgeAnswer = AgeAnswer.ADULT, language: str = "en") -> str:
    return desk.report(answer, [ItemInput(url=URL)], language=language).case.number


def _events(desk: Desk, number: str) -> list[str]:
    return [event.kind for event in desk.events(number)]


def _link(smtp_server: SmtpServer) -> str:
    body = smtp_server.messages[-1].get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    lines = [line for line in content.splitlines() if "/desk/reset/" in line]
    assert len(lines) == 1, lines
    return lines[0].strip()


def test_the_address_is_sealed_and_replaced(desk: Desk, news: News) -> None:
    number = _case(desk)
    assert news.address(number) is None
    news.set_address(number, ADDRESS)
    news.set_address(number, "  other@example.org ")
    assert news.address(number) == "other@example.org"
    with desk.store.read() as connection:
        stored = connection.execute(select(desk_sealed.c.sealed)).scalars().all()
        details = connection.execute(select(desk_events.c.detail)).scalars().all()
    assert all(b"example.org" not in sealed for sealed in stored)
    assert all("example.org" not in (detail or "") for detail in details)
    assert _events(desk, number).count("news-address-set") == 2
    news.clear_address(number)
    assert news.address(number) is None
    assert _events(desk, number)[-1] == "news-address-removed"


def test_a_minors_case_keeps_no_address(desk: Desk, news: News) -> None:
    number = _case(desk, answer=AgeAnswer.UNDER_18)
    with pytest.raises(CaseInvalidError) as refused:
        news.set_address(number, ADDRESS)
    assert str(refused.value) == MINOR_TEXT
    assert news.address(number) is None
    with desk.store.read() as connection:
        assert connection.execute(select(desk_sealed.c.field)).scalars().all() == []
    assert "news-address-set" not in _events(desk, number)


@pytest.mark.parametrize("address", ["", "person", "a b@example.org", "a@b", "a@@example.org"])
def test_what_is_not_an_address_is_refused_and_nothing_changes(
    desk: Desk, news: News, address: str
) -> None:
    number = _case(desk)
    with pytest.raises(CaseInvalidError, match="news-email"):
        news.set_address(number, address)
    assert news.address(number) is None
    assert check_address(" x@example.org ") == "x@example.org"
    assert mask_address("person@example.org") == "p…@example.org"


def test_news_says_only_that_there_is_news(desk: Desk, news: News, smtp_server: SmtpServer) -> None:
    number = _case(desk, language="fr")
    news.notify(number)
    assert smtp_server.messages == []  # no address: no mail
    news.set_address(number, ADDRESS)
    news.notify(number)
    [mail] = smtp_server.messages
    assert mail["To"] == ADDRESS
    text = mail.get_content() if not mail.is_multipart() else ""
    body = mail.get_body(("plain",))
    text = body.get_content() if body is not None else text
    assert "Du nouveau" in mail["Subject"]
    assert f"{DESK_URL}/desk/sign-in" in text
    for said in (number, URL, "example.com", "/desk/status"):
        assert said not in text
        assert said not in mail["Subject"]


def test_a_reset_link_sets_a_new_secret_once(
    desk: Desk, news: News, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    new = desk.report(AgeAnswer.ADULT, [ItemInput(url=URL)])
    number = new.case.number
    news.set_address(number, ADDRESS)
    news.request_reset(number.lower())
    link = _link(smtp_server)
    assert link.startswith(f"{DESK_URL}/desk/reset/")
    assert number not in smtp_server.messages[-1].as_string()
    token = link.rsplit("/", 1)[1]
    with desk.store.read() as connection:
        stored = connection.execute(select(desk_reset_tokens.c.token_hash)).scalars().all()
    assert token not in stored  # only its SHA-256
    assert news.check_token(token) == number
    clock.advance(timedelta(minutes=59))
    reset_number, secret = news.reset(token)
    assert reset_number == number
    assert desk.sign_in(number, secret).number == number
    with pytest.raises(CaseNotFoundError):
        desk.sign_in(number, new.secret)  # the old secret stops working
    with pytest.raises(CaseNotFoundError):
        desk.victim_case(number, secret_tag(new.secret))  # and its sessions
    with pytest.raises(CaseNotFoundError, match="used, it expired"):
        news.reset(token)  # once
    events = desk.events(number)
    assert [e.kind for e in events][-2:] == ["reset-link-sent", "secret-reset"]
    assert events[-1].actor == "victim"
    assert all(ADDRESS not in str(event.detail) for event in events)


def test_of_two_resets_racing_on_one_link_only_one_sets_a_secret(
    desk: Desk, news: News, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other request spends the link between this one's read and its write (as two tabs
    pressing the button at once on PostgreSQL): this one is refused, and changes nothing."""
    new = desk.report(AgeAnswer.ADULT, [ItemInput(url=URL)])
    number = new.case.number
    news.set_address(number, ADDRESS)
    news.request_reset(number)
    token = _link(smtp_server).rsplit("/", 1)[1]
    live_token = rempart.desk.news._live_token

    def read_then_spent_by_the_other(connection: Connection, *args: Any) -> Any:
        found = live_token(connection, *args)
        connection.execute(update(desk_reset_tokens).values(used_at=NOW))
        return found

    monkeypatch.setattr(rempart.desk.news, "_live_token", read_then_spent_by_the_other)
    with pytest.raises(CaseNotFoundError, match="used, it expired"):
        news.reset(token)
    assert desk.sign_in(number, new.secret).number == number  # the secret it had
    assert "secret-reset" not in _events(desk, number)


def test_a_reset_link_expires_after_an_hour(
    desk: Desk, news: News, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    number = _case(desk)
    news.set_address(number, ADDRESS)
    news.request_reset(number)
    token = _link(smtp_server).rsplit("/", 1)[1]
    clock.advance(timedelta(hours=1))
    with pytest.raises(CaseNotFoundError):
        news.reset(token)
    with pytest.raises(CaseNotFoundError):
        news.reset("not-a-token")


def test_a_reset_is_asked_of_a_case_without_an_address_or_too_often_silently(
    desk: Desk, news: News, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    number = _case(desk)
    news.request_reset(number)  # no address
    news.request_reset("R-AAAAAAAAAA")  # no such case
    news.request_reset("nonsense")
    assert smtp_server.messages == []
    news.set_address(number, ADDRESS)
    for _ in range(RESETS_PER_HOUR + 2):
        news.request_reset(number)
    assert len(smtp_server.messages) == RESETS_PER_HOUR
    clock.advance(timedelta(hours=1, seconds=1))
    news.request_reset(number)
    assert len(smtp_server.messages) == RESETS_PER_HOUR + 1


def test_a_withdrawn_case_has_no_address_and_no_link(
    desk: Desk, news: News, smtp_server: SmtpServer
) -> None:
    number = _case(desk)
    news.set_address(number, ADDRESS)
    news.request_reset(number)
    token = _link(smtp_server).rsplit("/", 1)[1]
    desk.withdraw(number, VICTIM)
    assert news.address(number) is None
    news.notify(number)
    assert len(smtp_server.messages) == 1  # the link, before: no news after
    with pytest.raises(CaseNotFoundError):
        news.reset(token)
    with desk.store.read() as connection:
        spent = connection.execute(select(desk_reset_tokens.c.used_at)).scalars().all()
    assert len(spent) == 1
    assert None not in spent  # spent, not only refused
    with pytest.raises(CaseInvalidError, match="withdrawn"):
        news.set_address(number, ADDRESS)


def test_without_the_desks_address_no_link_is_sent(desk: Desk, smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(
        smtp_server.host, port=smtp_server.port, security="none", sender="desk@example.net"
    )
    news = News(desk, channel)
    number = _case(desk)
    news.set_address(number, ADDRESS)
    assert not news.resets
    news.request_reset(number)
    assert smtp_server.messages == []
    news.notify(number)
    body = smtp_server.messages[0].get_body(("plain",))
    assert body is not None
    assert "http" not in body.get_content()


def test_a_mail_server_that_is_down_fails_by_name(
    desk: Desk, news: News, smtp_server: SmtpServer
) -> None:
    number = _case(desk)
    news.set_address(number, ADDRESS)
    smtp_server.stop()
    with pytest.raises(DeliveryFailedError):
        news.notify(number)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://desk.example.org/", "https://desk.example.org"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("", ""),
    ],
)
def test_the_desks_address_is_https_or_loopback(value: str, kept: str) -> None:
    assert load_settings({"REMPART_DESK_URL": value}).desk_url == kept


@pytest.mark.parametrize(
    "value", ["http://desk.example.org", "desk.example.org", "https://x.example/?a=1", "ftp://x"]
)
def test_any_other_desk_address_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError, match="REMPART_DESK_URL"):
        load_settings({"REMPART_DESK_URL": value})
