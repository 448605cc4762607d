"""Durability: a crash (SIGKILL) never leaves half an import, an acknowledged write and its
audit entry survive one, and a withdrawal reaches every worker within seconds."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from rempart.access.keys import ApiKeys, Role, parse_key
from rempart.store import Store
from tests.server.conftest import new_postgres_database
from tests.server.running import RunningServer

BANK = "crash-test"


def admin_key(database_url: str) -> str:
    """An admin key created in the database before the server starts, with a rate limit no
    test reaches."""
    store = Store.open(database_url)
    try:
        return ApiKeys(store).create(Role.ADMIN, name="durability", rate_limit=100_000).secret
    finally:
        store.close()


def random_hashes(count: int) -> list[str]:
    return [os.urandom(32).hex() for _ in range(count)]


def hex_list(hashes: list[str]) -> bytes:
    return "".join(f"{h}\n" for h in hashes).encode()


def import_hex(client: httpx.Client, hashes: list[str]) -> httpx.Response:
    """POST ``hashes`` to the bank's import, as a hex list."""
    return client.post(
        f"/v1/banks/{BANK}/import",
        params={"format": "hex"},
        content=hex_list(hashes),
        headers={"Content-Type": "text/plain"},
    )


def stats(server: RunningServer, key: str) -> dict[str, Any]:
    with server.client(key) as client:
        answer = client.get(f"/v1/banks/{BANK}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def matched(server: RunningServer, key: str, hashes: list[str]) -> list[bool]:
    """Whether each hash matches, asked on a new connection."""
    with server.client(key) as client:
        answer = client.post("/v1/match", json={"hashes": hashes})
    assert answer.status_code == 200, answer.text
    return [bool(result["matches"]) for result in answer.json()["results"]]


def restart(server: RunningServer) -> RunningServer:
    """Start again after a kill, on the same data folder and database."""
    assert server.process is not None
    assert server.process.poll() is not None, "the server should be dead"
    return server.start()


@pytest.fixture(params=["sqlite", "postgresql"])
def crashable(
    request: pytest.FixtureRequest, fresh_server: RunningServer, tmp_path: Path
) -> Iterator[RunningServer]:
    """An unstarted server of the test's own, on SQLite or on a new PostgreSQL database."""
    if request.param == "sqlite":
        yield fresh_server
        return
    url = new_postgres_database(request.getfixturevalue("postgres_url"))
    running = RunningServer(tmp_path, url)
    yield running
    running.kill()


def started_with_bank(server: RunningServer) -> str:
    key = admin_key(server.database_url)
    server.start()
    with server.client(key) as client:
        assert client.post("/v1/banks", json={"name": BANK}).status_code == 201
    return key


def import_head(server: RunningServer, key: str, length: int) -> bytes:
    return (
        f"POST /v1/banks/{BANK}/import?format=hex HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: text/plain\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def assert_nothing_imported(server: RunningServer, key: str, sample: list[str]) -> None:
    found = stats(server, key)
    assert (found["active"], found["withdrawn"], found["imports"]) == (0, 0, 0), found
    assert matched(server, key, sample) == [False] * len(sample)


def assert_bank_usable(server: RunningServer, key: str) -> None:
    """After the crash, an import into the bank goes through in full."""
    hashes = random_hashes(50)
    before = stats(server, key)["active"]
    with server.client(key) as client:
        answer = import_hex(client, hashes)
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == 50
    assert stats(server, key)["active"] == before + 50


# --- an import killed half-way -------------------------------------------------------------


def test_import_killed_while_its_body_arrives_leaves_nothing(crashable: RunningServer) -> None:
    key = started_with_bank(crashable)
    hashes = random_hashes(300_000)
    body = hex_list(hashes)
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", crashable.port), timeout=30) as sock:
        sock.sendall(import_head(crashable, key, len(body)))
        sock.sendall(body[:half])
        crashable.kill()
    restart(crashable)
    first_half = hashes[: len(hashes) // 2]
    assert_nothing_imported(crashable, key, [first_half[0], first_half[1000], first_half[-1]])
    assert_bank_usable(crashable, key)


def writer_busy(database_url: str) -> bool:
    """Whether a write transaction holds the database's writers' lock now (the one an import
    holds from its first row to its commit)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(str(url.database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            return True
        finally:
            probe.close()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            held = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = "
                    "current_database())"
                )
            ).scalar_one()
        return bool(held)
    finally:
        engine.dispose()


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_import_killed_during_its_transaction_is_all_or_nothing(
    crashable: RunningServer, delay: float
) -> None:
    key = started_with_bank(crashable)
    hashes = random_hashes(200_000)
    body = hex_list(hashes)
    with socket.create_connection(("127.0.0.1", crashable.port), timeout=30) as sock:
        sock.sendall(import_head(crashable, key, len(body)) + body)
        deadline = time.monotonic() + 10
        while not writer_busy(crashable.database_url):
            assert time.monotonic() < deadline, "the import never began"
            time.sleep(0.01)
        time.sleep(delay)
        assert writer_busy(crashable.database_url), "the import ended before the kill"
        crashable.kill()
    restart(crashable)
    found = stats(crashable, key)
    sample = [hashes[0], hashes[100_000], hashes[-1]]
    if found["active"] == 0:
        assert_nothing_imported(crashable, key, sample)
    else:  # committed in the instant between the check and the kill
        assert (found["active"], found["imports"]) == (len(hashes), 1), found
        assert matched(crashable, key, sample) == [True] * 3
    assert_bank_usable(crashable, key)


# --- acknowledged writes --------------------------------------------------------------------


def test_acknowledged_writes_and_their_audit_survive_a_crash(crashable: RunningServer) -> None:
    key = admin_key(crashable.database_url)
    crashable.start()
    added, imported = random_hashes(3), random_hashes(500)
    with crashable.client(key) as client:
        assert client.post("/v1/banks", json={"name": BANK}).status_code == 201
        for value in added:
            answer = client.post(f"/v1/banks/{BANK}/hashes", json={"hash": value})
            assert answer.status_code == 201, answer.text
        answer = import_hex(client, imported)
        assert answer.status_code == 200, answer.text
        answer = client.post(
            f"/v1/banks/{BANK}/withdraw", json={"hashes": [added[0]], "reason": "test"}
        )
        assert answer.status_code == 200, answer.text
    crashable.kill()  # at once: no shutdown, no flush of anything queued

    restart(crashable)
    found = stats(crashable, key)
    assert (found["active"], found["withdrawn"], found["imports"]) == (502, 1, 4), found
    assert matched(crashable, key, [*added, imported[0], imported[-1]]) == [
        False,
        True,
        True,
        True,
        True,
    ]
    with crashable.client(key) as client:
        entries = client.get("/v1/audit", params={"limit": 1000}).json()["entries"]
    # Every write above was acknowledged only once its entry was committed (the server writes
    # the entry of a request that changed something before it answers), so the crash must have
    # lost none of them. The reads made since the restart (GET /v1/banks/..., POST /v1/match)
    # are queued to the AuditWriter and committed a fraction of a second later, so they may or
    # may not be there yet: only the bank writes are counted, exactly and in order.
    writes = [
        (entry["method"], entry["route"], entry["status"], entry["target"], entry["outcome"])
        for entry in entries
        if entry["method"] == "POST" and entry["route"].startswith("/v1/banks")
    ]
    assert writes == [
        ("POST", "/v1/banks", 201, BANK, "created"),
        *[("POST", "/v1/banks/{name}/hashes", 201, BANK, "1 added")] * 3,
        ("POST", "/v1/banks/{name}/import", 200, BANK, "500 added"),
        ("POST", "/v1/banks/{name}/withdraw", 200, BANK, "1 withdrawn"),
    ]
    assert {entry["key_id"] for entry in entries} == {parse_key(key)}


# --- several workers ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """A server of two worker processes, not started."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rempart.db'}"
    else:
        url = new_postgres_database(request.getfixturevalue("postgres_url"))
    running = RunningServer(tmp_path, url, workers=2)
    yield running
    running.kill()


def poll_rounds(
    server: RunningServer, key: str, query: list[str], want: bool, timeout: float
) -> float:
    """Ask ``query`` over many new connections (so both workers answer) until a whole round
    of them says ``want`` for each hash; the seconds it took."""
    started = time.monotonic()
    while True:
        answers = [matched(server, key, query) for _ in range(16)]
        if all(answer == [want] * len(query) for answer in answers):
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"still {answers} after {timeout} s"
        time.sleep(0.05)


def test_a_withdrawal_applies_on_every_worker_within_seconds(two_workers: RunningServer) -> None:
    key = admin_key(two_workers.database_url)
    two_workers.start()
    hashes = random_hashes(1000)
    with two_workers.client(key) as client:
        assert client.post("/v1/banks", json={"name": BANK}).status_code == 201
        answer = import_hex(client, hashes)
        assert answer.status_code == 200, answer.text
    target, kept = hashes[17], hashes[18]
    poll_rounds(two_workers, key, [target, kept], True, timeout=10)

    with two_workers.client(key) as client:
        answer = client.post(f"/v1/banks/{BANK}/withdraw", json={"hashes": [target]})
        assert answer.json()["withdrawn"] == 1, answer.text
    took = poll_rounds(two_workers, key, [target], False, timeout=5)
    assert took < 5
    assert matched(two_workers, key, [kept]) == [True]


def metric(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in exposition.splitlines():
        found = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if not found or found.group(1) != name:
            continue
        sample = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
        if all(sample.get(k) == v for k, v in labels.items()):
            total += float(found.group(3))
    return total


def test_metrics_sum_over_workers(two_workers: RunningServer) -> None:
    key = admin_key(two_workers.database_url)
    two_workers.start()
    with two_workers.client(key) as client:
        assert client.post("/v1/banks", json={"name": BANK}).status_code == 201
        answer = import_hex(client, random_hashes(700))
        assert answer.status_code == 200, answer.text
    requests = 40
    for _ in range(requests):
        assert matched(two_workers, key, [random_hashes(1)[0]]) == [False]

    def scrape(client: httpx.Client) -> str:
        answer = client.get("/metrics")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        return answer.text

    def settled(text: str) -> bool:
        return counted(text) >= requests and metric(text, "rempart_match_index_hashes") == 700

    counted: Callable[[str], float] = lambda text: metric(  # noqa: E731
        text, "rempart_http_requests_total", route="/v1/match", status="200"
    )
    deadline = time.monotonic() + 5
    with two_workers.client(key) as client:
        while not settled(text := scrape(client)) and time.monotonic() < deadline:
            time.sleep(0.1)
    # Every worker's requests are counted, each once: the two processes' counts are summed.
    assert counted(text) == requests, text
    assert metric(text, "rempart_http_request_duration_seconds_count", route="/v1/match") == (
        requests
    )
    # Each worker's match index holds the bank's hashes (the gauge takes the workers' max).
    assert metric(text, "rempart_match_index_hashes") == 700, text
    with two_workers.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
