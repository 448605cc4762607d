"""Prometheus metrics: requests by route and status, latency, verdicts, the match index, how far
it is behind the bank change log, the decode budget's queue, and the exchanges' fetches.

With several workers, ``rempart serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before they start, and ``/metrics`` sums what every worker recorded (a gauge says how: the
index's size and lag are the worst worker's, the decode queue the workers' sum).

Every label has a bounded set of values, whatever clients send: the route is the route's
template (``/v1/banks/{name}``), never the path asked for, and a method outside HTTP's usual
ones is counted as ``other``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "BANK_LOG_APPLIED",
    "BANK_LOG_LAG",
    "CONTENT_TYPE_LATEST",
    "DECODE_OVERLOADED",
    "DECODE_PIXELS",
    "DECODE_WAITING",
    "EXCHANGE_ENTRIES",
    "EXCHANGE_FETCHES",
    "EXCHANGE_LAST_SUCCESS",
    "INDEX_HASHES",
    "LATENCY",
    "REQUESTS",
    "VERDICTS",
    "exposition",
    "forget_dead_workers",
    "method_label",
]

MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS: Final = Counter(
    "rempart_http_requests", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY: Final = Histogram(
    "rempart_http_request_duration_seconds",
    "Time from request to response.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
VERDICTS: Final = Counter(
    "rempart_verdicts", "Verdicts given, by endpoint and action.", ["endpoint", "action"]
)
INDEX_HASHES: Final = Gauge(
    "rempart_match_index_hashes",
    "Active bank hashes in this worker's match index.",
    multiprocess_mode="livemax",  # the workers alive now, not those gone
)
BANK_LOG_APPLIED: Final = Gauge(
    "rempart_bank_log_applied",
    "The last bank change-log entry (seq) this worker's match index applied; 0 while it loads.",
    multiprocess_mode="livemin",  # the worker furthest behind
)
BANK_LOG_LAG: Final = Gauge(
    "rempart_bank_log_lag",
    "Bank changes in the database's log that this worker's match index has not applied yet.",
    multiprocess_mode="livemax",  # the worker furthest behind
)
DECODE_WAITING: Final = Gauge(
    "rempart_decode_waiting",
    "Requests waiting for pixels of the decode budget (REMPART_API_DECODE_PIXELS).",
    multiprocess_mode="livesum",
)
DECODE_PIXELS: Final = Gauge(
    "rempart_decode_pixels",
    "Pixels of the decode budget held by the decodes running now.",
    multiprocess_mode="livesum",
)
DECODE_OVERLOADED: Final = Counter(
    "rempart_decode_overloaded",
    "Requests refused with 503 overloaded: no pixels of the decode budget within its wait.",
)
# Labelled by exchange name: a bounded set, which only an administrator adds to.
EXCHANGE_FETCHES: Final = Counter(
    "rempart_exchange_fetches",
    "Fetches from an exchange made by this server, by outcome (success, failure, stopped).",
    ["exchange", "outcome"],
)
EXCHANGE_LAST_SUCCESS: Final = Gauge(
    "rempart_exchange_last_success_timestamp_seconds",
    "When the exchange's last successful fetch ended (Unix time), by whichever process.",
    ["exchange"],
    multiprocess_mode="livemax",
)
EXCHANGE_ENTRIES: Final = Gauge(
    "rempart_exchange_entries",
    "Active entries in the exchange's bank after its last fetch.",
    ["exchange"],
    multiprocess_mode="livemax",
)
EXCHANGE_FAILING: Final = Gauge(
    "rempart_exchange_failing",
    "1 when the exchange's last fetch failed (its reason is in rempart exchange status), else 0.",
    ["exchange"],
    multiprocess_mode="livemax",
)

_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """``method`` as a label: one of HTTP's usual methods, else ``other`` (a client may send
    any token as a method, and each would otherwise be a new series)."""
    return method if method in _METHODS else "other"


def exposition() -> bytes:
    """The metrics in Prometheus' text format, summed over workers when there are several."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder:
        forget_dead_workers(Path(folder))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def forget_dead_workers(folder: Path) -> None:
    """Drop the gauges of workers that are gone (a worker that crashed and was replaced):
    the gauges that take the live workers' values would otherwise keep its last ones (an
    index position that no longer moves, a request still waiting)."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
