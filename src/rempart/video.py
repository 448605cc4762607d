"""Safe video loading: probe a container within limits, then sample its frames as RGB pixels.

Every video a platform receives is hostile until decoded within limits, as every image is
(``rempart.media``). ``load_bytes`` and ``load_file`` probe an input (bytes, container,
streams, codec, declared size, duration and frame count) without decoding a frame;
``Video.frames`` then decodes one frame per ``every`` seconds at the size the caller needs,
seeking to keyframes where the samples are far apart, and refuses a stream that gives no
frame or plays far past the duration it declares (a container that loops). Only the demuxers
and decoders a platform needs are ever opened (``FORMATS``, ``CODECS``): FFmpeg's others (HLS
and concat lists that open other files or URLs, raw and image demuxers) are refused before
they run. Anything wrong raises ``VideoError`` (a ``MediaError``) with a reason code; PyAV's
and FFmpeg's exceptions never escape raw (``_decoding``). Needs the ``video`` extra (PyAV,
whose wheels bundle FFmpeg).
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain, count, islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from rempart.errors import (
    MediaError,
    MediaErrorCode,
    VideoError,
    import_extra,
    media_os_error,
)

if TYPE_CHECKING:
    import av
    import av.container
    import av.video

__all__ = [
    "CODECS",
    "DECODE_PARTS",
    "DECODE_THREADS",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DECODE_SECONDS",
    "DEFAULT_MAX_DURATION",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_STREAMS",
    "DEFAULT_SEEK_GAP",
    "EBML_MAGIC",
    "ERROR_CODES",
    "FORMATS",
    "Video",
    "VideoFrame",
    "VideoLimits",
    "container_tags",
    "decode_frames",
    "load_bytes",
    "load_file",
]


DEFAULT_MAX_BYTES: Final = 1024 * 1024 * 1024
"""1 GiB: an hour of 1080p at about 2 Mbit/s, as platforms' upload limits allow."""

DEFAULT_MAX_DURATION: Final = 3 * 3600.0
"""Three hours, a feature film: longer is a live stream's recording, not an upload."""

DEFAULT_MAX_FRAMES: Final = 3 * 3600 * 60
"""Three hours at 60 frames a second."""

DEFAULT_MAX_PIXELS: Final = 8192 * 4320
"""8K (full-format DCI) per frame; a 100000x100000 header is refused before decoding."""

DEFAULT_MAX_STREAMS: Final = 32
"""A video, audio tracks in many languages and their subtitles."""

DEFAULT_MAX_DECODE_SECONDS: Final = 900.0
"""Wall-clock seconds one pass over a video's frames may take: three hours of 1080p sampled
at one frame a second decode in a few minutes on one core."""


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """What a video may cost before Rempart refuses it (settings ``REMPART_VIDEO_MAX_*``).

    Attributes:
        max_bytes: size of the file.
        max_duration: seconds, as declared and as the decoded timestamps reach.
        max_frames: frames, as declared (or duration x rate) and as actually decoded.
        max_pixels: width x height of one frame, declared and decoded.
        max_streams: streams of any kind in the container.
        max_decode_seconds: wall-clock seconds one pass over the frames may take, so that
            a container that loops or a decoder that crawls never holds a worker.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_duration: float = DEFAULT_MAX_DURATION
    max_frames: int = DEFAULT_MAX_FRAMES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_streams: int = DEFAULT_MAX_STREAMS
    max_decode_seconds: float = DEFAULT_MAX_DECODE_SECONDS

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_duration",
            "max_frames",
            "max_pixels",
            "max_streams",
            "max_decode_seconds",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"VideoLimits.{name} must be positive")


DEFAULT_LIMITS: Final = VideoLimits()

ERROR_CODES: Final = (
    MediaErrorCode.NOT_FOUND,
    MediaErrorCode.UNREADABLE,
    MediaErrorCode.NOT_REGULAR,
    MediaErrorCode.EMPTY,
    MediaErrorCode.TOO_LARGE,
    MediaErrorCode.UNSUPPORTED_FORMAT,
    MediaErrorCode.UNSUPPORTED_CODEC,
    MediaErrorCode.NO_VIDEO_STREAM,
    MediaErrorCode.TOO_MANY_STREAMS,
    MediaErrorCode.TOO_MANY_PIXELS,
    MediaErrorCode.TOO_MANY_FRAMES,
    MediaErrorCode.TOO_LONG,
    MediaErrorCode.TIMED_OUT,
    MediaErrorCode.TRUNCATED,
    MediaErrorCode.CORRUPT,
)
"""The codes a ``VideoError`` carries (the problem types ``video-<code>``)."""

DEFAULT_SEEK_GAP: Final = 5.0
"""Samples at least this many seconds apart are reached by seeking to the keyframe before
each, rather than by decoding every frame between them: typical encoders put a keyframe
every 2 to 10 seconds, so below this a seek saves little and may cost a second decode."""

DECODE_THREADS: Final = min(4, (os.cpu_count() or 1) + 1)
"""FFmpeg's decoding threads for a video: as its automatic choice (a core's each, and one
more), at most 4, since each holds a frame of its own in flight (``decode_frames``)."""

DECODE_PARTS: Final = min(4, os.cpu_count() or 1)
"""Stretches of a video ``Video.parts`` decodes at once by default: a core's each, at most 4.
FFmpeg's threads within one decode wait on each other's reference frames; separate
stretches, each from a keyframe of its own, do not."""


def decode_frames() -> int:
    """Frames a video's decode holds at once, about: one per decoding thread, and the one
    converted for the caller with the one before it; in each part, when in parts."""
    return max(DECODE_THREADS + 2, DECODE_PARTS * (_part_threads(DECODE_PARTS) + 2))


def _part_threads(parts: int) -> int:
    """FFmpeg's decoding threads for each of ``parts`` decodes at once."""
    return max(1, DECODE_THREADS // parts)


# FFmpeg demuxer name -> Rempart's format name. Only these demuxers are ever opened
# (FFmpeg's ``format_whitelist``, checked after probing and before reading a header).
_DEMUXERS: Final = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "matroska,webm": "matroska",
    "avi": "avi",
}
FORMATS: Final = tuple(sorted(set(_DEMUXERS.values())))
"""The containers Rempart opens: MP4/MOV/3GP, Matroska/WebM and AVI."""

CODECS: Final = ("av1", "h264", "hevc", "mpeg4", "vp8", "vp9")
"""The video codecs Rempart decodes (FFmpeg's codec names): what phones, cameras, browsers
and platforms' transcoders write."""

_DEMUXER_WHITELIST: Final = ",".join(
    sorted({name for names in _DEMUXERS for name in names.split(",")})
)
# Matroska's signature (EBML's magic), to tell a damaged one from a file of another kind.
EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
# The decoders FFmpeg may open (``codec_whitelist``), probing included: those of ``CODECS``
# (dav1d decodes AV1) and the audio a video carries, whose parameters the probe reads.
_DECODER_WHITELIST: Final = ",".join(
    (*CODECS, "libdav1d", "aac", "mp3", "mp3float", "opus", "vorbis", "flac", "ac3", "eac3")
)
# A fragmented MP4 has two top-level boxes a fragment (a second or more each); a file of
# millions of empty boxes must not hold the probe, so the walk gives up past this many.
_MAX_MP4_BOXES: Final = 100_000
# An MP4's edit list may play its samples more than once; FFmpeg builds an index entry per
# sample per edit, so a small file of a million edits would hold gigabytes and replay for hours.
# Real files have one or two edits a track (a start offset, a trim); this many is refused.
_MAX_EDITS: Final = 16
# Decoded timestamps may run past the duration a container declares by this factor and
# margin (rounding, a last frame's length, a muxer's estimate) before the container is taken
# to loop: an edit list replaying its samples, a Matroska file whose clusters repeat.
_DECLARED_FACTOR: Final = 2
_DECLARED_MARGIN: Final = Fraction(10)  # seconds
_EPSILON: Final = Fraction(1, 1_000_000)  # a microsecond: timestamps' rounding
# Codecs whose every keyframe starts decoding afresh (``_Afresh``).
_CLOSED_CODECS: Final = frozenset({"vp8", "vp9", "av1"})
# NAL unit types of pictures that start decoding afresh: H.264's IDR; HEVC's BLA and IDR.
_FRESH_NAL_TYPES: Final = {"h264": frozenset({5}), "hevc": frozenset({16, 17, 18, 19, 20})}
# Keyframes ``Video.parts`` looks among for its cuts, at most.
_MAX_KEYFRAMES: Final = 4096
# Compressed packets held ahead of decoding, at most (``_Ahead``): seconds of 4K video.
_AHEAD_BYTES: Final = 64 * 2**20
# H.264 profiles whose SPS carries chroma format and bit depths (ITU-T H.264, 7.3.2.1.1).
_H264_HIGH_PROFILES: Final = frozenset(
    {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame.

    Attributes:
        index: its number among the video stream's frames, from 0: its timestamp times the
            frame rate, rounded (the count of frames decoded before it in a stream with no
            frame rate).
        timestamp: seconds from the start of the video stream.
        pixels: ``(height, width, 3)`` uint8 RGB.
    """

    index: int
    timestamp: float
    pixels: npt.NDArray[np.uint8] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Video:
    """A video that passed the probe: its container, codec and declared size, not yet decoded.

    Attributes:
        source: the bytes, or the path of the file, each pass over the frames reads again.
        format: one of ``FORMATS``.
        codec: one of ``CODECS``.
        width: coded width of the frames, in pixels.
        height: coded height of the frames.
        duration: seconds, as declared (0.0 when the container does not say).
        frame_rate: frames a second, the stream's average (0.0 when unknown).
        frame_count: frames, as declared or estimated from duration and rate (0 if neither).
        stream_count: streams of any kind in the container.
        limits: the limits it was checked against, applied again while decoding.
    """

    source: bytes | Path = field(repr=False)
    format: str
    codec: str
    width: int
    height: int
    duration: float
    frame_rate: float
    frame_count: int
    stream_count: int
    limits: VideoLimits = field(default=DEFAULT_LIMITS, repr=False)

    def frames(
        self,
        *,
        every: float = 1.0,
        max_side: int | None = None,
        seek_gap: float | None = DEFAULT_SEEK_GAP,
    ) -> Iterator[VideoFrame]:
        """Decode one frame per ``every`` seconds: the first at or after each multiple of it.

        ``max_side``: the caller needs no more than this many pixels on the longer side, so
        each sampled frame is scaled down to it (aspect ratio kept) by FFmpeg's scaler while
        converting to RGB, never converted at full size first. ``seek_gap``: seek to the
        keyframe before each sample when samples are at least this many seconds apart (None:
        never). Raises ``VideoError`` when the decode crosses a limit or the data is damaged.
        """
        _check_sampling(every, max_side)
        yield from self._pass(_Span(every, max_side, seek_gap), _Work(self.limits))

    def parts(
        self, count: int = DECODE_PARTS, *, every: float = 1.0, max_side: int | None = None
    ) -> list[Generator[VideoFrame, None, None]]:
        """The frames ``frames`` gives, in up to ``count`` consecutive stretches of the video,
        each decoded from a keyframe of its own, to be read at once, one per thread (FFmpeg
        lets go of the GIL): a video's frames arrive about ``count`` times as fast on as many
        cores, where FFmpeg's own threads wait on each other's reference frames. The
        stretches cut the video at keyframes a demuxing pass finds (no frame is decoded for
        it), so that no part decodes frames another does; one part when there is no keyframe
        to cut at. The limits apply to all the parts together. Raises ``VideoError`` as
        ``frames`` does, from the demuxing pass here or from a part as it is read."""
        _check_sampling(every, max_side)
        if count < 1:
            raise ValueError("count must be at least 1")
        work = _Work(self.limits)
        cuts = self._cuts(count, _exact(every), work)
        threads = _part_threads(len(cuts) + 1)
        starts, stops = [Fraction(0), *cuts], [*cuts, None]
        return [
            self._pass(_Span(every, max_side, DEFAULT_SEEK_GAP, start, stop, threads), work)
            for start, stop in zip(starts, stops, strict=True)
        ]

    def _pass(self, span: _Span, work: _Work) -> Generator[VideoFrame, None, None]:
        with _opened(self.source, self.limits) as container:
            yield from _Sampler(self, container, span, work).run()

    def _cuts(self, count: int, every: Fraction, work: _Work) -> list[Fraction]:
        """Where ``parts`` cuts the video: sample times (seconds from the stream's start,
        multiples of ``every``), each the first at or after a keyframe near an even share
        of the video; none for a stream whose packets do not all carry a timestamp."""
        # Frames are numbered from their timestamps and the rate; AVI seeks by decoding time,
        # which its packed B-frames put after the keyframe asked for.
        if count == 1 or not self.frame_rate or self.format == "avi":
            return []
        with _opened(self.source, self.limits) as container:
            found = _keyframes(container, work)
        if found is None:
            return []
        keyframes, end = found
        inner = [at for at in keyframes if 0 < at < end]
        cuts: list[Fraction] = []
        for share in range(1, count if inner else 1):
            near = min(inner, key=lambda at: abs(at - end * share / count))
            cut = math.ceil(near / every) * every
            if 0 < cut < end and (not cuts or cut > cuts[-1]):
                cuts.append(cut)
        return cuts


def load_file(path: str | Path, *, limits: VideoLimits = DEFAULT_LIMITS) -> Video:
    """Probe a video file within ``limits`` (see ``load_bytes``); its frames are read from the
    file as they are decoded, never the whole file into memory."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise media_os_error(path, exc, error=VideoError) from exc
    if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
        raise VideoError(MediaErrorCode.NOT_REGULAR, f"{path}: not a regular file")
    _check_size(info.st_size, limits)
    return _probe(path, limits)


def load_bytes(data: bytes, *, limits: VideoLimits = DEFAULT_LIMITS) -> Video:
    """Check a video's bytes against ``limits`` and probe its container and video stream.

    Nothing is decoded here but what FFmpeg reads to learn the streams' parameters;
    everything the headers declare (format, codec, streams, frame size, duration, frame
    count) is checked now, and again against the frames as ``Video.frames`` decodes them.
    """
    _check_size(len(data), limits)
    return _probe(data, limits)


def _exact(every: float) -> Fraction:
    """Seconds between samples as written: 0.7 is 0.6999... as a float, whose exact value
    would give samples 0.7 s and a tick apart."""
    return Fraction(every).limit_denominator(1_000_000)


def _check_sampling(every: float, max_side: int | None) -> None:
    if not every > 0:
        raise ValueError("every must be a positive number of seconds")
    if max_side is not None and max_side < 1:
        raise ValueError("max_side must be at least 1")


def _keyframes(
    container: av.container.InputContainer, work: _Work
) -> tuple[list[Fraction], Fraction] | None:
    """The times of the video stream's keyframes that start decoding afresh (``_Afresh``;
    seconds from its start, in file order) and the latest time of any packet, from its
    packets alone (nothing decoded); None when a packet has no timestamp. Past
    ``_MAX_KEYFRAMES``, every other one is forgotten, and one in two of those to come, and so
    on: a cut needs one near it, and a hostile file's millions of keyframes must not fill
    memory."""
    with _decoding():
        stream = _video_stream(container)
        base = stream.time_base
        if base is None:
            return None
        start = Fraction(stream.start_time or 0) * base
        afresh = _Afresh(stream)
        keyframes: list[Fraction] = []
        seen, stride = 0, 1  # keyframes, and one in ``stride`` kept
        end = Fraction(0)
        for packet in container.demux(stream):
            work.in_time()
            if packet.size == 0:
                continue  # the demuxer's flush at the end
            if packet.pts is None:
                return None
            at = packet.pts * base - start
            end = max(end, at)
            if packet.is_keyframe and afresh(packet):
                if seen % stride == 0:
                    keyframes.append(at)
                    if len(keyframes) == _MAX_KEYFRAMES:
                        del keyframes[1::2]
                        stride *= 2
                seen += 1
    return keyframes, end


def container_tags(video: Video) -> dict[str, str]:
    """The metadata tags of the container and of its video stream, as FFmpeg reads them
    (``encoder``, ``comment``, what a generator wrote): the container's win a clash. Read
    for provenance; ``MediaError`` when the container cannot be opened again."""
    with _opened(video.source, video.limits) as container, _decoding():
        tags = dict(_video_stream(container).metadata)
        tags.update(container.metadata)
    return {str(key): str(value) for key, value in tags.items()}


def _check_size(size: int, limits: VideoLimits) -> None:
    if size == 0:
        raise VideoError(MediaErrorCode.EMPTY, "the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise VideoError(
            MediaErrorCode.TOO_LARGE,
            f"the file is {size:,} bytes, over the video limit of {limits.max_bytes:,}; "
            "raise REMPART_VIDEO_MAX_BYTES to accept it",
        )


def _probe(source: bytes | Path, limits: VideoLimits) -> Video:
    with _opened(source, limits) as container, _decoding():
        fmt = _DEMUXERS[container.format.name]  # the whitelist lets no other through
        streams = len(container.streams)
        if streams > limits.max_streams:
            raise VideoError(
                MediaErrorCode.TOO_MANY_STREAMS,
                f"{streams:,} streams, over the limit of {limits.max_streams:,}; "
                "raise REMPART_VIDEO_MAX_STREAMS to accept it",
            )
        stream = _video_stream(container)
        codec = _codec_name(stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_pixels(width, height, limits, "the header")
        if codec == "h264":  # FFmpeg reports the container's size when its decoder refuses
            _check_pixels(*_h264_size(stream.codec_context.extradata), limits, "the H.264 SPS")
        duration = _declared_duration(container, stream)
        rate = float(stream.average_rate or stream.base_rate or 0)
        frames = int(stream.frames or 0) or math.ceil(duration * rate)
    if duration > limits.max_duration:
        raise VideoError(
            MediaErrorCode.TOO_LONG,
            f"the video declares {duration:,.1f} s, over the limit of "
            f"{limits.max_duration:,.0f} s; raise REMPART_VIDEO_MAX_DURATION to accept it",
        )
    if frames > limits.max_frames:
        raise VideoError(
            MediaErrorCode.TOO_MANY_FRAMES,
            f"the video declares {frames:,} frames, over the limit of {limits.max_frames:,}; "
            "raise REMPART_VIDEO_MAX_FRAMES to accept it",
        )
    return Video(source, fmt, codec, width, height, duration, rate, frames, streams, limits)


def _video_stream(container: av.container.InputContainer) -> av.video.VideoStream:
    if not container.streams.video:
        raise VideoError(
            MediaErrorCode.NO_VIDEO_STREAM,
            f"the {_DEMUXERS[container.format.name]} container holds no video stream",
        )
    return container.streams.video[0]


def _codec_name(stream: av.video.VideoStream) -> str:
    """The codec's own name (``av1``), whichever decoder FFmpeg picked for it (``libdav1d``);
    refused unless it is one of ``CODECS``."""
    context = stream.codec_context
    if context is None or context.codec is None:  # a codec FFmpeg does not know at all
        raise VideoError(
            MediaErrorCode.UNSUPPORTED_CODEC,
            f"the video's codec is unknown; supported: {', '.join(CODECS)}",
        )
    name = str(context.codec.canonical_name)
    if name not in CODECS:
        raise VideoError(
            MediaErrorCode.UNSUPPORTED_CODEC,
            f"the video is encoded with {name}; supported: {', '.join(CODECS)}",
        )
    return name


def _declared_duration(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> float:
    """Seconds the stream (or else the container) declares; 0.0 when neither does."""
    if stream.duration is not None and stream.time_base is not None:
        return max(0.0, float(stream.duration * stream.time_base))
    if container.duration is not None:  # in AV_TIME_BASE units, microseconds
        return max(0.0, container.duration / 1_000_000)
    return 0.0


def _check_pixels(width: int, height: int, limits: VideoLimits, where: str) -> None:
    if width < 1 or height < 1:
        raise VideoError(MediaErrorCode.CORRUPT, f"{where} declares frames of {width}x{height}")
    if width * height > limits.max_pixels:
        raise VideoError(
            MediaErrorCode.TOO_MANY_PIXELS,
            f"{where} declares frames of {width}x{height} = {width * height:,} pixels, over "
            f"the limit of {limits.max_pixels:,}; raise REMPART_VIDEO_MAX_PIXELS to accept it",
        )


def _h264_size(extradata: bytes | None) -> tuple[int, int]:
    """The frame size the first SPS of an ``avcC`` record declares (ISO/IEC 14496-15, 5.3.3.1):
    FFmpeg's decoder refuses one over ``max_pixels`` but then reports the container's size, and
    the video would be refused as corrupt rather than as too large. ``(1, 1)`` when there is no
    such SPS or it cannot be read: FFmpeg's own decoder judges it then."""
    if not extradata or len(extradata) < 8 or extradata[0] != 1 or not extradata[5] & 0x1F:
        return 1, 1
    nal = extradata[8 : 8 + int.from_bytes(extradata[6:8], "big")]
    try:
        return _sps_size(_Bits(nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")))
    except (IndexError, ValueError):
        return 1, 1


def _sps_size(bits: _Bits) -> tuple[int, int]:
    """Width and height from an SPS's RBSP (ITU-T H.264, 7.3.2.1.1 and 7.4.2.1.1: whole
    macroblocks less the cropping, in chroma units). ValueError for what is not handled."""
    profile = bits.take(8)
    bits.take(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma = 1  # 4:2:0 unless the profile says otherwise
    if profile in _H264_HIGH_PROFILES:
        chroma = bits.ue()
        if chroma == 3 and bits.take(1):  # separate colour planes: each coded as monochrome
            chroma = 0
        bits.ue(), bits.ue(), bits.take(1)  # bit depths, qpprime_y_zero_transform_bypass
        if bits.take(1):
            raise ValueError("scaling matrices: left to FFmpeg")
    bits.ue()  # log2_max_frame_num_minus4
    order = bits.ue()
    if order == 0:
        bits.ue()
    elif order == 1:
        bits.take(1), bits.ue(), bits.ue(), bits.ue()  # the offsets: se(v) read as ue(v)
        for _ in range(min(bits.ue(), 256)):
            bits.ue()
    bits.ue(), bits.take(1)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frames_only = bits.take(1)
    if not frames_only:
        bits.take(1)  # mb_adaptive_frame_field_flag
    bits.take(1)  # direct_8x8_inference_flag
    width, height = 16 * width_mbs, 16 * height_units * (2 - frames_only)
    if bits.take(1):  # frame_cropping_flag: offsets in chroma samples (Table 6-1)
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x = 1 if chroma in (0, 3) else 2
        unit_y = (2 if chroma == 1 else 1) * (2 - frames_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    return width, height


class _Bits:
    """Reads a byte string bit by bit, and Exp-Golomb codes (ITU-T H.264, 9.1); IndexError past
    its end, ValueError for a code over 32 bits."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self.data[self.at >> 3]
            value = value << 1 | (byte >> (7 - (self.at & 7))) & 1
            self.at += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.take(1) == 0:
            zeros += 1
            if zeros > 32:
                raise ValueError("an Exp-Golomb code over 32 bits")
        return (1 << zeros) - 1 + self.take(zeros)


@dataclass(frozen=True, slots=True)
class _Span:
    """What one pass over a video samples: one frame per ``every`` seconds from ``start`` to
    before ``stop`` (seconds from the stream's start, multiples of ``every``; None: to the
    end), decoded on ``threads`` of FFmpeg's."""

    every: float
    max_side: int | None
    seek_gap: float | None
    start: Fraction = Fraction(0)
    stop: Fraction | None = None
    threads: int = DECODE_THREADS


class _Work:
    """What the passes over one video share: the frames they decoded, against the limit, and
    the wall-clock deadline."""

    def __init__(self, limits: VideoLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_decode_seconds
        self._decoded = count(1)  # next() is atomic: parts count from their own threads

    def decoded(self) -> None:
        """Count a decoded frame, refused past the limit."""
        if next(self._decoded) > self.limits.max_frames:
            raise VideoError(
                MediaErrorCode.TOO_MANY_FRAMES,
                f"over {self.limits.max_frames:,} frames decoded, the limit; "
                "raise REMPART_VIDEO_MAX_FRAMES to accept it",
            )

    def in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise VideoError(
                MediaErrorCode.TIMED_OUT,
                f"decoding took over {self.limits.max_decode_seconds:,.0f} s; refused as a "
                "possible decoding loop (REMPART_VIDEO_MAX_DECODE_SECONDS)",
            )


class _Sampler:
    """One pass over a video's frames, sampling by time and enforcing the limits as it goes."""

    def __init__(
        self,
        video: Video,
        container: av.container.InputContainer,
        span: _Span,
        work: _Work,
    ) -> None:
        self.limits = video.limits
        self.declared = Fraction(video.duration)  # 0: the container does not say
        self.container = container
        self.every = _exact(span.every)
        self.max_side = span.max_side
        self.seek_gap = Fraction(span.seek_gap) if span.seek_gap is not None else None
        self.span = span
        self.work = work
        self.decoded = 0  # frames decoded in this pass, sampled or not, re-decodes included
        # Stream time (seconds) of the next sample: a frame that no other frame refers to and
        # is shown before it is never needed, so its packet is not decoded (``_decode``).
        self.wanted_from = Fraction(0)

    def run(self) -> Iterator[VideoFrame]:
        with _decoding():
            stream = _video_stream(self.container)
            # As the probe checked them, whoever made this Video and with whichever limits.
            _codec_name(stream)
            context = stream.codec_context
            _check_pixels(context.width, context.height, self.limits, "the header")
            context.options = _decoder_options(self.limits)
            stream.thread_type = "AUTO"
            context.thread_count = self.span.threads
        start = Fraction(stream.start_time or 0) * (stream.time_base or 0)
        rate = Fraction(stream.average_rate or stream.base_rate or 0)
        target = self.span.start  # seconds from ``start`` of the next sample
        last, sought = None, False
        self.wanted_from = start + target - _EPSILON  # a stream may start before 0
        frames = self._decode(stream)
        if target:  # a later part of the video: from the keyframe before its first sample
            frames, sought = self._sought(stream, start + target, frames)
        landed = not sought
        while True:
            with _decoding():
                frame = next(frames, None)
            if frame is None:
                if self.decoded == 0 and not self.span.start:
                    raise VideoError(
                        MediaErrorCode.EMPTY, "the video stream holds no frames to decode"
                    )
                return
            self._check(frame)
            at = self._time(frame, start, rate, self.decoded - 1, last)
            if not landed:
                landed = True
                if at > target + _EPSILON:  # a seek past the keyframe asked for
                    frames, sought = self._restart(stream, start)
                    continue
            if self.span.stop is not None and at >= self.span.stop - _EPSILON:
                return  # the next part's first sample
            if sought and last is not None and at <= last:
                self.seek_gap = None  # keyframes sparser than the samples: decode through
            sought = False
            if at < target - _EPSILON or (last is not None and at <= last):
                continue  # before the next sample, or a timestamp gone backwards
            with _decoding():
                pixels = self._pixels(frame)
            # Numbered from the timestamp, whichever frames were decoded before: a part, a
            # seek, a skipped frame or FFmpeg's threads give a sample the same number.
            number = math.floor(at * rate + Fraction(1, 2)) if rate else self.decoded - 1
            yield VideoFrame(number, float(at), pixels)
            last = at
            target = (math.floor(at / self.every) + 1) * self.every
            self.wanted_from = start + target - _EPSILON
            if self.seek_gap is not None and target - at >= self.seek_gap:
                frames, sought = self._sought(stream, start + target, frames)

    def _decode(self, stream: av.video.VideoStream) -> Iterator[av.VideoFrame]:
        """The stream's frames, less those not needed for the next sample: the packets shown
        before it that come before a keyframe shown at or before it are never decoded (a
        keyframe starts decoding afresh: a video with a keyframe a second, as live streams and
        many phones encode, is decoded a frame a second), and of the others, the frames no
        other frame refers to (FFmpeg's ``NONREF`` discard; about half an H.264 video's frames
        at one sample a second)."""
        context = stream.codec_context
        time_base = stream.time_base
        ahead = _Ahead()
        afresh = _Afresh(stream)
        for packet in self.container.demux(stream):
            self.work.in_time()  # packets that never give a frame must not run on either
            shown = None if packet.pts is None or time_base is None else packet.pts * time_base
            early = shown is not None and shown < self.wanted_from
            # Only a keyframe shown at or before the next sample, and one that starts decoding
            # afresh: every frame shown after it is decoded from it alone. Even then, an open
            # GOP's leading pictures (after the keyframe in decoding, before it on screen) may
            # refer to the held packets; and FFmpeg, given an open GOP's recovery point with
            # nothing before it, holds back and reorders the frames after it.
            if (
                packet.is_keyframe
                and shown is not None
                and shown <= self.wanted_from + _EPSILON
                and ahead.packets
                and afresh(packet)
            ):
                ahead.release()  # never to be decoded
            if early and ahead.hold(packet):
                continue
            for held in (*ahead.release(), packet):
                before = held is not packet or early
                context.skip_frame = "NONREF" if before else "DEFAULT"
                yield from held.decode()

    def _sought(
        self, stream: av.video.VideoStream, at: Fraction, frames: Iterator[av.VideoFrame]
    ) -> tuple[Iterator[av.VideoFrame], bool]:
        """Frames from the keyframe at or before ``at`` (stream time, seconds), and True; the
        running decode and False when the stream cannot seek (then none is tried again)."""
        if stream.time_base is None:
            self.seek_gap = None
            return frames, False
        av_module = _av()
        with _decoding():
            try:
                self.container.seek(int(at / stream.time_base), stream=stream, backward=True)
            except av_module.error.FFmpegError:
                self.seek_gap = None
                return frames, False
        return self._decode(stream), True

    def _restart(
        self, stream: av.video.VideoStream, start: Fraction
    ) -> tuple[Iterator[av.VideoFrame], bool]:
        """Frames from the stream's first keyframe, after a seek that went past where it was
        asked to; raised as corrupt when the stream cannot go back there either."""
        frames, sought = self._sought(stream, start, iter(()))
        if not sought:
            raise VideoError(
                MediaErrorCode.CORRUPT,
                "the video seeks past the keyframe it is asked for and cannot go back to its "
                "start: its index is damaged",
            )
        return frames, sought

    def _check(self, frame: av.VideoFrame) -> None:
        """The limits, on every decoded frame: count, size and the wall clock."""
        self.decoded += 1
        self.work.decoded()
        _check_pixels(frame.width, frame.height, self.limits, f"frame {self.decoded}")
        self.work.in_time()

    def _time(
        self,
        frame: av.VideoFrame,
        start: Fraction,
        rate: Fraction,
        index: int,
        last: Fraction | None,
    ) -> Fraction:
        """Seconds from the stream's start: from the frame's timestamp, else from its index
        and the frame rate (a stream without timestamps), checked against the duration."""
        if frame.pts is not None and frame.time_base is not None:
            at = frame.pts * frame.time_base - start
        elif rate:
            at = index / rate
        else:
            at = (last or Fraction(0)) + self.every  # neither: one sample per frame
        if at > self.limits.max_duration:
            raise VideoError(
                MediaErrorCode.TOO_LONG,
                f"a frame at {float(at):,.1f} s, past the limit of "
                f"{self.limits.max_duration:,.0f} s (REMPART_VIDEO_MAX_DURATION)",
            )
        if self.declared and at > self.declared * _DECLARED_FACTOR + _DECLARED_MARGIN:
            raise VideoError(
                MediaErrorCode.CORRUPT,
                f"a frame at {float(at):,.1f} s of a video that declares "
                f"{float(self.declared):,.1f} s: the container replays its frames or "
                "misstates its length",
            )
        return max(at, Fraction(0))

    def _pixels(self, frame: av.VideoFrame) -> npt.NDArray[np.uint8]:
        width, height = frame.width, frame.height
        side = max(width, height)
        if self.max_side is not None and side > self.max_side:
            scale = self.max_side / side
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
            array = frame.to_ndarray(
                width=width, height=height, format="rgb24", interpolation="AREA"
            )
        else:
            array = frame.to_ndarray(format="rgb24")
        return np.ascontiguousarray(array, dtype=np.uint8)


class _Ahead:
    """Packets demuxed ahead of decoding while they come before the next sample, from the
    last keyframe among them; at most ``_AHEAD_BYTES``, past which they are decoded as they
    come (a stream whose timestamps do not move must not fill memory)."""

    def __init__(self) -> None:
        self.packets: list[av.Packet[Any]] = []
        self.size = 0

    def hold(self, packet: av.Packet[Any]) -> bool:
        """Keep ``packet`` for later, unless the held packets are at their limit."""
        if self.size + packet.size > _AHEAD_BYTES:
            return False
        self.packets.append(packet)
        self.size += packet.size
        return True

    def release(self) -> list[av.Packet[Any]]:
        """The held packets, to decode now, in the order they came."""
        packets = self.packets
        self.packets, self.size = [], 0
        return packets


class _Afresh:
    """Whether a keyframe packet starts decoding afresh, so that the packets before it are
    never needed for a frame shown after it: VP8's, VP9's and AV1's keyframes; of H.264's
    and HEVC's, those holding an IDR (or HEVC BLA) picture, not an open GOP's recovery
    point or CRA, whose pictures may refer back past it (ITU-T H.264 7.4.1.2.3, H.265
    7.4.2.2); MPEG-4 Part 2's never (its GOPs may be open)."""

    def __init__(self, stream: av.video.VideoStream) -> None:
        self.codec = _codec_name(stream)
        extradata = stream.codec_context.extradata or b""
        # avcC and hvcC say how many bytes give each NAL unit's length (ISO 14496-15
        # 5.3.3.1.2, 8.3.3.1.2); without them the NAL units follow start codes (Annex B).
        self.length_size: int | None = None
        if extradata[:1] == b"\x01" and self.codec == "h264" and len(extradata) > 4:
            self.length_size = (extradata[4] & 0x3) + 1
        elif extradata[:1] == b"\x01" and self.codec == "hevc" and len(extradata) > 21:
            self.length_size = (extradata[21] & 0x3) + 1

    def __call__(self, packet: av.Packet[Any]) -> bool:
        if self.codec in _CLOSED_CODECS:
            return True
        fresh = _FRESH_NAL_TYPES.get(self.codec)
        return fresh is not None and not fresh.isdisjoint(self._nal_types(bytes(packet)))

    def _nal_types(self, data: bytes) -> Iterator[int]:
        for header in self._nal_headers(data):
            yield header & 0x1F if self.codec == "h264" else (header >> 1) & 0x3F

    def _nal_headers(self, data: bytes) -> Iterator[int]:
        if self.length_size is None:
            at = data.find(b"\x00\x00\x01")
            while at != -1 and at + 3 < len(data):
                yield data[at + 3]
                at = data.find(b"\x00\x00\x01", at + 3)
            return
        at, size = 0, self.length_size
        while at + size < len(data):
            yield data[at + size]
            at += size + int.from_bytes(data[at : at + size], "big")


@contextmanager
def _opened(source: bytes | Path, limits: VideoLimits) -> Iterator[av.container.InputContainer]:
    """The container, opened from bytes or from an open file (never by name, so that no
    FFmpeg protocol prefix in a path is ever followed), with only ``FORMATS``'s demuxers."""
    av_module = _av()
    with _stream(source) as stream:
        truncated = _truncated(stream)
        _check_edits(stream)
        # One more stream than allowed, so that FFmpeg stops creating them there and the
        # probe still sees that there were too many; each gets the decoders' options.
        streams = limits.max_streams + 1
        options = {"format_whitelist": _DEMUXER_WHITELIST, "max_streams": str(streams)}
        try:
            container = av_module.open(
                stream,
                mode="r",
                options=options,
                stream_options=[_decoder_options(limits)] * streams,
            )
        except Exception as exc:
            if _ours(exc):
                raise
            raise _open_error(exc, stream, truncated) from exc
        try:
            if truncated:
                raise VideoError(
                    MediaErrorCode.TRUNCATED,
                    "the file ends before its container does; it was cut off in transfer",
                )
            yield container
        finally:
            container.close()


def _decoder_options(limits: VideoLimits) -> dict[str, str]:
    """What every decoder is opened with, the probe's included: only the allowed decoders,
    and FFmpeg's own refusal of a frame over ``max_pixels`` before it allocates one."""
    return {"codec_whitelist": _DECODER_WHITELIST, "max_pixels": str(limits.max_pixels)}


@contextmanager
def _stream(source: bytes | Path) -> Iterator[IO[bytes]]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(open(source, "rb"))
        except OSError as exc:
            raise media_os_error(source, exc, error=VideoError) from exc
        yield handle


def _truncated(stream: IO[bytes]) -> bool:
    """Whether the file ends before its container says it does: FFmpeg plays a cut-off file
    as far as it goes, and a platform must know it received part of one."""
    end = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    head = stream.read(64)
    try:
        if head[4:8] == b"ftyp":
            return _mp4_end(stream, end) > end
        if head.startswith(EBML_MAGIC):
            return _matroska_end(head) > end
        return False
    finally:
        stream.seek(0)


def _mp4_end(stream: IO[bytes], end: int) -> int:
    """Where an MP4's top-level boxes say the file ends."""
    last = 0
    for _, at, size in _mp4_boxes(stream, 0, end):
        last = at + size
    return last


def _mp4_boxes(stream: IO[bytes], at: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The type, offset and size of each box from ``at`` up to ``end`` (ISO/IEC 14496-12, 4.2: a
    32-bit size and a type, a 64-bit size after them when the size is 1, to the end of the
    enclosing box or file when 0); the walk stops at one that is not a box (the demuxer gives
    its own verdict) and after ``_MAX_MP4_BOXES``."""
    for _ in range(_MAX_MP4_BOXES):
        if at + 8 > end:
            return
        stream.seek(at)
        head = stream.read(16)
        size, kind = struct.unpack(">I4s", head[:8])
        if size == 1 and len(head) == 16:
            size = struct.unpack(">Q", head[8:16])[0]
        if size == 0:
            size = end - at
        if size < 8:
            return
        yield kind, at, size
        at += size


def _check_edits(stream: IO[bytes]) -> None:
    """Refuse an MP4 whose edit list (``moov/trak/edts/elst``, ISO/IEC 14496-12, 8.6.6)
    holds more than ``_MAX_EDITS`` edits: one that replays its samples over and over."""
    end = stream.seek(0, io.SEEK_END)
    stream.seek(4)
    try:
        if stream.read(4) != b"ftyp":
            return
        edits = max((_count(stream, elst) for elst in _elsts(stream, end)), default=0)
    finally:
        stream.seek(0)
    if edits > _MAX_EDITS:
        raise VideoError(
            MediaErrorCode.CORRUPT,
            f"an edit list of {edits:,} edits, over {_MAX_EDITS}: the container replays its frames",
        )


def _elsts(stream: IO[bytes], end: int) -> Iterator[int]:
    """The offset of each track's edit list box; ``_MAX_MP4_BOXES`` boxes looked at a level,
    so that a movie box of millions of tiny tracks does not hold the probe either."""
    spans = [(-8, end)]  # the file, as if it were a box with a header
    for wanted in (b"moov", b"trak", b"edts", b"elst"):
        boxes = chain.from_iterable(_mp4_boxes(stream, at + 8, stop) for at, stop in spans)
        spans = [
            (at, min(at + size, end))
            for kind, at, size in islice(boxes, _MAX_MP4_BOXES)
            if kind == wanted
        ]
    return iter(at for at, _ in spans)


def _count(stream: IO[bytes], elst: int) -> int:
    """An edit list's entry count: after its header, version and flags."""
    stream.seek(elst + 12)
    data = stream.read(4)
    return struct.unpack(">I", data)[0] if len(data) == 4 else 0


def _matroska_end(head: bytes) -> int:
    """Where a Matroska file's Segment says it ends (RFC 8794, 4: element IDs and sizes are
    variable-length integers; a size of all ones is unknown, as a live stream writes it)."""
    header_size, at = _vint(head, 4)
    at += header_size
    if head[at : at + 4] != b"\x18\x53\x80\x67":  # the Segment's ID
        return 0
    size, data_at = _vint(head, at + 4)
    return 0 if size < 0 else data_at + size


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """The EBML variable-length integer at ``at`` and where what follows it starts; -1 for an
    unknown size or one the bytes at hand do not hold."""
    if at >= len(data) or data[at] == 0:
        return -1, at
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        return -1, at
    value = int.from_bytes(data[at : at + length], "big") & ((1 << (7 * length)) - 1)
    return (-1 if value == (1 << (7 * length)) - 1 else value), at + length


def _open_error(exc: BaseException, stream: IO[bytes], truncated: bool) -> VideoError:
    """Why FFmpeg would not open the input: cut off, damaged (it starts as an allowed
    container), or not a container Rempart opens at all."""
    stream.seek(0)
    head = stream.read(16)
    if truncated:
        return VideoError(
            MediaErrorCode.TRUNCATED,
            f"the file ends before its container does; it was cut off in transfer ({_detail(exc)})",
        )
    if head[4:8] == b"ftyp" or head.startswith(EBML_MAGIC) or head[8:12] == b"AVI ":
        return VideoError(
            MediaErrorCode.CORRUPT,
            f"the file starts as a video container but cannot be read: {_detail(exc)}",
        )
    return VideoError(
        MediaErrorCode.UNSUPPORTED_FORMAT,
        f"not a video in a supported container (the file starts {head[:8]!r}); "
        f"supported: {', '.join(FORMATS)}",
    )


@contextmanager
def _decoding() -> Iterator[None]:
    """Turn whatever PyAV or FFmpeg raises on bad data into ``VideoError``: one bad video in a
    batch costs one error record. Only a real ``MemoryError`` and what is not an
    ``Exception`` (Ctrl-C, exit) go through."""
    try:
        yield
    except Exception as exc:
        if _ours(exc):
            raise
        if isinstance(exc, EOFError):
            raise VideoError(
                MediaErrorCode.TRUNCATED, f"the file ends before the video does ({_detail(exc)})"
            ) from exc
        raise VideoError(
            MediaErrorCode.CORRUPT, f"the video data is corrupt: {_detail(exc)}"
        ) from exc


def _ours(exc: Exception) -> bool:
    """Whether ``exc`` must go through as it is: Rempart's own, or the process out of memory.
    FFmpeg's ENOMEM (``av.error.MemoryError``) is neither: a header asking for more than
    FFmpeg will allocate, which is a property of the data."""
    if isinstance(exc, MediaError):
        return True
    return isinstance(exc, MemoryError) and not isinstance(exc, _av().error.FFmpegError)


def _detail(exc: BaseException) -> str:
    words = str(exc).strip()
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


def _av() -> Any:
    """PyAV, imported on first use: only video needs it, and it is an extra."""
    return import_extra("av", extra="video", detector="video")
