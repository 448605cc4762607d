"""vPDQ: the reference's text format, its matching rule, and videos that match (a re-encode, a
clip) and do not (another video). The ``test_video_`` tests need the video extra (PyAV)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rempart.hashing import hamming, pack
from rempart.hashing.pdq import pdq_hash
from rempart.hashing.vpdq import (
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    VpdqFeature,
    VpdqMatch,
    _hashed,
    format_features,
    match,
    parse_features,
    vpdq_hash,
    vpdq_hash_mirrored,
)
from rempart.video import VideoFrame, load_bytes
from tests import videos

ZERO = "0" * 64
ONES = "f" * 64


def flipped(hex_hash: str, bits: int) -> str:
    """``hex_hash`` with its first ``bits`` bits inverted."""
    value = int(hex_hash, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def feature(hex_hash: str, quality: int = 100, frame: int = 0, at: float = 0.0) -> VpdqFeature:
    return VpdqFeature(hex_hash, quality, frame, at)


# --- the text format -------------------------------------------------------------------


def test_the_reference_line_format_round_trips() -> None:
    features = [feature(ZERO, 100, 0, 0.0), feature(ONES, 42, 30, 1.0000004)]
    text = format_features(features)
    assert text == f"0,100,{ZERO},0.000\n30,42,{ONES},1.000\n"
    assert parse_features(text) == [features[0], feature(ONES, 42, 30, 1.0)]


def test_parsing_reads_the_reference_and_names_a_bad_line() -> None:
    text = f"0,100,{ONES.upper()},0.000\n\n2,99,{ZERO},0.067\n"
    assert parse_features(text) == [feature(ONES), feature(ZERO, 99, 2, 0.067)]
    for bad in (
        f"0,100,{ZERO}",  # a field missing
        f"0,101,{ZERO},0.0",  # quality over 100
        f"-1,100,{ZERO},0.0",
        f"0,100,{ZERO[:-1]},0.0",
        f"0,100,{ZERO},nan",
        f"0,100,{ZERO},inf",  # JSON has no infinity: a record could not be written
        f"x,100,{ZERO},0.0",
    ):
        with pytest.raises(ValueError, match="line 2: not a vPDQ feature"):
            parse_features(f"0,100,{ZERO},0.000\n{bad}\n")


# --- matching ------------------------------------------------------------------------


def test_identical_videos_match_fully() -> None:
    video = [feature(ZERO), feature(ONES, frame=1)]
    assert match(video, video) == VpdqMatch(100.0, 100.0, True)


def test_a_frame_matches_within_31_bits() -> None:
    assert match([feature(flipped(ZERO, 31))], [feature(ZERO)]).matched
    assert not match([feature(flipped(ZERO, 32))], [feature(ZERO)]).matched
    assert match([feature(flipped(ZERO, 32))], [feature(ZERO)], distance_threshold=32).matched


def test_low_quality_frames_are_left_out_and_duplicates_count_once() -> None:
    query = [feature(ZERO), feature(ZERO, frame=1), feature(ONES, quality=49, frame=2)]
    stored = [feature(ZERO), feature(flipped(ONES, 100))]
    # The query: ZERO once (the featureless ONES left out), matched: 100 %. The stored video:
    # ZERO matched, the other not: 50 %.
    assert match(query, stored) == VpdqMatch(100.0, 50.0, True)
    assert match(query, stored, stored_match_percent=60.0).matched is False
    assert match(query, stored, quality_threshold=0).query_percent == pytest.approx(50.0)


def test_the_query_share_decides_by_default() -> None:
    """python-threatexchange's defaults: 80 % of the query, 0 % of the stored video."""
    stored = [feature(flipped(ZERO, 40 * i), frame=i) for i in range(6)]
    clip = stored[:2]
    result = match(clip, stored)
    assert (result.query_percent, result.matched) == (100.0, True)
    assert result.stored_percent == pytest.approx(100 / 3)
    padded = [*clip, feature(ONES, frame=9)]  # a third of the query is new: under 80 %
    assert not match(padded, stored).matched


def test_nothing_usable_matches_nothing() -> None:
    assert match([], [feature(ZERO)]) == VpdqMatch(0.0, 0.0, False)
    assert match([feature(ZERO, quality=10)], [feature(ZERO)]) == VpdqMatch(0.0, 0.0, False)


# --- videos --------------------------------------------------------------------------

ORIGINAL = ("bridge", "coffee", "rocket")  # pan, zoom, pan: 12 s with two cuts
OTHER = ("chelsea", "coins", "immunohistochemistry")


@pytest.fixture(scope="module")
def original(testdata: Path) -> bytes:
    return videos.encode(videos.scenes(testdata, ORIGINAL), options={"crf": "18"})


def hashes(data: bytes) -> list[VpdqFeature]:
    return list(vpdq_hash(load_bytes(data)))


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_video_hash_is_pdq_of_each_sampled_frame(original: bytes, parts: int) -> None:
    features = list(vpdq_hash(load_bytes(original), parts=parts))
    frames = list(load_bytes(original).frames())
    assert [(f.frame_number, f.timestamp) for f in features] == [
        (10 * second, float(second)) for second in range(12)
    ]
    assert [(f.hex, f.quality) for f in features] == [
        (pdq_hash(f.pixels, downsample=False).hex, pdq_hash(f.pixels, downsample=False).quality)
        for f in frames
    ]
    assert min(f.quality for f in features) >= 50
    assert parse_features(format_features(features)) == features


def test_video_mirrored_hashes_are_the_mirrored_frames_in_every_part(original: bytes) -> None:
    plain, mirrored = vpdq_hash_mirrored(load_bytes(original), parts=3)
    frames = list(load_bytes(original).frames())
    assert plain == list(vpdq_hash(load_bytes(original), parts=1))
    assert [f.hex for f in mirrored] == [
        pdq_hash(np.ascontiguousarray(f.pixels[:, ::-1]), downsample=False).hex for f in frames
    ]
    assert [(f.frame_number, f.timestamp) for f in mirrored] == [
        (f.frame_number, f.timestamp) for f in plain
    ]


def test_video_a_failing_part_stops_those_after_it_and_the_earliest_error_is_raised(
    original: bytes,
) -> None:
    # Three parts, from the scene cuts: 0-3 s, 4-7 s and 8-11 s.
    video = load_bytes(original)
    hashed: list[float] = []
    failed = threading.Event()

    def failing_from_4_to_8_s(frame: VideoFrame) -> float:
        if 4 <= frame.timestamp < 8:
            failed.set()
            raise ValueError(f"at {frame.timestamp}")
        if frame.timestamp >= 8:  # the part after: on once the middle one has failed
            assert failed.wait(30)
            time.sleep(0.2)
        hashed.append(frame.timestamp)
        return frame.timestamp

    with pytest.raises(ValueError, match=r"at 4\.0"):
        _hashed(video.parts(3), failing_from_4_to_8_s)
    assert {0.0, 1.0, 2.0, 3.0} <= set(hashed)  # the part before went on
    assert len([at for at in hashed if at >= 8]) <= 1  # the part after stopped

    def failing(frame: VideoFrame) -> float:
        time.sleep(0.1 if frame.timestamp < 4 else 0)
        raise ValueError(f"at {frame.timestamp}")

    with pytest.raises(ValueError, match=r"at 0\.0"):
        _hashed(video.parts(3), failing)


def test_video_re_encoded_smaller_and_at_a_low_bitrate_matches(original: bytes) -> None:
    frames = videos.decoded(original)
    smaller = videos.encode(
        frames, codec="libvpx-vp9", fmt="webm", size=(96, 72), options={"b": "60k"}
    )
    assert len(smaller) < len(original)
    result = match(hashes(smaller), hashes(original))
    # Measured: 10 of 12 frames within 31 bits (12 to 30), the rocket's last two not (34, 40
    # bits at quality 54 and 57: a dim picture at 96x72 and 60 kbit/s).
    assert result.matched
    assert result.query_percent >= 80
    assert result.stored_percent >= 80


def test_video_clip_matches_the_video_it_was_cut_from(original: bytes) -> None:
    clip = videos.encode(videos.decoded(original, start=3.0, stop=9.0))
    result = match(hashes(clip), hashes(original))
    assert result.matched
    assert result.query_percent >= 80
    assert result.stored_percent < 70  # half of the original is not in the clip


def test_video_different_videos_do_not_match(original: bytes, testdata: Path) -> None:
    other = videos.encode(videos.scenes(testdata, OTHER))
    result = match(hashes(other), hashes(original))
    assert not result.matched
    assert result.query_percent == 0.0
    assert result.stored_percent == 0.0


# --- compatibility with Meta's vpdq package -------------------------------------------------

# Larger than PDQ's 512 pixels, so that Rempart's scaled decode is compared with the
# reference's full-size one: the bridge and three scikit-image pictures, cut together.
COMPATIBLE = ("bridge", "coffee", "rocket", "chelsea")


def test_video_frames_agree_with_metas_vpdq_package(testdata: Path, tmp_path: Path) -> None:
    """The ``vpdq`` package (Meta's C++ through Cython; the ``bench`` extra) on the same file:
    the same frames sampled, each frame's hash within PDQ's match distance of the reference's
    (in fact the same), and the two lists matching as videos."""
    reference = pytest.importorskip("vpdq", reason="Meta's vpdq package is not installed")
    frames = [
        pixels
        for number, name in enumerate(COMPATIBLE)
        for pixels in (videos.pan if number % 2 == 0 else videos.zoom)(
            videos.photo(testdata, name), 3 * videos.RATE, size=(640, 360)
        )
    ]
    path = tmp_path / "compatible.mp4"
    path.write_bytes(videos.encode(frames))
    ours = hashes(path.read_bytes())
    theirs = [
        VpdqFeature(f.hex, int(f.quality), int(f.frame_number), float(f.timestamp))
        for f in reference.computeHash(str(path), seconds_per_hash=1.0)
    ]
    assert [f.frame_number for f in ours] == [f.frame_number for f in theirs]
    assert [f.timestamp for f in ours] == pytest.approx([f.timestamp for f in theirs], abs=1e-3)
    for mine, its in zip(ours, theirs, strict=True):
        if min(mine.quality, its.quality) >= QUALITY_THRESHOLD:
            distance = int(hamming(pack([mine.hex]), pack([its.hex]))[0])
            assert distance <= DISTANCE_THRESHOLD, (mine, its)
    assert match(ours, theirs) == VpdqMatch(100.0, 100.0, True)
    # Measured: every frame the same hash and quality, bit for bit (PDQ's filter run on the
    # full frame, as the reference's C++ does). Decoding at 512 pixels instead: a few bits.
    assert [(f.hex, f.quality) for f in ours] == [(f.hex, f.quality) for f in theirs]
    smaller = list(vpdq_hash(load_bytes(path.read_bytes()), max_side=512))
    assert smaller != ours
    assert match(smaller, theirs).matched
