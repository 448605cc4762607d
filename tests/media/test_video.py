"""rempart.video: probing within limits, sampling by time at the size asked, and hostile
containers refused with their code (never a hang, never a raw PyAV error)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rempart.errors import MediaError, MediaErrorCode, VideoError
from rempart.video import (
    VideoFrame,
    VideoLimits,
    _h264_size,
    _Sampler,
    load_bytes,
    load_file,
)
from tests import hostile_videos as hostile
from tests import videos
from tests.images import encode as encode_image
from tests.images import gradient

Code = MediaErrorCode


@pytest.fixture(scope="module")
def clip(testdata: Path) -> bytes:
    """Three seconds at 10 frames a second over the bridge photo, 160x120, H.264 in MP4."""
    return videos.encode(videos.pan(videos.photo(testdata, "bridge"), 30))


def refusal(data: bytes, limits: VideoLimits | None = None) -> Code | None:
    """The code loading and decoding ``data`` was refused with, or None; any other exception
    fails the test."""
    try:
        video = load_bytes(data, limits=limits or VideoLimits())
        for _ in video.frames(every=0.5):
            pass
    except MediaError as exc:
        error = exc
    else:
        return None
    assert error.message
    assert isinstance(error, VideoError)  # told to an API client as video-<code>
    assert error.problem_slug == f"video-{error.code.value.replace('_', '-')}"
    return error.code


def test_probe_reads_the_container_without_decoding(clip: bytes) -> None:
    video = load_bytes(clip)
    assert (video.format, video.codec) == ("mp4", "h264")
    assert (video.width, video.height, video.stream_count) == (160, 120, 1)
    assert video.duration == pytest.approx(3.0)
    assert (video.frame_rate, video.frame_count) == (10.0, 30)


def test_one_frame_a_second_by_default_with_index_and_timestamp(clip: bytes) -> None:
    frames = list(load_bytes(clip).frames())
    assert [(f.index, f.timestamp) for f in frames] == [(0, 0.0), (10, 1.0), (20, 2.0)]
    assert all(f.pixels.shape == (120, 160, 3) and f.pixels.dtype == np.uint8 for f in frames)


def test_other_rates_and_a_smaller_size(clip: bytes) -> None:
    frames = list(load_bytes(clip).frames(every=0.25, max_side=40))
    assert [f.index for f in frames] == [0, 3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28]
    assert frames[1].timestamp == pytest.approx(0.3)
    assert frames[0].pixels.shape == (30, 40, 3)
    whole = next(iter(load_bytes(clip).frames()))
    assert abs(frames[0].pixels.mean() - whole.pixels.mean()) < 3  # the same picture, smaller


def test_seeking_gives_the_frames_decoding_through_gives(testdata: Path) -> None:
    # A keyframe every second: samples 2 s apart are reached by seeking.
    frames = list(videos.pan(videos.photo(testdata, "bridge"), 80))
    data = videos.encode(frames, options={"g": "10"})
    video = load_bytes(data)
    through = list(video.frames(every=2.0, seek_gap=None))
    sought = list(video.frames(every=2.0, seek_gap=1.0))
    assert [(f.index, f.timestamp) for f in sought] == [(f.index, f.timestamp) for f in through]
    assert [(f.index, f.timestamp) for f in sought] == [(0, 0.0), (20, 2.0), (40, 4.0), (60, 6.0)]
    for a, b in zip(sought, through, strict=True):
        assert np.array_equal(a.pixels, b.pixels)


def test_frames_left_undecoded_change_no_sample(testdata: Path) -> None:
    # B-frames no other frame refers to ("b_pyramid": "none") between the samples are never
    # decoded; every sample must still be the frame a full decode shows at its time.
    frames = list(videos.zoom(videos.photo(testdata, "bridge"), 60))
    data = videos.encode(frames, options={"bf": "3", "b_pyramid": "none", "g": "60"})
    full = videos.decoded(data)
    sampled = list(load_bytes(data).frames(every=0.7))
    assert [f.index for f in sampled] == [0, 7, 14, 21, 28, 35, 42, 49, 56]
    for frame in sampled:
        assert np.array_equal(frame.pixels, full[frame.index]), frame.index


def decoded_while(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the frames each sampling pass decodes from now on (one list item)."""
    counts = [0]
    check = _Sampler._check

    def counted(self: _Sampler, frame: object) -> None:
        counts[0] += 1
        check(self, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(_Sampler, "_check", counted)
    return counts


def same_as_full_decode(data: bytes, every: float) -> list[float]:
    """Sample ``data`` and check each sample's pixels are those a full decode shows at its
    time; the samples' timestamps."""
    import av

    shown = {}
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode(video=0):
            shown[round(float(frame.time or 0), 4)] = frame.to_ndarray(format="rgb24")
    start = min(shown)
    times = []
    video = load_bytes(data)
    samples = list(video.frames(every=every, seek_gap=None))
    for sample in samples:
        full = shown[round(start + sample.timestamp, 4)]
        assert np.array_equal(sample.pixels, full), sample.timestamp
        times.append(sample.timestamp)
    assert_same_samples(videos.in_parts(video, 3, every), samples)
    return times


def assert_same_samples(got: list[VideoFrame], expected: list[VideoFrame]) -> None:
    assert [(f.index, f.timestamp) for f in got] == [(f.index, f.timestamp) for f in expected]
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a.pixels, b.pixels), a.timestamp


@pytest.mark.parametrize(("bframes", "decoded_at_most"), [("0", 50), ("2", 60)])
def test_frames_before_a_keyframe_are_never_decoded(
    testdata: Path, monkeypatch: pytest.MonkeyPatch, bframes: str, decoded_at_most: int
) -> None:
    # A keyframe every 0.7 s: of the frames between two samples, only those from the last
    # keyframe shown by the next sample are decoded, and every sample is still the frame a
    # full decode shows at its time (decoding through took 80 and 70).
    frames = list(videos.pan(videos.photo(testdata, "bridge"), 80))
    data = videos.encode(frames, options={"g": "7", "keyint_min": "7", "bf": bframes})
    decoded = decoded_while(monkeypatch)
    list(load_bytes(data).frames(every=1.0, seek_gap=None))
    assert decoded[0] <= decoded_at_most
    assert same_as_full_decode(data, 1.0) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


@pytest.mark.parametrize(
    ("codec", "fmt", "options"),
    [
        ("libx264", "mp4", {"x264-params": "open-gop=1:keyint=10:min-keyint=10:bframes=3"}),
        ("mpeg4", "mp4", {"bf": "2", "g": "10"}),
        ("libx265", "mp4", {"x265-params": "keyint=10:min-keyint=10:open-gop=1:log-level=0"}),
    ],
)
def test_an_open_gops_samples_are_a_full_decodes(
    testdata: Path, codec: str, fmt: str, options: dict[str, str]
) -> None:
    # An open GOP's leading pictures follow their keyframe in decoding but are shown before
    # it, and refer to the GOP before: a sample among them needs that GOP decoded.
    # Samples two or more keyframes apart: FFmpeg, given an open GOP's recovery point with
    # nothing before it, had held back and reordered the frames after it (3.5 s sampled for
    # 3.0), differently with each count of threads.
    frames = list(videos.pan(videos.photo(testdata, "bridge"), 120))
    data = videos.encode(frames[:60] + frames[60:][::-1], codec=codec, fmt=fmt, options=options)
    for every in (0.3, 0.7, 1.1, 1.7, 2.5, 3.0):
        times = same_as_full_decode(data, every)
        expected = [k * every for k in range(math.floor(11.9 / every) + 1)]
        assert times == pytest.approx(expected), (every, times)


def test_parts_cut_at_keyframes_and_give_the_samples_frames_gives(
    testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scene cuts at 4 and 8 s are keyframes (x264's scene detection, keyframes 25 s apart
    # otherwise): three parts start there and decode no frame another part decodes.
    data = videos.encode(videos.scenes(testdata, ("bridge", "coffee", "rocket")))
    video = load_bytes(data)
    decoded = decoded_while(monkeypatch)
    whole = list(video.frames(every=0.5))
    through = decoded[0]
    parts = video.parts(3, every=0.5)
    assert len(parts) == 3
    firsts = [next(part) for part in parts]
    assert [f.timestamp for f in firsts] == [0.0, 4.0, 8.0]
    decoded[0] = 0
    got = [f for first, part in zip(firsts, parts, strict=True) for f in [first, *part]]
    assert_same_samples(got, whole)
    assert decoded[0] <= through + 3  # a frame or so at each cut, decoded twice


def test_one_part_without_a_keyframe_to_cut_at(testdata: Path) -> None:
    data = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 60), options={"g": "60"})
    video = load_bytes(data)
    assert len(video.parts(4)) == 1
    assert_same_samples(list(video.parts(1)[0]), list(video.frames()))
    with pytest.raises(ValueError, match="count"):
        video.parts(0)


def test_parts_of_a_video_with_more_keyframes_than_are_kept(
    testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A keyframe every 2 frames, 4 kept at most: every other one is forgotten as they come,
    # and the cuts are still at keyframes.
    monkeypatch.setattr("rempart.video._MAX_KEYFRAMES", 4)
    frames = list(videos.pan(videos.photo(testdata, "bridge"), 80))
    video = load_bytes(videos.encode(frames, options={"g": "2", "keyint_min": "2", "bf": "0"}))
    assert len(video.parts(3)) == 3
    assert_same_samples(videos.in_parts(video, 3, 0.5), list(video.frames(every=0.5)))


def test_parts_share_the_frame_limit(testdata: Path) -> None:
    # 80 frames, a keyframe every 10: each of two parts decodes about 40, under a limit of 60
    # that the video as a whole is over.
    frames = list(videos.pan(videos.photo(testdata, "bridge"), 80))
    data = videos.encode(frames, options={"g": "10", "keyint_min": "10", "bf": "0"})
    video = dataclasses.replace(load_bytes(data), limits=VideoLimits(max_frames=60))
    assert _code(lambda: list(video.frames(every=0.1))) is Code.TOO_MANY_FRAMES
    parts = video.parts(2, every=0.1)
    assert len(parts) == 2
    assert _code(lambda: videos.in_parts(video, 2, 0.1)) is Code.TOO_MANY_FRAMES


def test_a_stream_starting_before_zero_is_sampled_from_its_start(testdata: Path) -> None:
    # WebM keeps negative timestamps; the first sample is the stream's first frame.
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="webm", options={"avoid_negative_ts": "disabled"}) as container:
        stream = container.add_stream("libvpx-vp9", rate=10, options={"g": "5"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for number, pixels in enumerate(videos.pan(videos.photo(testdata, "bridge"), 60)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts, frame.time_base = number - 20, Fraction(1, 10)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert same_as_full_decode(out.getvalue(), 1.0) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize(
    ("codec", "fmt", "name"),
    [
        ("libvpx-vp9", "webm", "matroska"),
        ("libvpx", "matroska", "matroska"),
        ("mpeg4", "avi", "avi"),
    ],
)
def test_the_allowed_containers_and_codecs(codec: str, fmt: str, name: str) -> None:
    data = videos.encode(
        [np.asarray(gradient(64, 48, seed=i)) for i in range(10)], codec=codec, fmt=fmt
    )
    video = load_bytes(data)
    assert video.format == name
    assert len(list(video.frames(every=0.5))) == 2


def test_a_file_is_read_from_its_path(clip: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    video = load_file(path)
    assert isinstance(video.source, Path)
    assert len(list(video.frames())) == 3
    assert _code(lambda: load_file(tmp_path / "missing.mp4")) is Code.NOT_FOUND
    assert _code(lambda: load_file(tmp_path)) is Code.NOT_REGULAR


def test_a_path_naming_an_ffmpeg_protocol_is_only_a_file_name(tmp_path: Path) -> None:
    # FFmpeg would read "concat:a|b" as a list of files; Rempart opens the file of that name.
    path = tmp_path / "concat:x.mp4"
    path.write_bytes(b"not a video at all")
    assert _code(lambda: load_file(path)) is Code.UNSUPPORTED_FORMAT


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        (VideoLimits(max_bytes=1000), Code.TOO_LARGE),
        (VideoLimits(max_duration=2.0), Code.TOO_LONG),
        (VideoLimits(max_frames=20), Code.TOO_MANY_FRAMES),
        (VideoLimits(max_pixels=160 * 119), Code.TOO_MANY_PIXELS),
        (VideoLimits(max_decode_seconds=1e-9), Code.TIMED_OUT),
    ],
)
def test_each_limit_refuses_with_its_code(clip: bytes, limits: VideoLimits, code: Code) -> None:
    assert refusal(clip, limits) is code


def test_undeclared_frames_are_counted_as_decoded(clip: bytes) -> None:
    """A container may declare nothing (or lie): the decoded frames meet the limits too."""
    video = load_bytes(clip)
    lying = dataclasses.replace(video, limits=VideoLimits(max_frames=15, max_duration=1.5))
    assert _code(lambda: list(lying.frames())) in (Code.TOO_MANY_FRAMES, Code.TOO_LONG)


def test_frames_meet_the_limits_of_their_video_not_only_the_probes(clip: bytes) -> None:
    video = load_bytes(clip)
    smaller = dataclasses.replace(video, limits=VideoLimits(max_pixels=100))
    assert _code(lambda: list(smaller.frames())) is Code.TOO_MANY_PIXELS


def test_a_declared_huge_duration_or_frame_count_is_refused_before_decoding(
    testdata: Path,
) -> None:
    # Matroska's Segment Duration (EBML ID 0x4489, an 8-byte float, in milliseconds at the
    # default TimecodeScale) rewritten from 3 seconds to a million: 10^7 frames at 10 a second.
    data = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 30), fmt="matroska")
    at = data.index(b"\x44\x89\x88") + 3
    assert struct.unpack(">d", data[at : at + 8]) == (3000.0,)
    patched = data[:at] + struct.pack(">d", 1e9) + data[at + 8 :]
    assert refusal(patched) is Code.TOO_LONG
    assert refusal(patched, VideoLimits(max_duration=1e12)) is Code.TOO_MANY_FRAMES


def test_a_declared_frame_size_is_the_bitstreams(testdata: Path) -> None:
    """Matroska's PixelWidth and PixelHeight rewritten to 65535: FFmpeg takes the size from
    the codec's own headers, and every decoder refuses frames over ``max_pixels`` itself."""
    data = videos.encode(
        videos.pan(videos.photo(testdata, "bridge"), 5, size=(320, 256)), fmt="matroska"
    )
    patched = bytearray(data)
    for element in (b"\xb0\x82\x01\x40", b"\xba\x82\x01\x00"):  # 320 and 256
        at = data.index(element) + 2
        patched[at : at + 2] = b"\xff\xff"
    video = load_bytes(bytes(patched))
    assert (video.width, video.height) == (320, 256)
    assert refusal(bytes(patched), VideoLimits(max_pixels=320 * 255)) is Code.TOO_MANY_PIXELS


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda clip: b"", Code.EMPTY),
        (lambda clip: clip[: len(clip) // 2], Code.TRUNCATED),
        (lambda clip: clip[:100], Code.TRUNCATED),
        (
            lambda clip: bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8)),
            Code.UNSUPPORTED_FORMAT,
        ),
        (lambda clip: encode_image(gradient(), "JPEG"), Code.UNSUPPORTED_FORMAT),
        (lambda clip: encode_image(gradient(), "PNG"), Code.UNSUPPORTED_FORMAT),
        (lambda clip: encode_image(gradient(), "GIF"), Code.UNSUPPORTED_FORMAT),
        (
            lambda clip: b"#EXTM3U\n#EXT-X-TARGETDURATION:1\nfile:///etc/passwd\n",
            Code.UNSUPPORTED_FORMAT,
        ),
        (lambda clip: b"ffconcat version 1.0\nfile /etc/passwd\n", Code.UNSUPPORTED_FORMAT),
    ],
    ids=[
        "empty",
        "truncated-half",
        "truncated-header",
        "garbage",
        "jpeg",
        "png",
        "gif",
        "hls",
        "concat",
    ],
)
def test_hostile_inputs_are_refused_with_their_code(
    clip: bytes, make: Callable[[bytes], bytes], code: Code
) -> None:
    assert refusal(make(clip)) is code


def test_a_truncated_matroska_file(testdata: Path) -> None:
    data = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 30), fmt="matroska")
    assert refusal(data) is None
    assert refusal(data[: len(data) * 2 // 3]) is Code.TRUNCATED


def test_millions_of_empty_boxes_do_not_hold_the_probe() -> None:
    ftyp = struct.pack(">I", 16) + b"ftypisom" + b"\0\0\0\0"
    data = ftyp + (struct.pack(">I", 8) + b"free") * 250_000
    started = time.monotonic()
    assert refusal(data) is Code.CORRUPT  # an MP4 with no movie in it
    assert time.monotonic() - started < 10


def test_a_codec_outside_the_allow_list(testdata: Path) -> None:
    frames = [np.asarray(gradient(64, 48, seed=i)) for i in range(5)]
    data = videos.encode(frames, codec="mjpeg", fmt="avi", pix_fmt="yuvj420p")
    assert refusal(data) is Code.UNSUPPORTED_CODEC


def test_a_codec_ffmpeg_does_not_know() -> None:
    # An AVI whose video FOURCC (FMP4, in the stream header and the format) says ZZZZ.
    frames = [np.asarray(gradient(64, 48, seed=i)) for i in range(5)]
    data = videos.encode(frames, codec="mpeg4", fmt="avi").replace(b"FMP4", b"ZZZZ")
    assert refusal(data) is Code.UNSUPPORTED_CODEC


def test_a_container_with_no_video() -> None:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    assert refusal(out.getvalue()) is Code.NO_VIDEO_STREAM


def test_too_many_streams(clip: bytes) -> None:
    assert refusal(clip, VideoLimits(max_streams=1)) is None
    frames = [np.asarray(gradient(32, 32, seed=i)) for i in range(3)]
    data = _two_video_streams(frames)
    assert refusal(data, VideoLimits(max_streams=1)) is Code.TOO_MANY_STREAMS


def test_a_stream_of_zero_length(clip: bytes) -> None:
    """A video track whose sample tables are empty, or whose samples are all of 0 bytes: the
    probe sees a track, the decode nothing to show."""
    assert refusal(hostile.without_samples(clip)) is Code.EMPTY
    assert refusal(hostile.with_empty_samples(clip)) is Code.EMPTY


def test_a_million_declared_frames(clip: bytes) -> None:
    """The decoding times (``stts``) declaring 10^6 frames of a 3-second clip's 30: refused at
    the probe, before a frame is decoded; under a limit that allows them, the 30 play."""
    data = hostile.declaring_frames(clip, 10**6)
    assert refusal(data) is Code.TOO_MANY_FRAMES
    assert refusal(data, VideoLimits(max_frames=10**7)) is None


def test_an_avi_declaring_a_million_frames() -> None:
    frames = [np.asarray(gradient(64, 48, seed=i)) for i in range(10)]
    avi = videos.encode(frames, codec="mpeg4", fmt="avi")
    assert hostile.avi_declaring_frames(avi, 10) == avi  # the patch is where the 10 frames are
    data = hostile.avi_declaring_frames(avi, 10**6)
    assert refusal(data) is Code.TOO_LONG  # 10^5 s at 10 frames a second
    assert refusal(data, VideoLimits(max_duration=1e6)) is Code.TOO_MANY_FRAMES


def test_a_sequence_parameter_set_declaring_100000_by_100000(testdata: Path) -> None:
    """The H.264 SPS (in MP4's ``avcC``) rewritten to 100000x100000 while the container says
    160x128: FFmpeg's decoder refuses it but reports the container's size, so the probe reads
    the SPS itself, and refuses it before a frame is decoded."""
    data = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 10, size=(160, 128)))
    assert hostile.declaring_size(data, 160, 128) == data  # the rewrite keeps what it is given
    assert refusal(hostile.declaring_size(data, 100_000, 100_000)) is Code.TOO_MANY_PIXELS
    assert load_bytes(hostile.declaring_size(data, 320, 256)).width == 320


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv444p", "gray"])
@pytest.mark.parametrize("interlaced", [False, True])
def test_the_sps_size_is_ffmpegs(pix_fmt: str, interlaced: bool) -> None:
    """The SPS's size as the probe reads it, as FFmpeg decodes it: each chroma format's
    cropping units, fields or frames, a size that is not whole macroblocks."""
    import av

    frames = [np.asarray(gradient(98, 36, seed=i)) for i in range(2)]
    options = {"x264-params": "interlaced=1"} if interlaced else {}
    data = videos.encode(frames, options=options, pix_fmt=pix_fmt)
    with av.open(io.BytesIO(data), "r") as container:
        extradata = container.streams.video[0].codec_context.extradata
        decoded = next(container.decode(video=0))
    assert extradata is not None
    assert _h264_size(extradata) == (decoded.width, decoded.height) == (98, 36)
    assert _h264_size(None) == _h264_size(extradata[:12]) == (1, 1)  # none, cut off: FFmpeg's


def test_a_container_that_loops(clip: bytes) -> None:
    """An edit list replaying the clip: a few times, it plays past what the file declares and
    is refused there; a hundred thousand times (1.2 MB), it is refused before FFmpeg builds
    an index of 3 million entries."""
    assert refusal(hostile.looping(clip, 1)) is None
    assert refusal(hostile.looping(clip, 8)) is Code.CORRUPT
    assert _code(lambda: load_bytes(hostile.looping(clip, 100_000))) is Code.CORRUPT
    # Replays within the declared duration's margin (10 s past 2 x 3 s) are still played.
    assert len(list(load_bytes(hostile.looping(clip, 4)).frames())) == 12


def test_a_matroska_file_pointing_back_at_itself(testdata: Path) -> None:
    """A SeekHead whose every entry points at itself is read without a loop; a Segment of
    unknown size with no Cluster holds no frame."""
    mkv = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 30), fmt="matroska")
    looping = hostile.matroska_seeking_itself(mkv)
    assert looping != mkv
    assert refusal(looping) is None
    assert refusal(hostile.matroska_without_clusters(mkv)) is Code.CORRUPT


_PEAK = """
import json, resource, sys
from pathlib import Path
from rempart.errors import MediaError
from rempart.video import load_file

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux

codes = {}
for path in map(Path, sys.argv[1:]):
    if path.name == "benign.mp4":
        list(load_file(path).frames())
        before = peak()
        continue
    try:
        list(load_file(path).frames(every=0.5))
    except MediaError as exc:
        codes[path.stem] = exc.code.value
print(json.dumps({"codes": codes, "growth_mib": peak() - before}))
"""


def test_hostile_containers_are_refused_in_bounded_memory(
    clip: bytes, testdata: Path, tmp_path: Path
) -> None:
    """Each hostile file loaded and decoded in a process of its own, after a benign one has
    loaded FFmpeg's libraries: the peak RSS grows by less than 64 MiB. (A million repeated
    edits, 12 MB of file, cost FFmpeg's index about a gigabyte before they were refused.)"""
    big = videos.encode(videos.pan(videos.photo(testdata, "bridge"), 10, size=(160, 128)))
    files = {
        "benign": clip,
        "looping": hostile.looping(clip, 1_000_000),
        "frames": hostile.declaring_frames(clip, 10**6),
        "pixels": hostile.declaring_size(big, 100_000, 100_000),
        "empty": hostile.without_samples(clip),
    }
    for name, data in files.items():
        (tmp_path / f"{name}.mp4").write_bytes(data)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *(str(tmp_path / f"{name}.mp4") for name in files)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    found = json.loads(done.stdout)
    assert found["codes"] == {
        "looping": "corrupt",
        "frames": "too_many_frames",
        "pixels": "too_many_pixels",
        "empty": "empty",
    }
    assert found["growth_mib"] < 64


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        VideoLimits(max_frames=0)


def _two_video_streams(frames: list[np.ndarray]) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        streams = [container.add_stream("libx264", rate=10) for _ in range(2)]
        for stream in streams:
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for pixels in frames:
            for stream in streams:
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    container.mux(packet)
        for stream in streams:
            for packet in stream.encode():
                container.mux(packet)
    return out.getvalue()


def _code(call: Callable[[], object]) -> Code | None:
    try:
        call()
    except MediaError as exc:
        return exc.code
    return None
