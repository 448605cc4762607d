"""Exact digests through the API: banked by import or one at a time, found by ``/v1/match``
(``md5``, ``sha256``), ``/v1/match/image`` and ``/v1/match/video``, and withdrawn at once
(each test on SQLite and on PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rempart.config import load_settings
from tests import videos
from tests.server.checks import problem
from tests.server.inprocess import InProcessServer
from tests.server.test_api import create_bank, import_text, poll, unique


@pytest.fixture(scope="module")
def served_app(
    database_url: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """The app on each database, served in this process for the module's tests."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = load_settings(
        {"REMPART_DATA_DIR": str(data_dir), "REMPART_DATABASE_URL": database_url}
    )
    running = InProcessServer(settings).start()
    yield running
    running.stop()


@pytest.fixture
def admin(served_app: InProcessServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with served_app.client(keys["admin"]) as client:
        yield client


@pytest.fixture
def platform(served_app: InProcessServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with served_app.client(keys["platform"]) as client:
        yield client


def digest_matches(client: httpx.Client, **digests: list[str]) -> list[dict[str, Any]]:
    response = client.post("/v1/match", json=digests)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_a_banked_md5_matches_the_image_and_stops_once_withdrawn(
    admin: httpx.Client, platform: httpx.Client, testdata: Path
) -> None:
    data = (testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    name = unique("exact")
    create_bank(admin, name, source="ncmec")
    response = import_text(admin, name, f"video_md5 {md5.upper()}\n", "pytx")
    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1

    def found() -> list[dict[str, Any]]:
        (result,) = digest_matches(platform, md5=[md5])
        return [m for m in result["matches"] if m["bank"] == name]

    (match,) = poll(found, f"{md5} matches in {name}")
    assert (match["kind"], match["hash"], match["distance"]) == ("md5", md5, 0)
    assert match["category"] == "child_sexual_abuse"
    asked = digest_matches(platform, hashes=[], md5=[md5.upper(), "0" * 32], sha256=[sha256])
    assert [(r["kind"], r["hash"], len(r["matches"])) for r in asked] == [
        ("md5", md5, 1),
        ("md5", "0" * 32, 0),
        ("sha256", sha256, 0),
    ]
    listed = {b["name"]: b for b in admin.get("/v1/banks").json()["banks"]}
    assert (listed[name]["digests"], listed[name]["images"]) == (1, 0)

    image = platform.post("/v1/match/image", content=data, headers={"content-type": "image/jpeg"})
    assert image.status_code == 200, image.text
    assert [(m["bank"], m["kind"]) for m in image.json()["matches"]] == [(name, "md5")]

    withdrawn = admin.post(f"/v1/banks/{name}/withdraw", json={"md5": [md5], "reason": "test"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn"] == 1
    poll(lambda: not found() or None, f"{md5} withdrawn from {name}")
    again = platform.post("/v1/match/image", content=data, headers={"content-type": "image/jpeg"})
    assert again.json()["matches"] == []


def test_invalid_digests_are_refused(admin: httpx.Client, platform: httpx.Client) -> None:
    for body in ({"md5": ["zz" * 16]}, {"md5": ["ab" * 17]}, {"sha256": ["ab" * 16]}):
        problem(platform.post("/v1/match", json=body), 422, "invalid-request")
    problem(platform.post("/v1/match", json={"md5": ["0" * 32] * 1001}), 422, "invalid-request")
    name = unique("exact-bad")
    create_bank(admin, name)
    refused = admin.post(f"/v1/banks/{name}/hashes", json={"hash": "ab" * 31, "kind": "sha256"})
    assert 400 <= refused.status_code < 500, refused.text
    (bank,) = [b for b in admin.get("/v1/banks").json()["banks"] if b["name"] == name]
    assert bank["digests"] == 0, "nothing added"


def test_a_banked_sha256_matches_the_video_upload(
    admin: httpx.Client, platform: httpx.Client, testdata: Path
) -> None:
    clip = videos.encode(videos.scenes(testdata, ("bridge", "coffee")))
    sha256 = hashlib.sha256(clip).hexdigest()
    name = unique("exact-video")
    create_bank(admin, name)
    added = admin.post(f"/v1/banks/{name}/hashes", json={"hash": sha256, "kind": "sha256"})
    assert added.status_code == 201, added.text
    poll(lambda: digest_matches(platform, sha256=[sha256])[0]["matches"] or None, "sha256")
    response = platform.post("/v1/match/video", content=clip, headers={"content-type": "video/mp4"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == sha256
    exact = [m for m in body["matches"] if m.get("kind") == "sha256"]
    assert [(m["bank"], m["hash"]) for m in exact] == [(name, sha256)]
