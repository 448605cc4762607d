"""``rempart serve`` fetches the exchanges on its schedule (``REMPART_EXCHANGE_INTERVAL``): a
real server with two workers and StopNCII's loopback fake; a deletion at the exchange stops the
server matching the hash; the metrics say how the fetches went (and that the last failed); the
log never holds the credential."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.access.keys import ApiKeys, Role
from rempart.exchanges.sync import Exchanges
from rempart.store import Store
from tests.exchanges.fakes import FakeExchange, fake_exchange
from tests.server.checks import poll
from tests.server.running import RunningServer
from tests.server.test_api import in_bank
from tests.server.test_metrics import metric

PDQ_A = "f" * 8 + "0" * 56
PDQ_B = "0" * 8 + "f" * 56


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with fake_exchange("stopncii") as started:
        yield started


def test_serve_fetches_on_schedule_and_follows_deletions(
    tmp_path: Path, fake: FakeExchange
) -> None:
    database_url = f"sqlite:///{tmp_path / 'rempart.db'}"
    store = Store.open(database_url)
    key = ApiKeys(store).create(Role.ADMIN, name="ops").secret
    Exchanges(store).add("stopncii", "stopncii", credentials_env="FEED_CREDENTIAL", url=fake.url)
    store.close()
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    server = RunningServer(
        tmp_path,
        database_url,
        workers=2,
        extra_env={"REMPART_EXCHANGE_INTERVAL": "1", "FEED_CREDENTIAL": fake.credentials},
    ).start()
    try:
        with server.client(key) as client:
            poll(lambda: in_bank(client, PDQ_A, "stopncii"), "the first scheduled fetch", 30)
            fake.delete("pdq", PDQ_A)
            poll(lambda: not in_bank(client, PDQ_A, "stopncii"), "the deletion followed", 30)
            assert in_bank(client, PDQ_B, "stopncii")

            def fetched() -> str | None:
                text = client.get("/metrics").text
                entries = metric(text, "rempart_exchange_entries", exchange="stopncii")
                return text if entries == 1 else None

            text = poll(fetched, "the gauges of the last fetch", 30)
            successes = metric(
                text, "rempart_exchange_fetches_total", exchange="stopncii", outcome="success"
            )
            assert successes is not None
            assert successes >= 2
            stamp = metric(
                text, "rempart_exchange_last_success_timestamp_seconds", exchange="stopncii"
            )
            assert stamp is not None
            assert stamp > 0
            assert metric(text, "rempart_exchange_failing", exchange="stopncii") == 0
            fake.expire()
            poll(
                lambda: metric(
                    client.get("/metrics").text,
                    "rempart_exchange_fetches_total",
                    exchange="stopncii",
                    outcome="failure",
                ),
                "a failed fetch counted",
                30,
            )
            # The gauge says so from the database, in every worker, whichever fetched.
            poll(
                lambda: (
                    metric(
                        client.get("/metrics").text, "rempart_exchange_failing", exchange="stopncii"
                    )
                    == 1
                ),
                "the failing gauge",
                30,
            )
            assert in_bank(client, PDQ_B, "stopncii")  # the last good state stays
    finally:
        server.stop()
    log = server.log()
    assert "exchange stopncii: fetch failed: HTTP 401" in log
    for part in fake.credentials.split(","):
        assert part not in log
