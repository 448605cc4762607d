"""The token bucket: a rate per second, bursts of twice that, a whole token per request."""

from __future__ import annotations

import pytest

from rempart.server.auth import RateLimiter


def test_a_burst_of_twice_the_rate_then_refusal_with_the_wait() -> None:
    limiter = RateLimiter()
    waits = [limiter.wait_time("k", 5.0) for _ in range(11)]
    assert waits[:10] == [0.0] * 10
    assert 0 < waits[10] <= 0.2 + 1e-6


def test_a_rate_under_one_a_second_still_allows_a_request() -> None:
    # Three workers sharing a rate of 1: each allows a third of a request a second.
    limiter = RateLimiter()
    assert limiter.wait_time("k", 1 / 3) == 0.0
    assert limiter.wait_time("k", 1 / 3) == pytest.approx(3.0, rel=0.01)


def test_keys_have_buckets_of_their_own() -> None:
    limiter = RateLimiter()
    for _ in range(2):
        limiter.wait_time("busy", 1.0)
    assert limiter.wait_time("busy", 1.0) > 0
    assert limiter.wait_time("quiet", 1.0) == 0.0
