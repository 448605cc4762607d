"""How many pixels one server worker decodes at once, and giving a large decode's memory back.

An image of a few hundred kilobytes may declare 150 megapixels, which the media limits allow
and which take about 1.4 GB to decode and hash. Eight such uploads at once would take a worker
past 8 GB; ``DecodeBudget`` lets a worker decode at most ``REMPART_API_DECODE_PIXELS`` pixels
at a time, counted from each image's header before any decoding, and lets one decode of more
than half that budget run at a time in all the workers sharing a data folder (a lock file):
two workers each decoding one such image would still take near 3 GB. A request that cannot
have its pixels within ``REMPART_API_DECODE_WAIT`` seconds gets 503 ``overloaded`` with
``Retry-After``. After a large decode, ``give_back_memory`` returns the freed heap to the
system, so that a worker's memory falls back once the attack stops. The metrics show the queue:
requests waiting for pixels (``rempart_decode_waiting``), pixels held by the decodes running
(``rempart_decode_pixels``) and requests refused for want of them
(``rempart_decode_overloaded_total``).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import fcntl
import functools
import math
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from rempart.errors import MediaError, MissingExtraError, OverloadedError
from rempart.media import MediaLimits, load_bytes
from rempart.server import metrics
from rempart.video import DEFAULT_LIMITS, VideoLimits, decode_frames
from rempart.video import load_bytes as load_video
from rempart.walk import looks_like_video

__all__ = ["TRIM_ABOVE", "DecodeBudget", "decode_cost", "give_back_memory"]

TRIM_ABOVE: Final = 16_000_000
"""Pixels of a decode after which the heap is trimmed: below, the freed memory is small and
soon reused."""


_POLL: Final = 0.05  # seconds between tries of the lock other workers hold


class DecodeBudget:
    """A worker's pixels in decoding, shared by its requests (on the worker's event loop).

    ``admit(cost)`` waits until ``cost`` pixels fit beside those being decoded, at most
    ``wait`` seconds, then holds them until the block ends. A cost over the whole budget is
    counted as the whole budget: such an image is decoded alone rather than never. A cost over
    half the budget also holds ``lock`` (a file every worker of the server opens), so that the
    workers together decode one such image at a time.
    """

    def __init__(self, pixels: int, *, wait: float, lock: Path | None = None) -> None:
        self.pixels = pixels
        self.wait = wait
        self.lock = lock
        self.in_use = 0
        self._changed = asyncio.Condition()  # binds to the running loop at first use

    @asynccontextmanager
    async def admit(self, cost: int) -> AsyncIterator[None]:
        """Hold ``cost`` pixels of the budget for the block; ``OverloadedError`` after
        ``wait`` seconds without them."""
        cost = min(cost, self.pixels)
        if cost <= 0:
            yield
            return
        deadline = asyncio.get_running_loop().time() + self.wait
        metrics.DECODE_WAITING.inc()  # until its pixels, and the workers' lock if it needs it
        waiting = True
        try:
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self.in_use + cost <= self.pixels),
                        self.wait,
                    )
                except TimeoutError:
                    raise self._overloaded() from None
                self.in_use += cost
                metrics.DECODE_PIXELS.inc(cost)
            try:
                large = cost * 2 > self.pixels and self.lock is not None
                held = await self._lock_workers(deadline) if large else None
                metrics.DECODE_WAITING.dec()
                waiting = False
                try:
                    yield
                finally:
                    if held is not None:
                        os.close(held)  # and with it the lock
            finally:
                async with self._changed:
                    self.in_use -= cost
                    metrics.DECODE_PIXELS.dec(cost)
                    self._changed.notify_all()
        finally:
            if waiting:
                metrics.DECODE_WAITING.dec()

    async def _lock_workers(self, deadline: float) -> int:
        """The lock file, open and locked, once no other worker holds it; ``OverloadedError``
        at ``deadline``."""
        assert self.lock is not None
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        loop = asyncio.get_running_loop()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return handle
            except BlockingIOError:
                if loop.time() >= deadline:
                    os.close(handle)
                    raise self._overloaded() from None
            await asyncio.sleep(_POLL)

    def _overloaded(self) -> OverloadedError:
        metrics.DECODE_OVERLOADED.inc()
        return OverloadedError(
            f"the server is decoding all the pixels it may at once "
            f"({self.pixels:,}, REMPART_API_DECODE_PIXELS); retry shortly",
            retry_after=max(1, math.ceil(self.wait)),
        )


def decode_cost(
    images: Iterable[bytes], limits: MediaLimits, video_limits: VideoLimits = DEFAULT_LIMITS
) -> int:
    """The pixels decoding ``images`` holds at once, read from their headers: a frame's pixels
    per image, twice for an animation (a frame is decoded beside the one before it), a video's
    frames in flight (``video.decode_frames``: the budget applies per frame, not per video).
    An upload whose header is unreadable costs nothing: it is refused before any decoding."""
    total = 0
    for data in images:
        try:
            if looks_like_video(data[:16]):
                video = load_video(data, limits=video_limits)
                total += video.width * video.height * decode_frames()
                continue
            media = load_bytes(data, limits=limits)
        except (MediaError, MissingExtraError):
            continue
        total += media.width * media.height * (2 if media.frame_count > 1 else 1)
    return total


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: its allocator returns memory itself
        return None
    return trim


def give_back_memory() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim``): a decoder's
    buffers, freed in pieces, otherwise stay in the worker's resident memory."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
