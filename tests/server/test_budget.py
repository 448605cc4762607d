"""``DecodeBudget``: how many pixels a worker decodes at once, and one large decode at a time
among the workers sharing a lock file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from rempart.errors import OverloadedError
from rempart.media import MediaLimits
from rempart.server.budget import DecodeBudget, decode_cost, give_back_memory
from rempart.video import decode_frames
from tests import videos
from tests.images import encode, gif_with_frames, gradient, png_declaring


def test_requests_within_the_budget_decode_together_and_others_wait() -> None:
    async def scenario() -> list[str]:
        budget = DecodeBudget(100, wait=0.2)
        events: list[str] = []

        async def decode(name: str, cost: int, hold: float) -> None:
            try:
                async with budget.admit(cost):
                    events.append(f"{name} in ({budget.in_use})")
                    await asyncio.sleep(hold)
            except OverloadedError as exc:
                events.append(f"{name} refused, retry after {exc.problem_headers()['Retry-After']}")

        await asyncio.gather(
            decode("a", 60, 0.1),  # a and b fit together; c waits for a, d waits in vain
            decode("b", 40, 1.0),
            decode("c", 50, 0.0),
            decode("d", 90, 0.0),
        )
        assert budget.in_use == 0
        return events

    events = asyncio.run(scenario())
    assert events[:2] == ["a in (60)", "b in (100)"]
    assert "c in (90)" in events
    assert "d refused, retry after 1" in events


def test_an_image_over_the_whole_budget_is_decoded_alone() -> None:
    async def scenario() -> int:
        budget = DecodeBudget(100, wait=0.1)
        async with budget.admit(10**9):
            return budget.in_use

    assert asyncio.run(scenario()) == 100


def test_one_large_decode_at_a_time_among_the_workers(tmp_path: Path) -> None:
    lock = tmp_path / "run" / "decode.lock"

    async def scenario() -> None:
        first, second = (DecodeBudget(100, wait=0.3, lock=lock) for _ in range(2))
        async with first.admit(60):  # over half: holds the workers' lock
            with pytest.raises(OverloadedError):
                async with second.admit(60):
                    pass
            async with second.admit(40):  # a small one need not wait for it
                pass
        async with second.admit(60):  # free again
            pass

    asyncio.run(scenario())


def test_the_cost_is_read_from_headers() -> None:
    limits = MediaLimits()
    assert decode_cost([png_declaring(1000, 2000)], limits) == 2_000_000
    assert decode_cost([gif_with_frames(5)], limits) == 2 * 4  # a frame beside the one before
    assert decode_cost([b"not an image", encode(gradient(10, 10), "PNG")], limits) == 100
    give_back_memory()  # no-op or glibc's malloc_trim; never an error


def test_a_video_costs_the_frames_its_decode_holds() -> None:
    frames = [np.zeros((48, 64, 3), dtype=np.uint8)] * 20
    video = videos.encode(frames, size=(64, 48))
    per_frame = 64 * 48
    assert decode_cost([video], MediaLimits()) == decode_frames() * per_frame  # not per video
    assert decode_cost([video[:200]], MediaLimits()) == 0  # refused before any decoding
