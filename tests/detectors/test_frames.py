"""Detectors on video: sampled frames through the detectors in batches, the frames' signals
merged into the video's with their timestamps, and the container read for provenance."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rempart.detectors import FakeDetector, Picture, detect_video, detect_video_paths
from rempart.detectors.frames import (
    FrameSignals,
    frame_detectors,
    merge_frames,
)
from rempart.detectors.provenance import ProvenanceDetector
from rempart.errors import MediaError
from rempart.hashing import file_digests
from rempart.media import Media, MediaFailure, Metadata
from rempart.signals import Region, Signal
from rempart.video import Video, load_bytes, load_file
from tests.colour import RED, RedDetector, red_policy, red_scenes
from tests.videos import encode, pan, photo


def signal(name: str, score: float, value: str | float | None = None) -> Signal:
    return Signal(name, score, "test", "1", value=value, region=Region(0, 0, 4, 4))


def test_a_red_scene_gives_signals_at_its_seconds_and_a_block(testdata: Path) -> None:
    video = load_bytes(encode(red_scenes(testdata, red=(2, 3))))
    found = detect_video(video, [RedDetector()], path="clip.mp4", batch_size=4)
    assert [frame.timestamp for frame in found.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [bool(frame.signals) for frame in found.frames] == [0, 0, 1, 1, 0, 0]
    (merged,) = found.signals
    assert merged.name == "colour.red"
    assert merged.evidence["timestamps"] == [2.0, 3.0]
    assert merged.evidence["strongest_at"] in (2.0, 3.0)
    # Regions in the video's own pixels, whatever size the detector read.
    assert merged.region == Region(0, 0, video.width, video.height)
    assert red_policy().decide(found.signals).action == "block"
    record = found.to_json()
    assert (record["kind"], record["frames"], record["duration"]) == ("video", 6, 6.0)
    assert record["signals"][0]["evidence"]["timestamps"] == [2.0, 3.0]


def test_a_benign_video_gives_no_signal_and_is_allowed(testdata: Path) -> None:
    video = load_bytes(encode(pan(photo(testdata, "bridge"), 30)))
    found = detect_video(video, [RedDetector()])
    assert len(found.frames) == 3
    assert found.signals == []
    assert red_policy().decide(found.signals).action == "allow"


def test_keep_sees_every_sampled_frame_and_the_frames_pixels_are_not_kept(
    testdata: Path,
) -> None:
    video = load_bytes(encode(red_scenes(testdata, red=(4,))))
    found = detect_video(video, [RedDetector()], keep=lambda pixels: pixels.mean(axis=(0, 1)))
    red = [frame.kept for frame in found.frames if frame.signals]
    assert len(red) == 1
    assert np.allclose(red[0], RED, atol=12)


def test_merging_keeps_names_and_text_values_apart_and_the_strongest_frame() -> None:
    frames = [
        FrameSignals(0, 0.0, [signal("face.minor", 0.4, 15.0), signal("identity.match", 0.9, "a")]),
        FrameSignals(10, 1.0, [signal("face.minor", 0.8, 12.0), signal("face.minor", 0.6, 16.0)]),
        FrameSignals(20, 2.0, [signal("identity.match", 0.7, "b")]),
    ]
    merged = {(s.name, s.value): s for s in merge_frames(frames)}
    assert set(merged) == {("face.minor", 12.0), ("identity.match", "a"), ("identity.match", "b")}
    minor = merged["face.minor", 12.0]
    assert minor.score == 0.8
    assert minor.evidence == {"timestamps": [0.0, 1.0], "strongest_at": 1.0}
    assert merged["identity.match", "b"].evidence["timestamps"] == [2.0]


def test_only_detectors_reading_pixels_see_frames() -> None:
    reads_pixels, reads_bytes = FakeDetector(name="pixels"), ProvenanceDetector()
    assert frame_detectors([reads_pixels, reads_bytes]) == [reads_pixels]


def test_a_generator_named_in_the_container_tags_is_provenance(
    testdata: Path, tmp_path: Path
) -> None:
    pytest.importorskip("c2pa")
    prompt = "a bridge at dusk\nSteps: 20, Sampler: Euler a, Model: sd15, Version: v1.9.0"
    path = tmp_path / "tagged.mkv"
    path.write_bytes(tagged(encode(pan(photo(testdata, "bridge"), 20)), {"parameters": prompt}))
    found = detect_video(load_file(path), [RedDetector(), ProvenanceDetector()])
    generators = [s for s in found.signals if s.name == "provenance.generator"]
    assert [s.value for s in generators] == ["a1111"]
    assert generators[0].evidence["prompt"] == "a bridge at dusk"
    untagged = detect_video(
        load_bytes(encode(pan(photo(testdata, "bridge"), 20))), [ProvenanceDetector()]
    )
    assert untagged.signals == [], "an MP4 without a manifest or tags declares nothing"


def test_a_picture_of_given_pixels_never_decodes_its_media() -> None:
    pixels = np.zeros((90, 160, 3), dtype=np.uint8)
    media = Media(b"", "mp4", 320, 180, 1, 1, Metadata())
    picture = Picture(media, decode_side=160, decoded=pixels)
    assert picture.pixels(None) is pixels
    assert picture.pixels(80).shape == (45, 80, 3)
    assert picture.region(Region(10, 10, 20, 20), pixels) == Region(20, 20, 40, 40)
    assert picture.hashes().quality >= 0


def test_paths_give_a_failure_for_what_is_not_a_video(testdata: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.mp4"
    good.write_bytes(encode(pan(photo(testdata, "bridge"), 20)))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    found = list(detect_video_paths([str(bad), str(good)], [RedDetector()]))
    assert isinstance(found[0], MediaFailure)
    assert found[0].error.code.value in ("corrupt", "truncated")
    assert not isinstance(found[1], MediaFailure)
    assert len(found[1].frames) == 2


def test_file_digests_match_the_bytes(tmp_path: Path) -> None:
    import hashlib

    data = b"video bytes" * 100_000
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    expected = (hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())
    assert file_digests(path) == file_digests(data) == expected
    with pytest.raises(MediaError):
        file_digests(tmp_path / "missing.mp4")


def tagged(data: bytes, tags: dict[str, str]) -> bytes:
    """``data`` remuxed into Matroska (which keeps any tag) with ``tags`` on the container."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as source, av.open(out, "w", format="matroska") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        target.metadata.update(tags)
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = stream
            target.mux(packet)
    return out.getvalue()


def test_a_video_that_gives_no_frame_is_refused_not_allowed(
    testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video = load_bytes(encode(pan(photo(testdata, "bridge"), 20)))
    monkeypatch.setattr(Video, "frames", lambda self, **options: iter(()))
    with pytest.raises(MediaError, match="no frame") as raised:
        detect_video(video, [RedDetector()])
    assert raised.value.code.value == "corrupt"


def test_without_the_video_extra_a_folder_gives_images_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from rempart.walk import FileKind, media_kind

    assert media_kind() is FileKind.MEDIA
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None)
    assert media_kind() is FileKind.IMAGES
