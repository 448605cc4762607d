"""rempart.desk.warc: captures written as WARC 1.1 and read back with warcio's own iterator
(not with read_warc), from hand-made fetches and from HttpFetcher against a real local server;
the images a page embeds; hostile files refused."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from rempart.desk import FixedClock
from rempart.desk.fetch import Fetched, HttpFetcher
from rempart.desk.warc import MAX_PAGE_IMAGES, embedded_images, read_warc, write_warc
from rempart.errors import EvidenceRefusedError
from tests.desk.served import Site, site_fixture  # noqa: F401

STARTED = datetime(2026, 12, 2, 9, 30, 15, 250000, tzinfo=UTC)
CAPTURED = datetime(2026, 12, 2, 9, 30, 17, tzinfo=UTC)
PAGE = b'<html><body><p>a page</p><img src="/i/a.png"></body></html>'


def fetched(url: str, body: bytes, **changes: Any) -> Fetched:
    """A fetch as HttpFetcher returns one, made by hand."""
    values: dict[str, Any] = {
        "url": url,
        "final_url": url,
        "method": "GET",
        "status": 200,
        "reason": "OK",
        "http_version": "HTTP/1.1",
        "headers": (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "3")),
        "request_headers": (
            ("Host", "example.com"),
            ("User-Agent", "Rempart/0.1.0 (evidence capture)"),
        ),
        "body": body,
        "peer": "93.184.215.14:443",
        "tls_fingerprint": "ab" * 32,
        "redirects": (),
        "started_at": STARTED,
        "elapsed": 0.2,
    }
    return Fetched(**(values | changes))


def noise_png(seed: int, size: int = 64) -> bytes:
    """A PNG of random coloured noise (no picture of anything)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def records(data: bytes) -> list[tuple[Any, bytes]]:
    """Each record of ``data`` and its payload, read by warcio with its digests checked."""
    read = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
        read.append((record, record.content_stream().read()))
    return read


def test_records_come_in_order_with_their_digests_links_and_times() -> None:
    page = fetched("https://example.com/p/1", PAGE)
    image = fetched("https://example.com/i/a.png", noise_png(1), peer="[2606:2800:21f:cb07::1]:443")
    warc = write_warc(page, [image], captured_at=CAPTURED, version="0.1.0")
    read = records(warc.data)
    assert [record.rec_type for record, _ in read] == [
        "warcinfo", "request", "response", "request", "response", "metadata",
    ]  # fmt: skip
    assert {record.rec_headers.protocol for record, _ in read} == {"WARC/1.1"}
    assert warc.sha256 == hashlib.sha256(warc.data).hexdigest()
    info = read[0][1].decode()
    assert "software: Rempart/0.1.0\r\n" in info
    assert "format: WARC File Format 1.1\r\n" in info
    assert "conformsTo: https://iipc.github.io/warc-specifications/" in info
    info_id = read[0][0].rec_headers.get_header("WARC-Record-ID")
    for (request, _), (response, body), source in (
        (read[1], read[2], page),
        (read[3], read[4], image),
    ):
        request_id = request.rec_headers.get_header("WARC-Record-ID")
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        assert request.rec_headers.get_header("WARC-Concurrent-To") == response_id
        assert response.rec_headers.get_header("WARC-Concurrent-To") == request_id
        for record in (request, response):
            assert record.rec_headers.get_header("WARC-Target-URI") == source.final_url
            assert record.rec_headers.get_header("WARC-Date") == "2026-12-02T09:30:15.250000Z"
            assert record.rec_headers.get_header("WARC-Warcinfo-ID") == info_id
            assert record.rec_headers.get_header("WARC-Block-Digest").startswith("sha256:")
        assert body == source.body
        digest = hashlib.sha256(source.body).digest()
        assert response.rec_headers.get_header("WARC-Payload-Digest") == "sha256:" + (
            __import__("base64").b32encode(digest).decode()
        )
        assert response.http_headers.get_statuscode() == "200"
    assert read[2][0].rec_headers.get_header("WARC-IP-Address") == "93.184.215.14"
    assert read[4][0].rec_headers.get_header("WARC-IP-Address") == "2606:2800:21f:cb07::1"
    assert read[1][0].http_headers.protocol == "GET"
    assert read[1][0].http_headers.statusline == "/p/1 HTTP/1.1"
    assert read[1][0].http_headers.get_header("Host") == "example.com"
    assert read[5][0].rec_headers.get_header("Content-Type") == "application/json"
    assert read[5][0].rec_headers.get_header("WARC-Date") == "2026-12-02T09:30:17Z"


def test_the_manifest_is_the_last_record_and_names_every_record() -> None:
    page = fetched(
        "https://example.com/p/1",
        PAGE,
        final_url="https://example.com/p/2",
        redirects=("https://example.com/p/1",),
    )
    image = fetched("https://example.com/i/a.png", noise_png(2))
    warc = write_warc(
        page,
        [image],
        captured_at=CAPTURED,
        version="0.1.0",
        extra={"item": 7},
        skipped=[("https://example.com/i/big.png", "larger than 20971520 bytes")],
    )
    manifest = json.loads(records(warc.data)[-1][1])
    assert manifest == json.loads(json.dumps(warc.manifest))
    assert manifest["rempart"] == "0.1.0"
    assert manifest["captured_at"] == "2026-12-02T09:30:17+00:00"
    assert (manifest["url"], manifest["final_url"]) == (page.url, page.final_url)
    assert manifest["redirects"] == ["https://example.com/p/1"]
    assert (manifest["peer"], manifest["tls_sha256"]) == (page.peer, "ab" * 32)
    assert (manifest["http_version"], manifest["status"]) == ("HTTP/1.1", 200)
    assert manifest["request_headers"] == [
        ["Host", "example.com"],
        ["User-Agent", "Rempart/0.1.0 (evidence capture)"],
    ]
    assert [(r["type"], r["uri"]) for r in manifest["records"]] == [
        ("request", page.final_url),
        ("response", page.final_url),
        ("request", image.url),
        ("response", image.url),
    ]
    responses = [r for r in manifest["records"] if r["type"] == "response"]
    assert [(r["sha256"], r["length"]) for r in responses] == [
        (hashlib.sha256(body).hexdigest(), len(body)) for body in (page.body, image.body)
    ]
    ids = [record.rec_headers.get_header("WARC-Record-ID") for record, _ in records(warc.data)]
    assert [r["id"] for r in manifest["records"]] == ids[1:5]
    assert manifest["images"] == {
        "fetched": 1,
        "skipped": [{"url": "https://example.com/i/big.png", "why": "larger than 20971520 bytes"}],
    }
    assert manifest["extra"] == {"item": 7}


def test_no_cookie_is_ever_written_and_framing_undone_is_said() -> None:
    page = fetched(
        "https://example.com/p/1",
        PAGE,
        headers=(
            ("Content-Type", "text/html"),
            ("Set-Cookie", "session=s3cr3t-value; HttpOnly"),
            ("set-cookie2", "other=s3cr3t-two"),
            ("Transfer-Encoding", "chunked"),
            ("X-Title", "café"),
        ),
        request_headers=(("Host", "example.com"), ("Cookie", "mine=s3cr3t-sent")),
    )
    warc = write_warc(page, [], captured_at=CAPTURED, version="0.1.0")
    assert b"s3cr3t" not in warc.data
    assert b"ookie" not in warc.data.lower().replace(b'"cookies"', b"")
    response = records(warc.data)[2][0]
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.http_headers.get_header("X-Rempart-Orig-Transfer-Encoding") == "chunked"
    assert response.http_headers.get_header("X-Title") == "caf%C3%A9"
    assert warc.manifest["headers_left_out"] == {"cookies": 3}
    assert warc.manifest["headers_changed"] == {"renamed": 1, "percent_encoded": 1}
    assert warc.manifest["request_headers"] == [["Host", "example.com"]]


def test_a_header_that_would_break_the_file_is_refused() -> None:
    page = fetched("https://example.com/p/1", PAGE, headers=(("X-A", "one\r\nWARC-Type: x"),))
    with pytest.raises(EvidenceRefusedError, match="line break"):
        write_warc(page, [], captured_at=CAPTURED, version="0.1.0")


def test_a_real_capture_from_the_local_server_reads_back(site: Site) -> None:
    image = noise_png(3, size=256)
    page = b'<html><body><img src="i/a.png"><img src="/missing.png"></body></html>'
    site.redirect("/p/1", "/p/2")
    site.serve("/p/2", page, headers=(("Set-Cookie", "id=s3cr3t"),))
    site.serve("/p/i/a.png", image, "image/png")
    get = HttpFetcher(allow=[site.allow], clock=FixedClock(STARTED), purpose="evidence capture")
    got = get.fetch(site.url("/p/1"))
    assert embedded_images(got.body, got.final_url) == [
        site.url("/p/i/a.png"),
        site.url("/missing.png"),
    ]
    images = [get.fetch(url) for url in embedded_images(got.body, got.final_url)]
    warc = write_warc(got, images[:1], captured_at=CAPTURED, version="0.1.0")
    read = records(warc.data)
    assert [record.rec_type for record, _ in read] == [
        "warcinfo", "request", "response", "request", "response", "metadata",
    ]  # fmt: skip
    assert hashlib.sha256(read[4][1]).hexdigest() == hashlib.sha256(image).hexdigest()
    assert read[2][1] == page
    assert read[2][0].rec_headers.get_header("WARC-Target-URI") == site.url("/p/2")
    assert read[2][0].rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    request = read[1][0].http_headers
    assert (request.protocol, request.statusline) == ("GET", "/p/2 HTTP/1.1")
    assert request.get_header("Host") == site.allow
    assert request.get_header("User-Agent").endswith("(evidence capture)")
    assert b"s3cr3t" not in warc.data
    manifest = json.loads(read[-1][1])
    assert (manifest["url"], manifest["final_url"]) == (site.url("/p/1"), site.url("/p/2"))
    assert manifest["redirects"] == [site.url("/p/1")]
    assert manifest["peer"] == site.allow
    assert manifest["tls_sha256"] is None
    assert manifest["headers_left_out"] == {"cookies": 1}


def test_read_warc_gives_the_records_and_their_payloads() -> None:
    image = fetched("https://example.com/i/a.png", noise_png(4))
    warc = write_warc(
        fetched("https://example.com/p/1", PAGE), [image], captured_at=CAPTURED, version="1"
    )
    read = read_warc(warc.data)
    assert [r.type for r in read] == [
        "warcinfo", "request", "response", "request", "response", "metadata",
    ]  # fmt: skip
    assert read[4].payload == image.body
    assert read[4].payload_sha256 == hashlib.sha256(image.body).hexdigest()
    assert read[4].target_uri == image.url
    assert ("WARC-Type", "response") in read[4].headers
    assert read[1].payload == b""
    assert json.loads(read[5].payload)["final_url"] == "https://example.com/p/1"


def _flipped(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle)
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda data: b"", "it is empty"),
        (lambda data: b"GIF89a" + data, "does not begin with WARC/1.0 or WARC/1.1"),
        (lambda data: data[: len(data) // 2], "cut short"),
        (lambda data: data[:-1], "cut short"),
        (lambda data: data.replace(b"Content-Length: ", b"Content-Length: 1", 1), "cut short"),
        (lambda data: data.replace(b"Content-Length: ", b"Content-Length: x", 1), "not a number"),
        (lambda data: data.replace(b"Content-Length: ", b"X-Length: ", 1), "no Content-Length"),
        (lambda data: data + b"WARC/1.1\r\nWARC-Type: x\r\n", "header does not end"),
        (lambda data: _flipped(data, b"a page"), "digest failed"),
        (lambda data: _flipped(data, b"ESTED"), "digest failed"),
        (
            lambda data: data.replace(b"WARC-Target-URI: https://", b"WARC-Target-URI: a b", 1),
            "holds a space",
        ),
        (lambda data: data.replace(b"WARC-Date", b" WARC-Date", 1), "folded header"),
    ],
)
def test_read_warc_refuses_what_is_not_a_whole_warc(change: Any, why: str) -> None:
    data = write_warc(
        fetched("https://example.com/p/1", PAGE, reason="REQUESTED"),
        [],
        captured_at=CAPTURED,
        version="0.1.0",
    ).data
    with pytest.raises(EvidenceRefusedError, match=f"not a WARC file: .*{why}"):
        read_warc(change(data))


def test_read_warc_refuses_garbage_without_any_other_error() -> None:
    rng = np.random.default_rng(5)
    for size in (1, 9, 100, 4096):
        garbage = b"WARC/1.1\r\n" + rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        with pytest.raises(EvidenceRefusedError, match="not a WARC file"):
            read_warc(garbage)


BASE = "https://example.com/a/page.html"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (b'<img src="x.png"><img src="../y.png"><img src="/z.png">', ["a/x.png", "y.png", "z.png"]),
        (
            b'<base href="https://cdn.example.net/b/"><img src="x.png">',
            ["//cdn.example.net/b/x.png"],
        ),
        (b'<img src="x.png"><base href="/c/">', ["c/x.png"]),
        (b'<base href="javascript:alert(1)"><img src="x.png">', ["a/x.png"]),
        (
            b'<img srcset="s1.png 1x, s2.png 2x" src="s0.png">',
            ["a/s0.png", "a/s1.png", "a/s2.png"],
        ),
        (b'<img srcset="w,1.png 100w,w2.png 200w">', ["a/w,1.png", "a/w2.png"]),
        (
            b'<picture><source srcset="p.webp"><img src="p.jpg"></picture><source srcset="no.png">',
            ["a/p.webp", "a/p.jpg"],
        ),
        (
            b'<meta property="og:image" content="/og.png"><meta name="twitter:image" '
            b'content="https://example.org/t.png"><link rel="icon image_src" href="l.png">',
            ["og.png", "//example.org/t.png", "a/l.png"],
        ),
        (
            b'<img src="data:image/png;base64,AAAA"><img src="javascript:x()"><img src="ftp://'
            b'example.com/f.png"><img src="mailto:a@example.com"><img src="x.png">',
            ["a/x.png"],
        ),
        (b'<img src="x.png#one"><img src="x.png#two"><IMG SRC="x.png">', ["a/x.png"]),
        (
            b'<img src="  x\n.png  "><img src="a b.png"><img src="&#x61;.png">',
            ["a/x.png", "a/a%20b.png", "a/a.png"],
        ),
        (b'<img src="HTTPS://EXAMPLE.com/u.png">', ["u.png"]),
        (b'<img src="first.png" src="second.png">', ["a/first.png"]),
        (b'<img src="http://[::1"><img src="http://"><img src="ok.png">', ["a/ok.png"]),
        (b"<img src=x.png <img src=y.png><<<<img src=z.png>", ["a/x.png", "a/z.png"]),
        (b'<img src="' + b"a" * 100_000 + b'.png"><img src="ok.png">', ["a/ok.png"]),
        (b'<img src="ok.png"><!-- <img src="hidden.png"> --><img src="unclosed', ["a/ok.png"]),
        (b'<img srcset="s.png 1x), t.png 2x">', ["a/s.png", "a/t.png"]),
        (
            b"<script>var s = '<img src=no.png>';</script><img src=yes.png>"
            b"<TEXTAREA><img src=no2.png></textarea><img alt src=&quot;q&quot;.png>",
            ["a/yes.png", "a/%22q%22.png"],
        ),
        (b"<script><img src=never.png>", []),
        (b"<!doctype html><?xml x?><![CDATA[x]]><img src=x.png>", ["a/x.png"]),
        (b"", []),
    ],
)
def test_embedded_images_finds_each_image_once_as_an_absolute_url(
    page: bytes, expected: list[str]
) -> None:
    def absolute(path: str) -> str:
        return f"https:{path}" if path.startswith("//") else f"https://example.com/{path}"

    assert embedded_images(page, BASE) == [absolute(path) for path in expected]


def test_embedded_images_reads_the_declared_charset_and_never_raises_on_bytes() -> None:
    latin = '<meta charset="iso-8859-1"><img src="café.png">'.encode("latin-1")
    assert embedded_images(latin, BASE) == ["https://example.com/a/caf%C3%A9.png"]
    assert embedded_images(b'<meta charset="no-such"><img src="\xff.png">', BASE) == [
        "https://example.com/a/%EF%BF%BD.png"
    ]
    rng = np.random.default_rng(6)
    for _ in range(50):
        noise = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
        assert all(url.startswith("https://") for url in embedded_images(b"<img" + noise, BASE))


def test_embedded_images_stops_at_its_limit() -> None:
    page = b"".join(b'<img src="%d.png">' % n for n in range(200))
    assert len(embedded_images(page, BASE)) == MAX_PAGE_IMAGES
    assert embedded_images(page, BASE, limit=3) == [
        f"https://example.com/a/{n}.png" for n in range(3)
    ]
