"""Fuzz target: a video's bytes as ``rempart.video`` reads them.

``load_bytes`` (size, container, streams, codec, declared size and duration), then every
frame sampled twice a second, scaled down and at full size, by decoding through and by
seeking. Only ``RempartError`` may escape (``MissingExtraError`` where PyAV is not installed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rempart.errors import RempartError
from rempart.video import VideoFrame, VideoLimits, load_bytes

# Small limits: a fuzzer's inputs are small, and a long decode only slows the search.
LIMITS = VideoLimits(
    max_bytes=1 << 20,
    max_duration=60.0,
    max_frames=600,
    max_pixels=1_000_000,
    max_decode_seconds=5.0,
)


def fuzz_one(data: bytes) -> None:
    """Probe ``data``, then sample its frames as the hashers and detectors would."""
    try:
        video = load_bytes(data, limits=LIMITS)
    except RempartError:
        return
    passes: tuple[Callable[[], Iterator[VideoFrame]], ...] = (
        lambda: video.frames(every=0.5, max_side=32),
        lambda: video.frames(every=2.0, seek_gap=1.0),
    )
    for frames in passes:
        with contextlib.suppress(RempartError):  # expected: the decode refused the input
            for _ in frames():
                pass
