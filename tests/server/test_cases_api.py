"""The desk's cases over the API (``/v1/cases``), against a real server with two workers on
SQLite and on PostgreSQL: a case's whole life, who may do what, and bodies refused.

Every worker follows the database once a second; what one worker changed is checked on both
by asking many times, each time on a new connection (which either worker may accept).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from rempart.desk import DeskKeys
from rempart.hashing import hash_media
from rempart.media import load_bytes
from tests.images import encode, gradient, skimage_rgb
from tests.server import checks
from tests.server.checks import problem
from tests.server.running import RunningServer

CLI = [sys.executable, "-c", "from rempart.cli import main; main()"]
NUMBER = re.compile(r"R-[A-Z2-7]{10}")
SECRET = re.compile(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){3}")
AUTHORITY = "PHAROS"
FOLLOW_DEADLINE = 8.0  # a new hash reaches every worker's index within a few seconds
WITHDRAWN_DEADLINE = 2.0  # issue 18: a withdrawn hash stops matching everywhere within 2 s
MANDATE = {"reference": "M-1", "scope": "take-down requests", "starts": "2026-01-01"}
REVIEW = {"desk-adult": True}  # a reported hash matches in the adult review bank, for review


# --- helpers ---------------------------------------------------------------------------------


def random_hash() -> str:
    """A random PDQ hash: about 128 bits from any other, so it matches nothing else."""
    return secrets.token_hex(32)


def hashed(pdq: str, quality: int = 90) -> dict[str, Any]:
    return {"pdq": pdq, "quality": quality}


def report(client: httpx.Client, *items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Report an adult's case under the mandate (a flagger's key); the case and its secret."""
    body = {"age": "adult", "items": list(items), "mandate": MANDATE, **fields}
    response = client.post("/v1/cases", json=body)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


def matched_banks(client: httpx.Client, pdq: str) -> dict[str, bool]:
    """The banks ``/v1/match`` finds ``pdq`` in, each with whether its match says review."""
    response = client.post("/v1/match", json={"hashes": [pdq]})
    assert response.status_code == 200, response.text
    matches = response.json()["results"][0]["matches"]
    return {match["bank"]: match.get("review", False) for match in matches}


def on_every_worker(
    server: RunningServer, key: str, pdq: str, *, banks: dict[str, bool], deadline: float
) -> None:
    """Wait until every worker finds ``pdq`` in exactly ``banks`` (review or not), and has from
    a moment within ``deadline`` seconds on: so many answers in a row, each on a new connection
    (which either worker may accept), say so that every worker has surely answered."""
    needed, in_a_row = 16 * server.workers, 0
    end = time.monotonic() + deadline
    fresh = httpx.Limits(max_keepalive_connections=0)  # a new connection for each request
    with server.client(key, limits=fresh) as client:
        while in_a_row < needed:
            found = matched_banks(client, pdq)
            in_a_row = in_a_row + 1 if found == banks else 0
            if not in_a_row and time.monotonic() > end:
                pytest.fail(f"not within {deadline} s on every worker: {pdq} in {banks} ({found})")


def item_state(client: httpx.Client, number: str, item: int, state: str) -> dict[str, Any]:
    """The item once it is in ``state`` (the watch writes sightings each second)."""

    def found() -> dict[str, Any] | None:
        now = item_of(client.get(f"/v1/cases/{number}").json(), id=item)
        return now if now["state"] == state else None

    return checks.poll(found, f"item {item} of {number} {state}", FOLLOW_DEADLINE)


def case_numbers(client: httpx.Client) -> set[str]:
    response = client.get("/v1/cases", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return {case["number"] for case in response.json()["cases"]}


def item_of(case: dict[str, Any], **wanted: Any) -> dict[str, Any]:
    items: list[dict[str, Any]] = case["items"]
    found = [i for i in items if all(i.get(k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, items)
    return found[0]


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(
    database_url: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server of two workers with the desk on (its key file made first), on each database;
    keys' rates high enough to ask every worker many times a second."""
    data_dir = tmp_path_factory.mktemp("data")
    DeskKeys.create(data_dir / "desk.key")
    settings = {"REMPART_DESK_AUTHORITY": AUTHORITY, "REMPART_API_RATE_LIMIT": "100000"}
    running = RunningServer(data_dir, database_url, workers=2, extra_env=settings).start()
    yield running
    running.stop()


@pytest.fixture
def flagger(two_workers: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with two_workers.client(keys["flagger"]) as client:
        yield client


@pytest.fixture
def reviewer(two_workers: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with two_workers.client(keys["reviewer"]) as client:
        yield client


@pytest.fixture
def platform(two_workers: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with two_workers.client(keys["platform"]) as client:
        yield client


# --- a case's life ---------------------------------------------------------------------------


def test_a_case_from_report_to_withdrawal(
    two_workers: RunningServer,
    keys: dict[str, str],
    flagger: httpx.Client,
    reviewer: httpx.Client,
    platform: httpx.Client,
) -> None:
    pdq, url = random_hash(), "https://example.org/post/1"
    words = f"report text {secrets.token_hex(4)}"
    created = report(flagger, hashed(pdq), {"url": url}, words=words)
    number = created["number"]
    assert NUMBER.fullmatch(number)
    assert SECRET.fullmatch(created["secret"])
    assert created["branch"] == "adult"
    assert created["state"] == "received"
    assert item_of(created, pdq=pdq)["state"] == "watching"  # a hash matches at once
    assert item_of(created, url=url)["state"] == "received"

    # The flagger follows its case: shown with its events, never the secret or the words.
    shown = flagger.get(f"/v1/cases/{number}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["events"]
    assert created["secret"] not in shown.text
    assert words not in shown.text
    assert number in case_numbers(flagger)
    with two_workers.client(keys["admin"]) as admin:
        entries = admin.get("/v1/audit", params={"limit": 1000}).json()["entries"]
    assert {"reported"} <= {e["outcome"] for e in entries if e["target"] == number}
    assert created["secret"] not in json.dumps(entries)
    assert words not in json.dumps(entries)

    # A platform's match finds the reported hash on every worker, for review (not confirmed
    # yet), and the watch counts it: the item is sighted.
    on_every_worker(two_workers, keys["platform"], pdq, banks=REVIEW, deadline=FOLLOW_DEADLINE)
    item = item_of(created, pdq=pdq)["id"]
    sighted = item_state(flagger, number, item, "sighted")
    assert sighted["sightings"] >= 1

    # A reviewer works it; a move not allowed is refused, naming those that are.
    for state in ("in_review", "acting"):
        moved = reviewer.post(f"/v1/cases/{number}/move", json={"state": state})
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == state
    refused = problem(
        reviewer.post(f"/v1/cases/{number}/move", json={"state": "received"}),
        409,
        "case-state-conflict",
    )
    assert "in_review" in refused["detail"]
    assert reviewer.get(f"/v1/cases/{number}").json()["state"] == "acting"

    # Confirmed, the hash is in the confirmed bank too, whose matches block.
    confirmed = reviewer.post(f"/v1/cases/{number}/items/{item}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert item_of(confirmed.json(), id=item)["confirmed"] is True
    blocks = {**REVIEW, "desk-adult-confirmed": False}
    on_every_worker(two_workers, keys["platform"], pdq, banks=blocks, deadline=FOLLOW_DEADLINE)

    # Taken down, then matched again: it reappeared.
    removed = reviewer.post(f"/v1/cases/{number}/items/{item}/move", json={"state": "removed"})
    assert removed.status_code == 200, removed.text
    assert item_of(removed.json(), id=item)["state"] == "removed"
    assert matched_banks(platform, pdq) == blocks
    item_state(flagger, number, item, "reappeared")

    # Withdrawn, as the victim asked the flagger: no worker matches it within 2 s.
    withdrawn = flagger.post(f"/v1/cases/{number}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    assert {i["state"] for i in withdrawn.json()["items"]} == {"withdrawn"}
    on_every_worker(two_workers, keys["platform"], pdq, banks={}, deadline=WITHDRAWN_DEADLINE)
    assert number not in case_numbers(reviewer)  # no longer open


def test_a_hash_two_cases_reported_matches_until_both_withdraw(
    two_workers: RunningServer,
    keys: dict[str, str],
    flagger: httpx.Client,
    reviewer: httpx.Client,
) -> None:
    shared = random_hash()
    first = report(flagger, hashed(shared))["number"]
    second = report(flagger, hashed(shared, quality=80))["number"]
    on_every_worker(two_workers, keys["platform"], shared, banks=REVIEW, deadline=FOLLOW_DEADLINE)
    assert flagger.post(f"/v1/cases/{first}/withdraw").status_code == 200
    # A hash reported after the withdrawal reaches every worker after it (the change log is
    # followed in order): once it matches everywhere, the withdrawal has been applied too.
    marker = random_hash()
    report(flagger, hashed(marker))
    on_every_worker(two_workers, keys["platform"], marker, banks=REVIEW, deadline=FOLLOW_DEADLINE)
    on_every_worker(two_workers, keys["platform"], shared, banks=REVIEW, deadline=0)
    assert flagger.post(f"/v1/cases/{second}/withdraw").status_code == 200
    on_every_worker(two_workers, keys["platform"], shared, banks={}, deadline=WITHDRAWN_DEADLINE)


def test_a_minors_case_keeps_no_words_and_comes_first(
    flagger: httpx.Client, reviewer: httpx.Client
) -> None:
    body = {"age": "unsure", "items": [hashed(random_hash())], "mandate": MANDATE}
    refused = problem(
        flagger.post("/v1/cases", json={**body, "words": "report text 2"}), 422, "case-invalid"
    )
    assert "minor" in refused["detail"]
    created = flagger.post("/v1/cases", json=body)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["branch"] == "minor"
    assert case["authority"] == AUTHORITY
    queue = reviewer.get("/v1/cases").json()["cases"]
    assert queue[0]["branch"] == "minor"
    assert case["number"] in {c["number"] for c in queue if c["branch"] == "minor"}


# --- who may do what -------------------------------------------------------------------------


def test_a_flagger_sees_its_own_cases_only(
    two_workers: RunningServer, keys: dict[str, str], flagger: httpx.Client
) -> None:
    number = report(flagger, hashed(random_hash()))["number"]
    with two_workers.client(keys["admin"]) as admin:
        made = admin.post("/v1/keys", json={"role": "flagger", "name": "another association"})
        assert made.status_code == 201, made.text
    with two_workers.client(made.json()["secret"]) as other:
        absent = problem(other.get(f"/v1/cases/{number}"), 404, "case-not-found")
        unknown = problem(other.get("/v1/cases/R-AAAAAAAAAA"), 404, "case-not-found")
        assert absent["detail"].replace(number, "N") == unknown["detail"].replace(
            "R-AAAAAAAAAA", "N"
        )
        assert number not in case_numbers(other)
        added = other.post(f"/v1/cases/{number}/items", json={"items": [{"url": "https://e.org"}]})
        problem(added, 404, "case-not-found")
        problem(other.post(f"/v1/cases/{number}/secret"), 404, "case-not-found")
        problem(other.post(f"/v1/cases/{number}/withdraw"), 404, "case-not-found")
    assert len(flagger.get(f"/v1/cases/{number}").json()["items"]) == 1


def test_roles_refused_name_the_permission(
    flagger: httpx.Client, reviewer: httpx.Client, platform: httpx.Client
) -> None:
    number = report(flagger, hashed(random_hash()))["number"]
    body = {"age": "adult", "items": [{"url": "https://example.org/a"}]}
    denied = problem(reviewer.post("/v1/cases", json=body), 403, "forbidden")
    assert "desk:report" in denied["detail"]
    problem(reviewer.post(f"/v1/cases/{number}/withdraw"), 403, "forbidden")
    denied = problem(
        flagger.post(f"/v1/cases/{number}/move", json={"state": "closed"}), 403, "forbidden"
    )
    assert "desk:review" in denied["detail"]
    for response in (
        platform.get("/v1/cases"),
        platform.get(f"/v1/cases/{number}"),
        platform.post("/v1/cases", json=body),
    ):
        problem(response, 403, "forbidden")
    assert flagger.get(f"/v1/cases/{number}").json()["state"] == "received"


def test_items_added_and_a_new_secret_by_the_flagger(
    flagger: httpx.Client, reviewer: httpx.Client
) -> None:
    created = report(flagger, hashed(random_hash()))
    number = created["number"]
    added = flagger.post(f"/v1/cases/{number}/items", json={"items": [hashed(random_hash())]})
    assert added.status_code == 200, added.text
    assert len(added.json()["items"]) == 2
    renewed = flagger.post(f"/v1/cases/{number}/secret")
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["number"] == number
    assert SECRET.fullmatch(renewed.json()["secret"])
    assert renewed.json()["secret"] != created["secret"]
    problem(reviewer.post(f"/v1/cases/{number}/secret"), 403, "forbidden")


def test_a_flagger_reports_under_a_mandate(flagger: httpx.Client) -> None:
    body = {"age": "adult", "items": [hashed(random_hash())]}
    problem(flagger.post("/v1/cases", json=body), 422, "case-invalid")


# --- what is refused, and stores nothing -----------------------------------------------------


def test_image_and_multipart_bodies_are_415_and_store_nothing(
    flagger: httpx.Client, reviewer: httpx.Client
) -> None:
    before = case_numbers(reviewer)
    photo = encode(gradient(), "PNG")
    problem(
        flagger.post("/v1/cases", content=photo, headers={"content-type": "image/png"}),
        415,
        "unsupported-media-type",
    )
    multipart = flagger.post(
        "/v1/cases",
        data={"age": "adult", "url": "https://example.org/b"},
        files={"photo": ("photo.png", photo, "image/png")},
    )
    problem(multipart, 415, "unsupported-media-type")
    form = flagger.post("/v1/cases", data={"age": "adult", "url": "https://example.org/c"})
    problem(form, 415, "unsupported-media-type")
    assert case_numbers(reviewer) == before


def test_bad_items_are_refused_and_store_nothing(
    flagger: httpx.Client, reviewer: httpx.Client
) -> None:
    before = case_numbers(reviewer)
    good = hashed(random_hash())
    low = problem(
        flagger.post(
            "/v1/cases",
            json={"age": "adult", "items": [good, hashed(random_hash(), 30)], "mandate": MANDATE},
        ),
        422,
        "hash-low-quality",
    )
    assert "50" in low["detail"]
    for item in ({"url": "ftp://example.org/x"}, {"pdq": "xyz", "quality": 90}, {}):
        body = {"age": "adult", "items": [good, item], "mandate": MANDATE}
        problem(flagger.post("/v1/cases", json=body), 422, "case-invalid")
    problem(flagger.post("/v1/cases", json={"age": "old", "items": [good]}), 422, "invalid-request")
    assert case_numbers(reviewer) == before
    problem(reviewer.get("/v1/cases/R-AAAAAAAAAA"), 404, "case-not-found")
    problem(reviewer.get("/v1/cases/not-a-number"), 404, "case-not-found")


# --- rempart report --server -------------------------------------------------------------------


def test_rempart_report_sends_the_hash_never_the_photo(
    two_workers: RunningServer, keys: dict[str, str], reviewer: httpx.Client, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode(Image.fromarray(skimage_rgb("rocket")), "PNG"))
    expected = hash_media(load_bytes(photo.read_bytes()), path=str(photo)).pdq
    key_file = tmp_path / "flagger.key"
    key_file.write_text(keys["flagger"] + "\n")
    args = ["report", str(photo), "--age", "adult", "--server", two_workers.url]
    args += ["--key-file", str(key_file), "--mandate", "M-7", "--scope", "all", "-f", "jsonl"]
    run = subprocess.run(
        [*CLI, *args], env=two_workers.env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert SECRET.fullmatch(printed["secret"])
    case = reviewer.get(f"/v1/cases/{printed['number']}").json()
    assert [item["pdq"] for item in case["items"]] == [expected]
    on_every_worker(two_workers, keys["platform"], expected, banks=REVIEW, deadline=FOLLOW_DEADLINE)
