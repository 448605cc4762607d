"""The scan summary's arithmetic: Wilson intervals and counts from records."""

from __future__ import annotations

import pytest

from rempart.policy import load_policy
from rempart.scan import ScanSummary, wilson_interval


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table I: 81/263 -> 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(0, 20)
    assert low == 0.0
    assert high == pytest.approx(0.1611, abs=1e-4)
    assert wilson_interval(20, 20)[1] == 1.0


def test_the_finite_population_correction_narrows_and_vanishes_for_a_census() -> None:
    wide = wilson_interval(5, 100)
    narrow = wilson_interval(5, 100, population=200)
    assert narrow[0] > wide[0]
    assert narrow[1] < wide[1]
    assert wilson_interval(5, 100, population=100) == (0.05, 0.05)
    assert wilson_interval(0, 5, population=12)[0] == 0.0
    huge = wilson_interval(5, 100, population=10**9)
    assert huge == pytest.approx(wide, abs=1e-6)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        wilson_interval(5, 4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_summary_counts_records_and_estimates_prevalence() -> None:
    policy = load_policy("default")
    summary = ScanSummary(policy.ref, population=1000, sampled=True)
    block = {
        "action": "block",
        "categories": [{"name": "child_sexual_abuse"}],
    }
    for _ in range(3):
        summary.add({"path": "x", "verdict": block})
    for _ in range(96):
        summary.add({"path": "y", "verdict": {"action": "allow", "categories": []}}, new=False)
    summary.add({"path": "z", "error": {"code": "truncated", "message": "cut"}})
    assert (summary.judged, summary.failed, summary.new) == (99, 1, 4)
    found = {item.name: item for item in summary.prevalence()}
    assert found["action: block"].count == 3
    assert found["child_sexual_abuse"].rate == pytest.approx(3 / 99)
    assert found["action: review"].count == 0
    assert dict(summary.actions) == {"allow": 96, "block": 3}
    assert dict(summary.errors) == {"truncated": 1}
    assert summary.category_names() == ["child_sexual_abuse"]
