"""MatchBatcher: requests made together are searched in one index call, each gets its own."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rempart.hashing import pack
from rempart.matching.banks import BankMatch, BankMatcher, Banks
from rempart.matching.index import Words
from rempart.server.batching import MatchBatcher
from rempart.store import Store


class CountingMatcher(BankMatcher):
    """A real matcher that counts its index calls."""

    calls = 0

    def match(self, hashes: Words) -> list[list[BankMatch]]:
        self.calls += 1
        return super().match(hashes)


def hexes(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [bytes(row).hex() for row in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


@pytest.fixture
def matcher(store: Store) -> CountingMatcher:
    banks = Banks(store)
    banks.create("known")
    for value in hexes(20, seed=1):
        banks.add("known", value)
    return CountingMatcher(store, refresh_interval=None)


def test_requests_made_together_share_one_search_and_get_their_own_answers(
    matcher: CountingMatcher,
) -> None:
    banked = hexes(20, seed=1)
    asked = [[banked[0], hexes(1, seed=9)[0]], [banked[5]], [hexes(1, seed=8)[0], banked[7]]]

    async def run() -> list[list[list[str]]]:
        batcher = MatchBatcher(matcher)
        answers = await asyncio.gather(*(batcher.match(pack(hashes)) for hashes in asked))
        return [[[m.hash for m in found] for found in answer] for answer in answers]

    assert asyncio.run(run()) == [[[banked[0]], []], [[banked[5]]], [[], [banked[7]]]]
    assert matcher.calls == 1


def test_a_failed_search_fails_every_waiting_request(matcher: CountingMatcher) -> None:
    async def run() -> list[object]:
        batcher = MatchBatcher(matcher)
        bad = np.zeros((1, 3), dtype=np.uint64)  # not (n, 4): the index refuses it
        return list(
            await asyncio.gather(
                batcher.match(pack(hexes(1, seed=2))), batcher.match(bad), return_exceptions=True
            )
        )

    results = asyncio.run(run())
    assert all(isinstance(result, Exception) for result in results)
