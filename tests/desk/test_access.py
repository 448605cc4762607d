"""Case numbers and secrets: their shapes, forgiving input, SHA-256 storage, the throttle."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from rempart.desk.access import (
    CASE_NUMBER_PATTERN,
    AddressThrottle,
    SignInThrottle,
    hash_secret,
    new_case_number,
    new_secret,
    normalise_case_number,
    secret_matches,
)
from rempart.desk.clock import FixedClock


def test_case_numbers_are_r_and_ten_base32_characters() -> None:
    numbers = {new_case_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(CASE_NUMBER_PATTERN.fullmatch(number) for number in numbers)


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("R-ABCDE23456", "R-ABCDE23456"),
        ("r-abcde23456", "R-ABCDE23456"),
        (" R ABCDE 23456 ", "R-ABCDE23456"),
        ("r abcde-23456", "R-ABCDE23456"),
        ("ABCDE23456", None),  # the R is needed
        ("R-0BCDE2345I", "R-OBCDE2345I"),  # 0 is read as O
        ("R-ABCDE2345", None),  # one short
        ("R-ABCDE234567", None),  # one long
        ("X-ABCDE23456", None),
        ("R-ABCDE2345!", None),
        ("R-ABCDE23459", None),  # 9 is not base32
        ("", None),
        ("R" * 10_000, None),
    ],
)
def test_case_numbers_as_people_type_them(typed: str, number: str | None) -> None:
    assert normalise_case_number(typed) == number


def test_secrets_have_100_random_bits_grouped_by_five() -> None:
    secrets = [new_secret() for _ in range(400)]
    assert all(re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{5}){3}", s) for s in secrets)
    assert len(set(secrets)) == 400
    # Every character position takes many values: no position is fixed by the encoding.
    for position in range(23):
        if position % 6 != 5:
            assert len({s[position] for s in secrets}) > 16, position


def test_secrets_are_stored_as_sha256_and_typed_loosely() -> None:
    secret = "ABCDE-FGHIJ-KLMNO-PQRS2"
    stored = hash_secret(secret)
    assert stored == hashlib.sha256(b"ABCDEFGHIJKLMNOPQRS2").hexdigest()
    for typed in ("abcdefghijklmnopqrs2", "ABCDE FGHIJ KLMNO PQRS2", "abcde-fghij-klmn0-pqrs2"):
        assert secret_matches(typed, stored), typed
    for wrong in ("ABCDE-FGHIJ-KLMNO-PQRS3", "", "ABCDE-FGHIJ-KLMNO", "é" * 20):
        assert not secret_matches(wrong, stored), wrong


def test_the_throttle_limits_each_number_and_all_numbers() -> None:
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    throttle = SignInThrottle(clock=clock, burst=3, per_number_s=60, per_second=5)
    assert [throttle.allow("R-AAAAAAAAAA") for _ in range(4)] == [True, True, True, False]
    assert throttle.allow("r-aaaaa aaaaa") is False  # the same number, typed otherwise
    assert throttle.allow("R-BBBBBBBBBB")  # another number has its own tries
    clock.advance(timedelta(seconds=60))
    assert throttle.allow("R-AAAAAAAAAA")  # one more a minute
    assert not throttle.allow("R-AAAAAAAAAA")
    # In all: 10 at once (twice the rate a second), whatever the numbers.
    clock.advance(timedelta(seconds=10))
    allowed = [throttle.allow(new_case_number()) for _ in range(12)]
    assert allowed == [True] * 10 + [False] * 2
    clock.advance(timedelta(seconds=1))
    assert throttle.allow(new_case_number())


def test_the_throttle_forgets_numbers_within_its_bound() -> None:
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    throttle = SignInThrottle(clock=clock, burst=1, per_second=1000, numbers=3)
    for number in ("R-AAAAAAAAAA", "R-BBBBBBBBBB", "R-CCCCCCCCCC", "R-DDDDDDDDDD"):
        assert throttle.allow(number)
    assert len(throttle._numbers._buckets) == 3
    assert not throttle.allow("R-DDDDDDDDDD")


def test_a_clock_stepping_back_drains_nothing() -> None:
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    throttle = SignInThrottle(clock=clock, burst=2)
    assert throttle.allow("R-AAAAAAAAAA")
    clock.advance(timedelta(hours=-1))
    assert throttle.allow("R-AAAAAAAAAA")
    assert not throttle.allow("R-AAAAAAAAAA")


def test_an_address_throttle_counts_each_address_apart() -> None:
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    throttle = AddressThrottle(3, clock=clock)
    assert [throttle.allow("192.0.2.1") for _ in range(4)] == [True, True, True, False]
    assert throttle.allow("192.0.2.2")  # one client spending its share stops no other
    clock.advance(timedelta(seconds=20))  # three a minute: one more after 20 s
    assert [throttle.allow("192.0.2.1") for _ in range(2)] == [True, False]
