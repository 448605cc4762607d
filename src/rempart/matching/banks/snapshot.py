"""Snapshots of a matcher's index in the data folder: a server starts from its snapshot and
replays the change log from there, instead of reading every entry and building the index.

A snapshot is a ``HashIndex`` file (memory-mapped when opened, each array checked against its
CRC-32 first) whose header says which banks it holds (None: all), the change-log position it
reflects (``seq``) and what the log entry at that position is: its op, bank, entry, the entry's
hash and the time.
Before a snapshot is used, the database must still have that very entry: a snapshot from
another database, or from one restored to an earlier state, is detected and rebuilt from the
database, as is a truncated or corrupt file. The banks' states (thresholds, enabled, category)
are never taken from a snapshot: they are read from the database at each start.

Files live in ``<data dir>/index`` (folder 0700, files 0600), one per set of watched banks,
each written to a temporary file and renamed, so that a reader never sees part of one. The
processes of one machine share them; one writes at a time (a lock in ``<data dir>/run``), and a
process that finds another writing skips its turn.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, select

from rempart.errors import IndexFileError
from rempart.matching.banks.bank import last_change
from rempart.matching.banks.matcher import BankMatcher
from rempart.matching.index import HashIndex, read_meta
from rempart.store import Store
from rempart.store.schema import bank_changes, bank_entries

__all__ = ["DEFAULT_SNAPSHOT_CHANGES", "SNAPSHOT_FORMAT", "IndexSnapshots"]

SNAPSHOT_FORMAT: Final = 1
DEFAULT_SNAPSHOT_CHANGES: Final = 100_000
"""Changes applied since the last snapshot after which a new one is written."""
_RETRY_AFTER_FAILURE_S: Final = 600.0
_LOG = logging.getLogger(__name__)


class IndexSnapshots:
    """The index snapshots of one data folder: opening a matcher from one, writing one."""

    def __init__(self, data_dir: Path, *, every_changes: int = DEFAULT_SNAPSHOT_CHANGES) -> None:
        self.folder = data_dir / "index"
        self.lock_path = data_dir / "run" / "index-snapshot.lock"
        self.every_changes = every_changes
        self._written: int | None = None  # the seq of the snapshot loaded or written here
        self._seen: tuple[int, int] | None = None  # the file looked at then (inode, mtime)
        self._failed_at = -_RETRY_AFTER_FAILURE_S

    def path(self, banks: Sequence[str] | None = None) -> Path:
        """The snapshot file of a set of watched banks (None: all banks)."""
        if banks is None:
            return self.folder / "banks-all.snapshot"
        names = json.dumps(sorted(set(banks))).encode()
        return self.folder / f"banks-{hashlib.blake2b(names, digest_size=8).hexdigest()}.snapshot"

    def open(
        self,
        store: Store,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = None,
    ) -> BankMatcher:
        """A matcher from the snapshot, with the changes logged since replayed;
        ``IndexFileError`` saying why when there is none to use (missing, corrupt, stale,
        from another database)."""
        path = self.path(banks)
        self._seen = _identity(path)
        self._usable_seq(store, path, read_meta(path), banks)  # before reading a stale one
        index = HashIndex.load(path)  # verifies every array's checksum
        # Checked again on what was loaded: another process may have replaced the file.
        seq = self._usable_seq(store, path, index.meta, banks)
        matcher = BankMatcher.resume(store, index, seq, banks, refresh_interval=refresh_interval)
        self._written = seq
        return matcher

    def load(
        self,
        store: Store,
        banks: Sequence[str] | None = None,
        *,
        refresh_interval: float | None = None,
    ) -> BankMatcher:
        """A matcher from the snapshot when it is valid, else built from the database (the
        reason logged); a rebuilt one is due for a snapshot at once."""
        started = time.monotonic()
        try:
            matcher = self.open(store, banks, refresh_interval=refresh_interval)
        except (IndexFileError, OSError) as exc:  # OSError: the folder cannot be looked in
            if self._seen is None and isinstance(exc, IndexFileError):
                _LOG.info("no index snapshot yet: building the index from the database")
            else:
                _LOG.warning("index snapshot not used (%s): rebuilding from the database", exc)
            self._written = None
            matcher = BankMatcher(store, banks, refresh_interval=refresh_interval)
            # A rebuild reads the log position before the entries: on PostgreSQL (read
            # committed) the index may hold changes past it, which the snapshot due now would
            # claim as of that position. A refresh brings the position past all it holds.
            matcher.refresh()
            return matcher
        _LOG.info(
            "index loaded from its snapshot at change %d, replayed to %d, in %.1f s",
            self._written,
            matcher.seq,
            time.monotonic() - started,
        )
        return matcher

    def due(self, matcher: BankMatcher) -> bool:
        """Whether ``matcher`` should be written: never yet (a rebuild), or ``every_changes``
        changes applied since; not within ten minutes of a failed write."""
        if time.monotonic() - self._failed_at < _RETRY_AFTER_FAILURE_S:
            return False
        return self._written is None or matcher.seq - self._written >= self.every_changes

    def write(self, matcher: BankMatcher) -> bool:
        """Write ``matcher``'s snapshot, unless another process is writing one or has just
        written one recent enough (then False). Searches and refreshes go on meanwhile."""
        try:
            return self._write(matcher)
        except BaseException:
            self._failed_at = time.monotonic()
            raise

    def _write(self, matcher: BankMatcher) -> bool:
        self.lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            for stale in self.folder.glob(".*.partial"):  # left by a writer that was killed
                stale.unlink(missing_ok=True)
            path = self.path(matcher.watched)
            if self._adopt(matcher, path):
                return False
            # The index holds the changes up to seq and none after: one more, lost from a
            # database restored to seq, would be served by the snapshot as if it were there.
            seq, state = matcher.capture()
            with matcher.store.read() as connection:
                entry = _log_entry(connection, seq)
            if seq and entry is None:
                _LOG.warning("no index snapshot written: the log has no change %d", seq)
                return False
            meta = {
                "snapshot": SNAPSHOT_FORMAT,
                "seq": seq,
                "banks": None if matcher.watched is None else list(matcher.watched),
                "entry": entry,
            }
            state.save(path, meta)
            self._written, self._seen = seq, _identity(path)
            return True
        finally:
            os.close(lock)  # and the lock with it

    def _adopt(self, matcher: BankMatcher, path: Path) -> bool:
        """Whether another process wrote a snapshot since this one looked, recent enough to
        skip writing: it then counts as this process's last."""
        seen = _identity(path)
        if seen is None or seen == self._seen:
            return False
        try:
            seq = self._usable_seq(matcher.store, path, read_meta(path), matcher.watched)
        except IndexFileError:
            return False
        if matcher.seq - seq >= self.every_changes:
            return False
        self._written, self._seen = seq, seen
        return True

    def _usable_seq(
        self, store: Store, path: Path, meta: dict[str, object], banks: Sequence[str] | None
    ) -> int:
        """The seq of the snapshot at ``path`` when its ``meta`` fits these banks and this
        database's log; else ``IndexFileError`` with the reason."""
        if meta.get("snapshot") != SNAPSHOT_FORMAT:
            raise IndexFileError(f"{path}: not an index snapshot of format {SNAPSHOT_FORMAT}")
        watched = None if banks is None else sorted(set(banks))
        if meta.get("banks") != watched:
            raise IndexFileError(f"{path}: a snapshot of other banks")
        seq = meta.get("seq")
        if not isinstance(seq, int) or seq < 0:
            raise IndexFileError(f"{path}: no change-log position")
        with store.read() as connection:
            entry = _log_entry(connection, seq)
            if (seq == 0 or entry is not None) and entry == meta.get("entry"):
                return seq
            last = last_change(connection)
        if last < seq:
            raise IndexFileError(
                f"{path}: stale, taken at change {seq} but the log ends at {last} "
                "(another database, or one restored from a backup)"
            )
        raise IndexFileError(
            f"{path}: stale, the log entry at change {seq} is not the one the snapshot was "
            "taken at (another database, or one restored from a backup)"
        )


def _log_entry(connection: Connection, seq: int) -> dict[str, Any] | None:
    """What identifies the change-log entry at ``seq``: None at 0 (before any change) and
    where the log has no such entry."""
    if seq == 0:
        return None
    row = (
        connection.execute(
            select(
                bank_changes.c.op,
                bank_changes.c.bank_id,
                bank_changes.c.entry_id,
                bank_changes.c.at,
                bank_entries.c.hash,
            )
            .outerjoin(bank_entries, bank_entries.c.id == bank_changes.c.entry_id)
            .where(bank_changes.c.seq == seq)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    return {
        "seq": seq,
        "op": row["op"],
        "bank_id": row["bank_id"],
        "entry_id": row["entry_id"],
        "hash": row["hash"],
        "at": row["at"].isoformat(),
    }


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_mtime_ns
