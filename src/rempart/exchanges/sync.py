"""Exchanges kept in the database and fetched into banks: ``Exchanges(store)``.

Each exchange (StopNCII, NCMEC, ThreatExchange, TAT) fills a bank of its own, incrementally from
the checkpoint stored with it. Pages are fetched outside any transaction, then written a batch at
a time: one write transaction imports the batch's hashes, withdraws what its deletions name
(entries no other record's key lists: ``Banks.withdraw_sources``) and stores the batch's last
checkpoint, so a page that fails (refused credential, malformed page, no answer) changes nothing
and what earlier batches brought stays; the next fetch starts from the last stored checkpoint.
A full fetch (asked for, or after a stale checkpoint) is the exception: its batches store a
marker, and its own checkpoint is stored once it has ended and withdrawn what the exchange no
longer lists, so that one stopped or failed half way is full again next time.

The credential is read at fetch time from the file or environment variable the exchange names;
the database holds only that reference. Error texts are built by ``fetch_error_text``, which
blanks the credential out, and an error is raised ``from None``: a log that prints the chain
could otherwise quote a library's message holding the secret.

One process of a deployment fetches an exchange at a time: a fetch first takes the exchange's
lease (a row update, so it holds across servers sharing one PostgreSQL), renews it with each
batch and gives it back when done.
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from rempart.errors import (
    BankError,
    ExchangeConfigError,
    ExchangeError,
    ExchangeFetchError,
    UnknownExchangeError,
)
from rempart.exchanges.clients import (
    EXCHANGE_TYPES,
    FetchedSignal,
    blank_secrets,
    check_config,
    checkpoint_from_json,
    credential_parts,
    fetch_error_text,
    make_api,
)
from rempart.exchanges.reader import (
    ReaderError,
    hiding_credentials,
    read_pages,
)
from rempart.hashing.hash256 import lower_hex
from rempart.matching.banks import Banks
from rempart.matching.banks.bank import MAX_SOURCE_REF
from rempart.matching.banks.formats import IMAGE, PYTX_KINDS, Record, Skipped, check_digest
from rempart.matching.formats import BankCategory, HashListFormat
from rempart.store import Store, as_utc, utc_now
from rempart.store.schema import bank_entries, banks, exchanges
from rempart.workers import fewer_collections

__all__ = [
    "BATCH_SIGNALS",
    "LEASE_S",
    "STOPPED",
    "Exchange",
    "Exchanges",
    "FetchReport",
]

BATCH_SIGNALS: Final = 100_000
"""Signals written in one transaction at most: pages are gathered up to this many (or for
``BATCH_S``), so that a list of a million is about ten commits, not one per page."""
BATCH_S: Final = 5.0
"""Seconds of fetching gathered at most before they are written."""
LEASE_S: Final = 600
"""How long a fetch's lease holds without renewal: a fetcher that died is replaced after it."""
STOPPED: Final = "stopped before the end; the next fetch goes on"
"""The ``last_error`` of a fetch stopped (server shutdown, Ctrl-C) before its last page: not a
success, nor the exchange's failure (``Exchange.state`` says ``stopped``)."""
_UNFINISHED: Final = MappingProxyType({"rempart": "full fetch unfinished"})
"""The checkpoint a full fetch's batches store: only once it ends is the exchange's own stored
(``_finish``), so that a full fetch stopped or failed half way is full again next time and the
withdrawal of what the exchange no longer lists is not skipped."""
WITHDRAWN_AT_SOURCE: Final = "withdrawn at source"
"""The reason stamped on an entry an exchange deleted (``Banks.import_records``'s own)."""

_log = logging.getLogger(__name__)
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")


@dataclass(frozen=True, slots=True)
class Exchange:
    """An exchange as stored: where it is, which bank it fills, where its credential is read
    from (never the credential), and how its fetches went."""

    name: str
    type: str
    bank: str
    options: Mapping[str, str]
    url: str | None
    credentials_file: str | None
    credentials_env: str | None
    enabled: bool
    created_at: datetime
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    fetched: int
    added: int
    withdrawn: int
    skipped: int
    entries: int
    checkpoint: Mapping[str, Any] | None = None
    fetching: bool = False
    """A fetch holds the lease now (here or in another process)."""

    @property
    def state(self) -> str:
        """``never`` fetched, ``ok`` (the last fetch succeeded), ``stopped`` (before its end,
        by a shutdown), ``failing`` or ``disabled``."""
        if not self.enabled:
            return "disabled"
        if self.last_attempt_at is None:
            return "never"
        if self.last_error == STOPPED:
            return "stopped"
        return "failing" if self.last_error is not None else "ok"

    def to_json(self) -> dict[str, Any]:
        """The exchange as a JSON-ready dict (the credential's reference, not the credential)."""
        return {
            "name": self.name,
            "type": self.type,
            "bank": self.bank,
            "state": self.state,
            "enabled": self.enabled,
            "url": self.url,
            "options": dict(self.options),
            "credentials": _reference(self.credentials_file, self.credentials_env),
            "entries": self.entries,
            "fetched": self.fetched,
            "added": self.added,
            "withdrawn": self.withdrawn,
            "skipped": self.skipped,
            "last_attempt_at": _iso(self.last_attempt_at),
            "last_success_at": _iso(self.last_success_at),
            "last_error": self.last_error,
            "fetching": self.fetching,
            "created_at": _iso(self.created_at),
        }


@dataclass(slots=True)
class FetchReport:
    """What one fetch did (so far, when handed to a progress callback): pages read, signals
    received, entries added, already there, withdrawn, and signals skipped by reason."""

    exchange: str
    bank: str
    full: bool = False
    pages: int = 0
    fetched: int = 0
    added: int = 0
    already_present: int = 0
    withdrawn: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    seconds: float = 0.0
    stopped: bool = False
    """The fetch was stopped before its last page (what it read is kept)."""

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "exchange": self.exchange,
            "bank": self.bank,
            "full": self.full,
            "pages": self.pages,
            "fetched": self.fetched,
            "added": self.added,
            "already_present": self.already_present,
            "withdrawn": self.withdrawn,
            "skipped": dict(self.skipped),
            "entries": self.entries,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
        }


Progress = Callable[[FetchReport], None]


class Exchanges:
    """Add, list, fetch and remove exchanges. ``environ``: where ``credentials_env`` names are
    looked up (the process's environment by default)."""

    def __init__(self, store: Store, *, environ: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.banks = Banks(store)
        self.environ = os.environ if environ is None else environ
        # Who holds a lease: unique to this object, readable in status.
        self.owner = f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def add(
        self,
        name: str,
        exchange_type: str,
        *,
        credentials_file: str | Path | None = None,
        credentials_env: str | None = None,
        bank: str | None = None,
        category: BankCategory | str | None = None,
        url: str | None = None,
        options: Mapping[str, str] = MappingProxyType({}),
        enabled: bool = True,
    ) -> Exchange:
        """Configure an exchange that fills ``bank`` (default: a new bank named ``name``, of
        the exchange's category). Exactly one of ``credentials_file`` (a path, stored
        absolute) and ``credentials_env`` (a variable's name) says where the credential is
        read at each fetch; neither is read now."""
        kind = _check_new(name, exchange_type, options, url)
        file_ref, env_ref = _check_credentials(credentials_file, credentials_env)
        bank_name = bank or name
        with self.store.write() as connection:
            taken = connection.execute(
                select(exchanges.c.id).where(exchanges.c.name == name)
            ).first()
            if taken is not None:
                raise ExchangeError(f"an exchange named {name!r} exists already")
            bank_id = self._bank_for(connection, bank_name, kind.name, category or kind.category)
            try:
                connection.execute(
                    insert(exchanges).values(
                        name=name,
                        type=kind.name,
                        bank_id=bank_id,
                        options=json.dumps(dict(options), sort_keys=True),
                        url=url,
                        credentials_file=file_ref,
                        credentials_env=env_ref,
                        enabled=enabled,
                        created_at=utc_now(),
                    )
                )
            except IntegrityError:
                raise ExchangeError(f"an exchange named {name!r} exists already") from None
        return self.get(name)

    def _bank_for(
        self, connection: Connection, name: str, source: str, category: BankCategory | str
    ) -> int:
        """The id of bank ``name``, created when there is none; refused when another exchange
        fills it (two checkpoints would withdraw each other's entries)."""
        row = connection.execute(select(banks.c.id).where(banks.c.name == name)).first()
        if row is None:
            return self.banks.create(
                name,
                description=f"fetched from {EXCHANGE_TYPES[source].title}",
                source=source,
                category=category,
                connection=connection,
            ).id
        taken = connection.execute(
            select(exchanges.c.name).where(exchanges.c.bank_id == row.id)
        ).scalar()
        if taken is not None:
            raise ExchangeError(f"bank {name!r} is filled by exchange {taken!r}; give another")
        return int(row.id)

    def list(self) -> list[Exchange]:
        """Every exchange, by name."""
        with self.store.read() as connection:
            rows = connection.execute(_query().order_by(exchanges.c.name)).mappings().all()
        return [_to_exchange(row) for row in rows]

    def get(self, name: str) -> Exchange:
        """The exchange called ``name``; ``UnknownExchangeError`` when there is none."""
        with self.store.read() as connection:
            row = connection.execute(_query().where(exchanges.c.name == name)).mappings().first()
        if row is None:
            raise UnknownExchangeError(f"no exchange named {name!r} (see rempart exchange list)")
        return _to_exchange(row)

    def status(self, name: str | None = None) -> builtins.list[Exchange]:
        """The exchange ``name``, or all of them: how their last fetches went."""
        return [self.get(name)] if name is not None else self.list()

    def set_enabled(self, name: str, enabled: bool) -> Exchange:
        """Switch scheduled fetching of ``name`` on or off (its bank still matches)."""
        with self.store.write() as connection:
            done = connection.execute(
                update(exchanges).where(exchanges.c.name == name).values(enabled=enabled)
            )
        if not done.rowcount:
            self.get(name)  # raises UnknownExchangeError
        return self.get(name)

    def remove(self, name: str, *, keep_bank: bool = False) -> Exchange:
        """Forget the exchange. Its bank's entries stay on record (entries are never deleted);
        unless ``keep_bank``, the bank is disabled, so that nobody matches against a list no
        longer kept current."""
        exchange = self.get(name)
        with self.store.write() as connection:
            connection.execute(delete(exchanges).where(exchanges.c.name == name))
        if not keep_bank:
            self.banks.update(exchange.bank, enabled=False)
        return exchange

    def fetch(
        self,
        name: str,
        *,
        full: bool = False,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> FetchReport:
        """Fetch what changed since the stored checkpoint (``full``: everything, then withdraw
        what the exchange no longer lists) into the exchange's bank. A full fetch is also made
        when the stored checkpoint is stale or a full fetch did not end.

        Raises ``ExchangeFetchError`` (after recording why, for ``status``) when a page could
        not be fetched or read; what earlier batches brought stays. ``ExchangeError`` when
        another process is fetching it now. ``stop`` set: the fetch ends within a second,
        ``report.stopped`` (and ``STOPPED`` in ``status``), keeping what it read.
        """
        exchange = self.get(name)
        self._claim(exchange, due_before=None)
        return self._fetch_claimed(exchange, full=full, progress=progress, stop=stop)

    def release(self) -> int:
        """Give back the leases this object holds (at shutdown, when a fetch did not end in
        time): another process may fetch those exchanges at once. Returns how many."""
        with self.store.write() as connection:
            return int(
                connection.execute(
                    update(exchanges)
                    .where(exchanges.c.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None)
                ).rowcount
            )

    def fetch_due(
        self,
        interval_s: float,
        *,
        on_done: Callable[[str, FetchReport | None], None] | None = None,
        stop: threading.Event | None = None,
    ) -> builtins.list[str]:
        """Fetch every enabled exchange not attempted for ``interval_s`` seconds and not being
        fetched elsewhere (what ``rempart serve``'s schedule runs). ``on_done(name, report)``
        after each, ``report`` None when it failed (its reason is in ``status``); ``stop``
        set: the fetch under way ends after its page (what was read is kept). Returns the
        names fetched."""
        done: list[str] = []
        for exchange in self.list():
            if not exchange.enabled or (stop is not None and stop.is_set()):
                continue
            due_before = utc_now() - timedelta(seconds=interval_s)
            if not self._claim(exchange, due_before=due_before, quiet=True):
                continue
            done.append(exchange.name)
            try:
                report: FetchReport | None = self._fetch_claimed(exchange, full=False, stop=stop)
            except ExchangeError:
                report = None
            if on_done is not None:
                on_done(exchange.name, report)
        return done

    # Fetching.

    def _claim(
        self, exchange: Exchange, *, due_before: datetime | None, quiet: bool = False
    ) -> bool:
        """Take ``exchange``'s lease (and stamp the attempt): False, or ``ExchangeError``
        unless ``quiet``, when another holds it or (``due_before``) it was tried since."""
        now = utc_now()
        free = or_(
            exchanges.c.lease_until.is_(None),
            exchanges.c.lease_until < now,
            exchanges.c.lease_owner == self.owner,
        )
        if due_before is not None:
            free = and_(
                free,
                exchanges.c.enabled.is_(True),
                or_(
                    exchanges.c.last_attempt_at.is_(None),
                    exchanges.c.last_attempt_at <= due_before,
                ),
            )
        with self.store.write() as connection:
            claimed = connection.execute(
                update(exchanges)
                .where(exchanges.c.name == exchange.name, free)
                .values(
                    lease_owner=self.owner,
                    lease_until=now + timedelta(seconds=LEASE_S),
                    last_attempt_at=now,
                )
            ).rowcount
        if claimed or quiet:
            return bool(claimed)
        raise ExchangeError(
            f"exchange {exchange.name!r} is being fetched by another process; try again later"
        )

    def _fetch_claimed(
        self,
        exchange: Exchange,
        *,
        full: bool,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> FetchReport:
        started = time.monotonic()
        report = FetchReport(exchange.name, exchange.bank, full=full)
        credentials = ""
        hidden = ExitStack()
        try:
            credentials = self._credentials(exchange)
            hidden.enter_context(hiding_credentials(credentials, exchange.type))
            hidden.enter_context(fewer_collections())
            api = make_api(exchange.type, credentials, url=exchange.url, options=exchange.options)
            checkpoint = _start_checkpoint(api, exchange, report)
            seen: set[str] | None = set() if report.full else None
            batch = _Batch()
            last = checkpoint  # the last checkpoint an exchange's page gave
            pages = hidden.enter_context(
                read_pages(
                    exchange.type,
                    credentials,
                    url=exchange.url,
                    options=exchange.options,
                    checkpoint=checkpoint,
                    stop=stop,
                )
            )
            # Left before the outcome is recorded: a write under way ends first.
            write = partial(self._write, exchange, report, seen)
            with _Writer(write, threaded=self.store.threads_share) as writer:
                for signals, page_checkpoint in pages:
                    last = page_checkpoint if page_checkpoint is not None else last
                    # A full fetch stores the exchange's checkpoint only at its end (_finish);
                    # a page with none yet (TAT's empty first page) is marked so too.
                    held = _UNFINISHED if report.full or last is None else last
                    batch.add(signals, dict(held))
                    report.pages += 1
                    if stop is not None and stop.is_set():
                        break  # what was read is written; the next fetch goes on
                    if batch.full():
                        writer.write(batch)
                        batch = _Batch()
                    if progress is not None:
                        progress(report)
                writer.write(batch)
            report.stopped = stop is not None and stop.is_set()
            if seen is not None and not report.stopped:
                report.withdrawn += self._withdraw_unseen(exchange, seen)
        except Exception as exc:
            reason = _reason(exc, credentials, exchange.type)
            self._finish(exchange, report, error=reason)
            raise ExchangeFetchError(f"exchange {exchange.name!r}: {reason}") from None
        except BaseException:  # interrupted: the lease goes back, the next fetch resumes
            self._finish(exchange, report, error=STOPPED)
            raise
        finally:
            hidden.close()
        report.seconds = time.monotonic() - started
        if report.stopped:
            self._finish(exchange, report, error=STOPPED)
        else:
            self._finish(exchange, report, error=None, checkpoint=last)
        if progress is not None:
            progress(report)
        return report

    def _credentials(self, exchange: Exchange) -> str:
        """The credential, read now from the file or variable the exchange names."""
        if exchange.credentials_env is not None:
            value = self.environ.get(exchange.credentials_env, "")
            if not value.strip():
                raise ExchangeError(
                    f"the environment variable {exchange.credentials_env} (the credential) "
                    "is not set"
                )
            return value.strip()
        path = Path(exchange.credentials_file or "")
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ExchangeError(f"cannot read the credential file {path}: {why}") from None
        if not value:
            raise ExchangeError(f"the credential file {path} is empty")
        return value

    def _write(
        self, exchange: Exchange, report: FetchReport, seen: set[str] | None, batch: _Batch
    ) -> None:
        """One transaction: the batch's hashes in (each record's set replacing what it listed
        before), its deletions withdrawn, its checkpoint stored; nothing of it when any step
        fails. No import is recorded for a page that listed no hash."""
        if batch.checkpoint is None:
            return
        listed, skipped, gone = batch.records
        if seen is not None:
            seen.update(batch.latest)
        now = utc_now()
        with self.store.write() as connection:
            holder = connection.execute(
                select(exchanges.c.lease_owner).where(exchanges.c.name == exchange.name)
            ).scalar()
            if holder != self.owner:
                raise ExchangeError("the fetch lost its lease (the exchange was removed?)")
            # Listed again after a deletion at source, an entry matches again (entries a
            # moderator withdrew, for another reason, stay withdrawn); one that no record
            # lists any more, after an update or a deletion, stops matching.
            sourced = self.banks.import_sources(
                exchange.bank,
                listed,
                origin=f"exchange {exchange.name}",
                fmt=HashListFormat.PYTX,
                reason=WITHDRAWN_AT_SOURCE,
                keys_name_hashes=EXCHANGE_TYPES[exchange.type].keys_name_hashes,
                connection=connection,
            )
            withdrawn = sourced.withdrawn + self.banks.withdraw_sources(
                exchange.bank, gone, reason=WITHDRAWN_AT_SOURCE, connection=connection
            )
            imported = sourced.imported
            added = 0 if imported is None else imported.added
            stored = connection.execute(
                update(exchanges)
                # The lease again: a shutdown may have given it back meanwhile.
                .where(exchanges.c.name == exchange.name, exchanges.c.lease_owner == self.owner)
                .values(
                    checkpoint=json.dumps(batch.checkpoint),
                    lease_until=now + timedelta(seconds=LEASE_S),
                    fetched=exchanges.c.fetched + batch.signals,
                    added=exchanges.c.added + added,
                    withdrawn=exchanges.c.withdrawn + withdrawn,
                    skipped=exchanges.c.skipped + sum(skipped.values()),
                )
            )
            if stored.rowcount != 1:
                raise ExchangeError("the fetch lost its lease (the exchange was removed?)")
        report.fetched += batch.signals
        report.added += added
        if imported is not None:
            report.already_present += imported.already_present + imported.already_withdrawn
        report.withdrawn += withdrawn
        report.skipped = dict(Counter(report.skipped) + skipped)

    def _withdraw_unseen(self, exchange: Exchange, seen: set[str]) -> int:
        """After a full fetch: withdraw what the records the exchange no longer lists brought
        (their deletions may have been dropped while this deployment did not fetch). Entries
        no record of an exchange brought (imported by hand into the bank) stay."""
        listed = {key[:MAX_SOURCE_REF] for key in seen}
        with self.store.write() as connection:
            keys = self.banks.source_keys(exchange.bank, connection=connection)
            gone = sorted(keys - listed)
            return self.banks.withdraw_sources(
                exchange.bank, gone, reason=WITHDRAWN_AT_SOURCE, connection=connection
            )

    def _finish(
        self,
        exchange: Exchange,
        report: FetchReport,
        *,
        error: str | None,
        checkpoint: Mapping[str, Any] | None = None,
    ) -> None:
        """Give the lease back and record the outcome (and the bank's active entries); a fetch
        that ended (``error`` None) stores ``checkpoint``, its last (None: none yet)."""
        now = utc_now()
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error}
        if error is None:
            values["last_success_at"] = now
            values["checkpoint"] = None if checkpoint is None else json.dumps(checkpoint)
        with self.store.write() as connection:
            bank_id = connection.execute(
                select(banks.c.id).where(banks.c.name == exchange.bank)
            ).scalar()
            if bank_id is not None:
                report.entries = int(
                    connection.execute(
                        select(func.count()).where(
                            bank_entries.c.bank_id == bank_id,
                            bank_entries.c.withdrawn_at.is_(None),
                        )
                    ).scalar_one()
                )
                values["entries"] = report.entries
            connection.execute(
                update(exchanges)
                .where(exchanges.c.name == exchange.name, exchanges.c.lease_owner == self.owner)
                .values(**values)
            )


class _Writer:
    """Writes batches on a thread of its own, one at a time, while the next is gathered: the
    database does its part without the GIL, so reading pages and writing overlap. A write's
    failure is raised by the next ``write``, or on leaving the block; leaving it on another
    failure waits for the write under way (logging its own failure, if any) and raises that
    other failure. Not ``threaded`` (an in-memory database, which each thread sees empty):
    each write is made by ``write`` itself."""

    def __init__(self, write: Callable[[_Batch], None], *, threaded: bool) -> None:
        self._write = write
        self._pool = (
            ThreadPoolExecutor(1, thread_name_prefix="rempart-exchange-write") if threaded else None
        )
        self._pending: Future[None] | None = None

    def write(self, batch: _Batch) -> None:
        """Write ``batch`` once the write before it has ended (raising its failure). Its
        records are made first, here, while that write runs (mostly without the GIL)."""
        batch.records  # noqa: B018 - made now, on this thread
        if self._pool is None:
            self._write(batch)
            return
        self._wait()
        self._pending = self._pool.submit(self._write, batch)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if self._pool is None:
            return
        try:
            self._wait()
        except Exception as exc:
            if exc_type is None:
                raise
            _log.warning("a batch's write failed too, after the fetch had: %s", exc)
        finally:
            self._pool.shutdown(wait=True)


class _Batch:
    """Pages gathered before a write: the last update of each key (a later page replaces an
    earlier one's), the last checkpoint (JSON), and how many signals came."""

    def __init__(self) -> None:
        self.latest: dict[str, list[FetchedSignal]] = {}
        self.checkpoint: Any = None
        self.signals = 0
        self.started = time.monotonic()

    def add(self, signals: Iterable[FetchedSignal], checkpoint: Any) -> None:
        page: dict[str, list[FetchedSignal]] = {}
        for signal in signals:
            page.setdefault(signal.key, []).append(signal)
            self.signals += 1
        for key, group in page.items():
            self.latest.pop(key, None)  # re-inserted last: applied in the order it came
            self.latest[key] = group
        self.checkpoint = checkpoint

    def full(self) -> bool:
        return self.signals >= BATCH_SIGNALS or time.monotonic() - self.started >= BATCH_S

    @cached_property
    def records(self) -> tuple[dict[str, list[Record]], Counter[str], list[str]]:
        """What ``_records`` makes of the batch (once it is complete)."""
        return _records(self.latest)


def _records(
    latest: Mapping[str, Sequence[FetchedSignal]],
) -> tuple[dict[str, list[Record]], Counter[str], list[str]]:
    """The batch as each listed key's whole set of bank records (PDQ hashes and exact
    digests; an update replaces a key's earlier set), the signals skipped by reason, and the
    keys whose records the exchange deleted."""
    listed: dict[str, list[Record]] = {}
    skipped: Counter[str] = Counter()
    gone: list[str] = []
    line = 0
    for key, group in latest.items():
        kept = [signal for signal in group if not signal.withdrawn]
        if not kept:
            gone.append(key)
            continue
        records = listed[key] = []
        for signal in kept:
            line += 1
            record = _record(line, signal)
            if isinstance(record, Skipped):
                skipped[record.reason] += 1
            else:
                records.append(record)
    return listed, skipped, gone


def _record(line: int, signal: FetchedSignal) -> Record | Skipped:
    """One signal as a bank record (its kind by ``PYTX_KINDS``), or why it is not banked."""
    kind = PYTX_KINDS.get(signal.signal_type)
    if kind is None:
        return Skipped(line, signal.signal_type or "unknown")
    if kind == IMAGE:
        value = lower_hex(signal.value)
        if value is None:
            return Skipped(line, "invalid pdq")
    else:
        try:
            value = check_digest(kind, signal.value)
        except (ValueError, BankError):
            return Skipped(line, f"invalid {kind}")
    return Record(line, value, kind=kind, source_ref=signal.key[:MAX_SOURCE_REF])


def _start_checkpoint(api: Any, exchange: Exchange, report: FetchReport) -> Any:
    """The stored checkpoint the fetch starts from, or None (and ``report.full``) when it is
    full: asked for, the stored one stale (its deletions are gone) or a full one unfinished."""
    stored = exchange.checkpoint
    if report.full or stored == _UNFINISHED:
        report.full = True
        return None
    if stored is not None and checkpoint_from_json(api, stored).is_stale():
        report.full = True
        return None
    return stored


def _reason(exc: BaseException, credentials: str, exchange_type: str) -> str:
    """Why a fetch failed, in one line without the credential."""
    if isinstance(exc, (ExchangeError, ExchangeConfigError, BankError, ReaderError)):
        return blank_secrets(str(exc), credential_parts(credentials, exchange_type))[:500]
    return fetch_error_text(exc, credentials, exchange_type)


def _check_new(name: str, exchange_type: str, options: Mapping[str, str], url: str | None) -> Any:
    """The exchange type, after checking the name, and the options and URL as ``make_api``
    does (``check_config``)."""
    if not _NAME.fullmatch(name):
        raise ExchangeError(
            f"invalid exchange name {name!r}: letters, digits, '_', '.', '-', up to 64"
        )
    return check_config(exchange_type, url=url, options=options)


def _check_credentials(
    credentials_file: str | Path | None, credentials_env: str | None
) -> tuple[str | None, str | None]:
    """The credential's reference: an absolute file path or a variable's name, not both."""
    if (credentials_file is None) == (credentials_env is None):
        raise ExchangeError(
            "give where the credential is read from: a file (--credentials-file) or an "
            "environment variable (--credentials-env), one of them"
        )
    if credentials_env is not None:
        if not _ENV_NAME.fullmatch(credentials_env):
            raise ExchangeError(f"invalid environment variable name {credentials_env[:80]!r}")
        if credentials_env.upper().startswith("REMPART_"):
            # The server's own settings (its database URL...) would be sent to the exchange.
            raise ExchangeError(
                f"the credential's variable {credentials_env} is one of Rempart's settings "
                "(REMPART_*): give a variable of its own"
            )
        return None, credentials_env
    path = str(Path(credentials_file or "").expanduser().absolute())
    if len(path) > 1024:
        raise ExchangeError("the credential file's path is over 1024 characters")
    return path, None


def _query() -> Any:
    return select(exchanges, banks.c.name.label("bank_name")).join(
        banks, banks.c.id == exchanges.c.bank_id
    )


def _to_exchange(row: Any) -> Exchange:
    lease_until = row["lease_until"]
    fetching = lease_until is not None and as_utc(lease_until) > utc_now()
    return Exchange(
        name=row["name"],
        type=row["type"],
        bank=row["bank_name"],
        options=MappingProxyType(json.loads(row["options"] or "{}")),
        url=row["url"],
        credentials_file=row["credentials_file"],
        credentials_env=row["credentials_env"],
        enabled=bool(row["enabled"]),
        created_at=as_utc(row["created_at"]),
        last_attempt_at=_utc(row["last_attempt_at"]),
        last_success_at=_utc(row["last_success_at"]),
        last_error=row["last_error"],
        fetched=int(row["fetched"]),
        added=int(row["added"]),
        withdrawn=int(row["withdrawn"]),
        skipped=int(row["skipped"]),
        entries=int(row["entries"]),
        checkpoint=json.loads(row["checkpoint"]) if row["checkpoint"] else None,
        fetching=fetching,
    )


def _reference(credentials_file: str | None, credentials_env: str | None) -> str:
    return f"file:{credentials_file}" if credentials_file else f"env:{credentials_env}"


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
