"""Exchanges fetched on a schedule, on a thread of each ``rempart serve`` worker.

Every worker of every server runs one, but an exchange's lease (``Exchanges.fetch_due``) lets
one process of the deployment fetch it at a time, and only once it is due: the others find it
taken or fetched recently and go on. Each round also hands the exchanges' state to ``measure``
(the server's gauges), so that every worker reports what the database says, whoever fetched.
Log lines name the exchange and its counts, or the stored reason, which holds no secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Final

from rempart.exchanges.sync import Exchange, Exchanges, FetchReport

__all__ = ["ExchangeSchedule"]

MAX_TICK_S: Final = 60.0
"""Longest wait between two looks at what is due."""
START_DELAY_S: Final = 30.0
"""Seconds after the worker starts before the first look (at most the interval)."""
_LOG = logging.getLogger(__name__)


class ExchangeSchedule:
    """Fetches each enabled exchange every ``interval_s`` seconds on a daemon thread.
    ``on_fetch(name, report)`` after each fetch this process made (``report`` None: it
    failed); ``measure(exchanges)`` after each round, with every exchange's state."""

    def __init__(
        self,
        exchanges: Exchanges,
        interval_s: float,
        *,
        on_fetch: Callable[[str, FetchReport | None], None] | None = None,
        measure: Callable[[Sequence[Exchange]], None] | None = None,
    ) -> None:
        self.exchanges = exchanges
        self.interval_s = interval_s
        self.on_fetch = on_fetch
        self.measure = measure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[str]:
        """One round: fetch what is due here; returns the names fetched."""
        fetched = self.exchanges.fetch_due(self.interval_s, on_done=self._done, stop=self._stop)
        if self.measure is not None:
            self.measure(self.exchanges.list())
        return fetched

    def start(self) -> None:
        """Run rounds on a thread until ``close``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exchanges", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the page under way (a fetch in progress keeps what it read; the next
        round, here or in another process, goes on from there). The fetch's lease is free
        when this returns, ended in time or not, so that the store may close."""
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():  # a write that outlasted the wait: free its lease now
            try:
                released = self.exchanges.release()
            except Exception as exc:  # the database is away: the lease lapses (LEASE_S)
                _LOG.warning("exchanges: could not give the lease back (%s)", type(exc).__name__)
            else:
                _LOG.warning(
                    "exchanges: a fetch outlasted the stop; %d lease(s) given back", released
                )

    def _run(self) -> None:
        wait = min(START_DELAY_S, self.interval_s)
        tick = min(MAX_TICK_S, self.interval_s)
        while not self._stop.wait(wait):
            try:
                self.run_once()
            except Exception as exc:  # the database is away: the next round tries again
                _LOG.warning("exchanges: a round failed (%s)", type(exc).__name__)
            wait = tick

    def _done(self, name: str, report: FetchReport | None) -> None:
        if report is None:
            reason = self.exchanges.get(name).last_error
            _LOG.warning("exchange %s: fetch failed: %s", name, reason)
        else:
            _LOG.info(
                "exchange %s: %d signals fetched, %d added, %d withdrawn, %d entries%s",
                name,
                report.fetched,
                report.added,
                report.withdrawn,
                report.entries,
                "; stopped before the end" if report.stopped else "",
            )
        if self.on_fetch is not None:
            self.on_fetch(name, report)
