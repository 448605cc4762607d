"""What compose.yaml relies on from PostgreSQL, on a real server that checks passwords
(scram-sha-256, as the official image's default): a database URL without its password connects
with libpq's PGPASSWORD, and servers starting at once on an empty database each migrate it
without tripping over the others (Alembic under the writers' advisory lock)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

import rempart.store
from tests import postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
OPEN = "import sys; from rempart.store import Store; Store.open(sys.argv[1]).close()"
USER = "rempart"


@pytest.fixture(scope="module")
def password_server() -> Iterator[tuple[str, str]]:
    """A PostgreSQL server that asks for a password; (URL without it, the password)."""
    bin_dir = postgres.binaries()
    if bin_dir is None:
        if os.environ.get("TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    password = secrets.token_urlsafe(16)
    root = Path(tempfile.mkdtemp(prefix="rempart-pg-scram-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    (root / "password").write_text(password)
    if os.geteuid() == 0:
        shutil.chown(root / "password", "postgres")
    data, port = root / "data", postgres._free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_postgres, *command], check=True, capture_output=True, cwd=root)

    run(
        str(bin_dir / "initdb"),
        *("-D", str(data), "-U", USER, "-A", "scram-sha-256", "-E", "UTF8"),
        f"--pwfile={root / 'password'}",
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(root / "server.log")
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start")
    try:
        yield f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres", password
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def environment(password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMPART_", "PG"))}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def new_database(url: str, password: str) -> str:
    name = f"rempart_deploy_{secrets.token_hex(4)}"
    with_password = url.replace(f"{USER}@", f"{USER}:{password}@")
    engine = create_engine(with_password, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def test_a_url_without_its_password_connects_with_pgpassword(
    password_server: tuple[str, str],
) -> None:
    url, password = password_server
    refused = subprocess.run(
        [sys.executable, "-c", OPEN, url], env=environment(None), capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "password" in refused.stderr
    opened = subprocess.run(
        [sys.executable, "-c", OPEN, url], env=environment(password), capture_output=True, text=True
    )
    assert opened.returncode == 0, opened.stderr


def test_servers_starting_at_once_migrate_one_empty_database(
    password_server: tuple[str, str],
) -> None:
    url, password = password_server
    database = new_database(url, password)
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, database],
            env=environment(password),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in starting:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    with_password = database.replace(f"{USER}@", f"{USER}:{password}@")
    engine = create_engine(with_password)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = connection.execute(
                text("SELECT count(*) FROM pg_tables WHERE tablename = 'bank_changes'")
            ).scalar_one()
    finally:
        engine.dispose()
    head = ScriptDirectory(str(Path(rempart.store.__file__).parent / "migrations"))
    assert versions == [(head.get_current_head(),)]  # the newest revision, written once
    assert tables == 1
