"""The database: SQLite in the data folder by default, PostgreSQL when configured.

``Store.open(url)`` connects and brings the schema up to date (Alembic migrations shipped in
the package). Writes that change what matches go through ``Store.write()``, which serialises
writers so that the change log's sequence numbers become visible in order: a matcher following
the log never skips a change committed late.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from rempart.errors import StoreError

__all__ = [
    "STATEMENT_BATCH",
    "Store",
    "StoreError",
    "as_utc",
    "batches",
    "database_exists",
    "utc_now",
]

_T = TypeVar("_T")
STATEMENT_BATCH: Final = 2000
"""Rows or ids per statement: under SQLite's limit on bound parameters, and large enough to be
fast."""
_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do: the key of the PostgreSQL advisory lock that serialises bank writers.
_WRITE_LOCK_KEY = 0x52454D50


def database_exists(url: str) -> bool:
    """False only for an SQLite database whose file is not created yet, so that commands that
    merely read can tell "nothing stored" without creating a database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    file = _sqlite_file(parsed.database)
    return file is None or Path(file).expanduser().exists()


def _sqlite_file(database: str | None) -> str | None:
    """An SQLite URL's database file; None for an in-memory database (each connection has
    its own)."""
    return None if database in (None, "", ":memory:") else database


def batches(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``values`` a statement's worth (``STATEMENT_BATCH``) at a time, for ``IN (...)`` lists
    and multi-row inserts."""
    for start in range(0, len(values), STATEMENT_BATCH):
        yield values[start : start + STATEMENT_BATCH]


def utc_now() -> datetime:
    """The current time, in UTC, as stored."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A time read back from the database, made aware: SQLite returns naive datetimes, and
    everything Rempart stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Store:
    """A connection pool to Rempart's database, with its schema migrated."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        # SQLite's writers wait for its lock by sleeping and retrying, longer each time: under
        # load a writer can lose the race for a second or more. So they queue for it instead:
        # a process's threads on a lock, the processes on a lock file that the kernel hands on
        # the moment it is released.
        self._sqlite_writers = threading.RLock()
        self._lock_file: int | None = None
        self._writing = False  # this process holds the lock file (a nested write does not)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` (an SQLAlchemy URL) and, unless told not to, migrate the schema."""
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError("the database URL is not a valid SQLAlchemy URL") from None
        is_sqlite = parsed.get_backend_name() == "sqlite"
        file = _sqlite_file(parsed.database)
        if is_sqlite and file is not None:
            Path(file).expanduser().parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            engine = create_engine(parsed)
        except (NoSuchModuleError, ImportError) as exc:
            hint = " (install the postgres extra)" if "postgres" in parsed.drivername else ""
            raise StoreError(f"no driver for {parsed.drivername}{hint}: {exc}") from None
        if is_sqlite:
            _configure_sqlite(engine)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @property
    def threads_share(self) -> bool:
        """Whether every thread sees the same database: not an in-memory SQLite one, of which
        each thread's connection has its own."""
        return not self.is_sqlite or _sqlite_file(self.engine.url.database) is not None

    def migrate(self) -> None:
        """Bring the schema to the newest revision; a no-op when it is there already."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.write() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self._failures(), self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction that holds the writers' lock until it commits or rolls back."""
        with self._transaction(serialised=True) as connection:
            yield connection

    @contextmanager
    def append(self) -> Iterator[Connection]:
        """A write transaction for rows nobody follows in order (the audit log): on
        PostgreSQL it does not wait for the bank writers' lock."""
        with self._transaction(serialised=False) as connection:
            yield connection

    @contextmanager
    def _transaction(self, *, serialised: bool) -> Iterator[Connection]:
        queue = self._sqlite_writer_turn() if self.is_sqlite else nullcontext()
        with queue, self._failures(), self.engine.connect() as connection:
            options: dict[str, Any] = {"rempart_write": True}
            connection = connection.execution_options(**options)
            with connection.begin():
                if serialised and not self.is_sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY}
                    )
                yield connection

    @contextmanager
    def _sqlite_writer_turn(self) -> Iterator[None]:
        """This thread's turn to write to the SQLite file, among every process's writers."""
        with self._sqlite_writers:
            database = _sqlite_file(self.engine.url.database)
            if database is None or self._writing:
                yield
                return
            if self._lock_file is None:
                path = f"{Path(database).expanduser()}-writers"
                self._lock_file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            self._writing = True
            try:
                yield
            finally:
                self._writing = False
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(f"database {self.url}: {reason}") from None
        except IntegrityError:
            raise  # a constraint the caller turns into its own error (a taken name, say)
        except SQLAlchemyError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise StoreError(f"database {self.url}: {exc.__class__.__name__}: {reason}") from None

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        with self._sqlite_writers:
            if self._lock_file is not None:
                os.close(self._lock_file)
                self._lock_file = None


def _configure_sqlite(engine: Engine) -> None:
    """WAL (readers never wait for a writer), foreign keys on, and writes that take the lock at
    BEGIN, so that two writers queue instead of failing half-way."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own would be DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        # Deleted rows overwritten, not left in free pages: a purged capture's sealed WARC and
        # wrapped key must not stay in the file (some SQLite builds default to off).
        cursor.execute("PRAGMA secure_delete = ON")
        # 64 MiB of page cache (the default is 2 MiB), taken only as pages are read: a bank
        # of a million entries has indexes of about 100 MiB, into which an import inserts at
        # random (an exchange's fetch of a million: a quarter less time writing).
        cursor.execute("PRAGMA cache_size = -65536")
        file = _sqlite_file(engine.url.database)
        if file is not None:
            cursor.execute("PRAGMA journal_mode = WAL")
            # FULL, not WAL's usual NORMAL: a committed write survives a power cut too.
            cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()
        if file is not None:
            os.chmod(file, 0o600)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("rempart_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
