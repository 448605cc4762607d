"""Fixtures: a real server on loopback, on SQLite and on PostgreSQL, with a key per role."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from rempart.access.keys import ApiKeys, Role
from rempart.store import Store
from tests.server.running import RunningServer

_DATABASES = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new, empty database: an SQLite file, or a fresh database on the test PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'rempart.db'}"
    return new_postgres_database(request.getfixturevalue("postgres_url"))


def new_postgres_database(server_url: str) -> str:
    """Create a database of its own on the PostgreSQL server; its URL."""
    name = f"rempart_server_{next(_DATABASES)}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def keys(database_url: str) -> dict[str, str]:
    """One key per role (by role name), created in the server's database."""
    store = Store.open(database_url)
    try:
        made = ApiKeys(store)
        return {role.value: made.create(role, name=f"test {role.value}").secret for role in Role}
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(
    database_url: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server shared by a module's tests, on each database."""
    running = RunningServer(tmp_path_factory.mktemp("data"), database_url).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hma_server(
    database_url: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server shared by a module's tests, started with --hma-compat, on each database."""
    running = RunningServer(
        tmp_path_factory.mktemp("hma"), database_url, args=["--hma-compat"]
    ).start()
    yield running
    running.stop()


@pytest.fixture
def fresh_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    """A server of the test's own on SQLite, not started: for tests that kill or restart it."""
    running = RunningServer(tmp_path, f"sqlite:///{tmp_path / 'rempart.db'}")
    yield running
    running.kill()
