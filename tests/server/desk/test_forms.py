"""What a desk POST may carry: a URL-encoded form of at most 64 KiB, nothing else. An image
or a multipart upload gets 415 whatever its size, unread, and nothing is stored."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.types import Message

from rempart.server.desk.forms import FORM_LIMIT, MAX_FIELDS, Form, read_form
from rempart.server.problems import Problem
from tests.server.desk.conftest import ORIGIN, DeskServer, Visitor


def _photo(side: int) -> bytes:
    """A benign PNG: a gradient with noise (large when ``side`` is)."""
    rng = np.random.default_rng(side)
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    pixels = ramp[None, :, None] + rng.normal(0, 30, (side, side, 3))
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _cases(server: DeskServer) -> int:
    return len(server.desk.queue(limit=1000))


def _ready(server: DeskServer) -> Visitor:
    visitor = server.visitor()
    visitor.get("/desk/report?age=adult")
    return visitor


@pytest.mark.parametrize(
    ("content_type", "side"),
    [
        ("image/png", 64),
        ("image/png", 1024),  # over the form limit: still 415, not 413
        ("application/octet-stream", 64),
        ("application/json", None),
        ("text/plain", None),
        (None, None),
    ],
)
def test_a_body_that_is_not_a_form_is_refused_with_415_and_nothing_stored(
    desk_server: DeskServer, content_type: str | None, side: int | None
) -> None:
    visitor = _ready(desk_server)
    body = _photo(side) if side else b'{"age": "adult", "url": "https://example.com/a"}'
    headers = {"Origin": ORIGIN}
    if content_type:
        headers["Content-Type"] = content_type
    before = _cases(desk_server)
    response = visitor.client.post("/desk/report", content=body, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("text/html")
    assert _cases(desk_server) == before


def test_a_multipart_upload_is_refused_with_415_and_nothing_stored(
    desk_server: DeskServer,
) -> None:
    visitor = _ready(desk_server)
    before = _cases(desk_server)
    response = visitor.client.post(
        "/desk/report",
        data={"age": "adult", "url": "https://example.com/a", "csrf": visitor.csrf},
        files={"photo": ("photo.png", _photo(64), "image/png")},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 415
    assert _cases(desk_server) == before


def test_a_form_over_64_kib_is_refused_with_413(desk_server: DeskServer) -> None:
    visitor = _ready(desk_server)
    before = _cases(desk_server)
    response = visitor.post(
        "/desk/report", {"age": "adult", "words": "w" * FORM_LIMIT, "url": "https://e.com/a"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert _cases(desk_server) == before


def test_a_form_declared_over_64_kib_is_refused_before_any_of_it_is_read() -> None:
    received: list[Message] = []

    async def receive() -> Message:
        message: Message = {"type": "http.request", "body": b"a" * (FORM_LIMIT + 1)}
        received.append(message)
        return message

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/desk/report",
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(FORM_LIMIT + 1).encode()),
        ],
    }
    with pytest.raises(Problem) as refused:
        asyncio.run(read_form(Request(scope, receive)))
    assert refused.value.status_code == 413
    assert received == []


@pytest.mark.parametrize(
    "body",
    [
        b"age=adult&url=%FF%FE",  # not UTF-8
        b"age=adult&&url",  # not a form
        b"a=1&" * (MAX_FIELDS + 1),
    ],
)
def test_a_malformed_form_is_refused_with_400(desk_server: DeskServer, body: bytes) -> None:
    visitor = _ready(desk_server)
    before = _cases(desk_server)
    response = visitor.client.post(
        "/desk/report",
        content=body + f"&csrf={visitor.csrf}".encode(),
        headers={"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert _cases(desk_server) == before


def test_a_form_gives_its_fields_as_sent() -> None:
    form = Form(
        {"url": ["https://a.example/1\r\n\n  https://a.example/2 ", " "], "age": [" adult "]}
    )
    assert form.one("age") == "adult"
    assert form.one("absent") == ""
    assert form.all("url") == ["https://a.example/1\r\n\n  https://a.example/2"]
    assert form.lines("url") == ["https://a.example/1", "https://a.example/2"]
