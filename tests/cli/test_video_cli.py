"""``rempart scan`` and ``rempart signals`` on a folder of images and videos: a video's record
names the seconds of the frames behind its signals and verdict, and the report shows a strip
of mosaics of those frames only. The detector is a test's own, installed as a plugin: it
fires on plain red frames."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.invoke import run
from tests.colour import RED_POLICY, install_red_plugin, red_scenes
from tests.videos import encode, pan, photo


@pytest.fixture
def red_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = install_red_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("red_detector", None)


@pytest.fixture
def uploads(tmp_path: Path, testdata: Path) -> Path:
    """A photo, a video with a red second, a benign video, and a text file."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes())
    (folder / "b.mp4").write_bytes(encode(red_scenes(testdata, red=(3,))))
    (folder / "c.mkv").write_bytes(encode(pan(photo(testdata, "bridge"), 20), fmt="matroska"))
    (folder / "notes.txt").write_text("not media")
    return folder


def test_scan_judges_videos_in_a_folder(
    red_plugin: Path, env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "red.yaml"
    policy.write_bytes(RED_POLICY)
    out, report = tmp_path / "out.jsonl", tmp_path / "report.html"
    code, _, err = run(
        env, "scan", str(uploads), "-d", "red", "--policy", str(policy),
        "--out", str(out), "--report", str(report),
    )  # fmt: skip
    assert code == 0, err
    header, *records = [json.loads(line) for line in out.read_text().splitlines()]
    assert "red" in header["rempart_scan"]["detectors"]
    by_name = {Path(record["path"]).name: record for record in records}
    assert set(by_name) == {"a.jpg", "b.mp4", "c.mkv"}, "the text file is skipped"
    assert "kind" not in by_name["a.jpg"]
    red, bridge = by_name["b.mp4"], by_name["c.mkv"]
    assert (red["kind"], red["frames"], red["flagged_at"]) == ("video", 6, [3.0])
    assert red["verdict"]["action"] == "block"
    assert red["signals"][0]["evidence"]["timestamps"] == [3.0]
    assert (bridge["kind"], bridge["frames"], bridge["verdict"]["action"]) == ("video", 2, "allow")
    page = report.read_text(encoding="utf-8")
    assert re.findall(r'<img class="(\w+)"', page) == ["strip"]
    assert "flagged at 0:03.0" in page
    # Resuming skips both videos: nothing is judged again.
    code, _, err = run(
        env, "scan", str(uploads), "-d", "red", "--policy", str(policy),
        "--out", str(out), "--resume",
    )  # fmt: skip
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 4


def test_signals_names_each_signals_timestamps(
    red_plugin: Path, env: dict[str, str], uploads: Path
) -> None:
    code, stdout, err = run(env, "signals", str(uploads / "b.mp4"), "-d", "red")
    assert code == 0, err
    (record,) = [json.loads(line) for line in stdout.splitlines()]
    assert (record["kind"], record["duration"], record["frames"]) == ("video", 6.0, 6)
    (signal,) = record["signals"]
    assert (signal["name"], signal["evidence"]["timestamps"]) == ("colour.red", [3.0])
    code, stdout, err = run(env, "signals", str(uploads), "-d", "red", "--format", "csv")
    assert code == 0, err
    rows = stdout.splitlines()
    assert rows[0].split(",")[-1] == "timestamps"
    (red,) = [row for row in rows if "colour.red" in row]
    assert "b.mp4" in red
    assert red.endswith(",3.0")


def test_a_broken_video_is_an_error_record(
    env: dict[str, str], tmp_path: Path, testdata: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(encode(pan(photo(testdata, "bridge"), 20))[:500])
    code, stdout, _ = run(env, "signals", str(broken), "-d", "provenance")
    assert code == 1
    (record,) = [json.loads(line) for line in stdout.splitlines()]
    assert record["error"]["code"] in ("truncated", "corrupt")


def test_gate_checks_a_generated_video(
    red_plugin: Path, env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "red.yaml"
    policy.write_bytes(RED_POLICY)
    code, stdout, err = run(
        env, "gate", "--prompt", "a drone shot of a bridge", "--output", str(uploads / "b.mp4"),
        "--policy", str(policy), "--format", "text",
    )  # fmt: skip
    assert code == 4, err  # block
    assert "colour.red (1.00) in output at 3 s" in stdout
    code, stdout, err = run(
        env, "gate", "--prompt", "a drone shot of a bridge", "--output", str(uploads / "c.mkv"),
        "--policy", str(policy),
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(stdout)["action"] == "allow"
