"""Scanning videos beside images: one record per video with its digests, its frames' signals
merged with their timestamps, a verdict, and a report strip of mosaics of the flagged frames
only."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image

from rempart.detectors.banks import bank_matches
from rempart.hashing import pdq_hash
from rempart.hashing.vpdq import vpdq_hash
from rempart.matching.banks import BankMatcher, Banks
from rempart.media import MediaFailure
from rempart.policy import load_policy
from rempart.scan import THUMBNAIL_CELLS, ScanJob, Scanner, ScanResult, VideoResult
from rempart.store import Store
from rempart.video import load_bytes
from tests.colour import RED, RedDetector, red_policy, red_scenes
from tests.videos import decoded, encode, pan, photo


def videos(tmp_path: Path, testdata: Path) -> dict[str, Path]:
    """An image, a video with two red seconds, a benign video and a broken one."""
    made = {
        "a-photo.jpg": (testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes(),
        "b-red.mp4": encode(red_scenes(testdata, red=(2, 3))),
        "c-bridge.mp4": encode(pan(photo(testdata, "bridge"), 30)),
        "d-broken.mp4": encode(pan(photo(testdata, "bridge"), 30))[:600],
    }
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in made}


def test_images_and_videos_are_judged_in_order(tmp_path: Path, testdata: Path) -> None:
    files = videos(tmp_path, testdata)
    scanner = Scanner([RedDetector()], red_policy(), thumbnails=True)
    results = list(scanner.scan([str(path) for path in files.values()], jobs=2))
    assert [Path(r.path).name for r in results] == list(files)
    image, red, bridge, broken = results
    assert isinstance(image, ScanResult)
    assert isinstance(red, VideoResult)
    assert isinstance(bridge, VideoResult)
    assert isinstance(broken, MediaFailure)
    assert broken.error.code.value in ("truncated", "corrupt")

    record = red.to_json()
    data = files["b-red.mp4"].read_bytes()
    assert record["kind"] == "video"
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["md5"] == hashlib.md5(data).hexdigest()
    assert (record["width"], record["height"], record["duration"], record["frames"]) == (
        160,
        120,
        6.0,
        6,
    )
    assert record["verdict"]["action"] == "block"
    assert record["flagged_at"] == [2.0, 3.0]
    (signal,) = [s for s in record["signals"] if s["name"] == "colour.red"]
    assert signal["evidence"]["timestamps"] == [2.0, 3.0]
    cited = record["verdict"]["reasons"][0]["signals"][0]
    assert cited["evidence"]["timestamps"] == [2.0, 3.0]

    assert bridge.verdict.action.value == "allow"
    assert bridge.thumbnail is None
    assert bridge.to_json()["flagged_at"] == []


def test_the_strip_holds_mosaics_of_the_flagged_frames_only(tmp_path: Path, testdata: Path) -> None:
    files = videos(tmp_path, testdata)
    scanner = Scanner([RedDetector()], red_policy(), thumbnails=True)
    result = scanner.scan_video(str(files["b-red.mp4"]))
    assert isinstance(result, VideoResult)
    assert result.thumbnail is not None
    strip = np.asarray(Image.open(io.BytesIO(result.thumbnail)).convert("RGB")).astype(int)
    # Two frames of THUMBNAIL_CELLS cells on their long side, a pixel apart; nothing finer.
    cell_rows = round(120 / (160 / THUMBNAIL_CELLS))
    assert strip.shape == (cell_rows, 2 * THUMBNAIL_CELLS + 1, 3)
    frames = [strip[:, :THUMBNAIL_CELLS], strip[:, THUMBNAIL_CELLS + 1 :]]
    for frame in frames:  # red only: no frame of the bridge or the cup is in the strip
        assert np.abs(frame - np.array(RED)).max() <= 16


def test_the_report_embeds_only_the_strip(tmp_path: Path, testdata: Path) -> None:
    files = videos(tmp_path, testdata)
    report = tmp_path / "report.html"
    scanner = Scanner([RedDetector()], red_policy(), thumbnails=True)
    paths = [str(files["b-red.mp4"]), str(files["c-bridge.mp4"])]
    out = tmp_path / "out.jsonl"
    ScanJob(scanner, paths, out=out, report=report).run()
    page = report.read_text(encoding="utf-8")
    images = re.findall(r'<img class="(\w+)" alt="\w+" src="data:image/png;base64,([^"]+)"', page)
    assert [kind for kind, _ in images] == ["strip"]
    shown = Image.open(io.BytesIO(base64.b64decode(images[0][1])))
    assert shown.height <= THUMBNAIL_CELLS
    assert shown.width <= 2 * THUMBNAIL_CELLS + 1
    assert "flagged at 0:02.0, 0:03.0" in page
    assert "c-bridge.mp4" not in page, "an allowed video is not in the table"


def test_resume_skips_judged_videos(tmp_path: Path, testdata: Path) -> None:
    files = videos(tmp_path, testdata)
    out = tmp_path / "out.jsonl"
    paths = [str(files["b-red.mp4"]), str(files["c-bridge.mp4"])]
    scanner = Scanner([RedDetector()], red_policy())
    first = ScanJob(scanner, paths[:1], out=out).run()
    assert first.summary.flagged == 1
    again = ScanJob(scanner, paths, out=out, resume=True).run()
    assert again.skipped == 1
    assert (again.summary.judged, again.summary.flagged) == (2, 1)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3  # the fingerprint, and one record for each video


def test_an_image_banked_from_a_frame_is_found_in_the_video(
    store: Store, tmp_path: Path, testdata: Path
) -> None:
    data = encode(red_scenes(testdata, red=()))
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    frame = decoded(data, start=4.0, stop=4.05)[0]
    banks = Banks(store)
    banks.create("known")
    banks.add("known", pdq_hash(frame).hex)
    scanner = Scanner([], load_policy("default"), matcher=BankMatcher(store))
    result = scanner.scan_video(str(path))
    assert isinstance(result, VideoResult)
    assert result.verdict.action.value == "block"
    (match,) = [s for s in result.signals if s.name == "bank.match"]
    assert match.value == "known"
    assert 4.0 in match.evidence["timestamps"]
    assert 0.0 not in match.evidence["timestamps"], "the bridge's frames are not the cup's"


def test_a_banked_video_is_found_in_its_re_encode_and_blocks(
    store: Store, tmp_path: Path, testdata: Path
) -> None:
    original = encode(red_scenes(testdata, red=()))
    banks = Banks(store)
    banks.create("videos")
    banks.add_video("videos", list(vpdq_hash(load_bytes(original))))
    copy = tmp_path / "copy.mkv"
    copy.write_bytes(encode(decoded(original), codec="libvpx-vp9", fmt="matroska", size=(128, 96)))
    scanner = Scanner([], load_policy("default"), matcher=BankMatcher(store))
    result = scanner.scan_video(str(copy))
    assert isinstance(result, VideoResult)
    assert result.verdict.action.value == "block"
    (match,) = [s for s in result.signals if s.evidence.get("kind") == "video"]
    assert (match.name, match.value, match.version) == ("bank.match", "videos", "vpdq")
    assert match.evidence["query_percent"] >= 80
    assert bank_matches(result.signals) == [], "the desk follows banked images only"
    other = tmp_path / "other.mp4"
    other.write_bytes(encode(pan(photo(testdata, "chelsea"), 60)))
    unrelated = scanner.scan_video(str(other))
    assert isinstance(unrelated, VideoResult)
    assert unrelated.verdict.action.value == "allow"


def test_scan_bytes_tells_a_video_from_an_image(testdata: Path) -> None:
    scanner = Scanner([RedDetector()], red_policy())
    video = scanner.scan_bytes(encode(red_scenes(testdata, red=(0,))), name="upload")
    assert isinstance(video, VideoResult)
    assert video.to_json()["flagged_at"] == [0.0]
    image = scanner.scan_bytes((testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes())
    assert isinstance(image, ScanResult)


def test_a_video_result_travels_from_a_ray_actor_under_its_url(
    tmp_path: Path, testdata: Path
) -> None:
    from rempart.scan.ray_engine import _as_fetched, _dumps, _loads

    files = videos(tmp_path, testdata)
    scanner = Scanner([RedDetector()], red_policy(), thumbnails=True)
    local = str(files["b-red.mp4"])
    result = scanner.scan_video(local)
    assert isinstance(result, VideoResult)
    url = "s3://bucket/b-red.mp4"
    travelled = _loads(_dumps(_as_fetched(result, {local: url})))
    assert isinstance(travelled, VideoResult)
    assert travelled.to_json() == {**result.to_json(), "path": url}
    assert travelled.thumbnail == result.thumbnail
