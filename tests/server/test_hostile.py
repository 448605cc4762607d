"""Hostile requests: bombs, broken images, huge and endless bodies, malformed JSON. Each is
refused with a problem document, and the server stays up and keeps serving."""

from __future__ import annotations

import base64
import json
import os
import select
import socket
import time
from typing import Any

import httpx
import pytest

from rempart.server.middleware import JSON_LIMIT
from rempart.server.problems import MEDIA_TYPE, TYPE_PREFIX
from tests.images import encode, gradient, png_declaring
from tests.server.running import RunningServer

IMAGE_ENDPOINTS = ("/v1/scan", "/v1/hash", "/v1/match/image")
GIGABYTE = 1_000_000_000


def assert_still_serving(server: RunningServer, key: str) -> None:
    """The process is up, answers its probe, and serves an authenticated request; nothing
    hostile so far was a server error."""
    assert server.alive(), server.log()[-2000:]
    with server.client(key) as client:
        answer = client.get("/v1/banks")
    assert answer.status_code == 200, answer.text
    assert "unhandled error" not in server.log(), server.log()[-5000:]


def problem_of(answer: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The problem document of ``answer``, checked to be of type ``slug`` with ``status``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    problem: dict[str, Any] = answer.json()
    assert problem["type"] == TYPE_PREFIX + slug, problem
    assert problem["status"] == status
    assert problem["detail"]
    return problem


def post_image(
    server: RunningServer, key: str, path: str, data: bytes, content_type: str = "image/jpeg"
) -> httpx.Response:
    with server.client(key) as client:
        return client.post(path, content=data, headers={"Content-Type": content_type})


# --- images ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", IMAGE_ENDPOINTS)
@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (13000, 12000)])
def test_decompression_bomb_is_refused_from_its_header(
    server: RunningServer, keys: dict[str, str], path: str, width: int, height: int
) -> None:
    # 900 and 156 megapixels declared in a PNG of a few dozen bytes: decoding either would
    # take gigabytes; the second is under Pillow's own bomb limit, over Rempart's.
    bomb = png_declaring(width, height)
    assert len(bomb) < 200
    started = time.monotonic()
    answer = post_image(server, keys["admin"], path, bomb, "image/png")
    assert time.monotonic() - started < 10
    problem = problem_of(answer, 422, "image-too-many-pixels")
    assert problem["code"] == "too_many_pixels"
    assert problem["instance"] == path
    assert_still_serving(server, keys["admin"])


def test_truncated_jpeg(server: RunningServer, keys: dict[str, str]) -> None:
    data = encode(gradient(400, 300), "JPEG", quality=90)
    for path in IMAGE_ENDPOINTS:
        answer = post_image(server, keys["admin"], path, data[: len(data) // 2])
        assert problem_of(answer, 422, "image-truncated")["code"] == "truncated"
    assert_still_serving(server, keys["admin"])


def test_random_bytes_said_to_be_jpeg(server: RunningServer, keys: dict[str, str]) -> None:
    noise = os.urandom(50_000)
    for path in IMAGE_ENDPOINTS:
        answer = post_image(server, keys["admin"], path, noise, "image/jpeg")
        assert answer.status_code in (415, 422), answer.text
        assert answer.json()["type"].startswith(TYPE_PREFIX + "image-")
    answer = post_image(server, keys["admin"], "/v1/hash", noise, "image/jpeg")
    problem_of(answer, 415, "image-unsupported-format")
    assert_still_serving(server, keys["admin"])


def test_text_content_type_on_an_image_endpoint(
    server: RunningServer, keys: dict[str, str]
) -> None:
    image = encode(gradient(), "PNG")
    for path in IMAGE_ENDPOINTS:
        problem_of(
            post_image(server, keys["admin"], path, image, "text/plain"),
            415,
            "unsupported-media-type",
        )
    assert_still_serving(server, keys["admin"])


def test_empty_body_on_an_image_endpoint(server: RunningServer, keys: dict[str, str]) -> None:
    for path in IMAGE_ENDPOINTS:
        problem_of(post_image(server, keys["admin"], path, b""), 422, "image-empty")
    assert_still_serving(server, keys["admin"])


def test_guard_with_a_bomb_as_input(server: RunningServer, keys: dict[str, str]) -> None:
    bomb = base64.b64encode(png_declaring(30000, 30000)).decode()
    with server.client(keys["admin"]) as client:
        answer = client.post(
            "/v1/gate", json={"prompt": "a portrait photo", "inputs": [bomb], "output": bomb}
        )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["type"].startswith(TYPE_PREFIX), answer.text
    assert_still_serving(server, keys["admin"])


# --- bodies over the limit ------------------------------------------------------------------


def read_response(sock: socket.socket, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a Content-Length from ``sock``: status, headers, body."""
    sock.settimeout(timeout)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the connection closed before a response: {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def request_head(path: str, key: str, content_type: str, **headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        f"Content-Type: {content_type}",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_body_too_large(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert status == 413, body
    assert headers["content-type"].startswith(MEDIA_TYPE)
    problem: dict[str, Any] = json.loads(body)
    assert problem["type"] == TYPE_PREFIX + "body-too-large"
    assert problem["status"] == 413
    return problem


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/hash", "image/jpeg"),
        ("/v1/match", "application/json"),
        ("/v1/banks/none/import?format=hex", "text/plain"),
    ],
)
def test_a_gigabyte_declared_is_refused_before_it_is_sent(
    server: RunningServer, keys: dict[str, str], path: str, content_type: str
) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_head(path, keys["admin"], content_type, content_length=str(GIGABYTE)))
        problem = assert_body_too_large(*read_response(sock))
    assert time.monotonic() - started < 10
    assert problem["received"] == GIGABYTE
    assert problem["limit"] < GIGABYTE
    assert_still_serving(server, keys["admin"])


def test_a_gigabyte_without_a_key_is_refused_before_it_is_sent(
    server: RunningServer, keys: dict[str, str]
) -> None:
    head = request_head("/v1/hash", "rmp_nosuchkey000_" + "x" * 43, "image/jpeg")
    head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {GIGABYTE}\r\n\r\n".encode())
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        status, headers, body = read_response(sock)
    assert status in (401, 413), body  # whichever check comes first, nothing is read
    assert headers["content-type"].startswith(MEDIA_TYPE)
    assert json.loads(body)["status"] == status
    assert_still_serving(server, keys["admin"])


def stream_chunks(sock: socket.socket, total: int) -> int:
    """Send zeros as chunks until the server answers (or ``total`` bytes have gone); the bytes
    of body sent."""
    frame = b"10000\r\n" + bytes(0x10000) + b"\r\n"
    view, offset, sent = memoryview(frame), 0, 0
    sock.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break  # the answer (or the close) is there: stop sending
            if not writable:
                raise AssertionError("the server neither reads nor answers")
            try:
                offset += sock.send(view[offset:])
            except (BrokenPipeError, ConnectionResetError):
                break
            if offset == len(frame):
                offset, sent = 0, sent + 0x10000
    finally:
        sock.setblocking(True)
    return sent


def ensure_bank(server: RunningServer, key: str, name: str) -> None:
    """A bank called ``name`` on the server (made once, whichever test comes first)."""
    with server.client(key) as client:
        assert client.post("/v1/banks", json={"name": name}).status_code in (201, 409)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/hash", "image/jpeg"), ("/v1/banks/hostile/import?format=hex", "text/plain")],
)
def test_an_endless_chunked_body_is_cut_off(
    server: RunningServer, keys: dict[str, str], path: str, content_type: str
) -> None:
    ensure_bank(server, keys["admin"], "hostile")  # an import names an unknown bank unread
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_head(path, keys["admin"], content_type, transfer_encoding="chunked"))
        sent = stream_chunks(sock, GIGABYTE)
        problem = assert_body_too_large(*read_response(sock))
    # The server stopped reading soon after the limit (socket buffers hold a few MB more).
    assert problem["limit"] < sent < GIGABYTE
    # It counted the body as it came, a message of at most a few hundred kilobytes at a time.
    assert problem["limit"] < problem["received"] <= problem["limit"] + 4 * 1024 * 1024
    assert_still_serving(server, keys["admin"])


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/hash", "image/png"), ("/v1/banks/hostile/import?format=hex", "text/plain")],
)
def test_a_client_that_hangs_up_mid_body(
    server: RunningServer, keys: dict[str, str], path: str, content_type: str
) -> None:
    ensure_bank(server, keys["admin"], "hostile")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_head(path, keys["admin"], content_type, content_length="500000"))
        sock.sendall(bytes(100_000))
    assert_still_serving(server, keys["admin"])
    # Not a server error: no traceback in the log (a client could fill it, hanging up).
    deadline = time.monotonic() + 5
    with server.client(keys["admin"]) as client:
        while time.monotonic() < deadline:
            entries = client.get("/v1/audit", params={"limit": 1000}).json()["entries"]
            route = path.split("?")[0].replace("hostile", "{name}")
            cut = [e for e in entries if e["route"] == route]
            if cut:
                break
            time.sleep(0.1)
    assert cut, "the request cut off was not audited"
    assert all(entry["status"] < 500 for entry in cut), cut


# --- JSON -----------------------------------------------------------------------------------


def post_json(server: RunningServer, key: str, path: str, body: bytes) -> httpx.Response:
    with server.client(key) as client:
        return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/match", b'{"hashes": "abc"}'),
        ("/v1/match", b'{"hashes": [1, 2]}'),
        ("/v1/match", b"[]"),
        ("/v1/match", json.dumps({"hashes": ["0" * 64] * 1001}).encode()),
        ("/v1/match", json.dumps({"dihedral": [["0" * 64] * 7]}).encode()),
        ("/v1/match", json.dumps({"hashes": ["not a hash"]}).encode()),
        ("/v1/gate", b'{"negative_prompt": "blurry"}'),
        ("/v1/gate", json.dumps({"prompt": "a photo", "inputs": ["!!not base64!!"]}).encode()),
        ("/v1/banks/none/withdraw", b"{}"),
        ("/v1/banks", b'{"name": 42, "threshold": -1}'),
    ],
)
def test_malformed_json_is_an_invalid_request(
    server: RunningServer, keys: dict[str, str], path: str, body: bytes
) -> None:
    problem = problem_of(post_json(server, keys["admin"], path, body), 422, "invalid-request")
    assert problem["instance"] == path
    assert_still_serving(server, keys["admin"])


@pytest.mark.parametrize("path", ["/v1/match", "/v1/gate", "/v1/banks"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"hashes": ["',
        b"\xff\xfe{}",
        b'{"prompt": "a photo \xff"}',
        b'{"hashes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"prompt": "a photo", "id": ' + b"7" * 5_000 + b"}",
    ],
    ids=["cut-short", "utf-16-bom", "not-utf-8", "nested", "5000-digits"],
)
def test_a_body_that_is_not_json_is_malformed(
    server: RunningServer, keys: dict[str, str], path: str, body: bytes
) -> None:
    problem_of(post_json(server, keys["admin"], path, body), 400, "malformed-body")
    assert_still_serving(server, keys["admin"])


def test_guard_with_five_inputs(server: RunningServer, keys: dict[str, str]) -> None:
    photo = base64.b64encode(encode(gradient(), "JPEG")).decode()
    body = json.dumps({"prompt": "a portrait photo", "inputs": [photo] * 5}).encode()
    problem = problem_of(post_json(server, keys["admin"], "/v1/gate", body), 422, "invalid-request")
    assert problem["errors"][0]["location"] == "body.inputs"
    assert_still_serving(server, keys["admin"])


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_prompt_with_a_lone_surrogate(
    server: RunningServer, keys: dict[str, str], field: str
) -> None:
    prompt = b'"a portrait photo \\ud800 of a person"'
    body = b'{"prompt": "a photo", "' + field.encode() + b'": ' + prompt + b"}"
    answer = post_json(server, keys["admin"], "/v1/gate", body)
    assert problem_of(answer, 422, "prompt-not-text")["code"] == "not_text"
    assert_still_serving(server, keys["admin"])


def test_an_overlong_prompt(server: RunningServer, keys: dict[str, str]) -> None:
    body = json.dumps({"prompt": "a landscape " * 200_000}).encode()
    answer = post_json(server, keys["admin"], "/v1/gate", body)
    assert problem_of(answer, 422, "prompt-too-long")["code"] == "too_long"
    assert_still_serving(server, keys["admin"])


def test_json_of_hashes_is_limited_to_two_mebibytes(
    server: RunningServer, keys: dict[str, str]
) -> None:
    body = json.dumps({"hashes": ["0" * 64] * 40_000}).encode()  # about 2.7 MB
    answer = post_json(server, keys["admin"], "/v1/match", body)
    assert problem_of(answer, 413, "body-too-large")["limit"] == JSON_LIMIT
    assert_still_serving(server, keys["admin"])


def test_wrong_secrets_for_a_known_key_id_are_throttled(
    server: RunningServer, keys: dict[str, str]
) -> None:
    real = keys["reviewer"]
    with server.client(real) as client:  # checked once with Argon2, then remembered
        assert client.get("/v1/banks").status_code == 200
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    with server.client(forged) as client:
        statuses = [client.get("/v1/banks").status_code for _ in range(12)]
    # A burst of Argon2 checks (401 each), then 429 without one.
    assert statuses[0] == 401
    assert 429 in statuses
    with server.client(real) as client:  # the key itself still works
        assert client.get("/v1/banks").status_code == 200
