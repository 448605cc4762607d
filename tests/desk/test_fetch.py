"""rempart.desk.fetch: HttpFetcher against a real local web server: answers read within their
limits, and every address that is not public refused before any connection (the URL's, a host
name's, a redirect's) unless the allow-list names it."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rempart.config import load_settings
from rempart.desk import FixedClock
from rempart.desk.fetch import HttpFetcher, _public
from rempart.errors import FetchError, FetchRefusedError
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.tls import self_signed

START = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(name="other")
def other_fixture() -> Iterator[Site]:
    """A second local server, on another port, that no allow entry names."""
    with Site() as site:
        yield site


def fetcher(site: Site, **options: object) -> HttpFetcher:
    return HttpFetcher(allow=[site.allow], **options)  # type: ignore[arg-type]


def test_a_page_is_read_with_what_was_sent_and_when(site: Site) -> None:
    site.serve("/p/1", b"<p>hello</p>", headers=(("X-Seen", "yes"),))
    clock = FixedClock(START)
    got = fetcher(site, clock=clock).fetch(site.url("/p/1"))
    assert (got.status, got.reason, got.body) == (200, "OK", b"<p>hello</p>")
    assert (got.url, got.final_url, got.redirects) == (site.url("/p/1"), site.url("/p/1"), ())
    assert got.http_version == "HTTP/1.1"
    assert got.content_type == "text/html"
    assert got.header("x-seen") == "yes"
    assert got.peer == site.allow
    assert got.tls_fingerprint is None
    assert got.started_at == START
    assert got.elapsed >= 0
    sent = dict(got.request_headers)
    assert sent["Host"] == site.allow
    assert sent["User-Agent"].startswith("Rempart/")
    assert "(removal check)" in sent["User-Agent"]
    [seen] = site.requests
    assert (seen.method, seen.path) == ("GET", "/p/1")
    assert seen.headers["User-Agent"] == sent["User-Agent"]


def test_a_404_is_an_answer_not_an_error(site: Site) -> None:
    site.serve("/gone", b"not here", status=404)
    got = fetcher(site).fetch(site.url("/gone"))
    assert (got.status, got.body) == (404, b"not here")


def test_head_reads_no_body(site: Site) -> None:
    site.serve("/a.png", b"\x89PNG" + bytes(100), "image/png")
    got = fetcher(site).fetch(site.url("/a.png"), method="HEAD")
    assert (got.status, got.body, got.method) == (200, b"", "HEAD")
    assert got.header("content-length") == "104"
    assert [r.method for r in site.requests] == ["HEAD"]


def test_redirects_are_followed_within_the_allowed_addresses(site: Site) -> None:
    site.redirect("/r1", "/r2", status=301)
    site.redirect("/r2", site.url("/end"))
    site.serve("/end", b"end")
    got = fetcher(site).fetch(site.url("/r1"))
    assert (got.status, got.body, got.final_url) == (200, b"end", site.url("/end"))
    assert got.redirects == (site.url("/r1"), site.url("/r2"))


def test_a_redirect_to_another_loopback_address_is_refused_before_connecting(
    site: Site, other: Site
) -> None:
    other.serve("/secret", b"internal")
    site.redirect("/r", other.url("/secret"))
    with pytest.raises(FetchRefusedError, match=r"127\.0\.0\.1 is not public"):
        fetcher(site).fetch(site.url("/r"))
    assert other.requests == [], "the other server was never reached"
    assert [r.path for r in site.requests] == ["/r"]


def test_a_redirect_to_another_loopback_ip_is_refused(site: Site) -> None:
    site.redirect("/r", f"http://127.0.0.2:{site.port}/x")
    with pytest.raises(FetchRefusedError, match=r"127\.0\.0\.2"):
        fetcher(site).fetch(site.url("/r"))
    assert [r.path for r in site.requests] == ["/r"]


def test_a_redirect_to_the_metadata_address_is_refused(site: Site) -> None:
    site.redirect("/r", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchRefusedError, match=r"169\.254\.169\.254"):
        fetcher(site).fetch(site.url("/r"))


def test_a_redirect_to_another_scheme_is_refused(site: Site) -> None:
    site.redirect("/r", "file:///etc/passwd")
    with pytest.raises(FetchRefusedError, match="only http and https"):
        fetcher(site).fetch(site.url("/r"))


def test_too_many_redirects_fail(site: Site) -> None:
    for hop in range(7):
        site.redirect(f"/r{hop}", f"/r{hop + 1}")
    site.serve("/r7", b"end")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher(site).fetch(site.url("/r0"))
    assert len(site.requests) == 6
    assert fetcher(site, max_redirects=7).fetch(site.url("/r0")).body == b"end"


def test_loopback_is_refused_without_an_allow_entry(site: Site) -> None:
    site.serve("/p", b"x")
    with pytest.raises(FetchRefusedError, match="REMPART_DESK_FETCH_ALLOW"):
        HttpFetcher().fetch(site.url("/p"))
    with pytest.raises(FetchRefusedError):  # the address, but another port
        HttpFetcher(allow=[f"127.0.0.1:{site.port + 1}"]).fetch(site.url("/p"))
    assert site.requests == []
    # A network entry admits any port.
    assert HttpFetcher(allow=["127.0.0.0/8"]).fetch(site.url("/p")).body == b"x"


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",  # a name that resolves to loopback
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6 of loopback
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",  # shared address space
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fec0::1]/",  # deprecated site-local
        "http://[3fff::1]/",  # documentation (RFC 9637)
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[64:ff9b:1::7f00:1]/",  # local-use NAT64 of 127.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
        "http://0x7f.1/",
        "http://017700000001/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://127.1/",
    ],
)
def test_addresses_that_are_not_public_are_refused(url: str) -> None:
    with pytest.raises(FetchRefusedError, match="is not public"):
        HttpFetcher().fetch(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/a", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user:secret@example.com/", "user name or password"),
        ("http://user@example.com/", "user name or password"),
        ("http:///nohost", "no host"),
        ("http://exa mple.com/", "not a valid URL"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str, message: str) -> None:
    with pytest.raises(FetchRefusedError, match=message):
        HttpFetcher().fetch(url)


def test_public_addresses_are_public() -> None:
    for address in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"):
        assert _public(ipaddress.ip_address(address)), address


def test_a_body_over_the_limit_fails_and_nothing_is_kept(site: Site) -> None:
    site.serve("/big", bytes(2000), "application/octet-stream")
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetcher(site, max_bytes=1000).fetch(site.url("/big"))
    with pytest.raises(FetchError, match="larger than 500 bytes"):
        fetcher(site).fetch(site.url("/big"), max_bytes=500)
    assert len(fetcher(site).fetch(site.url("/big"), max_bytes=2000).body) == 2000


@pytest.fixture(name="chunked")
def chunked_fixture() -> Iterator[str]:
    """A server that declares no length: 3000 bytes in chunks of 100, on 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(30):
                    connection.sendall(b"64\r\n" + b"x" * 100 + b"\r\n")
                connection.sendall(b"0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(5)


def test_a_body_over_the_limit_without_a_length_fails(chunked: str) -> None:
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        HttpFetcher(allow=[chunked], max_bytes=1000).fetch(f"http://{chunked}/")


def test_a_body_without_a_length_within_the_limit_is_read(chunked: str) -> None:
    assert HttpFetcher(allow=[chunked]).fetch(f"http://{chunked}/").body == b"x" * 3000


def test_a_slow_answer_fails_within_the_timeout(site: Site) -> None:
    site.serve("/slow", b"late", delay=2)
    with pytest.raises(FetchError, match=r"no full answer within 0\.5 seconds"):
        fetcher(site, timeout=0.5).fetch(site.url("/slow"))


def test_no_cookie_is_ever_sent(site: Site) -> None:
    site.serve("/set", b"x", headers=(("Set-Cookie", "session=abc; Path=/"),))
    site.redirect("/bounce", "/back")
    site.serve("/back", b"y")
    one = fetcher(site)
    got = one.fetch(site.url("/set"))
    assert got.header("set-cookie") == "session=abc; Path=/"
    one.fetch(site.url("/set"))
    one.fetch(site.url("/bounce"))
    assert len(site.requests) == 4
    assert all("Cookie" not in r.headers for r in site.requests)
    assert "Cookie" not in dict(got.request_headers)


def test_an_unanswered_port_fails(site: Site) -> None:
    port = site.port
    site.close()
    with pytest.raises(FetchError, match="the connection failed"):
        HttpFetcher(allow=[f"127.0.0.1:{port}"]).fetch(f"http://127.0.0.1:{port}/")


def test_the_settings_make_the_fetcher(site: Site) -> None:
    settings = load_settings(
        {"REMPART_DESK_FETCH_ALLOW": site.allow, "REMPART_DESK_FETCH_MAX_BYTES": "10"}
    )
    site.serve("/p", bytes(20))
    one = HttpFetcher.from_settings(settings, purpose="evidence capture")
    with pytest.raises(FetchError, match="larger than 10 bytes"):
        one.fetch(site.url("/p"))
    assert "(evidence capture)" in site.requests[0].headers["User-Agent"]
    one.close()


# https: a certificate for "localhost" only, from an authority the test trusts.


@pytest.fixture(name="tls")
def tls_fixture(site: Site, tmp_path: Path) -> tuple[Site, ssl.SSLContext, bytes]:
    """The local server over TLS, and a client context that trusts its certificate."""
    certificate = self_signed(tmp_path)
    site.server.socket = certificate.server.wrap_socket(site.server.socket, server_side=True)
    client = ssl.create_default_context(cafile=str(certificate.path))
    return site, client, certificate.der


def test_https_connects_to_the_address_checked_and_verifies_the_name(
    tls: tuple[Site, ssl.SSLContext, bytes],
) -> None:
    site, client, der = tls
    site.serve("/p/1", b"secure")
    url = f"https://localhost:{site.port}/p/1"
    got = HttpFetcher(allow=[site.allow], ssl_context=client).fetch(url)
    assert (got.status, got.body) == (200, b"secure")
    assert got.tls_fingerprint == hashlib.sha256(der).hexdigest()
    assert got.peer == site.allow
    assert site.requests[0].headers["Host"] == f"localhost:{site.port}"


def test_https_refuses_a_certificate_for_another_name(
    tls: tuple[Site, ssl.SSLContext, bytes],
) -> None:
    site, client, _ = tls
    site.serve("/p/1", b"secure")
    with pytest.raises(FetchError, match="the connection failed"):
        HttpFetcher(allow=[site.allow], ssl_context=client).fetch(
            site.url("/p/1").replace("http:", "https:")
        )
    assert site.requests == []


def test_a_name_server_that_never_answers_fails_within_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()

    def never(*args: object, **kwargs: object) -> list[object]:
        released.wait(30)
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", never)
    try:
        with pytest.raises(FetchError, match="did not resolve in time"):
            HttpFetcher(timeout=0.3).fetch("http://slow.test/")
    finally:
        released.set()


def test_a_name_that_does_not_resolve_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    with pytest.raises(FetchError, match="does not resolve") as failed:
        HttpFetcher().fetch("http://nowhere.test/")
    assert not isinstance(failed.value, FetchRefusedError)


def test_every_address_a_name_resolves_to_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A public address first, a private one behind it: refused, whichever would be used.
    def both(host: str, port: int, **kwargs: object) -> list[object]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", both)
    with pytest.raises(FetchRefusedError, match=r"10\.0\.0\.7 is not public"):
        HttpFetcher().fetch("http://mixed.test/")


def test_a_name_is_resolved_once_and_the_address_checked_is_the_one_reached(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebinding name server: the allowed address first, the metadata address after.
    answers = ["127.0.0.1", "169.254.169.254"]
    asked: list[str] = []

    real = socket.getaddrinfo

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host[0].isdigit():  # the connection's own call, on the address: no lookup
            return real(host, port, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[len(asked) - 1], port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    site.serve("/p/1", b"page")
    got = fetcher(site).fetch(f"http://rebind.test:{site.port}/p/1")
    assert (got.body, got.peer) == (b"page", site.allow)
    assert asked == ["rebind.test"], "one lookup: the connection went to the address checked"
    [seen] = site.requests
    assert seen.headers["Host"] == f"rebind.test:{site.port}"


@pytest.fixture(name="dripping")
def dripping_fixture() -> Iterator[str]:
    """A server that sends its status line a byte at a time, one every 50 ms, for 10 s: each
    read gets a byte in time, only the fetch's own deadline can end it."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def answer() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                for byte in (b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200)[:200]:
                    if done.wait(0.05):
                        return
                    connection.sendall(bytes([byte]))

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(5)


def test_a_server_that_drips_its_answer_fails_within_the_timeout(dripping: str) -> None:
    with pytest.raises(FetchError, match=r"no full answer within 0\.5 seconds"):
        HttpFetcher(allow=[dripping], timeout=0.5).fetch(f"http://{dripping}/")


def test_no_address_reaches_the_logs_even_at_debug(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """httpcore logs every exchange at DEBUG (a redirect's Location, a TLS server name): a
    minor's item's URL must never be written out, whatever level the operator set."""
    site.redirect("/m/1", site.url("/secret-path"))
    site.serve("/secret-path", b"")
    caplog.set_level(logging.DEBUG)
    fetcher(site).fetch(site.url("/m/1"), method="HEAD")
    assert "secret-path" not in caplog.text
    assert "/m/1" not in caplog.text
