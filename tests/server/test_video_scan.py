"""``/v1/scan`` on a video: a frame a second through every detector, bank matches of its frames,
a verdict, each signal naming its frames' timestamps; a broken video is a 4xx."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx

from rempart.hashing import pdq_hash
from tests.colour import red_scenes
from tests.server.test_api import (  # noqa: F401 (fixtures)
    admin,
    bank_and_wait,
    create_bank,
    platform,
    rules_of,
    served_app,
    unique,
)
from tests.videos import decoded, encode, pan, photo

MP4 = {"content-type": "video/mp4"}


def test_scan_judges_a_benign_video(platform: httpx.Client, testdata: Path) -> None:  # noqa: F811
    data = encode(pan(photo(testdata, "bridge"), 30))
    response = platform.post("/v1/scan", content=data, headers=MP4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "video"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"], body["frames"]) == (160, 120, 3)
    assert body["verdict"]["action"] == "allow"
    assert body["flagged_at"] == []
    assert "path" not in body
    for signal in body["signals"]:
        if signal["detector"] != "provenance":  # the container's have no frames
            assert signal["evidence"]["timestamps"]


def test_scan_blocks_a_video_holding_a_banked_frame(
    admin: httpx.Client,  # noqa: F811
    platform: httpx.Client,  # noqa: F811
    testdata: Path,
) -> None:
    data = encode(red_scenes(testdata, red=()))
    name = unique("video")
    create_bank(admin, name)
    bank_and_wait(admin, name, pdq_hash(decoded(data, start=4.0, stop=4.05)[0]).hex)
    response = platform.post(
        "/v1/scan", content=data, headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"]["action"] == "block"
    assert "known-image" in rules_of(body["verdict"])
    (match,) = [s for s in body["signals"] if s["name"] == "bank.match"]
    assert match["value"] == name
    assert 4.0 in match["evidence"]["timestamps"]
    assert 4.0 in body["flagged_at"]


def test_a_broken_video_is_refused(platform: httpx.Client, testdata: Path) -> None:  # noqa: F811
    data = encode(pan(photo(testdata, "bridge"), 30))[:700]
    response = platform.post("/v1/scan", content=data, headers=MP4)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_gate_checks_a_generated_video(platform: httpx.Client, testdata: Path) -> None:  # noqa: F811
    video = encode(pan(photo(testdata, "bridge"), 30))
    request = {"prompt": "a drone shot of a bridge", "output": base64.b64encode(video).decode()}
    response = platform.post("/v1/gate", json=request)
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "allow"
    request["output"] = base64.b64encode(video[:700]).decode()
    broken = platform.post("/v1/gate", json=request)
    assert 400 <= broken.status_code < 500, broken.text
