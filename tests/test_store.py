"""The store's SQLite writers queue for the database instead of racing for its lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, insert, select

from rempart.store import Store, utc_now
from rempart.store.schema import person_changes

# Holds the store's lock file, as another process's writer would, until its input closes.
_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def _write(store: Store, person: str) -> None:
    with store.write() as connection:
        connection.execute(insert(person_changes).values(person=person, op="add", at=utc_now()))


def _count(store: Store) -> int:
    with store.read() as connection:
        counted: int = connection.execute(
            select(func.count()).select_from(person_changes)
        ).scalar_one()
        return counted


def test_many_threads_write_at_once_and_every_write_lands(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'rempart.db'}")

    def twenty(thread: int) -> None:
        for write in range(20):
            _write(store, f"p{thread}-{write}")

    threads = [threading.Thread(target=twenty, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(store) == 160
    lock = tmp_path / "rempart.db-writers"
    assert lock.stat().st_mode & 0o777 == 0o600  # in the data folder, private
    store.close()


def test_a_write_waits_its_turn_behind_another_process(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'rempart.db'}")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "rempart.db-writers")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    writer = threading.Thread(target=_write, args=(store, "queued"))
    writer.start()
    writer.join(0.5)
    assert writer.is_alive()  # queued behind the other process's turn, not racing it
    assert _count(store) == 0
    holder.stdin.close()  # the other process ends its turn
    holder.wait(10)
    holder.stdout.close()
    writer.join(10)
    assert not writer.is_alive()
    assert _count(store) == 1
    store.close()


def test_the_migrations_make_the_schema_the_code_declares(tmp_path: Path) -> None:
    """Every table, column and index of ``rempart.store.schema`` exists as declared once the
    migrations ran, and nothing else does: a migration that forgets one fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from rempart.store.schema import metadata

    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = [
                d
                for d in compare_metadata(context, metadata)
                if not (
                    isinstance(d, tuple)
                    and d[0] == "remove_table"
                    and d[1].name == "alembic_version"
                )
            ]
    finally:
        store.close()
    assert differences == []


def test_deleted_bytes_do_not_stay_in_the_sqlite_file(tmp_path: Path) -> None:
    """A purged capture's sealed WARC and wrapped key are overwritten, not left in free pages
    (``secure_delete``), so that a copy of the file does not keep them."""
    path = tmp_path / "rempart.db"
    store = Store.open(f"sqlite:///{path}")
    marker = b"PURGE-ME-" * 2000
    with store.write() as connection:
        connection.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, data BLOB)")
        connection.exec_driver_sql("INSERT INTO scratch (data) VALUES (?)", (marker,))
    with store.write() as connection:
        connection.exec_driver_sql("DELETE FROM scratch")
    with store.read() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    assert b"PURGE-ME-" not in path.read_bytes()
