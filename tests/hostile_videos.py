"""Hostile videos made by patching the bytes of benign ones (``tests.videos``): what a container
or a codec header may declare that no real video does. Used by the tests and written into the
video fuzz target's seeds (``fuzz/seeds.py``).

Every patcher but ``avi_declaring_frames`` takes an MP4 as PyAV writes it (H.264, the movie
box after the media data, so that a box may grow without moving the samples ``stco`` points
at).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

# ISO/IEC 14496-12: boxes that hold only boxes, and the sample table's path in a one-track file.
_PARENTS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"})
STBL = (b"moov", b"trak", b"mdia", b"minf", b"stbl")
# Bytes before the first child box: ``stsd``'s version, flags and entry count; a visual sample
# entry's fixed fields (ISO/IEC 14496-12, 12.1.3).
_HEADERS = {b"stsd": 8, b"avc1": 78}
# H.264 profiles whose SPS carries chroma format and bit depths (ITU-T H.264, 7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def _chain(data: bytes, path: Sequence[bytes]) -> list[int]:
    """The offsets of the boxes along ``path``, from the top level down."""
    at, end, chain = 0, len(data), []
    for kind in path:
        while at + 8 <= end:
            size, found = struct.unpack(">I4s", data[at : at + 8])
            if found == kind:
                chain.append(at)
                end = at + size
                at += 8 + _HEADERS.get(kind, 0)
                break
            at += size
        else:
            raise KeyError(f"no {kind!r} box along {path}")
    return chain


def box(data: bytes, path: Sequence[bytes]) -> bytes:
    """The payload of the box at ``path`` (after its 8-byte header)."""
    at = _chain(data, path)[-1]
    return data[at + 8 : at + struct.unpack(">I", data[at : at + 4])[0]]


def with_box(data: bytes, path: Sequence[bytes], payload: bytes) -> bytes:
    """``data`` with the payload of the box at ``path`` replaced, its ancestors' sizes
    following."""
    chain = _chain(data, path)
    at = chain[-1]
    size = struct.unpack(">I", data[at : at + 4])[0]
    grow = 8 + len(payload) - size
    out = bytearray(data[:at] + struct.pack(">I", 8 + len(payload)) + path[-1] + payload)
    out += data[at + size :]
    for parent in chain[:-1]:
        (old,) = struct.unpack(">I", out[parent : parent + 4])
        out[parent : parent + 4] = struct.pack(">I", old + grow)
    return bytes(out)


def declaring_frames(mp4: bytes, frames: int) -> bytes:
    """The decoding times (``stts``) declaring ``frames`` samples of the first entry's duration:
    what FFmpeg reports as the stream's frame count, while the samples stay as they were."""
    stts = box(mp4, (*STBL, b"stts"))
    (delta,) = struct.unpack(">I", stts[12:16])
    return with_box(mp4, (*STBL, b"stts"), stts[:4] + struct.pack(">III", 1, frames, delta))


def without_samples(mp4: bytes) -> bytes:
    """The video track kept, its sample tables emptied: a stream of zero length."""
    for kind in (b"stts", b"stss", b"ctts", b"stsc", b"stco"):
        table = box(mp4, (*STBL, kind))
        mp4 = with_box(mp4, (*STBL, kind), table[:4] + bytes(4))
    table = box(mp4, (*STBL, b"stsz"))
    return with_box(mp4, (*STBL, b"stsz"), table[:4] + bytes(8))


def with_empty_samples(mp4: bytes) -> bytes:
    """Every sample's size (``stsz``) set to 0: a stream of samples of zero bytes."""
    table = box(mp4, (*STBL, b"stsz"))
    (count,) = struct.unpack(">I", table[8:12])
    return with_box(mp4, (*STBL, b"stsz"), table[:12] + bytes(4 * count))


def looping(mp4: bytes, times: int) -> bytes:
    """The edit list (``elst``) repeating its one edit ``times`` times: the track plays its
    samples over and over, while every duration the file declares stays as it was."""
    path = (b"moov", b"trak", b"edts", b"elst")
    elst = box(mp4, path)
    (version,) = struct.unpack(">B", elst[:1])
    entry = elst[8 : 8 + (20 if version == 1 else 12)]
    return with_box(mp4, path, elst[:4] + struct.pack(">I", times) + entry * times)


def avi_declaring_frames(avi: bytes, frames: int) -> bytes:
    """An AVI whose first stream header (``strh``) declares ``frames`` frames (its
    ``dwLength``, at 32 of its 56 bytes; Microsoft's AVI RIFF reference)."""
    at = avi.index(b"strh") + 8 + 32
    return avi[:at] + struct.pack("<I", frames) + avi[at + 4 :]


# Matroska's element IDs (RFC 9559, 5.1): Segment, SeekHead, SeekPosition, Cluster.
_SEGMENT, _SEEK_HEAD, _SEEK_POSITION, _CLUSTER = (
    b"\x18\x53\x80\x67",
    b"\x11\x4d\x9b\x74",
    b"\x53\xac",
    b"\x1f\x43\xb6\x75",
)


def matroska_seeking_itself(mkv: bytes) -> bytes:
    """A Matroska file (as PyAV writes it: an 8-byte Segment size) whose SeekHead sends every
    seek (to the Info, the Tracks, the Cues...) back to the SeekHead itself."""
    data_start = mkv.index(_SEGMENT) + 12
    head, first_cluster = mkv.index(_SEEK_HEAD), mkv.index(_CLUSTER)
    out = bytearray(mkv)
    at = mkv.find(_SEEK_POSITION, head)
    while 0 < at < first_cluster:
        length = out[at + 2] - 0x80  # a one-byte size: 0x81 to 0x88
        out[at + 3 : at + 3 + length] = (head - data_start).to_bytes(length, "big")
        at = mkv.find(_SEEK_POSITION, at + 3 + length)
    return bytes(out)


def matroska_without_clusters(mkv: bytes) -> bytes:
    """A Matroska file cut before its first Cluster, its Segment of unknown size (as a live
    recording writes it): a video track with no frames, and not a truncated file."""
    segment = mkv.index(_SEGMENT) + 4
    unknown = b"\x01" + b"\xff" * 7
    return mkv[:segment] + unknown + mkv[segment + 8 : mkv.index(_CLUSTER)]


def declaring_size(mp4: bytes, width: int, height: int) -> bytes:
    """The H.264 sequence parameter set (in ``avcC``) rewritten to declare frames of
    ``width`` x ``height`` (multiples of 16: whole macroblocks, the cropping kept as it was)."""
    path = (*STBL, b"stsd", b"avc1", b"avcC")
    avcc = box(mp4, path)
    if avcc[5] & 0x1F != 1:
        raise ValueError("expected one SPS in the avcC box")
    (length,) = struct.unpack(">H", avcc[6:8])
    sps = _resized_sps(avcc[8 : 8 + length], width // 16, height // 16)
    return with_box(mp4, path, avcc[:6] + struct.pack(">H", len(sps)) + sps + avcc[8 + length :])


def _resized_sps(nal: bytes, mbs_wide: int, mbs_high: int) -> bytes:
    """An SPS NAL unit with ``pic_width_in_mbs_minus1`` and ``pic_height_in_map_units_minus1``
    replaced (ITU-T H.264, 7.3.2.1.1); every other field kept, bit for bit."""
    bits = _Bits(_unescape(nal[1:]))
    profile = bits.take(8)
    bits.take(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if bits.ue() == 3:  # chroma_format_idc
            bits.take(1)
        bits.ue(), bits.ue(), bits.take(1)  # bit depths, qpprime_y_zero_transform_bypass
        if bits.take(1):
            raise ValueError("an SPS with scaling matrices is not handled")
    bits.ue()  # log2_max_frame_num_minus4
    order = bits.ue()
    if order == 0:
        bits.ue()
    elif order == 1:
        raise ValueError("pic_order_cnt_type 1 is not handled")
    bits.ue(), bits.take(1)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    head = bits.text[: bits.at]
    bits.ue(), bits.ue()
    tail = bits.text[bits.at :].rstrip("0")  # ends with the RBSP stop bit
    text = head + _ue(mbs_wide - 1) + _ue(mbs_high - 1) + tail
    text += "0" * (-len(text) % 8)
    rbsp = int(text, 2).to_bytes(len(text) // 8, "big")
    return nal[:1] + _escape(rbsp)


class _Bits:
    """Reads an RBSP bit by bit, as a string of 0s and 1s (small: one SPS)."""

    def __init__(self, data: bytes) -> None:
        self.text = "".join(f"{byte:08b}" for byte in data)
        self.at = 0

    def take(self, count: int) -> int:
        value = int(self.text[self.at : self.at + count] or "0", 2)
        self.at += count
        return value

    def ue(self) -> int:
        """An unsigned Exp-Golomb code (ITU-T H.264, 9.1)."""
        zeros = 0
        while self.take(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.take(zeros)


def _ue(value: int) -> str:
    code = f"{value + 1:b}"
    return "0" * (len(code) - 1) + code


def _unescape(data: bytes) -> bytes:
    """The RBSP of a NAL unit's payload: each emulation-prevention 0x03 after 0x0000 dropped."""
    return data.replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    """Emulation prevention (ITU-T H.264, 7.4.1): 0x03 after two zero bytes before 0x00-0x03."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)
