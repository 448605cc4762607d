"""What one server worker holds: the ``Runtime`` (store, policy, detectors, match index, gate,
scanner, and what keeps them current) and what only HTTP needs beside it: the API keys and
their authenticator, the audit writer, the batcher of match requests, the budget of pixels
being decoded, and the desk when it is on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rempart.access.audit import AuditWriter
from rempart.access.keys import ApiKeys
from rempart.runtime import Runtime
from rempart.server import metrics
from rempart.server.auth import Authenticator
from rempart.server.batching import MatchBatcher
from rempart.server.budget import DecodeBudget

if TYPE_CHECKING:
    from rempart.desk import Desk
    from rempart.desk.evidence import Evidence
    from rempart.desk.news import News
    from rempart.desk.notices import Notices
    from rempart.desk.recheck import Rechecker
    from rempart.desk.tasks import DeskTasks
    from rempart.exchanges.schedule import ExchangeSchedule
    from rempart.exchanges.sync import Exchange, FetchReport
    from rempart.store import Store

__all__ = ["Services"]

_LOG = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler uses, built once per worker around its runtime.

    ``desk``: the desk's cases, when the desk is on, that is when its key file exists
    (``rempart serve --desk`` refuses to start without one); None otherwise, and ``/v1/cases``
    answers 503 ``desk-unavailable``. ``notices``: the notices to platforms of the desk's
    cases, on when the desk is (``/v1/notices`` and ``/v1/platforms`` likewise answer 503).
    ``news``: the victims' news addresses and reset links, on when the desk is.
    ``evidence`` and ``rechecker``: captures and removal checks, on when the desk is.
    ``serve_desk``: this worker serves the desk's pages (``rempart serve --desk``), so it also
    runs the desk's background tasks (``tasks``: removal checks and retention's purges, one
    worker per data folder at a time). ``exchanges``: the exchanges fetched on a schedule
    (``REMPART_EXCHANGE_INTERVAL``; one process of the deployment fetches each), None when
    the interval is 0.
    """

    runtime: Runtime
    workers: int = 1
    serve_desk: bool = False
    desk: Desk | None = field(init=False, default=None)
    notices: Notices | None = field(init=False, default=None)
    news: News | None = field(init=False, default=None)
    evidence: Evidence | None = field(init=False, default=None)
    rechecker: Rechecker | None = field(init=False, default=None)
    tasks: DeskTasks | None = field(init=False, default=None)
    exchanges: ExchangeSchedule | None = field(init=False, default=None)
    keys: ApiKeys = field(init=False)
    auth: Authenticator = field(init=False)
    audit: AuditWriter = field(init=False)
    budget: DecodeBudget = field(init=False)
    _batcher: MatchBatcher | None = None

    def __post_init__(self) -> None:
        self.keys = ApiKeys(self.runtime.store)
        self.auth = Authenticator(
            self.keys, default_rate=self.runtime.settings.api_rate_limit, workers=self.workers
        )
        self.audit = AuditWriter(self.runtime.store)
        settings = self.runtime.settings
        self.budget = DecodeBudget(
            settings.api_decode_pixels,
            wait=settings.api_decode_wait,
            lock=settings.data_dir / "run" / "decode.lock",
        )
        if settings.desk_key_file is not None and settings.desk_key_file.exists():
            from rempart.desk import Desk  # the desk extra: only where the desk is on
            from rempart.desk.evidence import Evidence
            from rempart.desk.news import News
            from rempart.desk.notices import Notices
            from rempart.desk.recheck import Rechecker
            from rempart.desk.tasks import DeskTasks

            self.desk = Desk.from_settings(settings, self.runtime.store)
            self.news = News.from_settings(settings, self.desk)
            # A victim with a news address hears that a notice was sent or answered.
            self.notices = Notices.from_settings(settings, self.desk, on_news=self.news.notify)
            self.evidence = Evidence.from_settings(settings, self.desk)
            self.rechecker = Rechecker.from_settings(settings, self.desk)
            if self.serve_desk:
                self.tasks = DeskTasks.from_settings(
                    settings, rechecker=self.rechecker, evidence=self.evidence
                )
        if settings.exchange_interval > 0:
            self.exchanges = exchange_schedule(self.runtime.store, settings.exchange_interval)
        self.runtime.also_follow(self.auth.reload)
        self.runtime.also_follow(self.measure_index)

    @property
    def batcher(self) -> MatchBatcher:
        """The match index, searched a batch of requests at a time; ``NotReadyError`` while it
        loads."""
        if self._batcher is None:
            self._batcher = MatchBatcher(self.runtime.require_matcher())
        return self._batcher

    def start(self) -> None:
        """Start the runtime: the match index loads, the database is followed; the desk's
        background tasks where this worker serves the desk; the exchanges' schedule."""
        self.runtime.start()
        if self.tasks is not None:
            self.tasks.start()
        if self.exchanges is not None:
            self.exchanges.start()

    def close(self) -> None:
        """Stop the desk's tasks and the exchanges' schedule, commit the audit queue, then stop
        the runtime."""
        if self.tasks is not None:
            self.tasks.close()
        if self.exchanges is not None:
            self.exchanges.close()
        self.audit.close()
        self.runtime.close()

    def measure_index(self) -> None:
        """Set the match index's gauges: its hashes, the change-log entry it applied, and how
        many logged changes it has yet to apply (all of them while it loads). One look-up of
        the log's newest entry, each time the database is followed."""
        newest = self.runtime.banks.changes()
        matcher = self.runtime.matcher
        applied = matcher.seq if matcher is not None else 0
        if matcher is not None:
            metrics.INDEX_HASHES.set(len(matcher))
        metrics.BANK_LOG_APPLIED.set(applied)
        metrics.BANK_LOG_LAG.set(max(0, newest - applied))


def exchange_schedule(store: Store, interval_s: int) -> ExchangeSchedule | None:
    """The exchanges' schedule, with this worker's metrics; None without the ``exchanges``
    extra (python-threatexchange), which a server that fetches nothing need not install."""
    try:
        from rempart.exchanges.schedule import ExchangeSchedule
        from rempart.exchanges.sync import Exchanges
    except ImportError:
        _LOG.info("no scheduled exchange fetches: the 'exchanges' extra is not installed")
        return None
    return ExchangeSchedule(
        Exchanges(store), interval_s, on_fetch=count_fetch, measure=measure_exchanges
    )


_MEASURED: set[str] = set()  # the exchanges this worker's gauges have a series for


def count_fetch(name: str, report: FetchReport | None) -> None:
    """Count a fetch this worker made, by outcome."""
    outcome = "failure" if report is None else "stopped" if report.stopped else "success"
    metrics.EXCHANGE_FETCHES.labels(exchange=name, outcome=outcome).inc()


def measure_exchanges(exchanges: Sequence[Exchange]) -> None:
    """Set the exchanges' gauges from their state in the database, so that every worker
    reports the same whichever fetched; the series of removed exchanges go. ``failing`` is
    the database's state too, so that it says a fetch failed whichever process made it."""
    names = {exchange.name for exchange in exchanges}
    for gone in _MEASURED - names:
        for gauge in (
            metrics.EXCHANGE_LAST_SUCCESS,
            metrics.EXCHANGE_ENTRIES,
            metrics.EXCHANGE_FAILING,
        ):
            with suppress(KeyError):  # never set (no success yet)
                gauge.remove(gone)
    _MEASURED.intersection_update(names)
    _MEASURED.update(names)
    for exchange in exchanges:
        if exchange.last_success_at is not None:
            metrics.EXCHANGE_LAST_SUCCESS.labels(exchange=exchange.name).set(
                exchange.last_success_at.timestamp()
            )
        metrics.EXCHANGE_ENTRIES.labels(exchange=exchange.name).set(exchange.entries)
        # A fetch stopped by a shutdown is not a failure: the next one goes on.
        failing = exchange.state == "failing"
        metrics.EXCHANGE_FAILING.labels(exchange=exchange.name).set(1 if failing else 0)
