"""Video banks: vPDQ entries beside images, matched as vPDQ defines it through a frame index,
withdrawn and followed like images, in snapshots; and real videos (the ``test_video_`` tests,
which need PyAV) that match their re-encode, clip and mirror, and not another video."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rempart.errors import BankError, ImportLineError
from rempart.hashing.pdq import pdq_hash
from rempart.hashing.vpdq import VpdqFeature, format_features, vpdq_hash, vpdq_hash_mirrored
from rempart.matching.banks import (
    MIRROR,
    BankMatcher,
    Banks,
    HashListFormat,
    VideoThresholds,
    features_to_pytx,
    video_key,
    write_records,
)
from rempart.matching.banks.formats import MAX_VIDEO_FRAMES
from rempart.matching.banks.snapshot import IndexSnapshots
from rempart.store import Store
from rempart.video import load_bytes
from tests import videos
from tests.matching.test_banks import row_counts


def frames(seed: int, count: int = 10) -> list[VpdqFeature]:
    """A synthetic video: ``count`` random frame hashes a second apart."""
    rng = np.random.default_rng(seed)
    return [
        VpdqFeature(rng.bytes(32).hex(), 100, 10 * second, float(second)) for second in range(count)
    ]


def near(feature: VpdqFeature, bits: int = 10) -> VpdqFeature:
    """``feature`` with its first ``bits`` bits flipped: a re-encode's frame."""
    value = int(feature.hex, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return VpdqFeature(f"{value:064x}", feature.quality, feature.frame_number, feature.timestamp)


def found(matcher: BankMatcher, query: list[VpdqFeature]) -> list[tuple[str, int]]:
    return [(m.bank, m.entry_id) for m in matcher.match_video(query).videos]


def test_a_bank_holds_images_and_videos_each_once(store: Store) -> None:
    banks = Banks(store)
    banks.create("mixed")
    banks.add("mixed", "ab" * 32)
    video = frames(1)
    first = banks.add_video("mixed", video, md5="0" * 32, sha256="1" * 64, note="reported")
    assert first.added == 1
    assert banks.add_video("mixed", video).added == 0  # the same features: held once
    stats = banks.stats("mixed").to_json()
    assert (stats["active"], stats["images"], stats["videos"]) == (2, 1, 1)
    (listed,) = banks.list()
    assert (listed.images, listed.videos) == (1, 1)
    (row,) = [r for r in banks.entries("mixed") if r.features is not None]
    assert (row.features, row.md5, row.sha256, row.note) == (
        tuple(video),
        "0" * 32,
        "1" * 64,
        "reported",
    )
    assert row.hash == video_key(video)
    with pytest.raises(BankError, match="no frame"):
        banks.add_video("mixed", [])


def test_a_video_matches_its_near_copy_and_clip_not_another(store: Store) -> None:
    banks = Banks(store)
    banks.create("videos")
    stored = frames(1, 20)
    entry = banks.add_video("videos", stored).import_id
    assert entry
    matcher = BankMatcher(store, refresh_interval=None)
    copy = [near(f) for f in stored]
    (result,) = matcher.match_video(copy).videos
    assert (result.bank, result.query_percent, result.stored_percent) == ("videos", 100.0, 100.0)
    assert result.timestamps == tuple(float(s) for s in range(20))
    clip = stored[5:15]
    (result,) = matcher.match_video(clip).videos
    assert (result.query_percent, result.stored_percent) == (100.0, 50.0)
    assert result.timestamps == tuple(float(s) for s in range(5, 15))
    assert found(matcher, frames(2, 20)) == []
    # Two frames in ten is not 80 % of the query.
    assert found(matcher, [*stored[:2], *frames(3, 8)]) == []


def test_each_bank_matches_videos_with_its_own_thresholds(store: Store) -> None:
    banks = Banks(store)
    stored = frames(1)
    banks.create("loose")
    banks.create("strict", video=VideoThresholds(query_percent=100.0, stored_percent=90.0))
    for name in ("loose", "strict"):
        banks.add_video(name, stored)
    matcher = BankMatcher(store, refresh_interval=None)
    query = [*stored[:9], frames(4, 1)[0]]  # 9 frames of 10
    assert [bank for bank, _ in found(matcher, query)] == ["loose"]
    assert sorted(bank for bank, _ in found(matcher, stored)) == ["loose", "strict"]
    banks.update("loose", video=VideoThresholds(distance=5))
    matcher.refresh()
    assert [bank for bank, _ in found(matcher, [near(f, 10) for f in stored])] == ["strict"]
    assert banks.get("strict").to_json()["video_thresholds"] == {
        "quality": 50,
        "distance": 31,
        "query_percent": 100.0,
        "stored_percent": 90.0,
    }
    for wrong in (
        VideoThresholds(query_percent=0.0),
        VideoThresholds(distance=64),
        VideoThresholds(quality=101),
        VideoThresholds(stored_percent=-1.0),
    ):
        with pytest.raises(BankError):
            banks.create("wrong", video=wrong)


def test_withdrawal_takes_a_video_out_and_reinstatement_back(store: Store) -> None:
    banks = Banks(store)
    banks.create("videos")
    stored = frames(1)
    banks.add_video("videos", stored)
    matcher = BankMatcher(store, refresh_interval=None)
    ((_, entry_id),) = found(matcher, stored)
    report = banks.withdraw("videos", hashes=[video_key(stored)], reason="victim request")
    assert report.withdrawn == 1
    matcher.refresh()
    assert found(matcher, stored) == []
    assert banks.stats("videos").videos == 0
    assert BankMatcher(store).match_video(stored).videos == []  # a fresh load too
    assert banks.reinstate("videos", [entry_id]) == 1
    matcher.refresh()
    assert found(matcher, stored) == [("videos", entry_id)]
    banks.update("videos", enabled=False)
    matcher.refresh()
    assert found(matcher, stored) == []


def test_a_video_frame_goes_through_the_image_index(store: Store) -> None:
    banks = Banks(store)
    banks.create("images")
    video = frames(1)
    banks.add("images", near(video[3], 5).hex)
    matcher = BankMatcher(store, refresh_interval=None)
    result = matcher.match_video(video)
    assert result.videos == []
    (image,) = result.images
    assert (image.match.bank, image.match.distance, image.timestamps) == ("images", 5, (3.0,))
    assert image.to_json()["kind"] == "image"
    assert result.bank_matches == [image.match]


def test_a_snapshot_restored_gives_the_same_video_matches(store: Store, tmp_path: Path) -> None:
    banks = Banks(store)
    banks.create("videos")
    kept, withdrawn, late = frames(1), frames(2), frames(3)
    for video in (kept, withdrawn):
        banks.add_video("videos", video)
    banks.add("videos", near(kept[0], 3).hex)
    matcher = BankMatcher(store, refresh_interval=None)
    snapshots = IndexSnapshots(tmp_path)
    assert snapshots.write(matcher)
    banks.withdraw("videos", hashes=[video_key(withdrawn)])
    banks.add_video("videos", late)  # after the snapshot: replayed
    started = IndexSnapshots(tmp_path).open(store)
    matcher.refresh()
    for query in (kept, withdrawn, late):
        assert started.match_video(query).to_json() == matcher.match_video(query).to_json()
    assert found(started, withdrawn) == []
    assert len(found(started, late)) == 1
    assert started.match_video(kept).images


def test_video_lists_round_trip_through_every_format(store: Store) -> None:
    banks = Banks(store)
    banks.create("source")
    banks.add("source", "ab" * 32)
    videos_in = [frames(1), frames(2, 3)]
    banks.add_video("source", videos_in[0], md5="0" * 32, source_ref="case-1")
    banks.add_video("source", videos_in[1])
    for fmt in (HashListFormat.PYTX, HashListFormat.CSV, HashListFormat.JSONL):
        out = io.StringIO()
        assert write_records(banks.entries("source"), fmt, out) == 3
        name = f"copy-{fmt}"
        banks.create(name)
        report = banks.import_list(name, io.BytesIO(out.getvalue().encode()), origin="t", fmt=fmt)
        assert report.added == 3
        copied = [r for r in banks.entries(name) if r.features is not None]
        # python-threatexchange's list numbers no frames: they come back in order, 0, 1, ...
        assert [r.hash for r in copied] == [video_key(v) for v in videos_in]
        assert [(f.hex, f.quality, f.timestamp) for f in copied[1].features or ()] == [
            (f.hex, f.quality, f.timestamp) for f in videos_in[1]
        ]
        if fmt is not HashListFormat.PYTX:
            assert (copied[0].md5, copied[0].source_ref) == ("0" * 32, "case-1")
    out = io.StringIO()
    assert write_records(banks.entries("source"), HashListFormat.HEX, out) == 1  # images only
    reference = format_features(videos_in[0]).encode()
    banks.create("reference")
    report = banks.import_list("reference", io.BytesIO(reference), origin="t", filename="v.txt")
    assert report.added == 1
    (row,) = banks.entries("reference")
    assert row.hash == video_key(videos_in[0])


def test_a_six_hour_video_round_trips_through_csv_and_a_longer_one_is_refused(
    store: Store,
) -> None:
    banks = Banks(store)
    banks.create("long")
    six_hours = frames(3, MAX_VIDEO_FRAMES)
    banks.add_video("long", six_hours)
    out = io.StringIO()
    write_records(banks.entries("long"), HashListFormat.CSV, out)
    assert len(out.getvalue()) > 1_000_000  # one field, far over csv's default 128 KiB
    banks.create("copy")
    report = banks.import_list(
        "copy", io.BytesIO(out.getvalue().encode()), origin="t", fmt=HashListFormat.CSV
    )
    assert report.added == 1
    longer = f"vpdq {features_to_pytx(frames(4, MAX_VIDEO_FRAMES + 1))}\n"
    with pytest.raises(ImportLineError, match="at most 21,600"):
        banks.import_list("copy", io.BytesIO(longer.encode()), origin="t", fmt=HashListFormat.PYTX)


def test_a_malformed_video_list_changes_nothing(store: Store) -> None:
    banks = Banks(store)
    banks.create("videos")
    good = f"vpdq {features_to_pytx(frames(1))}\n"
    before = row_counts(store)
    for text, line in (
        (good + 'vpdq ["' + "0" * 63 + ',100,0.0"]\n', 2),  # a short hash
        (good + good + 'vpdq ["' + "0" * 64 + ',101,0.0"]\n', 3),  # quality over 100
        (good + "vpdq [\n", 2),  # not JSON
        (good + "vpdq []\n", 2),  # no frame
        (good + 'vpdq ["' + "0" * 64 + ',100,nan"]\n', 2),
        (good + 'vpdq ["' + "0" * 64 + ',100,inf"]\n', 2),
        (good + 'vpdq {"0": {"hash": 5, "quality": 100, "timestamp": 0}}\n', 2),
    ):
        with pytest.raises(ImportLineError) as caught:
            banks.import_list(
                "videos", io.BytesIO(text.encode()), origin="t", fmt=HashListFormat.PYTX
            )
        assert caught.value.line == line
        assert "vPDQ" in str(caught.value)
    bad_file = format_features(frames(1)) + "3,100,zz,1.0\n"
    with pytest.raises(ImportLineError) as caught:
        banks.import_list(
            "videos", io.BytesIO(bad_file.encode()), origin="t", fmt=HashListFormat.VPDQ
        )
    assert caught.value.line == 11
    assert row_counts(store) == before


# --- real videos ---------------------------------------------------------------------

ORIGINAL = ("bridge", "coffee", "rocket", "moon", "hubble_deep_field")
OTHER = ("chelsea", "coins", "immunohistochemistry")


@pytest.fixture(scope="module")
def original(testdata: Path) -> bytes:
    """Five scenes of 4 s: 20 s with four cuts."""
    return videos.encode(videos.scenes(testdata, ORIGINAL), options={"crf": "18"})


@pytest.fixture
def video_bank(store: Store, original: bytes) -> BankMatcher:
    banks = Banks(store)
    banks.create("videos")
    banks.add_video("videos", list(vpdq_hash(load_bytes(original))))
    return BankMatcher(store, refresh_interval=None)


def matched(matcher: BankMatcher, data: bytes) -> list[tuple[str, float, str | None]]:
    plain, mirrored = vpdq_hash_mirrored(load_bytes(data))
    return [
        (m.bank, m.query_percent, m.variant)
        for m in matcher.match_video(plain, mirrored=mirrored).videos
    ]


def test_video_a_re_encode_at_another_size_and_bitrate_matches(
    video_bank: BankMatcher, original: bytes
) -> None:
    smaller = videos.encode(
        videos.decoded(original),
        codec="libvpx-vp9",
        fmt="webm",
        size=(112, 84),
        options={"b": "80k"},
    )
    ((bank, percent, variant),) = matched(video_bank, smaller)
    assert (bank, variant) == ("videos", None)
    assert percent >= 80  # measured: 95 % both ways (19 of 20 frames)


def test_video_a_10_second_clip_matches_the_longer_video(
    video_bank: BankMatcher, original: bytes
) -> None:
    clip = videos.encode(videos.decoded(original, start=6.0, stop=16.0))
    (result,) = video_bank.match_video(list(vpdq_hash(load_bytes(clip)))).videos
    assert result.query_percent >= 80
    assert result.stored_percent <= 60  # half of the stored video is not in the clip
    assert result.timestamps[0] == 0.0  # the clip's own times


def test_video_a_mirrored_copy_matches_through_its_mirrored_frames(
    video_bank: BankMatcher, original: bytes
) -> None:
    mirrored = videos.encode(np.ascontiguousarray(f[:, ::-1]) for f in videos.decoded(original))
    # Measured: no frame of the mirror within 31 bits as it is; all 20 once mirrored back.
    assert video_bank.match_video(list(vpdq_hash(load_bytes(mirrored)))).videos == []
    ((bank, percent, variant),) = matched(video_bank, mirrored)
    assert (bank, variant) == ("videos", MIRROR)
    assert percent >= 80


def test_video_another_video_does_not_match(video_bank: BankMatcher, testdata: Path) -> None:
    other = videos.encode(videos.scenes(testdata, OTHER))
    assert matched(video_bank, other) == []


def test_video_an_image_banked_from_one_frame_is_found_in_the_video(
    store: Store, original: bytes
) -> None:
    still = videos.decoded(original)[70]  # 7 s, in the coffee's zoom: a still posted alone
    banks = Banks(store)
    banks.create("images")
    banks.add("images", pdq_hash(still).hex)
    smaller = videos.encode(videos.decoded(original), size=(128, 96), options={"crf": "30"})
    result = BankMatcher(store, refresh_interval=None).match_video(
        list(vpdq_hash(load_bytes(smaller)))
    )
    (image,) = result.images
    assert image.match.bank == "images"
    # Measured: 8 bits from the re-encode's frame at 7 s; the zoom moves on too fast for the
    # frames a second either side (80 and 128 bits).
    assert image.timestamps == (7.0,)
