"""Captures as WARC 1.1 files (ISO 28500:2017), written and read with warcio.

A capture's file holds, in order: a ``warcinfo`` record (the software, the format); for the
page, then for each image it embeds, a ``request`` record (the request line and the headers
sent) and a ``response`` record (the status line, the headers received, the body), each naming
the other with ``WARC-Concurrent-To``; last, a ``metadata`` record (``application/json``)
holding the manifest. Files are uncompressed, so that a byte of the evidence is a byte of the
file.

Digests: ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` are SHA-256, labelled ``sha256:``
and written in base 32 (RFC 4648, upper case, padded), the encoding warcio writes and
``warcio check`` verifies; the manifest gives each record's payload SHA-256 in hexadecimal, as
the rest of Rempart writes digests.

Cookies are never kept: a ``Cookie``, ``Set-Cookie`` or ``Set-Cookie2`` header is left out of
the records (the manifest counts how many). The fetcher hands over the body with its
transfer coding undone, so a ``Transfer-Encoding`` header received is kept under the name
``X-Rempart-Orig-Transfer-Encoding``, which keeps the record a well-formed HTTP message that
any WARC reader replays; a header value beyond ASCII is percent-encoded (RFC 8187's way, as
warcio does); the manifest counts both. The fetcher asks for ``identity``, so a body is as the
server sent it.

``read_warc`` reads such files: uncompressed, each record framed exactly, every digest
checked; anything else is refused, never half-read. ``embedded_images`` finds the images a
page shows with a small scanner of its own, bounded in time and size, not a full HTML parser.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from io import BytesIO
from typing import Any, Final
from urllib.parse import quote, urldefrag, urljoin, urlsplit, urlunsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from rempart.desk.fetch import Fetched
from rempart.errors import EvidenceRefusedError

__all__ = ["MAX_PAGE_IMAGES", "Record", "WarcFile", "embedded_images", "read_warc", "write_warc"]

MAX_PAGE_IMAGES: Final = 50
MAX_HTML_BYTES: Final = 4 * 1024 * 1024
"""How much of a page ``embedded_images`` reads: the images a page shows are named near its
top, and a bound keeps hostile markup from costing more than this much parsing."""
MAX_URL_CHARS: Final = 8192
MAX_CANDIDATES: Final = 10_000
MAX_STEPS: Final = 200_000
"""Tags, comments and attributes read at most: a real page has a few tens of thousands; more
is markup made to cost time."""
WARC_VERSION: Final = "WARC/1.1"
CONFORMS_TO: Final = (
    "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
)
COOKIE_HEADERS: Final = frozenset({"cookie", "set-cookie", "set-cookie2"})
DECODED_HEADERS: Final = frozenset({"transfer-encoding"})
RENAMED_PREFIX: Final = "X-Rempart-Orig-"
MAX_WARC_HEADER_BYTES: Final = 64 * 1024
_CRLF2: Final = b"\r\n\r\n"
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.I)
_URL_JUNK = re.compile(r"[\t\n\r]")
_PRINTABLE: Final = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) != "%")
_URL_SAFE: Final = "%/:=&?~#+!$,;'@()*[]"
"""What ``quote`` leaves of a URL (requests' choice): spaces and characters beyond ASCII are
percent-encoded as a browser sends them, so that one image is one URL."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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


# --- the images a page embeds ---------------------------------------------------------------


_RAW_TEXT: Final = ("script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes")
_MARKUP = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)|(<!--|<[!?])")
_RAW_END = {name: re.compile(f"</{name}", re.IGNORECASE) for name in _RAW_TEXT}
_SPACE = re.compile(r"[\s/]*")
_ATTRIBUTE = re.compile(r"[^\s/>][^\s/>=]*")
_EQUALS = re.compile(r"\s*=\s*")
_UNQUOTED = re.compile(r"[^\s>]*")
_IMAGE_TAGS: Final = frozenset({"base", "img", "picture", "/picture", "source", "meta", "link"})
_IMAGE_META: Final = frozenset({"og:image", "og:image:url", "og:image:secure_url", "twitter:image"})


def _tags(text: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The start and end tags of a page, in order, with their attributes (the first of a
    repeated one, as written), skipping comments, declarations and the text of ``<script>``
    and its kind. Each character is looked at a bounded number of times, so that hostile
    markup costs time in proportion to its size (the standard library's ``HTMLParser`` is
    quadratic on some: 4 MB of "<" took it minutes)."""
    position, steps = 0, 0
    while (opened := _MARKUP.search(text, position)) is not None and steps < MAX_STEPS:
        steps += 1
        if opened.group(3) is not None:  # a comment, or a declaration ("<!", "<?")
            end = text.find("-->" if opened.group(3) == "<!--" else ">", opened.end())
            if end < 0:
                return
            position = end + (3 if opened.group(3) == "<!--" else 1)
            continue
        name = opened.group(2).lower()
        parsed = _attributes(text, opened.end(), MAX_STEPS - steps)
        if parsed is None:
            return  # a tag or quoted value that never ends swallows the rest, as in browsers
        attributes, position, used = parsed
        steps += used
        if opened.group(1):
            yield "/" + name, {}
            continue
        yield name, attributes
        if name in _RAW_END:
            closing = _RAW_END[name].search(text, position)
            if closing is None:
                return
            position = closing.start()


def _attributes(text: str, position: int, budget: int) -> tuple[dict[str, str], int, int] | None:
    """A tag's attributes from ``position``, where the tag ends and how many attributes were
    read; None when it never ends or has more than ``budget`` attributes."""
    attributes: dict[str, str] = {}
    for used in range(budget + 1):
        spaces = _SPACE.match(text, position)
        assert spaces is not None  # matches ""
        position = spaces.end()
        if position >= len(text):
            return None
        if text[position] == ">":
            return attributes, position + 1, used
        name = _ATTRIBUTE.match(text, position)
        assert name is not None  # text[position] is neither space, "/" nor ">"
        position = name.end()
        equals = _EQUALS.match(text, position)
        value = ""
        if equals is not None:
            position = equals.end()
            if text[position : position + 1] in {'"', "'"}:
                end = text.find(text[position], position + 1)
                if end < 0:
                    return None
                value, position = text[position + 1 : end], end + 1
            else:
                unquoted = _UNQUOTED.match(text, position)
                assert unquoted is not None  # matches ""
                value, position = unquoted.group(), unquoted.end()
        attributes.setdefault(name.group().lower(), value)
    return None


def _references(text: str) -> tuple[list[str], str | None]:
    """The raw image references of a page, in document order, and its first ``<base href>``:
    ``<img src srcset>``, ``<picture><source srcset>``, ``og:image``/``twitter:image``
    ``<meta>``, ``<link rel=image_src>``."""
    found: list[str] = []
    base: str | None = None
    in_picture = 0
    for tag, attributes in _tags(text):
        if len(found) >= MAX_CANDIDATES:
            break
        if tag not in _IMAGE_TAGS:
            continue
        values = {k: unescape(v) for k, v in attributes.items() if len(v) <= MAX_URL_CHARS}
        if tag == "base" and base is None and "href" in values:
            base = values["href"]
        elif tag == "img":
            found += [values.get("src", ""), *_srcset_urls(values.get("srcset", ""))]
        elif tag == "picture":
            in_picture += 1
        elif tag == "/picture":
            in_picture = max(0, in_picture - 1)
        elif tag == "source" and in_picture:
            found += _srcset_urls(values.get("srcset", ""))
        elif tag == "meta":
            key = (values.get("property") or values.get("name") or "").strip().lower()
            if key in _IMAGE_META:
                found.append(values.get("content", ""))
        elif tag == "link" and "image_src" in values.get("rel", "").lower().split():
            found.append(values.get("href", ""))
    return [reference for reference in found if reference], base


def _srcset_urls(srcset: str) -> Iterable[str]:
    """The URLs of a ``srcset`` attribute's candidates (the HTML standard's parsing, without
    the descriptors, which only choose among candidates)."""
    position, end = 0, len(srcset)
    while position < end:
        while position < end and (srcset[position].isspace() or srcset[position] == ","):
            position += 1
        start = position
        while position < end and not srcset[position].isspace():
            position += 1
        url = srcset[start:position]
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # descriptors up to the next comma outside parentheses
            depth = 0
            while position < end and (srcset[position] != "," or depth):
                depth = max(0, depth + {"(": 1, ")": -1}.get(srcset[position], 0))
                position += 1
        if url:
            yield url


def _decode(page: bytes) -> str:
    """The page's text: by its byte-order mark, else its ``<meta charset>``, else UTF-8;
    undecodable bytes replaced."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if page.startswith(bom):
            return page[len(bom) :].decode(codec, errors="replace")
    declared = _CHARSET.search(page[:2048])
    codec = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    if codec in {"utf-16", "utf-16le", "utf-16be", "utf-32"}:
        codec = "utf-8"  # a page that reached the parser as ASCII-compatible bytes is not UTF-16
    try:
        return page.decode(codec, errors="replace")
    except LookupError:
        return page.decode("utf-8", errors="replace")


def _absolute(reference: str, base: str) -> str | None:
    """``reference`` resolved against ``base``, without its fragment, when it is an http(s)
    URL with a host; else None."""
    cleaned = _URL_JUNK.sub("", reference)  # as browsers do; the parser undid the entities
    try:
        url = quote(urldefrag(urljoin(base, cleaned.strip())).url, safe=_URL_SAFE)
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        return None
    if parts.scheme not in {"http", "https"} or not host:
        return None
    return urlunsplit(parts._replace(netloc=parts.netloc.lower()))  # urlsplit lowers the scheme


def embedded_images(html: bytes, base_url: str, *, limit: int = MAX_PAGE_IMAGES) -> list[str]:
    """The absolute http(s) URLs of the images a page embeds, in order, each once, at most
    ``limit``; never raises on hostile markup."""
    references, declared_base = _references(_decode(html[:MAX_HTML_BYTES]))
    base = base_url
    if declared_base:
        base = _absolute(declared_base, base_url) or base_url
    urls: list[str] = []
    for reference in references:
        url = _absolute(reference, base)
        if url is not None and url not in urls:
            urls.append(url)
            if len(urls) >= limit:
                break
    return urls


# --- writing ---------------------------------------------------------------------------------


def _labelled(digest: bytes) -> str:
    """A WARC digest header's value: ``sha256:`` and base 32."""
    return "sha256:" + base64.b32encode(digest).decode("ascii")


def _warc_date(moment: datetime) -> str:
    """A WARC-Date: UTC, with the fraction of a second WARC 1.1 allows."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    text: str = datetime_to_iso_date(utc.replace(tzinfo=None), use_micros=True)
    return text


def _peer_ip(peer: str) -> str | None:
    """The IP address of a peer written as an address, ``IP:port`` or ``[IPv6]:port``."""
    candidates = [
        peer,
        peer.rsplit(":", 1)[0],
        peer.strip("[]"),
        peer.rsplit(":", 1)[0].strip("[]"),
    ]
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _check_line(text: str, what: str) -> str:
    """``text`` unchanged, once known to hold no line break (which would end a header)."""
    if "\r" in text or "\n" in text:
        raise EvidenceRefusedError(f"cannot write the WARC: {what} holds a line break")
    return text


@dataclass(slots=True)
class _Tally:
    """What writing headers left out or changed, for the manifest."""

    cookies: int = 0
    renamed: int = 0
    encoded: int = 0


def _keep(
    headers: Iterable[tuple[str, str]], tally: _Tally, *, rename: bool
) -> list[tuple[str, str]]:
    """The headers to record: every one as received, in order, but never a cookie; a framing
    header the fetcher already undid renamed (``rename``); a value beyond ASCII
    percent-encoded as RFC 8187 does (warcio's readers expect ASCII)."""
    kept = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in COOKIE_HEADERS:
            tally.cookies += 1
            continue
        if rename and lowered in DECODED_HEADERS:
            name = RENAMED_PREFIX + name
            tally.renamed += 1
        if not _TOKEN.fullmatch(name):
            raise EvidenceRefusedError(
                "cannot write the WARC: a header's name is not an HTTP token"
            )
        if not value.isascii():
            value = quote(value, safe=_PRINTABLE)
            tally.encoded += 1
        kept.append((name, _check_line(value, "a header")))
    return kept


def _new_id() -> str:
    """A fresh ``WARC-Record-ID`` (``<urn:uuid:...>``)."""
    return f"<urn:uuid:{uuid.uuid4()}>"


class _Writer:
    """Writes records to one uncompressed WARC 1.1 buffer, with SHA-256 digests."""

    def __init__(self) -> None:
        self.out = BytesIO()
        self.writer = WARCWriter(self.out, gzip=False, warc_version=WARC_VERSION)

    def write(
        self,
        kind: str,
        *,
        record_id: str,
        uri: str | None,
        date: datetime,
        body: bytes,
        content_type: str,
        fields: Sequence[tuple[str, str]] = (),
        http: StatusAndHeaders | None = None,
        body_sha256: bytes | None = None,
    ) -> None:
        """Write one record (``http``: the HTTP message's start line and headers;
        ``body_sha256``: the body's digest when the caller has it)."""
        head = b""
        if http is not None:
            http.compute_headers_buffer()
            head = http.headers_buff
        headers = [
            ("WARC-Type", kind),
            ("WARC-Record-ID", record_id),
            ("WARC-Date", _warc_date(date)),
        ]
        if uri:
            headers.append(("WARC-Target-URI", _check_line(uri, "a URL")))
        headers.extend(fields)
        block = hashlib.sha256(head)
        block.update(body)  # not head + body: a 20 MB body is not copied to be hashed
        headers.append(("WARC-Block-Digest", _labelled(block.digest())))
        if kind != "warcinfo":
            payload = body_sha256 or hashlib.sha256(body).digest()
            headers.append(("WARC-Payload-Digest", _labelled(payload)))
        record = self.writer.create_warc_record(
            uri or "",
            kind,
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=content_type,
            warc_headers=StatusAndHeaders("", headers, protocol=WARC_VERSION),
            http_headers=http,
        )
        self.writer.write_record(record)


@dataclass(slots=True)
class _Written:
    """What the records written so far add to the manifest."""

    records: list[dict[str, Any]]
    tally: _Tally


def _write_pair(
    writer: _Writer, fetched: Fetched, info_id: str, written: _Written
) -> list[tuple[str, str]]:
    """Write a fetch's ``request`` and ``response`` records, each naming the other; the
    request headers recorded."""
    target = urlsplit(fetched.final_url)
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    sent = _keep(fetched.request_headers, written.tally, rename=False)
    if not any(name.lower() == "host" for name, _ in sent):
        sent.insert(0, ("Host", target.netloc.rsplit("@", 1)[-1]))
    received = _keep(fetched.headers, written.tally, rename=True)
    request_id, response_id = _new_id(), _new_id()
    common = [("WARC-Warcinfo-ID", info_id)]
    ip = _peer_ip(fetched.peer)
    if ip:
        common.append(("WARC-IP-Address", ip))
    body_sha256 = hashlib.sha256(fetched.body).digest()
    request_line = f"{fetched.method} {path} {fetched.http_version}"
    status_line = f"{fetched.status} {fetched.reason}".strip()
    writer.write(
        "request",
        record_id=request_id,
        uri=fetched.final_url,
        date=fetched.started_at,
        body=b"",
        content_type="application/http; msgtype=request",
        fields=[*common, ("WARC-Concurrent-To", response_id)],
        http=StatusAndHeaders(
            _check_line(request_line, "the request line"), sent, is_http_request=True
        ),
    )
    writer.write(
        "response",
        record_id=response_id,
        uri=fetched.final_url,
        date=fetched.started_at,
        body=fetched.body,
        body_sha256=body_sha256,
        content_type="application/http; msgtype=response",
        fields=[*common, ("WARC-Concurrent-To", request_id)],
        http=StatusAndHeaders(
            _check_line(status_line, "the status line"),
            received,
            protocol=_check_line(fetched.http_version, "the HTTP version"),
        ),
    )
    empty = hashlib.sha256(b"").hexdigest()
    written.records += [
        {
            "type": "request",
            "id": request_id,
            "uri": fetched.final_url,
            "sha256": empty,
            "length": 0,
        },
        {
            "type": "response",
            "id": response_id,
            "uri": fetched.final_url,
            "status": fetched.status,
            "sha256": body_sha256.hex(),
            "length": len(fetched.body),
        },
    ]
    return sent


def write_warc(
    page: Fetched,
    resources: Sequence[Fetched],
    *,
    captured_at: datetime,
    version: str,
    extra: Mapping[str, Any] | None = None,
    skipped: Sequence[tuple[str, str]] = (),
) -> WarcFile:
    """The page's and its images' request and response records, then a metadata record
    holding the manifest: Rempart's version, the address reached and the peer, the TLS
    certificate's fingerprint, the headers sent, each record's SHA-256, the time.
    ``skipped``: the images not kept, each ``(url, why)``; ``extra``: the caller's own
    facts, kept under the manifest's ``extra``."""
    writer = _Writer()
    info_id = _new_id()
    info = {
        "software": f"Rempart/{version}",
        "format": "WARC File Format 1.1",
        "conformsTo": CONFORMS_TO,
    }
    writer.write(
        "warcinfo",
        record_id=info_id,
        uri=None,
        date=captured_at,
        body="".join(f"{name}: {value}\r\n" for name, value in info.items()).encode("utf-8"),
        content_type="application/warc-fields",
    )
    written = _Written([], _Tally())
    sent = _write_pair(writer, page, info_id, written)
    for resource in resources:
        _write_pair(writer, resource, info_id, written)
    manifest: dict[str, Any] = {
        "rempart": version,
        "captured_at": captured_at.isoformat(),
        "url": page.url,
        "final_url": page.final_url,
        "peer": page.peer,
        "tls_sha256": page.tls_fingerprint,
        "http_version": page.http_version,
        "status": page.status,
        "request_headers": [list(pair) for pair in sent],
        "redirects": list(page.redirects),
        "records": written.records,
        "images": {
            "fetched": len(resources),
            "skipped": [{"url": url, "why": why} for url, why in skipped],
        },
        "headers_left_out": {"cookies": written.tally.cookies},
        "headers_changed": {
            "renamed": written.tally.renamed,
            "percent_encoded": written.tally.encoded,
        },
    }
    if extra:
        manifest["extra"] = dict(extra)
    writer.write(
        "metadata",
        record_id=_new_id(),
        uri=page.final_url,
        date=captured_at,
        body=json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8"),
        content_type="application/json",
        fields=[("WARC-Warcinfo-ID", info_id), ("WARC-Concurrent-To", written.records[1]["id"])],
    )
    data = writer.out.getvalue()
    return WarcFile(data, hashlib.sha256(data).hexdigest(), manifest)


# --- reading ---------------------------------------------------------------------------------


def _refuse(why: str) -> EvidenceRefusedError:
    return EvidenceRefusedError(f"the data is not a WARC file: {why}")


def _check_framing(data: bytes) -> None:
    """Refuse data whose records do not follow each other exactly as WARC frames them (a
    version line, headers, an empty line, ``Content-Length`` bytes, two line ends), so that
    warcio, which tolerates and only warns, reads exactly the records written."""
    if not data:
        raise _refuse("it is empty")
    position, number = 0, 1
    while position < len(data):
        if not data.startswith((b"WARC/1.0\r\n", b"WARC/1.1\r\n"), position):
            raise _refuse(f"record {number} does not begin with WARC/1.0 or WARC/1.1")
        end = data.find(_CRLF2, position, position + MAX_WARC_HEADER_BYTES)
        if end < 0:
            raise _refuse(f"record {number}'s header does not end")
        length: int | None = None
        for line in data[position:end].split(b"\r\n")[1:]:
            if line[:1] in (b" ", b"\t"):
                raise _refuse(f"record {number} has a folded header line")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"warc-target-uri" and b" " in value.strip():
                raise _refuse(f"record {number}'s WARC-Target-URI holds a space")
            if name == b"content-length" and length is None:
                digits = value.strip()
                if not digits.isdigit() or len(digits) > 15:
                    raise _refuse(f"record {number}'s Content-Length is not a number")
                length = int(digits)
        if length is None:
            raise _refuse(f"record {number} has no Content-Length")
        block_end = end + len(_CRLF2) + length
        if data[block_end : block_end + len(_CRLF2)] != _CRLF2:
            raise _refuse(f"record {number} is cut short or its Content-Length is wrong")
        position, number = block_end + len(_CRLF2), number + 1


def read_warc(data: bytes) -> list[Record]:
    """The records of a WARC file; ``EvidenceRefusedError`` when it is not one (bad framing,
    a digest that does not match, a record warcio cannot parse)."""
    _check_framing(data)
    records: list[Record] = []
    try:
        for record in ArchiveIterator(BytesIO(data), check_digests="raise"):
            payload = record.raw_stream.read()
            headers = tuple((str(name), str(value)) for name, value in record.rec_headers.headers)
            records.append(
                Record(
                    type=str(record.rec_type),
                    target_uri=record.rec_headers.get_header("WARC-Target-URI"),
                    headers=headers,
                    payload=payload,
                    payload_sha256=hashlib.sha256(payload).hexdigest(),
                )
            )
    except (ArchiveLoadFailed, StatusAndHeadersParserException) as exc:
        raise _refuse(str(exc)[:200]) from exc
    except (ValueError, LookupError, EOFError, TypeError, AttributeError, OSError) as exc:
        raise _refuse(f"warcio could not parse it ({type(exc).__name__})") from exc
    return records
