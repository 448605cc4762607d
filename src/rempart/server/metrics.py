"""Prometheus metrics: requests by route and status, latency, verdicts, the match index.

With several workers, ``rempart serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder
before they start, and ``/metrics`` sums what every worker recorded.
"""

from __future__ import annotations

import os
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

__all__ = ["CONTENT_TYPE_LATEST", "INDEX_HASHES", "LATENCY", "REQUESTS", "VERDICTS", "exposition"]

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


def exposition() -> bytes:
    """The metrics in Prometheus' text format, summed over workers when there are several."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
