"""The loopback fakes themselves: loopback only, credentials checked, a million hashes served
without building them, the requests they saw recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from rempart.exchanges import make_api, signal_records
from tests.exchanges.fakes import FakeExchange, fake_exchange
from tests.exchanges.log import GeneratedHashes

KINDS = ["stopncii", "ncmec", "threatexchange", "tat"]
ROOT = Path(__file__).parents[2]


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with fake_exchange(request.param) as started:
        yield started


def test_a_fake_listens_on_loopback_only(fake: FakeExchange) -> None:
    assert urlsplit(fake.url).hostname == "127.0.0.1"


def test_a_request_without_the_credential_is_refused_and_recorded(fake: FakeExchange) -> None:
    fake.add("pdq", "a" * 64)
    answer = requests.get(fake.url + "/anything", timeout=5)
    assert answer.status_code in (400, 401, 404)
    assert fake.requests[-1].endswith("/anything")


def test_a_million_hashes_are_added_at_once_and_served_a_page_at_a_time(
    fake: FakeExchange,
) -> None:
    started = time.monotonic()
    fake.add_many("pdq", GeneratedHashes(1_000_000))
    fake.add("pdq", "b" * 64)
    assert time.monotonic() - started < 1
    assert fake.log.size == 1_000_001
    assert fake.log.events(999_990, 1_000_001)[-1].value == "b" * 64
    fake.settle()
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    started = time.monotonic()
    first = next(delta for delta in api.fetch_iter([], None) if delta.updates)
    assert time.monotonic() - started < 10  # NCMEC's client probes a few windows first
    assert len(first.updates) >= 100


def test_requests_lists_the_paths_the_client_asked_for(fake: FakeExchange) -> None:
    fake.add("pdq", "c" * 64)
    fake.settle()
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    for delta in api.fetch_iter([], None):
        list(signal_records(api, delta.updates))
    data_paths = {
        "stopncii": "/v1/FetchHashes",
        "ncmec": "/hashsharing/v2/entries",
        "threatexchange": f"/v26.0/{fake.options.get('privacy_group')}/threat_updates/",
        "tat": "/api/hash-list/v2/all",
    }
    assert data_paths[fake.kind] in fake.requests


def test_add_refuses_a_signal_type_the_exchange_does_not_serve(fake: FakeExchange) -> None:
    with pytest.raises(ValueError, match="serves"):
        fake.add("raw_text", "hello")


def test_generated_hashes_are_distinct_hex_digests_made_on_demand() -> None:
    hashes = GeneratedHashes(10**9, hex_digits=32, salt="x")
    assert len(hashes) == 10**9
    some = hashes[:1000]
    assert len(set(some)) == 1000
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in some)
    assert hashes[-1] == hashes[10**9 - 1]
    with pytest.raises(IndexError):
        _ = hashes[10**9]


def test_a_fake_serves_from_its_own_process() -> None:
    command = [sys.executable, "-m", "tests.exchanges.serve", "tat", "--count", "2500"]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as server:
        assert server.stdout is not None
        assert server.stdin is not None
        where = json.loads(server.stdout.readline())
        api = make_api(where["kind"], where["credentials"], url=where["url"])
        count = sum(
            len(list(signal_records(api, delta.updates))) for delta in api.fetch_iter([], None)
        )
        server.stdin.close()
        assert server.wait(timeout=10) == 0
    assert count == 2500
