"""``rempart report``, ``rempart case`` and ``rempart desk``: a case reported from photos hashed
here, worked in the local database, and reported to a server with the hash alone."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image

from tests.cli.invoke import jsonl, ok, run
from tests.images import encode, skimage_rgb

# --- helpers ---------------------------------------------------------------------------------


def photo(folder: Path, name: str = "photo.png", *, sample: str = "coffee") -> Path:
    """A benign photo (a scikit-image sample) of PDQ quality 100, written as PNG."""
    path = folder / name
    path.write_bytes(encode(Image.fromarray(skimage_rgb(sample)), "PNG"))
    return path


def pdq_of(env: dict[str, str], path: Path) -> str:
    record = json.loads(ok(env, "hash", str(path)))
    return str(record["pdq"])


@pytest.fixture
def desk_env(env: dict[str, str]) -> dict[str, str]:
    """A data folder with the desk's key file made (``rempart desk init``)."""
    run(env, "desk", "init")
    return env


# --- rempart desk ----------------------------------------------------------------------------


def test_desk_init_makes_a_private_key_file_once(env: dict[str, str]) -> None:
    code, _, err = run(env, "case", "list")
    assert code == 2
    assert "rempart desk init" in err
    ok(env, "desk", "init")
    key_file = Path(env["REMPART_DATA_DIR"]) / "desk.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    code, _, err = run(env, "desk", "init")
    assert code == 2, err
    assert str(key_file) in err
    assert key_file.read_bytes() == before
    assert ok(env, "case", "list").strip() == ""


def test_rekey_rotates_the_key_and_cases_still_open(desk_env: dict[str, str]) -> None:
    key_file = Path(desk_env["REMPART_DATA_DIR"]) / "desk.key"
    active = json.loads(key_file.read_text())["active"]
    [reported] = jsonl(
        desk_env, "report", "--url", "https://example.org/1", "--age", "adult", "--words", "w"
    )
    [rekeyed] = [json.loads(line) for line in ok(desk_env, "desk", "rekey").splitlines()]
    assert rekeyed
    keys = json.loads(key_file.read_text())
    assert keys["active"] != active
    assert list(keys["keys"]) == [keys["active"]]
    assert jsonl(desk_env, "case", "show", reported["number"])[0]["number"] == reported["number"]


# --- rempart report, on the local database ---------------------------------------------------


def test_a_photo_reported_here_and_worked_with_case(
    desk_env: dict[str, str], tmp_path: Path
) -> None:
    picture = photo(tmp_path)
    code, out, err = run(
        desk_env, "report", str(picture), "--url", "https://example.org/p", "--age", "adult"
    )
    assert code == 0, err
    assert "cannot be shown again" in err
    [reported] = jsonl(desk_env, "case", "list")
    number = reported["number"]
    assert number in out
    [shown] = jsonl(desk_env, "case", "show", number)
    hashed = next(item for item in shown["items"] if item["pdq"])
    assert hashed["pdq"] == pdq_of(desk_env, picture)
    assert {event["actor"] for event in shown["events"]} == {"victim"}  # their own report
    reported_events = len(shown["events"])

    ok(desk_env, "case", "move", number, "in_review")
    code, _, err = run(desk_env, "case", "move", number, "received")
    assert code == 2
    assert "acting" in err  # the moves allowed are named
    code, _, err = run(desk_env, "case", "move", number, "flying")
    assert code == 2
    assert "in_review" in err
    ok(desk_env, "case", "confirm", number, str(hashed["id"]))
    ok(desk_env, "case", "move", number, "removed", "--item", str(hashed["id"]))
    [shown] = jsonl(desk_env, "case", "show", number)
    after = next(item for item in shown["items"] if item["id"] == hashed["id"])
    assert after["confirmed"] is True
    assert after["state"] == "removed"
    assert {event["actor"] for event in shown["events"][reported_events:]} == {"cli"}
    table = ok(desk_env, "case", "show", number)
    assert "Events" in table
    assert hashed["pdq"] in table

    secret = ok(desk_env, "case", "new-secret", number).strip()
    assert len(secret.replace("-", "")) == 20
    ok(desk_env, "case", "withdraw", number)
    [shown] = jsonl(desk_env, "case", "show", number)
    assert shown["state"] == "withdrawn"
    assert jsonl(desk_env, "case", "list") == []


def test_a_photo_too_featureless_is_named_and_nothing_reported(
    desk_env: dict[str, str], tmp_path: Path
) -> None:
    good = photo(tmp_path)
    flat = tmp_path / "flat.png"
    flat.write_bytes(encode(Image.fromarray(np.full((64, 64, 3), 128, np.uint8)), "PNG"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image at all")
    code, out, err = run(desk_env, "report", str(good), str(flat), str(broken), "--age", "adult")
    assert code == 1
    assert str(flat) in err
    assert str(broken) in err
    assert str(good) not in err
    assert out == ""
    assert jsonl(desk_env, "case", "list") == []


def test_report_needs_an_age_and_something_to_report(desk_env: dict[str, str]) -> None:
    code, _, err = run(desk_env, "report", "--url", "https://example.org/x", "--age", "old")
    assert code == 2
    assert "under-18" in err
    code, _, err = run(desk_env, "report", "--age", "adult")
    assert code == 2
    assert "--url" in err
    code, _, err = run(
        desk_env, "report", "--url", "https://example.org/x", "--age", "adult", "--mandate", "M"
    )
    assert code == 2
    assert "--scope" in err
    assert jsonl(desk_env, "case", "list") == []


def test_a_report_under_a_mandate_is_the_consoles(desk_env: dict[str, str]) -> None:
    [reported] = jsonl(
        desk_env,
        *("report", "--url", "https://example.org/y", "--age", "adult"),
        *("--mandate", "M-3", "--scope", "take-down requests", "--ends", "2999-01-01"),
    )
    assert reported["flagger_key_id"] == "cli"
    [shown] = jsonl(desk_env, "case", "show", reported["number"])
    assert {event["actor"] for event in shown["events"]} == {"cli"}


def test_a_minors_case_refuses_words(desk_env: dict[str, str]) -> None:
    args = ("report", "--url", "https://example.org/m", "--age", "under-18")
    code, _, err = run(desk_env, *args, "--words", "report text 3")
    assert code == 2
    assert "minor" in err
    [reported] = jsonl(desk_env, *args)
    assert reported["branch"] == "minor"


# --- rempart report --server -----------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Answers ``POST /v1/cases`` with ``answer`` and keeps every request it got."""

    requests: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    answer: ClassVar[tuple[int, dict[str, Any]]] = (201, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.requests.append((self.path, dict(self.headers), body))
        status, answer = self.answer
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    """A stand-in server on loopback: its URL and the handler that records requests."""
    handler = type("Recorder", (_Recorder,), {"requests": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_report_to_a_server_sends_hashes_never_the_photo(
    env: dict[str, str], tmp_path: Path, recorder: tuple[str, type[_Recorder]]
) -> None:
    url, handler = recorder
    pictures = [photo(tmp_path, "a.png", sample="rocket"), photo(tmp_path, "b.png", sample="coins")]
    key_file = tmp_path / "key.txt"
    key_file.write_text("rmp_flagger_key\n")
    handler.answer = (201, {"number": "R-ABCDEFGHJK", "secret": "AAAAA-BBBBB-CCCCC-DDDDD"})
    code, out, err = run(
        env,
        "report",
        *map(str, pictures),
        "--url",
        "https://example.org/p",
        "--age",
        "adult",
        "--server",
        url + "/",
        "--key-file",
        str(key_file),
        "--mandate",
        "M-9",
        "--scope",
        "take-down requests",
        "--starts",
        "2026-02-01",
    )
    assert code == 0, err
    assert "R-ABCDEFGHJK" in out
    assert "AAAAA-BBBBB-CCCCC-DDDDD" in out
    [(path, headers, body)] = handler.requests
    assert path == "/v1/cases"
    assert headers["Authorization"] == "Bearer rmp_flagger_key"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["age"] == "adult"
    assert sent["mandate"] == {
        "reference": "M-9",
        "scope": "take-down requests",
        "starts": "2026-02-01",
        "ends": None,
    }
    hashes, link = sent["items"][:2], sent["items"][2]
    assert [item["pdq"] for item in hashes] == [pdq_of(env, picture) for picture in pictures]
    assert all(set(item) == {"pdq", "quality"} and item["quality"] >= 50 for item in hashes)
    assert link == {"url": "https://example.org/p"}
    for picture in pictures:
        data = picture.read_bytes()
        assert not any(data[i : i + 16] in body for i in range(0, len(data) - 16))
    assert not (Path(env["REMPART_DATA_DIR"]) / "rempart.db").exists()  # nothing stored here


def test_a_refusal_from_the_server_is_told(
    env: dict[str, str], tmp_path: Path, recorder: tuple[str, type[_Recorder]]
) -> None:
    url, handler = recorder
    key_file = tmp_path / "key.txt"
    key_file.write_text("rmp_flagger_key")
    handler.answer = (
        422,
        {"type": "urn:rempart:problem:case-invalid", "status": 422, "detail": "give a mandate"},
    )
    args = ["report", "--url", "https://example.org/p", "--age", "adult", "--server", url]
    code, out, err = run(env, *args, "--key-file", str(key_file))
    assert code == 2
    assert "case-invalid" in err
    assert "give a mandate" in err
    assert out == ""
    code, _, err = run(env, *args)
    assert code == 2
    assert "--key-file" in err
    assert len(handler.requests) == 1
