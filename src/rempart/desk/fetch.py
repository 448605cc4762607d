"""Fetching what a notice names, for removal checks and captures: one ``Fetcher`` interface,
and ``HttpFetcher`` over httpx's transport (httpcore).

The fetcher is the desk's only way out to the internet, and a URL in a notice is whatever a
victim, a flagger or a hostile redirect chose, so every hop is checked before any connection:
http or https only, no user name or password in the URL, the host name resolved here and EVERY
address it resolves to refused unless public (or listed in ``REMPART_DESK_FETCH_ALLOW``), and
the connection then made to the address checked, never to the name (no second DNS lookup for
a rebinding server to answer differently), with the name as Host, TLS SNI and the name the
certificate must match. Redirects are followed by hand, each checked the same way. One
deadline covers the connections, every read and every redirect; the body is read in chunks
and the fetch fails, keeping nothing, past the size limit. No cookie is ever sent or kept: no
cookie jar exists. Connections are never reused, so that a connection verified for one name
never serves another that resolves to the same address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import httpcore
import httpx

from rempart import __version__
from rempart.config import DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT, address_and_port
from rempart.desk.clock import Clock, SystemClock
from rempart.errors import FetchError, FetchRefusedError

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["Fetched", "Fetcher", "HttpFetcher", "Method", "Purpose"]

Method = Literal["GET", "HEAD"]
Purpose = Literal["removal check", "evidence capture"]
MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_ACCEPT: Final = "text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.8"
# The well-known NAT64 prefix (RFC 6052): its last 32 bits are the IPv4 address reached.
_HOST: Final = re.compile(r"[a-z0-9_.-]+")
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# Not public, though this Python's ipaddress may call them global: deprecated site-local
# (RFC 3879, still routed inside some networks) and the newer documentation prefix (RFC 9637).
_NEVER_PUBLIC: Final = (ipaddress.IPv6Network("fec0::/10"), ipaddress.IPv6Network("3fff::/20"))

# httpcore writes every exchange out at DEBUG (a TLS server name, a redirect's Location): a
# minor's item's URL must never reach a log, whatever level the operator set. httpcore logs
# nothing above DEBUG, so only its debug lines are lost.
logging.getLogger("httpcore").setLevel(logging.INFO)

# Host names are resolved on these threads: a few, since each lookup is short or times out.
_RESOLVER: Final = ThreadPoolExecutor(max_workers=4, thread_name_prefix="desk-resolve")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one fetch got: the address asked and the one that answered (after redirects), the
    status line, the headers received and sent (never a cookie), the body as transferred
    (empty for HEAD; a Content-Encoding the server applied though asked for none is kept), the
    peer connected to ("ip:port"), the server certificate's SHA-256 (https), when it started
    and how long it took. ``redirects``: each address that answered with a redirect, in order
    (the first is ``url``)."""

    url: str
    final_url: str
    method: Method
    status: int
    reason: str
    http_version: str
    headers: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    body: bytes
    peer: str
    tls_fingerprint: str | None
    redirects: tuple[str, ...]
    started_at: datetime
    elapsed: float

    def header(self, name: str) -> str | None:
        """The first response header of this name (case-insensitive), or None."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def content_type(self) -> str:
        """The media type the server declared, lower case, without parameters ("" if none)."""
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()


class Fetcher(Protocol):
    """Fetches one URL: ``FetchRefusedError`` before connecting to an address it may not
    reach, ``FetchError`` when no full answer came within its limits. Any status is an answer
    (a 404 is returned, not raised)."""

    def fetch(self, url: str, *, method: Method = "GET", max_bytes: int | None = None) -> Fetched:
        """Fetch ``url`` (``max_bytes``: a smaller body limit than the fetcher's own)."""
        ...


@dataclass(frozen=True, slots=True)
class _Allowed:
    """One ``REMPART_DESK_FETCH_ALLOW`` entry: a network, or one address and port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int | None

    @classmethod
    def parse(cls, entry: str) -> _Allowed:
        address, port = address_and_port(entry)
        return cls(ipaddress.ip_network(address, strict=False), port)

    def admits(self, address: IPAddress, port: int) -> bool:
        return address in self.network and self.port in (None, port)


@dataclass(frozen=True, slots=True)
class _Hop:
    """One request to make: the URL as asked, and the address checked to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    target: bytes
    address: IPAddress

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if _DEFAULT_PORTS[self.scheme] == self.port else f"{name}:{self.port}"


class HttpFetcher:
    """A ``Fetcher`` over httpx: http and https only, every address (and every redirect's)
    resolved and refused when private, loopback, link-local or reserved unless allowed, the
    connection made to the address checked, size and time limits, no cookies kept.
    ``purpose`` names the fetch in the User-Agent ("removal check" or "evidence capture");
    ``ssl_context``: the authorities trusted (default: httpx's, certifi's; tests: a local one)."""

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        max_redirects: int = MAX_REDIRECTS,
        clock: Clock | None = None,
        purpose: Purpose = "removal check",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow = tuple(_Allowed.parse(entry) for entry in allow)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.clock: Clock = clock or SystemClock()
        self.user_agent = f"Rempart/{__version__} ({purpose})"
        self._ssl = ssl_context or httpx.create_ssl_context()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock | None = None, purpose: Purpose = "removal check"
    ) -> HttpFetcher:
        """The fetcher as ``REMPART_DESK_FETCH_*`` configure it."""
        return cls(
            allow=settings.desk_fetch_allow,
            max_bytes=settings.desk_fetch_max_bytes,
            timeout=settings.desk_fetch_timeout,
            clock=clock,
            purpose=purpose,
        )

    def fetch(self, url: str, *, method: Method = "GET", max_bytes: int | None = None) -> Fetched:
        """Fetch ``url``; see ``Fetcher.fetch``."""
        limit = self.max_bytes if max_bytes is None else min(max_bytes, self.max_bytes)
        started_at = self.clock.now()
        start = time.monotonic()
        deadline = start + self.timeout
        redirects: list[str] = []
        current = url
        while True:
            hop = self._check(current, deadline)
            headers = self._headers(hop, method)
            with self._exchange(hop, method, headers, deadline) as (response, stream):
                location = _header(response.headers, "location")
                if response.status in _REDIRECTS and location is not None:
                    redirects.append(current)
                    if len(redirects) > self.max_redirects:
                        raise FetchError(url, f"more than {self.max_redirects} redirects")
                    current = _join(current, location)
                    continue
                body = b"" if method == "HEAD" else _read(response, current, limit)
                return Fetched(
                    url=url,
                    final_url=current,
                    method=method,
                    status=response.status,
                    reason=_text(response.extensions.get("reason_phrase", b"")),
                    http_version=_text(response.extensions.get("http_version", b"HTTP/1.1")),
                    headers=tuple((_text(k), _text(v)) for k, v in response.headers),
                    request_headers=headers,
                    body=body,
                    peer=_peer(hop),
                    tls_fingerprint=_fingerprint(stream) if hop.scheme == "https" else None,
                    redirects=tuple(redirects),
                    started_at=started_at,
                    elapsed=time.monotonic() - start,
                )

    def close(self) -> None:
        """Close its connections (none outlives a fetch: nothing to do)."""

    def _check(self, url: str, deadline: float) -> _Hop:
        """The hop ``url`` makes, or ``FetchRefusedError``: checked before any connection."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchRefusedError(url, "not a valid URL") from exc
        if parsed.scheme not in _DEFAULT_PORTS:
            raise FetchRefusedError(url, "only http and https URLs are fetched")
        if parsed.userinfo:
            raise FetchRefusedError(url, "a URL with a user name or password is not fetched")
        host = parsed.raw_host.decode("ascii").lower()
        if not host:
            raise FetchRefusedError(url, "the URL names no host")
        if not _HOST.fullmatch(host) and ":" not in host:
            raise FetchRefusedError(url, "not a valid URL: its host is not a host name")
        port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
        addresses = _resolve(url, host, port, deadline)
        refused = [a for a in addresses if not self._admits(a, port)]
        if refused:
            raise FetchRefusedError(
                url,
                f"address {refused[0]} is not public and not in REMPART_DESK_FETCH_ALLOW",
            )
        return _Hop(url, parsed.scheme, host, port, parsed.raw_path or b"/", addresses[0])

    def _admits(self, address: IPAddress, port: int) -> bool:
        return _public(address) or any(entry.admits(address, port) for entry in self.allow)

    def _headers(self, hop: _Hop, method: Method) -> tuple[tuple[str, str], ...]:
        accept = (("Accept", _ACCEPT),) if method == "GET" else (("Accept", "*/*"),)
        return (
            ("Host", hop.host_header),
            ("User-Agent", self.user_agent),
            *accept,
            ("Accept-Encoding", "identity"),
            ("Connection", "close"),
        )

    @contextmanager
    def _exchange(
        self, hop: _Hop, method: Method, headers: tuple[tuple[str, str], ...], deadline: float
    ) -> Iterator[tuple[httpcore.Response, httpcore.NetworkStream]]:
        """One request to the address checked (a pool of one connection, never kept), every
        httpcore, socket and TLS error as ``FetchError``."""
        request_url = httpcore.URL(
            scheme=hop.scheme, host=str(hop.address), port=hop.port, target=hop.target
        )
        pool = httpcore.ConnectionPool(
            ssl_context=self._ssl,
            max_connections=1,
            max_keepalive_connections=0,
            network_backend=_Backend(hop.address, deadline),
        )
        try:
            left = _left(deadline, None)
            extensions: dict[str, Any] = {
                "timeout": {"connect": left, "read": left, "write": left, "pool": left},
                "sni_hostname": hop.host,
            }
            with (
                pool,
                pool.stream(
                    method, request_url, headers=list(headers), extensions=extensions
                ) as response,
            ):
                yield response, response.extensions["network_stream"]
        except httpcore.TimeoutException as exc:
            raise FetchError(hop.url, f"no full answer within {self._seconds()}") from exc
        except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError) as exc:
            raise FetchError(hop.url, f"the request could not be made: {_reason(exc)}") from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            raise FetchError(hop.url, f"the connection failed: {_reason(exc)}") from exc

    def _seconds(self) -> str:
        return f"{self.timeout:g} seconds"


def _resolve(url: str, host: str, port: int, deadline: float) -> list[IPAddress]:
    """Every address ``host`` names (itself, when an IP address), within the deadline: the
    system's resolver runs on a thread, so that a name server that never answers cannot hold
    the fetch past it."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    lookup = _RESOLVER.submit(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        infos = lookup.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError as exc:
        lookup.cancel()
        raise FetchError(url, f"the host name {host[:100]!r} did not resolve in time") from exc
    except (OSError, UnicodeError) as exc:
        raise FetchError(url, f"the host name {host[:100]!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchError(url, f"the host name {host[:100]!r} does not resolve")
    return addresses


def _public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address, an IPv6 address that embeds an IPv4
    one (mapped, 6to4, NAT64; Teredo is never global) judged by the one it embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
        if address.teredo is not None or any(address in net for net in _NEVER_PUBLIC):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _left(deadline: float, timeout: float | None) -> float:
    """What is left of the deadline (at most ``timeout``); a timeout once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the deadline passed")
    return left if timeout is None else min(left, timeout)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline,
    however slowly the server drips its bytes."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(self._deadline, timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(self._deadline, timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _left(self._deadline, timeout))
        return _Stream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Connects to the one address checked, and to nothing else."""

    def __init__(self, address: IPAddress, deadline: float) -> None:
        self._address = address
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if ipaddress.ip_address(host) != self._address:
            raise httpcore.ConnectError("not the address checked")
        stream = self._inner.connect_tcp(
            host, port, _left(self._deadline, timeout), local_address, socket_options
        )
        return _Stream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("a desk fetch never uses a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _read(response: httpcore.Response, url: str, limit: int) -> bytes:
    """The body, or ``FetchError`` (and nothing kept) once it is larger than ``limit``."""
    declared = _header(response.headers, "content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise FetchError(url, f"larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > limit:
            chunks.clear()
            raise FetchError(url, f"larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _header(headers: Sequence[tuple[bytes, bytes]], name: str) -> str | None:
    wanted = name.encode("ascii")
    return next((_text(v) for k, v in headers if k.lower() == wanted), None)


def _join(url: str, location: str) -> str:
    try:
        return str(httpx.URL(url).join(location))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchRefusedError(url, "a redirect to an address that is not a valid URL") from exc


def _peer(hop: _Hop) -> str:
    return (
        f"[{hop.address}]:{hop.port}" if hop.address.version == 6 else f"{hop.address}:{hop.port}"
    )


def _fingerprint(stream: httpcore.NetworkStream) -> str | None:
    """The SHA-256 of the server's DER certificate, hex."""
    tls = stream.get_extra_info("socket")
    der = tls.getpeercert(binary_form=True) if isinstance(tls, ssl.SSLSocket) else None
    return hashlib.sha256(der).hexdigest() if der else None


def _text(value: bytes | str) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:200]
