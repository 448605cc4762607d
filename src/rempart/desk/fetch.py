"""Fetching what a notice names, for removal checks and captures: one ``Fetcher`` interface,
and ``HttpFetcher`` over httpx.

SKELETON: the interface is fixed; helper F implements ``HttpFetcher`` (see the module's final
docstring for what it guarantees).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal, Protocol

from rempart.config import DEFAULT_FETCH_MAX_BYTES, DEFAULT_FETCH_TIMEOUT
from rempart.desk.clock import Clock

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["Fetched", "Fetcher", "HttpFetcher", "Method"]

Method = Literal["GET", "HEAD"]
MAX_REDIRECTS: Final = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one fetch got: the address asked and the one that answered (after redirects), the
    status line, the headers received and sent (never a cookie), the body (empty for HEAD),
    the peer connected to, the server certificate's SHA-256 (https), when it started and how
    long it took."""

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


class HttpFetcher:
    """A ``Fetcher`` over httpx: http and https only, every address (and every redirect's)
    resolved and refused when private, loopback, link-local or reserved unless allowed, the
    connection made to the address checked, size and time limits, no cookies kept."""

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        max_bytes: int = DEFAULT_FETCH_MAX_BYTES,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        max_redirects: int = MAX_REDIRECTS,
        clock: Clock | None = None,
    ) -> None:
        raise NotImplementedError

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> HttpFetcher:
        """The fetcher as ``REMPART_DESK_FETCH_*`` configure it."""
        return cls(
            allow=settings.desk_fetch_allow,
            max_bytes=settings.desk_fetch_max_bytes,
            timeout=settings.desk_fetch_timeout,
            clock=clock,
        )

    def fetch(self, url: str, *, method: Method = "GET", max_bytes: int | None = None) -> Fetched:
        """Fetch ``url``; see ``Fetcher.fetch``."""
        raise NotImplementedError

    def close(self) -> None:
        """Close its connections."""
        raise NotImplementedError
