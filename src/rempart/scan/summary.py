"""What a scan or an audit found, in numbers: counts by action and category, errors,
throughput, and, for a random sample, each rate's 95% confidence interval.

The summary is built from the JSON records a scan writes, so a resumed scan counts what
earlier runs judged exactly as what this run judged.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from rempart.policy import CATEGORIES, Action, PolicyRef

__all__ = ["Prevalence", "ScanSummary", "Subject", "wilson_interval"]


class Subject(StrEnum):
    """What a job judges, as its summary and report name it: a scan's images, an audit's
    model files."""

    IMAGES = "images"
    MODELS = "models"

    @property
    def job(self) -> str:
        """The job's name in a title: ``scan`` or ``audit``."""
        return "scan" if self is Subject.IMAGES else "audit"

    @property
    def one(self) -> str:
        """One of them: ``image`` or ``model``."""
        return self.value.removesuffix("s")


Z_95: Final = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


def wilson_interval(
    count: int, total: int, *, population: int | None = None, z: float = Z_95
) -> tuple[float, float]:
    """The Wilson score interval for ``count`` successes in ``total`` draws (Wilson, 1927).

    For a sample drawn without replacement from a ``population`` of known size, the sample
    counts as n (N - 1) / (N - n) draws: the finite population correction of the variance,
    so that a census (n = N) has no uncertainty left.
    """
    if total <= 0:
        return 0.0, 1.0
    if not 0 <= count <= total:
        raise ValueError(f"count {count} is outside 0..{total}")
    p = count / total
    n = float(total)
    if population is not None and population > 1:
        if total >= population:
            return p, p
        n = total * (population - 1) / (population - total)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Prevalence:
    """A rate in the sample with its 95% interval, as an estimate for the population."""

    name: str
    count: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        """``count / total``."""
        return self.count / self.total if self.total else 0.0


@dataclass
class ScanSummary:
    """Running totals of a scan (or of an audit: ``subject``); ``add`` each record as it is
    written."""

    policy: PolicyRef
    population: int
    sampled: bool = False
    subject: Subject = Subject.IMAGES
    actions: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    new: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    def add(self, record: Mapping[str, Any], *, new: bool = True) -> None:
        """Count one record (``new``: judged by this run, rather than by one resumed)."""
        self.new += new
        if "error" in record:
            self.errors[record["error"].get("code", "error")] += 1
            return
        verdict = record["verdict"]
        self.actions[verdict["action"]] += 1
        self.categories.update(category["name"] for category in verdict["categories"])

    def finish(self) -> None:
        """Stop the clock."""
        self.finished = time.perf_counter()

    @property
    def judged(self) -> int:
        """Files that got a verdict."""
        return sum(self.actions.values())

    @property
    def flagged(self) -> int:
        """Files sent to review or blocked."""
        return self.judged - self.actions[Action.ALLOW.value]

    @property
    def failed(self) -> int:
        """Files that could not be read."""
        return sum(self.errors.values())

    @property
    def elapsed(self) -> float:
        """Seconds this run took."""
        return (self.finished or time.perf_counter()) - self.started

    @property
    def rate(self) -> float:
        """Files this run processed per second."""
        return self.new / self.elapsed if self.elapsed > 0 else 0.0

    def prevalence(self) -> list[Prevalence]:
        """Each action beyond allow and each category, as a share of the judged files, with
        its 95% interval (finite-population corrected when the scan was a sample)."""
        population = self.population if self.sampled else None
        names = [(f"action: {a.value}", self.actions[a.value]) for a in Action if a.severity]
        names += [(name, self.categories[name]) for name in self.category_names()]
        return [
            Prevalence(
                name,
                count,
                self.judged,
                *wilson_interval(count, self.judged, population=population),
            )
            for name, count in names
        ]

    def category_names(self) -> list[str]:
        """The categories seen, in the order ``CATEGORIES`` lists them."""
        return [name for name in CATEGORIES if self.categories[name]]
