"""Benign test videos made with PyAV from still images: pans and zooms over the shared bridge
photo and scikit-image's objects and animals (never a person), joined by cuts."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from tests.images import skimage_rgb

if TYPE_CHECKING:
    from rempart.video import Video, VideoFrame

# Small frames and few of them: a test video encodes in well under a second on two cores.
SIZE = (160, 120)
RATE = 10


def photo(testdata: Path, name: str) -> np.ndarray:
    """A shared or scikit-image picture as RGB: ``bridge`` (the PDQ bridge photo) or a
    scikit-image sample's name."""
    if name == "bridge":
        path = testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg"
        return np.asarray(Image.open(path).convert("RGB"))
    return skimage_rgb(name)


def pan(image: np.ndarray, frames: int, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    """A window of two thirds of ``image`` sliding from its left edge to its right."""
    height, width = image.shape[:2]
    window_w, window_h = width * 2 // 3, height * 2 // 3
    for i in range(frames):
        left = (width - window_w) * i // max(1, frames - 1)
        top = (height - window_h) // 2
        crop = image[top : top + window_h, left : left + window_w]
        yield np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))


def zoom(image: np.ndarray, frames: int, size: tuple[int, int] = SIZE) -> Iterator[np.ndarray]:
    """The whole of ``image`` closing in to its central half."""
    height, width = image.shape[:2]
    for i in range(frames):
        keep = 1.0 - 0.5 * i / max(1, frames - 1)
        window_w, window_h = int(width * keep), int(height * keep)
        left, top = (width - window_w) // 2, (height - window_h) // 2
        crop = image[top : top + window_h, left : left + window_w]
        yield np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))


def encode(
    frames: Iterable[np.ndarray],
    *,
    codec: str = "libx264",
    fmt: str = "mp4",
    rate: int = RATE,
    options: dict[str, str] | None = None,
    size: tuple[int, int] | None = None,
    pix_fmt: str = "yuv420p",
) -> bytes:
    """Encode RGB frames as a video in memory, resized to ``size`` when given."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        assert isinstance(stream, av.VideoStream)
        stream.pix_fmt = pix_fmt
        first = True
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            if first:
                stream.width, stream.height = size or (frame.width, frame.height)
                first = False
            if size is not None:
                frame = frame.reformat(width=size[0], height=size[1])
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def decoded(data: bytes, *, start: float = 0.0, stop: float | None = None) -> list[np.ndarray]:
    """Every frame of a video from ``start`` to before ``stop`` seconds, as RGB (to re-encode,
    as a platform transcodes an upload)."""
    import av

    with av.open(io.BytesIO(data), "r") as container:
        frames = []
        for frame in container.decode(video=0):
            at = float(frame.time or 0.0)
            if at >= start and (stop is None or at < stop):
                frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def scenes(testdata: Path, names: Sequence[str], seconds: int = 4) -> list[np.ndarray]:
    """Scenes of ``seconds`` each, one per picture, alternately panned and zoomed, cut
    together."""
    frames: list[np.ndarray] = []
    for number, name in enumerate(names):
        move = pan if number % 2 == 0 else zoom
        frames.extend(move(photo(testdata, name), seconds * RATE))
    return frames


def in_parts(video: Video, count: int, every: float = 1.0) -> list[VideoFrame]:
    """The samples of ``video.parts``, each part read on a thread of its own as its users
    do, in order."""
    with ThreadPoolExecutor(count) as pool:
        parts: list[list[VideoFrame]] = list(pool.map(list, video.parts(count, every=every)))
    return [frame for part in parts for frame in part]
