"""Desk sessions: sealed in a cookie that only this deployment's key file opens, stale after
their idle time or lifetime, and every POST refused (nothing changed) without a same-origin
``Origin`` and the session's CSRF token."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from rempart.access.keys import ApiKeys, Role, parse_key
from rempart.desk import Actor, DeskKeys, FixedClock
from rempart.desk.sealed import rekey
from rempart.server.desk.session import (
    COOKIE,
    MAX_LIFETIME,
    Session,
    SessionCodec,
    SessionKind,
    secure,
)
from rempart.server.launch import Tls, check_desk
from rempart.store import Store
from tests.server.desk.conftest import (
    START,
    DeskServer,
    card,
    desk_settings,
    report,
    staff_visitor,
)
from tests.server.running import SERVE, RunningServer, free_port

IDLE = timedelta(minutes=30)


@pytest.fixture
def codec(tmp_path: Path) -> SessionCodec:
    return SessionCodec(DeskKeys.create(tmp_path / "desk.key"), idle=IDLE, clock=FixedClock(START))


def test_a_session_opens_as_sealed_and_says_nothing_in_clear(codec: SessionCodec) -> None:
    session = Session.begin(SessionKind.VICTIM, START, "R-ABCDEFGHIJ")
    value = codec.seal(session)
    assert "R-ABCDEFGHIJ" not in value
    assert session.csrf not in value
    assert codec.open(value) == session


def test_an_altered_or_foreign_cookie_opens_to_nothing(codec: SessionCodec, tmp_path: Path) -> None:
    value = codec.seal(Session.begin(SessionKind.STAFF, START, "abcdefghijkl"))
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    other = SessionCodec(DeskKeys.create(tmp_path / "other.key"), idle=IDLE, clock=codec.clock)
    assert codec.open(flipped) is None
    assert other.open(value) is None
    for junk in ("", "!!!", "a" * 5000, "e30"):
        assert codec.open(junk) is None


def test_a_session_goes_stale_after_its_idle_time_and_its_lifetime(codec: SessionCodec) -> None:
    clock = codec.clock
    assert isinstance(clock, FixedClock)
    value = codec.seal(Session.begin(SessionKind.VISITOR, START))
    clock.advance(IDLE)
    assert codec.open(value) is not None
    clock.advance(timedelta(seconds=1))
    assert codec.open(value) is None
    # Seen a moment ago, it still ends MAX_LIFETIME after it began.
    session = Session.begin(SessionKind.VICTIM, START, "R-ABCDEFGHIJ")
    clock.at = START + MAX_LIFETIME
    assert codec.open(codec.seal(session.renewed(clock.at))) is not None
    clock.advance(timedelta(seconds=1))
    assert codec.open(codec.seal(session.renewed(clock.at))) is None


def test_a_session_from_the_future_is_refused(codec: SessionCodec) -> None:
    ahead = Session.begin(SessionKind.VISITOR, START + timedelta(hours=1))
    assert codec.open(codec.seal(ahead)) is None


def test_a_rekey_ends_every_session(codec: SessionCodec, tmp_path: Path) -> None:
    value = codec.seal(Session.begin(SessionKind.VISITOR, START))
    store = Store.open(f"sqlite:///{tmp_path / 'rempart.db'}")
    try:
        rekey(store, tmp_path / "desk.key")
    finally:
        store.close()
    assert codec.open(value) is None


def test_the_cookie_is_httponly_strict_on_the_desk_path_and_secure(
    desk_server: DeskServer,
) -> None:
    response = desk_server.visitor().get("/desk")
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "path"} <= attributes
    assert "Path=/desk" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "expires" not in attributes  # a browser-session cookie
    assert "max-age" not in attributes


def test_the_cookie_is_never_accepted_on_the_api(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    visitor.get("/desk")
    cookie = visitor.session_cookie
    assert cookie is not None
    with desk_server.client() as client:
        response = client.get("/v1/banks", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert response.status_code == 401


def _events(server: DeskServer, number: str) -> int:
    return len(server.desk.events(number))


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("https://evil.example", None),
        ("http://rempart.test", None),  # another scheme is another origin
        ("https://rempart.test.evil.example", None),
        (None, None),  # no Origin: a Referer would not count either (we send none)
        ("null", "cross-site"),
        ("null", None),
    ],
)
def test_a_post_from_another_origin_is_refused_and_changes_nothing(
    desk_server: DeskServer, origin: str | None, fetch_site: str | None
) -> None:
    visitor = desk_server.visitor()
    number, _ = card(report(visitor, url="https://example.com/a"))
    before = _events(desk_server, number)
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    visitor.get("/desk/status")
    refused = visitor.post(
        "/desk/status/withdraw", {"confirm": "yes"}, origin=origin, headers=headers
    )
    assert refused.status_code == 403
    assert _events(desk_server, number) == before
    assert desk_server.desk.get(number).state.value != "withdrawn"


def test_a_same_origin_post_without_origin_value_is_accepted_on_the_browsers_word(
    desk_server: DeskServer,
) -> None:
    # Under Referrer-Policy: no-referrer a browser sends "Origin: null" with a form; its
    # Sec-Fetch-Site (which no page can set) says the form came from this site.
    visitor = desk_server.visitor()
    visitor.get("/desk/report?age=adult")
    response = visitor.post(
        "/desk/report",
        {"age": "adult", "url": "https://example.com/b"},
        origin="null",
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize("token", ["", "wrong", "missing"])
def test_a_post_without_the_sessions_token_is_refused_and_changes_nothing(
    desk_server: DeskServer, token: str
) -> None:
    visitor = desk_server.visitor()
    number, _ = card(report(visitor, url="https://example.com/a"))
    before = _events(desk_server, number)
    visitor.get("/desk/status")
    data = {"confirm": "yes"} if token == "missing" else {"confirm": "yes", "csrf": token}
    refused = visitor.post("/desk/status/withdraw", data, token=False)
    assert refused.status_code == 403
    assert _events(desk_server, number) == before


def test_another_sessions_token_is_refused(desk_server: DeskServer) -> None:
    victim, other = desk_server.visitor(), desk_server.visitor()
    number, _ = card(report(victim, url="https://example.com/a"))
    other.get("/desk")
    victim.get("/desk/status")
    refused = victim.post("/desk/status/withdraw", {"confirm": "yes", "csrf": other.csrf})
    assert refused.status_code == 403
    assert desk_server.desk.get(number).state.value != "withdrawn"


def test_a_stale_session_is_refused_and_changes_nothing(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    number, _ = card(report(visitor, url="https://example.com/a"))
    visitor.get("/desk/status")
    before = _events(desk_server, number)
    desk_server.clock.advance(timedelta(minutes=31))
    refused = visitor.post("/desk/status/withdraw", {"confirm": "yes"})
    assert refused.status_code == 403
    assert _events(desk_server, number) == before
    # And the status page asks to sign in again.
    again = visitor.get("/desk/status")
    assert again.status_code == 303
    assert again.headers["location"] == "/desk/sign-in"


def test_activity_keeps_a_session_alive(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    card(report(visitor, url="https://example.com/a"))
    for _ in range(4):  # 80 minutes in all, never 30 idle
        desk_server.clock.advance(timedelta(minutes=20))
        assert visitor.get("/desk/status").status_code == 200


def test_a_new_secret_ends_the_sessions_signed_in_with_the_old_one(
    desk_server: DeskServer,
) -> None:
    holder = desk_server.visitor()  # whoever holds the old card, signed in with it
    number, _ = card(report(holder, url="https://example.com/a"))
    assert holder.get("/desk/status").status_code == 200
    before = _events(desk_server, number)
    secret = desk_server.desk.new_secret(number, Actor("staff", "admin1", Role.ADMIN))
    ended = holder.get("/desk/status")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/desk/sign-in"
    refused = holder.post("/desk/status/withdraw", {"confirm": "yes"})
    assert refused.status_code in (403, 404)
    assert desk_server.desk.get(number).state.value != "withdrawn"
    assert _events(desk_server, number) == before + 1  # the reissue's event only
    # The new card signs in.
    owner = desk_server.visitor()
    owner.get("/desk/sign-in")
    assert owner.post("/desk/sign-in", {"number": number, "secret": secret}).status_code == 303
    assert owner.get("/desk/status").status_code == 200


def test_signing_in_starts_a_new_session(desk_server: DeskServer) -> None:
    owner = desk_server.visitor()
    number, secret = card(report(owner, url="https://example.com/a"))
    visitor = desk_server.visitor()
    visitor.get("/desk/sign-in")
    before = visitor.csrf
    planted = visitor.session_cookie
    response = visitor.post("/desk/sign-in", {"number": number, "secret": secret})
    assert response.status_code == 303
    assert visitor.session_cookie != planted
    visitor.get("/desk/status")
    assert visitor.csrf != before


def test_a_wrong_secret_and_guessed_numbers_are_refused_and_throttled(
    desk_server: DeskServer,
) -> None:
    owner = desk_server.visitor()
    number, _ = card(report(owner, url="https://example.com/a"))
    before = _events(desk_server, number)
    visitor = desk_server.visitor()
    visitor.get("/desk/sign-in")
    wrong = visitor.post("/desk/sign-in", {"number": number, "secret": "AAAAA-AAAAA-AAAAA-AAAAA"})
    guessed = visitor.post(
        "/desk/sign-in", {"number": "R-AAAAAAAAAA", "secret": "AAAAA-AAAAA-AAAAA-AAAAA"}
    )
    assert wrong.status_code == guessed.status_code == 404
    # One answer for both: a wrong secret does not tell that the number exists.
    assert _page_text(wrong) == _page_text(guessed).replace("R-AAAAAAAAAA", number)
    assert visitor.get("/desk/status").status_code == 303
    statuses = [
        visitor.post("/desk/sign-in", {"number": number, "secret": "BBBBB-BBBBB-BBBBB-BBBBB"})
        for _ in range(10)
    ]
    assert statuses[-1].status_code == 429
    assert "Retry-After" in statuses[-1].headers
    assert _events(desk_server, number) == before
    assert owner.get("/desk/status").status_code == 200


def _page_text(response: httpx.Response) -> str:
    """The page without its form values (the token, the number typed)."""
    return re.sub(r'value="[^"]*"', "", response.text)


def test_a_revoked_key_ends_a_staff_session(desk_server: DeskServer, keys: dict[str, str]) -> None:
    reviewer = staff_visitor(desk_server, keys["reviewer"])
    assert reviewer.get("/desk/staff/queue").status_code == 200
    key_id = parse_key(keys["reviewer"])
    assert key_id is not None
    ApiKeys(desk_server.store).revoke(key_id)
    assert reviewer.get("/desk/staff/queue").status_code == 303


def _request(scheme: str, server: tuple[str, int]) -> Request:
    return Request(
        {"type": "http", "scheme": scheme, "server": server, "path": "/desk", "headers": []}
    )


@pytest.mark.parametrize(
    ("scheme", "server", "expected"),
    [
        ("http", ("127.0.0.1", 8000), False),  # loopback: a browser on this machine
        ("http", ("::1", 8000), False),
        ("https", ("127.0.0.1", 8000), True),  # behind a TLS proxy on this machine
        ("http", ("10.0.0.5", 8000), True),
        ("https", ("rempart.example", 443), True),
    ],
)
def test_the_cookie_is_secure_beyond_loopback(
    scheme: str, server: tuple[str, int], expected: bool
) -> None:
    assert secure(_request(scheme, server)) is expected


def _serve(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = RunningServer(data_dir, f"sqlite:///{data_dir / 'rempart.db'}").env
    return subprocess.run(
        [*SERVE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_serve_refuses_the_desk_over_plain_http_beyond_loopback(tmp_path: Path) -> None:
    desk_settings(tmp_path)
    done = _serve(tmp_path, "--desk", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2, done.stderr
    assert "refusing to serve the desk on 0.0.0.0 over plain HTTP" in done.stderr
    assert "--tls-cert" in done.stderr
    assert "--proxy" in done.stderr


def test_serve_refuses_the_desk_without_its_key_file(tmp_path: Path) -> None:
    done = _serve(tmp_path, "--desk", "--port", str(free_port()))
    assert done.returncode == 2, done.stderr
    assert "rempart desk init" in done.stderr


def test_serve_wants_both_tls_files(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    done = _serve(tmp_path, "--desk", "--tls-cert", str(cert), "--port", str(free_port()))
    assert done.returncode == 2
    assert "--tls-key" in done.stderr


@pytest.mark.parametrize(("tls", "proxy"), [(True, None), (False, "10.0.0.1")])
def test_tls_or_a_proxy_lets_the_desk_listen_beyond_loopback(
    tmp_path: Path, tls: bool, proxy: str | None
) -> None:
    settings = desk_settings(tmp_path)
    files = Tls(tmp_path / "cert.pem", tmp_path / "key.pem") if tls else None
    check_desk(settings, "0.0.0.0", tls=files, proxy=proxy)  # no error


def test_serve_desk_serves_the_pages(tmp_path: Path) -> None:
    desk_settings(tmp_path)
    server = RunningServer(tmp_path, f"sqlite:///{tmp_path / 'rempart.db'}")
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [*SERVE, "--desk", "--port", str(port)],
        env=server.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        page = _poll(f"http://127.0.0.1:{port}/desk", process)
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert "Path=/desk" in page.headers["set-cookie"]
        assert "Secure" not in page.headers["set-cookie"]  # plain HTTP on loopback
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _poll(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")
