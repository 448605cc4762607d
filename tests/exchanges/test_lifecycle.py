"""How an exchange's fetch begins and ends (``rempart.exchanges.sync``): a full fetch stopped or
failed half way is full again next time, so that what the exchange no longer lists is still
withdrawn; a stopped fetch is not a success; a shutdown gives the lease back; TAT's empty list;
what ``add`` refuses (a URL with a password, a REMPART_ variable, an option's bad value); and
credentials blanked field by field out of error texts and logs."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from rempart.errors import ExchangeConfigError, ExchangeError, ExchangeFetchError
from rempart.exchanges import sync
from rempart.exchanges.clients import checkpoint_to_json, credential_parts, fetch_error_text
from rempart.exchanges.reader import hiding_credentials
from rempart.exchanges.schedule import ExchangeSchedule
from rempart.exchanges.sync import STOPPED, Exchanges, FetchReport
from rempart.matching.banks import Banks
from rempart.matching.banks.formats import Record
from rempart.matching.formats import HashListFormat
from rempart.store import Store
from rempart.store.schema import exchanges as exchanges_table
from tests.exchanges.fakes import FakeExchange, fake_exchange

PDQ = [f"{i:02x}" * 32 for i in range(1, 4)]
GHOST = "ab" * 32  # an entry whose deletion this deployment missed


@pytest.fixture(params=["stopncii", "tat", "threatexchange"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with fake_exchange(request.param, page_size=1) as started:
        yield started


def fetched_once(store: Store, fake: FakeExchange) -> Exchanges:
    """Exchange ``feed`` of ``fake``, fetched once (three hashes)."""
    exchanges = Exchanges(store, environ={"FEED": fake.credentials})
    exchanges.add("feed", fake.kind, credentials_env="FEED", url=fake.url, options=fake.options)
    for value in PDQ:
        fake.add("pdq", value)
    fake.settle()
    assert exchanges.fetch("feed").added == 3
    return exchanges


def added(store: Store, fake: FakeExchange) -> Exchanges:
    """Exchange ``feed`` of ``fake``, fetched once (three hashes), and a ghost in its bank."""
    exchanges = fetched_once(store, fake)
    # Brought by the exchange under a key it no longer lists (its deletion missed).
    Banks(store).import_sources(
        "feed",
        {f"pdq:{GHOST}": [Record(1, GHOST)]},
        origin="exchange feed",
        fmt=HashListFormat.PYTX,
        reason=sync.WITHDRAWN_AT_SOURCE,
    )
    return exchanges


def ghost_active(store: Store) -> bool:
    return GHOST in {row.hash for row in Banks(store).entries("feed")}


def test_a_stopped_full_fetch_is_full_again_and_withdraws_then(
    store: Store, fake: FakeExchange
) -> None:
    exchanges = added(store, fake)
    before = exchanges.get("feed")
    stop = threading.Event()
    report = exchanges.fetch("feed", full=True, stop=stop, progress=lambda _: stop.set())
    assert report.stopped
    assert report.pages < len(PDQ)
    stopped = exchanges.get("feed")
    assert (stopped.state, stopped.last_error) == ("stopped", STOPPED)
    assert stopped.last_success_at == before.last_success_at  # not a success
    assert not stopped.fetching
    assert ghost_active(store)
    again = exchanges.fetch("feed")  # not asked to be full: it is, as the last did not end
    assert again.full
    assert not again.stopped
    assert again.withdrawn == 1
    assert not ghost_active(store)
    done = exchanges.get("feed")
    assert done.state == "ok"
    assert done.last_success_at is not None
    assert before.last_success_at is not None
    assert done.last_success_at > before.last_success_at
    assert not exchanges.fetch("feed").full  # its checkpoint stored: incremental again


def test_a_failed_full_fetch_is_full_again(
    store: Store, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanges = added(store, fake)
    monkeypatch.setattr(sync, "BATCH_S", 0.0)  # each page written on its own

    def fail(report: FetchReport) -> None:
        raise RuntimeError("the disk is full")

    with pytest.raises(ExchangeFetchError, match="the disk is full"):
        exchanges.fetch("feed", full=True, progress=fail)
    assert exchanges.get("feed").state == "failing"
    assert ghost_active(store)
    again = exchanges.fetch("feed")
    assert (again.full, again.withdrawn) == (True, 1)
    assert not ghost_active(store)


def test_a_failure_while_a_batch_is_written_keeps_that_batch_and_the_next_fetch_resumes(
    store: Store, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanges = added(store, fake)
    monkeypatch.setattr(sync, "BATCH_S", 0.0)  # each page written on its own
    more = [f"{i:02x}" * 32 for i in range(4, 8)]
    for value in more:
        fake.add("pdq", value)
    fake.settle()
    written = threading.Event()
    write = Banks.import_sources

    def slow_write(*args: object, **kwargs: object) -> object:
        written.wait(10)  # the page that fails is read while this write is under way
        return write(*args, **kwargs)  # type: ignore[arg-type]

    def fail_on_the_second_page(report: FetchReport) -> None:
        if report.pages == 2:
            written.set()
            raise RuntimeError("the disk is full")

    monkeypatch.setattr(Banks, "import_sources", slow_write)
    with pytest.raises(ExchangeFetchError, match="the disk is full"):
        exchanges.fetch("feed", progress=fail_on_the_second_page)
    failed = exchanges.get("feed")
    assert failed.state == "failing"
    assert failed.fetched == 3 + 2  # both pages read were written, the second after the failure
    monkeypatch.setattr(Banks, "import_sources", write)
    again = exchanges.fetch("feed")
    assert (again.full, again.fetched) == (False, 2)
    assert {entry.hash for entry in Banks(store).entries("feed")} >= set(more)


def test_a_write_that_fails_fails_the_fetch_and_keeps_the_batches_before_it(
    store: Store, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchanges = added(store, fake)
    monkeypatch.setattr(sync, "BATCH_S", 0.0)
    more = [f"{i:02x}" * 32 for i in range(4, 8)]
    for value in more:
        fake.add("pdq", value)
    fake.settle()
    write = Banks.import_sources
    calls = []

    def fail_the_second(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database is gone")
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Banks, "import_sources", fail_the_second)
    with pytest.raises(ExchangeFetchError, match="the database is gone"):
        exchanges.fetch("feed")
    failed = exchanges.get("feed")
    assert (failed.state, failed.fetched) == ("failing", 3 + 1)  # the first page alone
    assert "the database is gone" in (failed.last_error or "")
    monkeypatch.setattr(Banks, "import_sources", write)
    assert exchanges.fetch("feed").fetched == 3
    assert {entry.hash for entry in Banks(store).entries("feed")} >= set(more)


def test_a_fetch_into_an_in_memory_database_writes_it(fake: FakeExchange) -> None:
    # each thread's connection to an in-memory SQLite database has a database of its own
    store = Store.open("sqlite://")
    try:
        assert not store.threads_share
        fetched_once(store, fake)
        assert {entry.hash for entry in Banks(store).entries("feed")} == set(PDQ)
    finally:
        store.close()


def test_a_stale_threatexchange_refetch_stopped_half_way_is_stale_again(store: Store) -> None:
    with fake_exchange("threatexchange", page_size=1) as fake:
        exchanges = added(store, fake)
        stored = dict(exchanges.get("feed").checkpoint or {})
        stale = {**stored, "last_fetch_time": int(time.time()) - 86 * 86400}
        with store.write() as connection:  # 86 days without a fetch: deletions are gone
            connection.execute(
                update(exchanges_table).values(checkpoint=json.dumps(stale, sort_keys=True))
            )
        stop = threading.Event()
        report = exchanges.fetch("feed", stop=stop, progress=lambda _: stop.set())
        assert (report.full, report.stopped) == (True, True)
        assert ghost_active(store)
        again = exchanges.fetch("feed")
        assert (again.full, again.withdrawn) == (True, 1)
        assert not ghost_active(store)
        fresh = exchanges.get("feed").checkpoint or {}
        assert fresh["last_fetch_time"] > stale["last_fetch_time"]


def fetching_slowly(store: Store, fake: FakeExchange) -> tuple[Exchanges, ExchangeSchedule]:
    """Exchange ``feed`` of ``fake``, answering in a minute, and a started schedule whose
    first fetch of it is under way."""
    exchanges = Exchanges(store, environ={"FEED": fake.credentials})
    exchanges.add("feed", "stopncii", credentials_env="FEED", url=fake.url)
    fake.add("pdq", PDQ[0])
    fake.slow(60)
    schedule = ExchangeSchedule(exchanges, 0.05)
    schedule.start()
    deadline = time.monotonic() + 20
    while not exchanges.get("feed").fetching:
        assert time.monotonic() < deadline, "the scheduled fetch did not start"
        time.sleep(0.05)
    return exchanges, schedule


def test_stopping_the_schedule_during_a_slow_fetch_gives_the_lease_back(store: Store) -> None:
    with fake_exchange("stopncii") as fake:
        exchanges, schedule = fetching_slowly(store, fake)
        started = time.monotonic()
        schedule.close()
        assert time.monotonic() - started < 5  # the reader noticed the stop in its poll
        status = exchanges.get("feed")
        assert not status.fetching
        assert (status.state, status.last_success_at) == ("stopped", None)
        assert Exchanges(store).status("feed")[0].fetching is False  # free for another


def test_a_close_that_cannot_wait_still_frees_the_lease(store: Store) -> None:
    with fake_exchange("stopncii") as fake:
        exchanges, schedule = fetching_slowly(store, fake)
        schedule.close(timeout=0.0)  # returns at once, the fetch still under way
        assert not exchanges.get("feed").fetching
        schedule.close()  # the fetch's thread ends (before the store closes)


def test_tat_s_empty_list_is_fetched_and_then_what_it_lists(store: Store) -> None:
    assert checkpoint_to_json(None) is None
    with fake_exchange("tat") as fake:
        exchanges = Exchanges(store, environ={"FEED": fake.credentials})
        exchanges.add("feed", "tat", credentials_env="FEED", url=fake.url)
        first = exchanges.fetch("feed")
        assert (first.fetched, first.added) == (0, 0)
        assert exchanges.get("feed").state == "ok"
        assert exchanges.fetch("feed").fetched == 0  # and again
        fake.add("pdq", PDQ[0])
        assert exchanges.fetch("feed").added == 1
        assert exchanges.get("feed").checkpoint is not None
        fake.add("pdq", PDQ[1])
        second = exchanges.fetch("feed")
        assert (second.full, second.fetched, second.added) == (False, 1, 1)


@pytest.mark.parametrize(
    ("kind", "url", "options", "env", "says"),
    [
        ("stopncii", "https://user:s3cret@api.example", {}, "FEED", "user or password"),
        ("stopncii", "https://api.example", {}, "REMPART_DATABASE_URL", "REMPART_"),
        ("stopncii", "https://api.example", {}, "rempart_auth", "REMPART_"),
        ("ncmec", None, {"environment": "Foo"}, "FEED", "unknown NCMEC environment"),
        ("threatexchange", None, {"privacy_group": "abc"}, "FEED", "privacy_group"),
        ("threatexchange", None, {}, "FEED", "privacy_group"),
        ("tat", "ftp://api.example", {}, "FEED", "http"),
        ("tat", "https://", {}, "FEED", "http"),
        ("tat", "https://api.example:99999", {}, "FEED", "http"),
    ],
)
def test_add_refuses_what_every_fetch_would_fail_or_leak(
    store: Store, kind: str, url: str | None, options: dict[str, str], env: str, says: str
) -> None:
    exchanges = Exchanges(store, environ={})
    with pytest.raises((ExchangeConfigError, ExchangeError), match=says) as refused:
        exchanges.add("feed", kind, credentials_env=env, url=url, options=options)
    assert "s3cret" not in str(refused.value)
    assert exchanges.list() == []
    assert Banks(store).list() == []


@pytest.mark.parametrize(
    ("kind", "credentials", "secrets"),
    [
        ("ncmec", "alice@x:Xy9:Q2", ["alice@x", "Xy9:Q2"]),
        ("tat", "bo:p:w", ["p:w"]),  # a name this short is not blanked out of every line
        ("stopncii", "k1,sub2", ["k1", "sub2"]),
        ("threatexchange", "12|s3", ["s3"]),
        (None, "alice@x:Xy9:Q2", ["alice@x", "Xy9:Q2"]),
    ],
)
def test_credentials_are_blanked_field_by_field(
    kind: str | None, credentials: str, secrets: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    said = ValueError(f"refused {' and '.join(secrets)} ({credentials})")
    text = fetch_error_text(said, credentials, kind)
    for secret in secrets:
        assert secret not in text
    assert set(secrets) <= set(credential_parts(credentials, kind))
    caplog.set_level(logging.INFO)
    with hiding_credentials(credentials, kind):
        logging.getLogger("threatexchange").warning("login as %s", " / ".join(secrets))
    for secret in secrets:
        assert secret not in caplog.text
    assert list(credential_parts("  ", kind)) == []  # nothing to blank: no "" replaced
    if kind == "tat":
        assert fetch_error_text(ValueError("bo reads a boat log"), credentials, kind) == (
            "ValueError: bo reads a boat log"
        )


def test_a_failed_fetch_s_reason_blanks_a_password_quoted_by_the_client(
    store: Store, tmp_path: Path
) -> None:
    with fake_exchange("tat") as fake:
        credential = "fake-tcap-user:Xy9:Q2"
        exchanges = Exchanges(store, environ={"FEED": credential})
        exchanges.add("feed", "tat", credentials_env="FEED", url=fake.url)
        with pytest.raises(ExchangeFetchError) as failed:
            exchanges.fetch("feed")
    reason = exchanges.get("feed").last_error or ""
    assert reason
    for secret in ("Xy9:Q2", "fake-tcap-user"):
        assert secret not in reason
        assert secret not in str(failed.value)
