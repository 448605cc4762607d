"""Captures as WARC 1.1 files (ISO 28500:2017), written and read with warcio.

SKELETON: the interface is fixed; helper W implements it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from rempart.desk.fetch import Fetched

__all__ = ["MAX_PAGE_IMAGES", "Record", "WarcFile", "embedded_images", "read_warc", "write_warc"]

MAX_PAGE_IMAGES: Final = 50


@dataclass(frozen=True, slots=True)
class Record:
    """One WARC record as read back: its type, target URI, headers and block's payload."""

    type: str
    target_uri: str | None
    headers: tuple[tuple[str, str], ...]
    payload: bytes
    payload_sha256: str


@dataclass(frozen=True, slots=True)
class WarcFile:
    """A capture's WARC: its bytes, their SHA-256 (hex), and its manifest (also the file's
    last record, a ``metadata`` record)."""

    data: bytes
    sha256: str
    manifest: Mapping[str, Any]


def embedded_images(html: bytes, base_url: str, *, limit: int = MAX_PAGE_IMAGES) -> list[str]:
    """The absolute http(s) URLs of the images a page embeds, in order, each once, at most
    ``limit``; never raises on hostile markup."""
    raise NotImplementedError


def write_warc(
    page: Fetched,
    resources: Sequence[Fetched],
    *,
    captured_at: datetime,
    version: str,
    extra: Mapping[str, Any] | None = None,
) -> WarcFile:
    """The page's and its images' request and response records, then a metadata record
    holding the manifest: Rempart's version, the address reached and the peer, the TLS
    certificate's fingerprint, the headers sent, each record's SHA-256, the time."""
    raise NotImplementedError


def read_warc(data: bytes) -> list[Record]:
    """The records of a WARC file; ``EvidenceRefusedError`` when it is not one."""
    raise NotImplementedError
