"""``rempart db``, ``rempart key`` and ``rempart serve``'s refusal to listen beyond loopback
without a key, as an operator runs them."""

from __future__ import annotations

import gc
import json
import subprocess
import time
import warnings
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from rempart.access.keys import ApiKeys, Role, parse_key, verify_secret
from rempart.server.launch import is_loopback
from rempart.store import Store
from tests.cli import invoke
from tests.server.conftest import new_postgres_database
from tests.server.running import SERVE, RunningServer, free_port

TABLES = {"alembic_version", "api_keys", "audit_log", "banks", "bank_entries", "bank_changes"}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """``rempart ARGS`` in-process; then the database connections it left open are collected,
    as its process's exit would close them."""
    try:
        return invoke.run(env, *args)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def database_of(env: dict[str, str]) -> str:
    return env.get("REMPART_DATABASE_URL") or f"sqlite:///{env['REMPART_DATA_DIR']}/rempart.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_env(request: pytest.FixtureRequest, env: dict[str, str]) -> dict[str, str]:
    """The command's environment, with its database in the data folder or on PostgreSQL."""
    if request.param == "sqlite":
        return env
    url = new_postgres_database(request.getfixturevalue("postgres_url"))
    return {**env, "REMPART_DATABASE_URL": url}


def test_db_upgrade_creates_and_migrates(any_env: dict[str, str]) -> None:
    url = database_of(any_env)
    if url.startswith("sqlite"):
        assert not Path(any_env["REMPART_DATA_DIR"], "rempart.db").exists()
    code, out, err = run(any_env, "db", "upgrade")
    assert code == 0, err
    assert out == ""
    assert "up to date" in err
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version is not None
        assert version >= "0003"
    finally:
        engine.dispose()
    # A second upgrade is a no-op.
    assert run(any_env, "db", "upgrade")[0] == 0


def test_key_create_prints_only_the_key(any_env: dict[str, str]) -> None:
    code, out, err = run(
        any_env, "key", "create", "--role", "admin", "--name", "ops", "--rate", "7"
    )
    assert code == 0, err
    secret = out.strip()
    assert out == secret + "\n"  # one line, the key, so that scripts can capture it
    key_id = parse_key(secret)
    assert key_id is not None
    assert key_id in err
    assert "cannot be shown again" in err
    assert secret not in err
    store = Store.open(database_of(any_env))
    try:
        key = ApiKeys(store).get(key_id)
    finally:
        store.close()
    assert (key.role, key.name, key.rate_limit, key.active) == (Role.ADMIN, "ops", 7, True)
    assert verify_secret(key, secret)


def test_key_create_with_an_unknown_role(env: dict[str, str]) -> None:
    code, out, err = run(env, "key", "create", "--role", "nobody")
    assert code == 2
    assert out == ""
    assert "nobody" in err
    for role in Role:
        assert role.value in err


def test_key_list_never_shows_a_secret(any_env: dict[str, str]) -> None:
    secrets = []
    for role in ("platform", "reviewer"):
        code, out, err = run(any_env, "key", "create", "--role", role, "--name", f"the {role}")
        assert code == 0, err
        secrets.append(out.strip())
    first_id = parse_key(secrets[0])
    assert first_id is not None
    assert run(any_env, "key", "revoke", first_id)[0] == 0

    code, out, err = run(any_env, "key", "list", "--format", "jsonl")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["name"], r["role"]) for r in records] == [
        ("the platform", "platform"),
        ("the reviewer", "reviewer"),
    ]
    assert set(records[0]) == {"key_id", "name", "role", "rate_limit", "created_at", "revoked_at"}
    assert records[0]["revoked_at"]
    assert records[1]["revoked_at"] is None
    code, table, _ = run({**any_env, "COLUMNS": "300"}, "key", "list")
    assert code == 0
    for shown in (out, table):
        assert first_id in shown
        for secret in secrets:
            assert secret not in shown
            assert secret[len("rmp_") + 13 :] not in shown  # the part after the key id
        assert "argon2" not in shown


def test_key_revoke(env: dict[str, str]) -> None:
    secret = run(env, "key", "create", "--role", "flagger")[1].strip()
    key_id = parse_key(secret)
    assert key_id is not None
    code, out, err = run(env, "key", "revoke", key_id)
    assert out == ""
    assert code == 0, err
    assert key_id in err
    assert run(env, "key", "revoke", key_id)[0] == 0  # twice is harmless
    code, out, err = run(env, "key", "revoke", "nosuchkey123")
    assert out == ""
    assert code == 2
    assert "nosuchkey123" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("rempart.example", False),
        ("localhost.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def serve(tmp_path: Path, *args: str) -> tuple[int, str, float]:
    """``rempart serve ARGS`` in a process of its own: exit status, output, seconds taken."""
    env = RunningServer(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'rempart.db'}").env
    started = time.monotonic()
    done = subprocess.run(
        [*SERVE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "rempart.example"])
def test_serve_refuses_to_listen_beyond_loopback_without_a_key(tmp_path: Path, host: str) -> None:
    port = free_port()
    code, output, took = serve(tmp_path, "--host", host, "--port", str(port))
    assert code == 2, output
    assert took < 30
    assert f"refusing to listen on {host}" in output
    assert "rempart key create --role admin" in output
    assert "Uvicorn running" not in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_a_revoked_key_does_not_count(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'rempart.db'}")
    try:
        keys = ApiKeys(store)
        keys.revoke(keys.create(Role.ADMIN).key.key_id)
    finally:
        store.close()
    code, output, _ = serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    assert code == 2, output
    assert "refusing" in output


def test_serve_on_loopback_without_a_key_warns(tmp_path: Path) -> None:
    server = RunningServer(tmp_path, f"sqlite:///{tmp_path / 'rempart.db'}")
    try:
        server.start()
        with server.client() as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/v1/banks").status_code == 401
    finally:
        server.stop()
    log = server.log()
    assert "No API key exists yet" in log
    assert "rempart key create --role admin" in log
    assert server.process is not None
    assert server.process.returncode is not None
