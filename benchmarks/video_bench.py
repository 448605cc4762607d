"""vPDQ: seconds of video hashed per second of wall time, Rempart's ``vpdq_hash`` against Meta's
``vpdq`` package (``computeHash``, its C++ through Cython) on the same files and cores, and how
far their frame hashes are from each other.

Builds (once, cached in .bench-cache/video/) 60-second H.264 videos at 720p and 1080p, 30
frames a second: pans and zooms over the shared bridge photo and scikit-image's pictures of
things and animals, cut together, with x264's defaults (a keyframe at most every 250 frames),
and the 1080p one again with a keyframe each second, as live streams and many phones encode.
Then, in one run:

- one video at a time on N cores (a platform hashing an upload as it comes), each of the
  three: Rempart decoding with FFmpeg's threads, the peer with ``thread_count=N``;
- N of each default video, N at once: ``rempart.hashing.hash_files`` on N threads against
  the peer in a pool of N processes (``thread_count=1``), each side's best way to fill N cores;
- sampling: one video's frames decoded in one pass against in parts, not hashed, and PDQ of
  one full-size frame: where the time goes;
- fidelity: frame numbers, timestamps and Hamming distances of the two sides' frame hashes;
- screening: a 10-minute 1080p video through every detector at 1 frame a second, in wall
  seconds against its duration (``video_screening.py``; target: under its duration).

Both sides hash one frame a second. Where ``vpdq`` cannot be imported (it has no wheel; its
sdist builds against FFmpeg's -dev packages, which ``make bench`` installs), the peer is said
to be unavailable and the reference's pipeline stands in, named as such: every frame decoded
on one thread, each sampled frame converted at full size and hashed by ``pdqhash`` (Meta's
PDQ in C++). Target (issue 23): at least 2x the peer.

Run: ``make bench`` (or ``python benchmarks/video_bench.py --jobs 2``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' video maker

from rempart.hashing import hamming, hash_files, pack  # noqa: E402 - after the path above
from rempart.hashing.files import VideoHashes  # noqa: E402
from rempart.hashing.pdq import pdq_hash  # noqa: E402
from rempart.hashing.vpdq import (  # noqa: E402
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    VpdqFeature,
    match,
    vpdq_hash,
)
from rempart.video import Video, VideoFrame, VideoLimits, load_file  # noqa: E402
from tests import videos  # noqa: E402
from video_screening import DURATION as SCREEN_SECONDS  # noqa: E402
from video_screening import screening_section  # noqa: E402

SHARED = ROOT.parent / "shared" / "testdata"
CACHE = ROOT / ".bench-cache" / "video"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
SECONDS = 60
RATE = 30
# Six 10-second scenes; never a person.
SHORT_GOP = "gop1s"  # the file name's mark of the video with a keyframe each second
SCENES = ("bridge", "coffee", "rocket", "chelsea", "coins", "immunohistochemistry")
LIMITS = VideoLimits()
console = Console()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Peer:
    """What the Rempart side is measured against: its name and how it hashes one file."""

    name: str
    hash_file: Callable[[Path, int], list[VpdqFeature]]


# --- the videos -------------------------------------------------------------------------------


def build_videos(seconds: int) -> list[Path]:
    """The cached videos, made when missing (a minute or two each on two cores): x264's
    defaults, a keyframe at most every 250 frames and at scene cuts."""
    return [
        _built(f"scenes-{label}-{seconds}s", size, seconds, {}) for label, size in SIZES.items()
    ]


def build_short_gop_video(seconds: int) -> Path:
    """The 1080p video with a keyframe each second (``keyint`` = the frame rate), as live
    streams and many phones encode: only the frames from the keyframe before each sample need
    decoding, where x264's defaults leave every reference frame to decode."""
    params = {"x264-params": f"keyint={RATE}:min-keyint={RATE}"}
    return _built(f"scenes-1080p-{seconds}s-{SHORT_GOP}", SIZES["1080p"], seconds, params)


def _built(name: str, size: tuple[int, int], seconds: int, options: dict[str, str]) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.mp4"
    if not path.exists():
        console.print(f"Encoding {path.name} (once; cached)")
        frames = _frames(size, seconds)
        data = videos.encode(frames, rate=RATE, options={"preset": "veryfast", **options})
        path.with_suffix(".part").write_bytes(data)
        path.with_suffix(".part").rename(path)
    return path


def _frames(size: tuple[int, int], seconds: int) -> Iterator[np.ndarray]:
    """The scenes' frames one at a time: a minute of 1080p RGB would be 11 GB at once."""
    per_scene = seconds * RATE // len(SCENES)
    for number, name in enumerate(SCENES):
        move = videos.pan if number % 2 == 0 else videos.zoom
        yield from move(videos.photo(SHARED, name), per_scene, size=size)


# --- the two sides ----------------------------------------------------------------------------


def ours(path: Path) -> list[VpdqFeature]:
    """Rempart: probe, then one frame a second converted at full size and hashed."""
    return list(vpdq_hash(load_file(path, limits=LIMITS)))


def ours_parallel(paths: Sequence[Path], jobs: int) -> list[VideoHashes]:
    """Rempart as ``rempart hash`` runs: ``hash_files`` on ``jobs`` threads."""
    results = list(hash_files([str(p) for p in paths], video_limits=LIMITS, jobs=jobs))
    for result in results:
        assert isinstance(result, VideoHashes), result
    return [r for r in results if isinstance(r, VideoHashes)]


def find_peer() -> Peer:
    """Meta's ``vpdq`` package, else the reference's pipeline on PyAV and ``pdqhash``."""
    try:
        module = importlib.import_module("vpdq")
    except ImportError as exc:
        console.print(
            f"[yellow]peer unavailable: Meta's vpdq package cannot be imported ({exc}); it "
            "builds from source against FFmpeg's -dev packages (`make bench` installs them). "
            "Measuring against the reference's pipeline instead.[/yellow]"
        )
        return Peer("reference pipeline (PyAV + pdqhash)", _reference_hash)
    return Peer(f"vpdq {_version(module)} computeHash", _vpdq_hash)


def _version(module: ModuleType) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vpdq")
    except PackageNotFoundError:
        return str(getattr(module, "__version__", "?"))


def _vpdq_hash(path: Path, threads: int) -> list[VpdqFeature]:
    import vpdq

    return [
        VpdqFeature(f.hex, int(f.quality), int(f.frame_number), float(f.timestamp))
        for f in vpdq.computeHash(str(path), seconds_per_hash=1.0, thread_count=threads)
    ]


def _reference_hash(path: Path, threads: int) -> list[VpdqFeature]:
    """What vpdq's C++ does (facebook/ThreatExchange ``vpdq/cpp/hashing/filehasher.h``: "get
    frames from the video, then get pdq hashes for selected frames every secondPerHash"):
    decode every frame (PyAV's default threading), never seek; convert each second's first
    frame to RGB at full size; PDQ it."""
    import av
    import pdqhash

    del threads  # the decoder's own default
    features = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 0)
        every = max(1, round(rate))  # the reference samples every round(rate) frames
        for number, frame in enumerate(container.decode(stream)):
            if number % every:
                continue
            bits, quality = pdqhash.compute(frame.to_ndarray(format="rgb24"))
            hex_hash = f"{int(''.join(str(int(b)) for b in bits), 2):064x}"
            features.append(VpdqFeature(hex_hash, int(quality), number, number / rate))
    return features


def _peer_one(args: tuple[Peer, Path]) -> list[VpdqFeature]:
    peer, path = args
    return peer.hash_file(path, 1)


def _label(path: Path) -> str:
    """``720p, 60 s`` for ``scenes-720p-60s.mp4``; the short-GOP video says so."""
    _, size, seconds, *gop = path.stem.split("-")
    keyframes = ", a keyframe a second" if gop == [SHORT_GOP] else ""
    return f"{size}, {seconds.removesuffix('s')} s{keyframes}"


def timed(function: Callable[[], T], repeat: int = 1) -> tuple[float, T]:
    """The median of ``repeat`` runs' seconds (a shared machine's runs of the same work
    differ by up to a quarter), and the last run's result."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result


# --- sections ---------------------------------------------------------------------------------


def hashing_section(
    paths: list[Path], short_gop: Path, peer: Peer, jobs: int, repeat: int
) -> dict[Path, tuple[list[VpdqFeature], list[VpdqFeature]]]:
    """Seconds of video per second of wall time, both sides, one video at a time (``paths``
    and ``short_gop``) and ``jobs`` at once (``paths``), each the median of ``repeat`` runs;
    the features each side gave, for the fidelity section."""
    seconds = sum(load_file(p, limits=LIMITS).duration for p in paths)
    ours(paths[0])  # warm imports and the page cache
    peer.hash_file(paths[0], jobs)

    table = Table("measure", "rempart", peer.name, "ratio", title=f"vPDQ, {jobs} cores")
    found: dict[Path, tuple[list[VpdqFeature], list[VpdqFeature]]] = {}
    for path in [*paths, short_gop]:
        ours_s, mine = timed(partial(ours, path), repeat)
        peer_s, theirs = timed(partial(peer.hash_file, path, jobs), repeat)
        found[path] = (mine, theirs)
        duration = load_file(path, limits=LIMITS).duration
        table.add_row(
            f"{_label(path)}, one at a time: video s/s",
            f"{duration / ours_s:.1f}",
            f"{duration / peer_s:.1f}",
            f"{peer_s / ours_s:.1f}x",
        )

    batch = paths * jobs  # every core busy on both sides
    ours_s, _ = timed(lambda: ours_parallel(batch, jobs), repeat)
    with ProcessPoolExecutor(jobs) as pool:
        list(pool.map(_peer_one, [(peer, paths[0])] * jobs))  # start the workers
        peer_s, _ = timed(lambda: list(pool.map(_peer_one, [(peer, p) for p in batch])), repeat)
    table.add_row(
        f"{len(batch)} videos, {jobs} at once: video s/s",
        f"{seconds * jobs / ours_s:.1f}",
        f"{seconds * jobs / peer_s:.1f}",
        f"{peer_s / ours_s:.1f}x",
    )
    console.print(table)
    return found


def parts_section(paths: list[Path], repeat: int) -> None:
    """Where one video's time goes: sampling its frames (decoded and converted to RGB, not
    hashed) in one pass on FFmpeg's threads against ``Video.parts`` on a thread each, and
    PDQ's filter of one full-size frame."""
    table = Table(
        "video", "one pass, s", "in parts, s", "parts", "PDQ a frame, ms", title="Sampling"
    )
    for path in paths:
        video = load_file(path, limits=LIMITS)
        one_s, frames = timed(partial(_one_pass, video), repeat)
        count = len(video.parts())
        parts_s, _ = timed(partial(videos.in_parts, video, count), repeat)
        pixels = frames[len(frames) // 2].pixels
        pdq_s, _ = timed(partial(pdq_hash, pixels, downsample=False), repeat * 10)
        table.add_row(
            _label(path), f"{one_s:.2f}", f"{parts_s:.2f}", str(count), f"{pdq_s * 1000:.1f}"
        )
    console.print(table)


def _one_pass(video: Video) -> list[VideoFrame]:
    return list(video.frames())


def fidelity_section(
    found: dict[Path, tuple[list[VpdqFeature], list[VpdqFeature]]], peer: Peer
) -> None:
    """How far Rempart's frame hashes are from the peer's on the same frames."""
    table = Table(
        "video",
        "frames (rempart / peer / same number)",
        "max timestamp gap, s",
        "distance mean / max",
        f"frames within {DISTANCE_THRESHOLD}",
        "vPDQ match % (both ways)",
        title=f"Fidelity to {peer.name}, frames of quality >= {QUALITY_THRESHOLD} on both sides",
    )
    for path, (mine, theirs) in found.items():
        by_number = {f.frame_number: f for f in theirs}
        pairs = [(f, by_number[f.frame_number]) for f in mine if f.frame_number in by_number]
        usable = [(a, b) for a, b in pairs if min(a.quality, b.quality) >= QUALITY_THRESHOLD]
        distances = [int(hamming(pack([a.hex]), pack([b.hex]))[0]) for a, b in usable]
        gap = max((abs(a.timestamp - b.timestamp) for a, b in pairs), default=0.0)
        within = sum(d <= DISTANCE_THRESHOLD for d in distances)
        result = match(mine, theirs)
        table.add_row(
            _label(path),
            f"{len(mine)} / {len(theirs)} / {len(pairs)}",
            f"{gap:.3f}",
            f"{statistics.fmean(distances):.1f} / {max(distances)}" if distances else "-",
            f"{within} of {len(distances)}",
            f"{result.query_percent:.0f} / {result.stored_percent:.0f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="cores for each side"
    )
    parser.add_argument(
        "--seconds", type=int, default=SECONDS, help="length of each video (cached by length)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each measure, the median shown"
    )
    parser.add_argument(
        "--screen-seconds",
        type=int,
        default=SCREEN_SECONDS,
        help="length of the video screened with every detector (0: none)",
    )
    args = parser.parse_args()

    paths = build_videos(args.seconds)
    peer = find_peer()
    console.print(
        f"{len(paths)} videos of {args.seconds} s at {RATE} frames/s ({', '.join(SIZES)}), "
        f"one hash a second, {args.jobs} cores each, the median of {args.repeat} runs; "
        f"peer: {peer.name}"
    )
    short_gop = build_short_gop_video(args.seconds)
    found = hashing_section(paths, short_gop, peer, args.jobs, args.repeat)
    parts_section(paths, args.repeat)
    fidelity_section(found, peer)
    if args.screen_seconds:
        screening_section(args.screen_seconds)


if __name__ == "__main__":
    main()
