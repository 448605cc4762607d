"""The metrics an operator watches: the match index's size and how far it is behind the bank
change log, the decode budget's queue, and requests by route with labels whose values stay
bounded whatever clients send. On a real server (SQLite and PostgreSQL, one worker and two),
and the gauges' steps in the test process where a server would hide the moment they change."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from rempart.access.keys import ApiKeys, Role
from rempart.config import load_settings
from rempart.errors import OverloadedError
from rempart.matching.banks import BankMatcher, Banks
from rempart.runtime import Runtime
from rempart.server.budget import DecodeBudget
from rempart.server.metrics import MULTIPROCESS_ENV, forget_dead_workers, method_label
from rempart.server.services import Services
from rempart.store import Store
from tests.images import encode, gradient
from tests.server.checks import poll
from tests.server.running import RunningServer

HASHES = 300


def metric(exposition: str, name: str, **labels: str) -> float | None:
    """The sum of the samples of ``name`` whose labels include ``labels``; None when the
    exposition has none."""
    total: float | None = None
    for line in exposition.splitlines():
        found = re.match(r"^([a-z_]+)(\{.*\})? (\S+)$", line)  # a label may hold braces
        if not found or found.group(1) != name:
            continue
        sample = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
        if all(sample.get(k) == v for k, v in labels.items()):
            total = (total or 0.0) + float(found.group(3))
    return total


def newest_change(database_url: str) -> int:
    store = Store.open(database_url)
    try:
        return Banks(store).changes()
    finally:
        store.close()


def fill_bank(client: httpx.Client, bank: str, count: int) -> None:
    assert client.post("/v1/banks", json={"name": bank}).status_code == 201
    answer = client.post(
        f"/v1/banks/{bank}/import",
        params={"format": "hex"},
        content="".join(f"{os.urandom(32).hex()}\n" for _ in range(count)).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text


def settled(client: httpx.Client, database_url: str, hashes: int) -> str | None:
    """The exposition once every worker's index holds ``hashes`` and has applied the whole log."""
    text = client.get("/metrics").text
    newest = newest_change(database_url)
    caught_up = metric(text, "rempart_bank_log_applied") == newest
    if caught_up and metric(text, "rempart_match_index_hashes") == hashes:
        return text
    return None


def recorded(client: httpx.Client, route: str) -> str | None:
    """The exposition once a request to ``route`` is counted (a request is counted as its
    response goes out, so the next request may be answered first)."""
    text = client.get("/metrics").text
    return text if metric(text, "rempart_http_requests_total", route=route) else None


# --- on a real server --------------------------------------------------------------------------


def test_index_size_log_position_and_decode_queue_on_a_server(
    server: RunningServer, keys: dict[str, str]
) -> None:
    with server.client(keys["admin"]) as admin:
        ready = poll(lambda: admin.get("/readyz").json().get("status") == "ready", "ready", 30)
        assert ready
        before = admin.get("/readyz").json()["hashes"]
        fill_bank(admin, f"metrics-{secrets.token_hex(4)}", HASHES)
        total = before + HASHES
        text = poll(lambda: settled(admin, server.database_url, total), "metrics settled", 20)
        # Each hash added is one change in the log: the index applied all of them.
        newest = newest_change(server.database_url)
        assert newest >= HASHES
        assert metric(text, "rempart_match_index_hashes") == total
        assert metric(text, "rempart_bank_log_applied") == newest
        assert metric(text, "rempart_bank_log_lag") == 0
        # An upload is decoded under the budget: nothing waits or is held once it is answered.
        image = encode(gradient(), "PNG")
        answer = admin.post("/v1/hash", content=image, headers={"content-type": "image/png"})
        assert answer.status_code == 200, answer.text
        text = poll(lambda: recorded(admin, "/v1/hash"), "the upload recorded", 10)
    assert metric(text, "rempart_decode_waiting") == 0
    assert metric(text, "rempart_decode_pixels") == 0
    assert metric(text, "rempart_decode_overloaded_total") == 0
    assert metric(text, "rempart_http_request_duration_seconds_count", route="/v1/hash") == 1


def test_labels_are_route_templates_and_known_methods(
    server: RunningServer, keys: dict[str, str]
) -> None:
    name = f"nobank-{secrets.token_hex(6)}"
    stray = f"/nowhere-{secrets.token_hex(6)}"
    with server.client(keys["admin"]) as admin:
        assert admin.get(f"/v1/banks/{name}").status_code == 404
        assert admin.get(stray).status_code == 404
        # A method HTTP's parser knows but the API does not use (WebDAV's).
        odd = admin.request("PROPFIND", "/v1/banks")
        assert odd.status_code == 405
        text = poll(lambda: recorded(admin, "/v1/banks/{name}"), "the 404 recorded", 10)
    # The path asked for never becomes a label: its template does, or "(no route)".
    assert name not in text
    assert stray not in text
    assert "PROPFIND" not in text
    get_bank = metric(text, "rempart_http_requests_total", route="/v1/banks/{name}", status="404")
    assert get_bank is not None
    assert get_bank >= 1
    assert metric(text, "rempart_http_requests_total", route="(no route)", method="GET")
    assert metric(text, "rempart_http_requests_total", route="/v1/banks", method="other")
    assert metric(text, "rempart_http_request_duration_seconds_count", route="/v1/banks/{name}")


@pytest.fixture
def two_workers(tmp_path: Path, postgres_url: str) -> Iterator[RunningServer]:
    from tests.server.conftest import new_postgres_database

    server = RunningServer(tmp_path, new_postgres_database(postgres_url), workers=2)
    yield server
    server.stop()


def test_gauges_over_two_workers_take_the_worst_or_the_sum(two_workers: RunningServer) -> None:
    store = Store.open(two_workers.database_url)
    try:
        key = ApiKeys(store).create(Role.ADMIN, name="metrics", rate_limit=100_000).secret
    finally:
        store.close()
    two_workers.start()
    with two_workers.client(key) as admin:
        fill_bank(admin, "both", HASHES)
        text = poll(lambda: settled(admin, two_workers.database_url, HASHES), "settled", 20)
    # The index's gauges are the worst worker's, not a sum of two indexes.
    assert metric(text, "rempart_match_index_hashes") == HASHES
    assert metric(text, "rempart_bank_log_lag") == 0
    assert metric(text, "rempart_decode_waiting") == 0
    assert metric(text, "rempart_decode_pixels") == 0


# --- the gauges' steps, in this process ----------------------------------------------------------


def sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


@pytest.fixture
def services(store: Store, tmp_path: Path) -> Iterator[Services]:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path)})
    made = Services(Runtime(settings, store))
    yield made
    made.close()


def test_the_lag_counts_the_changes_the_index_has_not_applied(services: Services) -> None:
    banks = Banks(services.runtime.store)
    banks.create("lagging")
    for _ in range(5):
        banks.add("lagging", os.urandom(32).hex())
    # While the index loads, every logged change is behind it.
    services.measure_index()
    newest = banks.changes()
    assert newest >= 5
    assert sample("rempart_bank_log_applied") == 0
    assert sample("rempart_bank_log_lag") == newest

    matcher = BankMatcher(services.runtime.store, refresh_interval=None)
    services.runtime.matcher = matcher
    services.measure_index()
    assert sample("rempart_bank_log_lag") == 0
    assert sample("rempart_bank_log_applied") == newest
    assert sample("rempart_match_index_hashes") == 5

    for _ in range(3):
        banks.add("lagging", os.urandom(32).hex())
    services.measure_index()  # the log moved on; the index has not followed yet
    assert sample("rempart_bank_log_lag") == banks.changes() - newest > 0
    assert sample("rempart_match_index_hashes") == 5
    matcher.refresh()
    services.measure_index()
    assert sample("rempart_bank_log_lag") == 0
    assert sample("rempart_match_index_hashes") == 8


def test_the_decode_queue_counts_waiters_pixels_and_refusals() -> None:
    refused = REGISTRY.get_sample_value("rempart_decode_overloaded_total") or 0.0

    async def scenario() -> None:
        budget = DecodeBudget(100, wait=5)
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with budget.admit(70):
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        assert sample("rempart_decode_pixels") == 70
        assert sample("rempart_decode_waiting") == 0
        admitted = asyncio.Event()

        async def wait_then_decode() -> None:
            async with budget.admit(50):
                admitted.set()
                assert sample("rempart_decode_pixels") == 50
                assert sample("rempart_decode_waiting") == 0

        waiter = asyncio.create_task(wait_then_decode())
        for _ in range(1000):  # until it reached the budget and waits
            if sample("rempart_decode_waiting") == 1:
                break
            await asyncio.sleep(0)
        assert sample("rempart_decode_waiting") == 1
        assert not admitted.is_set()
        release.set()
        await asyncio.gather(holder, waiter)
        assert sample("rempart_decode_pixels") == 0

        quick = DecodeBudget(100, wait=0.01)
        async with quick.admit(100):
            with pytest.raises(OverloadedError):
                async with quick.admit(1):
                    pass
        assert sample("rempart_decode_waiting") == 0
        assert sample("rempart_decode_pixels") == 0

    asyncio.run(scenario())
    assert sample("rempart_decode_overloaded_total") == refused + 1


WORKER = """
import sys
from rempart.server import metrics
metrics.BANK_LOG_APPLIED.set(int(sys.argv[1]))
metrics.DECODE_WAITING.inc(int(sys.argv[2]))
print("set", flush=True)
sys.stdin.read()  # until the test lets it go
"""


def test_a_worker_that_is_gone_leaves_no_gauge_behind(tmp_path: Path) -> None:
    env = {**os.environ, MULTIPROCESS_ENV: str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}

    def worker(applied: int, waiting: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(applied), str(waiting)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline() == "set\n"
        return process

    gone, alive = worker(5, 1), worker(9, 0)
    try:
        gone.communicate(timeout=30)  # the crashed worker: its files stay

        def collected() -> tuple[float | None, float | None]:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
            return (
                registry.get_sample_value("rempart_bank_log_applied"),
                registry.get_sample_value("rempart_decode_waiting"),
            )

        assert collected() == (5, 1)  # the dead worker's last values, stuck
        forget_dead_workers(tmp_path)
        assert collected() == (9, 0)
    finally:
        alive.communicate(timeout=30)


def test_a_method_label_is_one_of_a_few() -> None:
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        assert method_label(method) == method
    for method in ("FROB", "get", "PROPFIND", "X" * 100):
        assert method_label(method) == "other"
