"""Exchanges fetched into banks (``rempart.exchanges.sync``), against each loopback fake: a first
fetch, an incremental one, a deletion that a running matcher follows, an expired credential and
a malformed page that keep the last good state, and a credential that never leaves its file.
On SQLite and PostgreSQL (the ``store`` fixture of tests/conftest.py)."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from rempart.errors import (
    ExchangeConfigError,
    ExchangeError,
    ExchangeFetchError,
    UnknownExchangeError,
)
from rempart.exchanges.schedule import ExchangeSchedule
from rempart.exchanges.sync import Exchanges, FetchReport
from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks, HashListFormat, Record
from rempart.matching.formats import BankCategory
from rempart.store import Store
from rempart.store.schema import exchanges as exchanges_table
from rempart.store.schema import metadata
from tests.exchanges.fakes import FakeExchange, fake_exchange

FAKES = {
    "stopncii": "tests.exchanges.stopncii",
    "ncmec": "tests.exchanges.ncmec",
    "threatexchange": "tests.exchanges.threatexchange",
    "tat": "tests.exchanges.tat",
}
KINDS = [kind for kind, module in FAKES.items() if importlib.util.find_spec(module) is not None]

PDQ_A = "f" * 8 + "0" * 56
PDQ_B = "0" * 8 + "f" * 56
PDQ_C = "a5" * 32
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with fake_exchange(request.param) as started:
        if "pdq" not in started.signal_types:
            pytest.skip(f"the {started.kind} fake serves no PDQ hashes")
        yield started


@pytest.fixture
def credential_file(tmp_path: Path, fake: FakeExchange) -> Path:
    path = tmp_path / "credential"
    path.write_text(fake.credentials + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def exchanges(store: Store, fake: FakeExchange, credential_file: Path) -> Exchanges:
    made = Exchanges(store, environ={})
    made.add(
        "feed",
        fake.kind,
        credentials_file=credential_file,
        url=fake.url,
        options=fake.options,
    )
    return made


def fetch(fake: FakeExchange, exchanges: Exchanges, name: str, **options: Any) -> FetchReport:
    """``exchanges.fetch(name)`` once the fake's last change is in what it serves (NCMEC's
    fake stamps changes in the past; the others need no wait)."""
    fake.settle()
    return exchanges.fetch(name, **options)


def active(store: Store, bank: str = "feed") -> set[str]:
    return {row.hash for row in Banks(store).entries(bank)}


def test_first_fetch_fills_a_bank_of_the_exchanges_category(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    report = fetch(fake, exchanges, "feed")
    assert (report.added, report.entries) == (2, 2)
    assert active(store) == {PDQ_A, PDQ_B}
    bank = Banks(store).get("feed")
    expected = {"stopncii": BankCategory.NCII, "ncmec": BankCategory.CHILD_SEXUAL_ABUSE}
    assert bank.category == expected.get(fake.kind, BankCategory.OTHER)
    assert bank.source == fake.kind
    status = exchanges.get("feed")
    assert (status.state, status.entries, status.last_error) == ("ok", 2, None)
    assert status.checkpoint is not None
    assert status.last_success_at is not None


def test_md5_signals_become_exact_entries_that_deletions_withdraw(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    md5_types = [t for t in fake.signal_types if t.endswith("md5")]
    if not md5_types:
        pytest.skip(f"the {fake.kind} fake serves no MD5")
    fake.add("pdq", PDQ_A)
    fake.add(md5_types[0], MD5.upper() if fake.kind == "tat" else MD5)
    report = fetch(fake, exchanges, "feed")
    assert (report.fetched, report.added, report.skipped) == (2, 2, {})
    matcher = BankMatcher(store, refresh_interval=None)
    assert [m.hash for m in matcher.match_digest("md5", MD5)] == [MD5]
    fake.delete(md5_types[0], MD5.upper() if fake.kind == "tat" else MD5)
    assert fetch(fake, exchanges, "feed").withdrawn == 1
    matcher.refresh()
    assert matcher.match_digest("md5", MD5) == []
    assert active(store) == {PDQ_A}


def test_every_type_an_exchange_lists_is_banked_or_counted(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    # PDQs to image entries, MD5s and SHA-256s (of videos and photos) to exact entries, and
    # any other type counted as skipped under its name, never dropped without a word.
    expected: dict[str, set[str]] = {}
    others: dict[str, int] = {}
    for number, signal_type in enumerate(fake.signal_types):
        kind = next((k for k in ("md5", "sha256", "pdq") if signal_type.endswith(k)), None)
        if kind is None:
            fake.add(signal_type, f"{number:02x}" * 16)
            others[signal_type] = others.get(signal_type, 0) + 1
            continue
        value = f"{number + 1:x}" * {"md5": 32, "sha256": 64, "pdq": 64}[kind]
        fake.add(signal_type, value)
        expected.setdefault("image" if kind == "pdq" else kind, set()).add(value)
    report = fetch(fake, exchanges, "feed")
    assert report.skipped == others
    held: dict[str, set[str]] = {}
    for entry in Banks(store).entries("feed"):
        held.setdefault(entry.kind, set()).add(entry.hash)
    assert held == expected


def test_an_incremental_fetch_asks_only_for_what_is_new(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    first = fetch(fake, exchanges, "feed")
    asked = len(fake.requests)
    assert first.fetched == 2
    fake.add("pdq", PDQ_C)
    second = fetch(fake, exchanges, "feed")
    assert (second.fetched, second.added, second.entries) == (1, 1, 3)
    assert len(fake.requests) - asked <= asked  # from the checkpoint, not from the start
    assert active(store) == {PDQ_A, PDQ_B, PDQ_C}
    third = fetch(fake, exchanges, "feed")
    assert (third.fetched, third.added) == (0, 0)


def test_a_deletion_withdraws_and_a_running_matcher_stops_matching(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    fetch(fake, exchanges, "feed")
    matcher = BankMatcher(store, refresh_interval=None)
    assert [m.hash for m in matcher.match(pack([PDQ_A]))[0]] == [PDQ_A]
    fake.delete("pdq", PDQ_A)
    report = fetch(fake, exchanges, "feed")
    assert (report.withdrawn, report.entries) == (1, 1)
    matcher.refresh()
    assert matcher.match(pack([PDQ_A])) == [[]]
    assert [m.hash for m in matcher.match(pack([PDQ_B]))[0]] == [PDQ_B]
    rows = Banks(store).entries("feed", include_withdrawn=True)
    assert [r.hash for r in rows if r.withdrawn_at is not None] == [PDQ_A]


def test_a_hash_listed_again_after_its_deletion_matches_again(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    fake.delete("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    assert active(store) == set()
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    assert active(store) == {PDQ_A}


def test_an_expired_credential_keeps_the_last_state_and_status_says_why(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    before = exchanges.get("feed")
    fake.add("pdq", PDQ_B)
    fake.expire()
    with pytest.raises(ExchangeFetchError) as failed:
        fetch(fake, exchanges, "feed")
    assert any(status in str(failed.value) for status in ("400", "401", "403"))
    after = exchanges.get("feed")
    assert after.state == "failing"
    assert after.last_error is not None
    assert after.last_error in str(failed.value)
    assert after.checkpoint == before.checkpoint
    assert after.last_success_at == before.last_success_at
    assert active(store) == {PDQ_A}
    assert not after.fetching  # the lease went back


def test_a_malformed_page_changes_nothing_and_the_next_fetch_recovers(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    before = exchanges.get("feed")
    fake.add("pdq", PDQ_B)
    fake.break_next_page()
    with pytest.raises(ExchangeFetchError):
        fetch(fake, exchanges, "feed")
    after = exchanges.get("feed")
    assert (after.checkpoint, after.fetched, after.entries) == (
        before.checkpoint,
        before.fetched,
        before.entries,
    )
    assert active(store) == {PDQ_A}
    fetch(fake, exchanges, "feed")
    assert active(store) == {PDQ_A, PDQ_B}
    assert exchanges.get("feed").state == "ok"


def test_the_credential_is_in_no_log_no_row_and_no_error(
    store: Store, fake: FakeExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = fake.credentials
    parts = [p for p in secret.replace("|", ",").replace(":", ",").split(",") if len(p) >= 4]
    exchanges = Exchanges(store, environ={"FEED_CREDENTIAL": secret})
    exchanges.add(
        "feed", fake.kind, credentials_env="FEED_CREDENTIAL", url=fake.url, options=fake.options
    )
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    messages = []
    fake.add("pdq", PDQ_B)
    fake.expire()
    with pytest.raises(ExchangeFetchError) as expired:
        fetch(fake, exchanges, "feed")
    messages.append(str(expired.value))
    with fake_exchange(fake.kind) as other:  # a credential the other fake refuses
        store_url = other.url
    exchanges.remove("feed", keep_bank=True)
    exchanges.add(
        "moved",
        fake.kind,
        credentials_env="FEED_CREDENTIAL",
        url=store_url,  # nobody listens there now
        options=fake.options,
        bank="feed",
    )
    with pytest.raises(ExchangeFetchError) as unreachable:
        fetch(fake, exchanges, "moved")
    messages.append(str(unreachable.value))
    rows = []
    with store.read() as connection:
        for table in metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in connection.execute(select(table))]
    for part in parts:
        assert part not in caplog.text
        assert not any(part in message for message in messages)
        assert not any(part in row for row in rows)
    assert any("FEED_CREDENTIAL" in row for row in rows)  # the reference is what is kept


def test_a_missing_credential_is_a_recorded_failure(store: Store, fake: FakeExchange) -> None:
    exchanges = Exchanges(store, environ={})
    exchanges.add("feed", fake.kind, credentials_env="NOT_SET", url=fake.url, options=fake.options)
    with pytest.raises(ExchangeFetchError, match="NOT_SET"):
        fetch(fake, exchanges, "feed")
    assert "NOT_SET" in (exchanges.get("feed").last_error or "")


def test_a_full_fetch_withdraws_what_the_exchange_no_longer_lists(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    # What a fetch brought under a key the exchange dropped since (its deletion expired from
    # the exchange's log); an entry imported by hand, under no key, stays.
    Banks(store).import_sources(
        "feed",
        {"dropped-key": [Record(1, PDQ_C)]},
        origin="exchange feed",
        fmt=HashListFormat.PYTX,
        reason="withdrawn at source",
    )
    Banks(store).add("feed", PDQ_B, source_ref="by-hand")
    report = fetch(fake, exchanges, "feed", full=True)
    assert report.full
    assert report.withdrawn == 1
    assert active(store) == {PDQ_A, PDQ_B}


def test_one_fetch_at_a_time_across_processes(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    other = Exchanges(store, environ={})  # another process, as far as the lease goes
    refused: list[Exception] = []

    def meanwhile(report: FetchReport) -> None:
        try:
            fetch(fake, other, "feed")
        except ExchangeError as exc:
            refused.append(exc)

    fetch(fake, exchanges, "feed", progress=meanwhile)
    assert refused
    assert "another process" in str(refused[0])
    assert fetch(fake, other, "feed").fetched == 0  # once the first is done


def test_a_dead_fetchers_lease_lapses(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    with store.write() as connection:
        connection.execute(update(exchanges_table).values(lease_owner="gone:1:x", lease_until=None))
    assert fetch(fake, exchanges, "feed").added == 1


def test_the_schedule_fetches_what_is_due_once(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    done: list[tuple[str, bool]] = []
    measured: list[int] = []
    schedule = ExchangeSchedule(
        exchanges,
        3600,
        on_fetch=lambda name, report: done.append((name, report is not None)),
        measure=lambda found: measured.append(found[0].entries),
    )
    fake.settle()
    assert schedule.run_once() == ["feed"]
    assert schedule.run_once() == []  # fetched within the interval: not due
    second = ExchangeSchedule(Exchanges(store), 3600)
    assert second.run_once() == []  # nor in another worker
    assert done == [("feed", True)]
    assert measured == [1, 1]
    exchanges.set_enabled("feed", False)
    assert ExchangeSchedule(exchanges, 0).run_once() == []


def test_the_schedule_thread_stops_when_closed(exchanges: Exchanges, fake: FakeExchange) -> None:
    fake.add("pdq", PDQ_A)
    fetched = threading.Event()
    fake.settle()
    schedule = ExchangeSchedule(exchanges, 0.05, on_fetch=lambda *_: fetched.set())
    schedule.start()
    try:
        assert fetched.wait(10)
    finally:
        schedule.close()
    assert exchanges.get("feed").entries == 1


def test_names_types_and_banks_are_checked(
    exchanges: Exchanges, fake: FakeExchange, credential_file: Path, store: Store
) -> None:
    options = fake.options  # ThreatExchange's privacy group is required
    with pytest.raises(ExchangeError, match="exists already"):
        exchanges.add("feed", fake.kind, credentials_file=credential_file, options=options)
    with pytest.raises(ExchangeError, match="filled by exchange 'feed'"):
        exchanges.add(
            "again", fake.kind, credentials_file=credential_file, bank="feed", options=options
        )
    with pytest.raises(ExchangeError, match="one of them"):
        exchanges.add(
            "both",
            fake.kind,
            credentials_file=credential_file,
            credentials_env="X",
            options=options,
        )
    with pytest.raises(ExchangeConfigError, match="unknown exchange type"):
        exchanges.add("odd", "napster", credentials_env="X")
    with pytest.raises(ExchangeConfigError, match="unknown option"):
        exchanges.add("odd", fake.kind, credentials_env="X", options={"colour": "red"})
    with pytest.raises(UnknownExchangeError):
        fetch(fake, exchanges, "nope")
    assert [e.name for e in exchanges.list()] == ["feed"]
    assert [b.name for b in Banks(store).list()] == ["feed"]


def test_removing_an_exchange_disables_its_bank_unless_kept(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    exchanges.remove("feed")
    assert exchanges.list() == []
    assert not Banks(store).get("feed").enabled
    assert active(store) == {PDQ_A}  # entries stay on record


def test_a_kept_bank_goes_on_matching_after_its_exchange_is_removed(
    exchanges: Exchanges, fake: FakeExchange, store: Store
) -> None:
    fake.add("pdq", PDQ_A)
    fetch(fake, exchanges, "feed")
    exchanges.remove("feed", keep_bank=True)
    assert Banks(store).get("feed").enabled
    matcher = BankMatcher(store, refresh_interval=None)
    assert [m.hash for m in matcher.match(pack([PDQ_A]))[0]] == [PDQ_A]
