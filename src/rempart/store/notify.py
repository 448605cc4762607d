"""Change notifications on PostgreSQL: a commit that changes what a server follows (the bank
change log, the API keys, the protected persons' change log) notifies the channel
``rempart_changes`` (triggers of migration 0011), and a ``ChangeListener`` wakes on it, so
that every server applies the change at once instead of at its next poll. SQLite has no
notifications: a process there polls only."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError

from rempart.errors import StoreError
from rempart.store import Store

__all__ = ["CHANNEL", "ChangeListener"]

CHANNEL: Final = "rempart_changes"


class ChangeListener:
    """A connection of its own, outside the pool and in autocommit, that listens on
    ``CHANNEL``; one thread uses it at a time."""

    def __init__(self, connection: Any, url: str) -> None:
        self._connection = connection  # a psycopg.Connection
        self._url = url  # without its password, for messages

    @classmethod
    def open(cls, store: Store) -> ChangeListener | None:
        """Listen on ``store``'s database; None where it cannot notify (SQLite, or a driver
        other than psycopg 3); ``StoreError`` when it cannot connect."""
        if store.engine.dialect.name != "postgresql" or store.engine.dialect.driver != "psycopg":
            return None
        try:
            pooled = store.engine.raw_connection()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"database {store.url}: {reason}") from None
        connection: Any = pooled.driver_connection  # a psycopg.Connection
        pooled.detach()  # this connection waits for notifications, not in the pool
        try:
            connection.rollback()  # autocommit can only be turned on between transactions
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            connection.close()
            raise StoreError(f"database {store.url}: cannot listen: {exc}") from None
        return cls(connection, store.url)

    def wait(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for notifications; how many came (0: none), those
        already waiting included. ``StoreError`` when the connection is lost."""
        try:
            received = sum(1 for _ in self._connection.notifies(timeout=timeout, stop_after=1))
            if received:  # and what came with it or right after: one follow applies them all
                received += sum(1 for _ in self._connection.notifies(timeout=0))
        except Exception as exc:  # psycopg.OperationalError: the server went away
            raise StoreError(f"database {self._url}: listening failed: {exc}") from None
        return received

    def close(self) -> None:
        """Close the connection (the server forgets the LISTEN)."""
        with suppress(Exception):  # already broken: nothing to close
            self._connection.close()
