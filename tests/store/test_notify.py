"""Change notifications on PostgreSQL (``rempart.store.notify``, migration 0011): each change a
server follows notifies, and a runtime's follower applies it at once: with its poll an hour
apart, only a notification can have woken it. Listening again after the connection is lost;
SQLite polls."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import make_url, text

from rempart.access.keys import ApiKeys, Role
from rempart.config import load_settings
from rempart.gallery import EMBEDDING_SIZE
from rempart.matching.banks import Banks
from rempart.persons import ProtectedPersons
from rempart.runtime import Runtime
from rempart.store import Store
from rempart.store.notify import CHANNEL, ChangeListener
from tests.server.conftest import new_postgres_database

DEADLINE = 30.0  # how long a test waits for what must happen (far sooner: nothing is timed)
AN_HOUR = "3600"


def wait_for(check: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"not within {DEADLINE} s: {what}")
        time.sleep(0.02)


def random_hash() -> str:
    return secrets.token_hex(32)


@pytest.fixture
def database(postgres_url: str) -> str:
    """A fresh database of its own on the test PostgreSQL."""
    return new_postgres_database(postgres_url)


@pytest.fixture
def writer(database: str) -> Iterator[Store]:
    """Another process's store on the same database: the one that changes things."""
    store = Store.open(database)
    yield store
    store.close()


def started(url: str, data_dir: Path, **env: str) -> Runtime:
    settings = load_settings(
        {"REMPART_DATA_DIR": str(data_dir), "REMPART_DATABASE_URL": url, **env}
    )
    runtime = Runtime(settings, Store.open(url))
    runtime.start()
    wait_for(lambda: runtime.ready, "the index loads")
    return runtime


def newest_bank_change(store: Store) -> int:
    with store.read() as connection:
        return int(connection.scalar(text("SELECT max(seq) FROM bank_changes")) or 0)


def test_each_change_a_server_follows_notifies(database: str, writer: Store) -> None:
    conninfo = make_url(database).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as listening:
        listening.execute(f"LISTEN {CHANNEL}")

        def heard() -> list[str]:
            return [n.payload for n in listening.notifies(timeout=DEADLINE, stop_after=1)]

        banks, keys = Banks(writer), ApiKeys(writer)
        banks.create("notified")
        assert heard() == ["bank_changes"]
        banks.add("notified", random_hash())
        assert heard() == ["bank_changes"]
        key = keys.create(Role.ADMIN).key
        assert heard() == ["api_keys"]
        keys.revoke(key.key_id)
        assert heard() == ["api_keys"]
        vector = np.random.default_rng(2).normal(size=EMBEDDING_SIZE).astype(np.float32)
        ProtectedPersons(writer).enroll("Zorbin Notifiedperson", [vector])
        assert "person_changes" in heard()
        # Nothing else notifies: an audit entry, say, is not followed.
        assert [n.payload for n in listening.notifies(timeout=0.2)] == []


def test_a_change_wakes_the_follower_before_its_poll(
    database: str, writer: Store, tmp_path: Path
) -> None:
    runtime = started(database, tmp_path, REMPART_FOLLOW_SECONDS=AN_HOUR)
    follows: list[int] = []
    runtime.also_follow(lambda: follows.append(1))
    try:
        wait_for(runtime.listening.is_set, "the follower listens")
        before = runtime.positions()
        assert before["banks"] == newest_bank_change(writer)

        banks = Banks(writer)
        banks.create("woken")
        added = random_hash()
        banks.add("woken", added)
        wait_for(
            lambda: runtime.positions()["banks"] == newest_bank_change(writer),
            "the addition applies",
        )
        assert len(runtime.require_matcher()) == 1
        banks.withdraw("woken", hashes=[added])
        wait_for(
            lambda: runtime.positions()["banks"] == newest_bank_change(writer),
            "the withdrawal applies",
        )
        assert len(runtime.require_matcher()) == 0

        vector = np.random.default_rng(3).normal(size=EMBEDDING_SIZE).astype(np.float32)
        ProtectedPersons(writer).enroll("Zorbin Wokenperson", [vector])
        wait_for(lambda: runtime.positions()["persons"] > before["persons"], "the person")
        assert list(runtime.gallery().names) == ["Zorbin Wokenperson"]

        seen = len(follows)
        ApiKeys(writer).create(Role.PLATFORM)  # a key: what follows (the keys) runs again
        wait_for(lambda: len(follows) > seen, "a follow after the new key")
    finally:
        runtime.close()
    assert not runtime.listening.is_set()


def test_listening_again_after_the_connection_is_lost(
    database: str, writer: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rempart.runtime")
    password = "hunter2-" + secrets.token_hex(4)  # the test server trusts any password
    url = make_url(database).set(password=password).render_as_string(hide_password=False)
    runtime = started(url, tmp_path, REMPART_FOLLOW_SECONDS=AN_HOUR)
    try:
        wait_for(runtime.listening.is_set, "the follower listens")
        with writer.write() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query = :listen AND pid <> pg_backend_pid()"
                ),
                {"listen": f"LISTEN {CHANNEL}"},
            )
        wait_for(lambda: "polling until listening again" in caplog.text, "the loss is seen")
        wait_for(runtime.listening.is_set, "the follower listens again")
        Banks(writer).create("after-the-loss")
        wait_for(
            lambda: runtime.positions()["banks"] == newest_bank_change(writer),
            "a change after listening again applies",
        )
    finally:
        runtime.close()
    assert password not in caplog.text
    assert "hunter2" not in caplog.text


def test_sqlite_polls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rempart.db'}"
    writer = Store.open(url)
    assert ChangeListener.open(writer) is None
    runtime = started(url, tmp_path, REMPART_FOLLOW_SECONDS="0.05")
    try:
        Banks(writer).create("polled")
        Banks(writer).add("polled", random_hash())
        wait_for(lambda: runtime.positions()["banks"] == newest_bank_change(writer), "a poll")
        assert not runtime.listening.is_set()
    finally:
        runtime.close()
        writer.close()


def test_notifications_off_polls_only(database: str, writer: Store, tmp_path: Path) -> None:
    runtime = started(database, tmp_path, REMPART_FOLLOW_NOTIFY="0", REMPART_FOLLOW_SECONDS="0.05")
    try:
        Banks(writer).create("polled")
        wait_for(lambda: runtime.positions()["banks"] == newest_bank_change(writer), "a poll")
        assert not runtime.listening.is_set()
    finally:
        runtime.close()
