"""``rempart hash``: the JSON Lines contract, formats, exit statuses, and a mixed folder."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
from rempart.hashing.vpdq import parse_features, vpdq_hash
from rempart.video import load_bytes
from tests import videos
from tests.images import encode, gif_with_frames, gradient, png_declaring

runner = CliRunner()


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.stdout


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """Good images beside every kind of hostile file the issue lists."""
    folder = tmp_path / "uploads"
    (folder / "nested").mkdir(parents=True)
    (folder / "a-good.jpg").write_bytes(encode(gradient(300, 200), "JPEG", quality=90))
    (folder / "b-empty.jpg").write_bytes(b"")
    good_jpeg = encode(gradient(400, 300, seed=2), "JPEG", quality=90)
    (folder / "c-truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (folder / "d-text.jpg").write_text("not a photo\n")
    (folder / "e-bomb.png").write_bytes(png_declaring(50000, 50000))
    (folder / "f-frames.gif").write_bytes(gif_with_frames(3000))
    (folder / "g-good.png").write_bytes(encode(gradient(120, 90, seed=5), "PNG"))
    (folder / ".hidden.jpg").write_bytes(b"skipped")
    (folder / "nested" / "h-good.webp").write_bytes(encode(gradient(seed=7), "WEBP"))
    return folder


def test_files_that_are_not_images_are_skipped_and_counted(mixed_folder: Path) -> None:
    result = runner.invoke(app, ["hash", str(mixed_folder)])
    names = [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()]
    assert names == ["a-good.jpg", "c-truncated.jpg", "e-bomb.png", "f-frames.gif", "g-good.png"]
    assert "skipped: not an image or video (2)" in result.stderr  # the empty file and the text
    named = runner.invoke(app, ["hash", str(mixed_folder / "d-text.jpg")])
    assert json.loads(named.stdout)["error"]["code"] == "unsupported_format", "named: always"


def test_a_bad_file_never_stops_the_run(mixed_folder: Path) -> None:
    code, out = run("hash", "--all-files", str(mixed_folder))
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    names = [Path(r["path"]).name for r in records]
    assert names == ["a-good.jpg", "b-empty.jpg", "c-truncated.jpg", "d-text.jpg", "e-bomb.png",
                     "f-frames.gif", "g-good.png"]  # fmt: skip
    errors = {Path(r["path"]).name: r["error"]["code"] for r in records if "error" in r}
    assert errors == {
        "b-empty.jpg": "empty",
        "c-truncated.jpg": "truncated",
        "d-text.jpg": "unsupported_format",
        "e-bomb.png": "too_many_pixels",
        "f-frames.gif": "too_many_frames",
    }
    for record in records:
        if "error" in record:
            assert set(record) == {"path", "error"}
            assert record["error"]["message"]
        else:
            assert set(record) == {"path", "sha256", "md5", "pdq", "quality"}
            assert len(record["pdq"]) == len(record["sha256"]) == 64
            assert 0 <= record["quality"] <= 100


def test_recursive_descends(mixed_folder: Path) -> None:
    _, out = run("hash", "--recursive", str(mixed_folder))
    assert "h-good.webp" in out


def test_all_good_exits_zero_and_digests_are_right(tmp_path: Path) -> None:
    data = encode(gradient(), "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    code, out = run("hash", str(path))
    record = json.loads(out)
    assert code == 0
    import hashlib

    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["md5"] == hashlib.md5(data).hexdigest()


def test_dihedral_flag_adds_eight_hashes(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(encode(gradient(600, 400), "JPEG"))
    _, out = run("hash", "--dihedral", str(path))
    record = json.loads(out)
    assert len(record["dihedral"]) == 8
    assert record["dihedral"][0] == record["pdq"]
    assert len(set(record["dihedral"])) == 8


def test_csv_and_table_formats(mixed_folder: Path) -> None:
    _, out = run("hash", "--format", "csv", "--all-files", str(mixed_folder))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 7
    assert rows[1]["error_code"] == "empty"
    assert rows[0]["pdq"]
    _, table = run(
        "hash", "--format", "table", str(mixed_folder / "g-good.png"), env={"COLUMNS": "300"}
    )
    assert "g-good.png" in table
    assert "quality" in table


def test_standard_input(tmp_path: Path) -> None:
    code, out = run("hash", "-", stdin=encode(gradient(), "PNG"))
    assert code == 0
    assert json.loads(out)["path"] == "-"


def test_jobs_give_the_same_output_in_the_same_order(mixed_folder: Path) -> None:
    _, one = run("hash", "--jobs", "1", "-r", str(mixed_folder))
    _, four = run("hash", "--jobs", "4", "-r", str(mixed_folder))
    assert one == four


@pytest.mark.parametrize(
    "args",
    [["hash"], ["hash", "--jobs", "0", "x.jpg"], ["hash", "--format", "xml", "x.jpg"], ["nope"]],
)
def test_usage_errors_exit_two(args: list[str]) -> None:
    assert run(*args)[0] == 2


def test_unknown_setting_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hash", str(tmp_path)], env={"REMPART_MEDIA_MAX_BYTE": "9"})
    assert result.exit_code == 2
    assert "REMPART_MEDIA_MAX_BYTES" in result.stderr


def test_limits_come_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(encode(gradient(100, 100), "PNG"))
    code, out = run("hash", str(path), env={"REMPART_MEDIA_MAX_PIXELS": "5000"})
    assert code == 1
    assert json.loads(out)["error"]["code"] == "too_many_pixels"


def test_console_script_runs(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(encode(gradient(), "PNG"))
    script = Path(sys.executable).parent / "rempart"
    done = subprocess.run(
        [str(script), "hash", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["quality"] >= 50
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("rempart ")


# --- videos ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(testdata: Path) -> bytes:
    """Four seconds: a pan over the bridge, cut to a zoom into scikit-image's coffee."""
    return videos.encode(videos.scenes(testdata, ("bridge", "coffee"), seconds=2))


def test_video_beside_images_gets_its_vpdq_and_digests(tmp_path: Path, clip: bytes) -> None:
    (tmp_path / "a.png").write_bytes(encode(gradient(120, 90), "PNG"))
    (tmp_path / "b.mp4").write_bytes(clip)
    (tmp_path / "c.txt").write_text("neither\n")
    result = runner.invoke(app, ["hash", "-r", str(tmp_path)])
    assert result.exit_code == 0
    image, video = (json.loads(line) for line in result.stdout.splitlines())
    assert set(image) == {"path", "sha256", "md5", "pdq", "quality"}, "images unchanged"
    assert "skipped: not an image or video (1)" in result.stderr
    assert video["kind"] == "video"
    assert video["md5"] == hashlib.md5(clip).hexdigest()
    assert video["sha256"] == hashlib.sha256(clip).hexdigest()
    assert (video["width"], video["height"]) == videos.SIZE
    assert video["frame_rate"] == videos.RATE
    assert video["duration"] == pytest.approx(4.0, abs=0.2)
    expected = list(vpdq_hash(load_bytes(clip)))
    found = [(f["frame_number"], f["quality"], f["hash"], f["timestamp"]) for f in video["vpdq"]]
    assert found == [(f.frame_number, f.quality, f.hex, f.timestamp) for f in expected]
    assert [f["timestamp"] for f in video["vpdq"]] == [0.0, 1.0, 2.0, 3.0]


def test_video_refused_gets_its_code_and_exit_one(tmp_path: Path, clip: bytes) -> None:
    (tmp_path / "long.mp4").write_bytes(clip)
    (tmp_path / "cut.mp4").write_bytes(clip[: len(clip) // 2])
    (tmp_path / "good.png").write_bytes(encode(gradient(120, 90), "PNG"))
    code, out = run("hash", "-r", str(tmp_path), env={"REMPART_VIDEO_MAX_DURATION": "2"})
    records = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert code == 1
    assert records["long.mp4"]["error"]["code"] == "too_long"
    assert "REMPART_VIDEO_MAX_DURATION" in records["long.mp4"]["error"]["message"]
    assert records["cut.mp4"]["error"]["code"] in {"truncated", "corrupt"}
    assert "pdq" in records["good.png"]


def test_video_table_counts_frames_and_vpdq_dir_writes_the_reference_format(
    tmp_path: Path, clip: bytes
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    folder = tmp_path / "hashes"
    code, table = run(
        "hash", "--format", "table", "--vpdq-dir", str(folder), str(path), env={"COLUMNS": "300"}
    )
    assert code == 0
    row = next(line for line in table.splitlines() if "clip.mp4" in line)
    assert row.split()[1:] == ["video", "4"], "the kind and the frames hashed, not the hashes"
    written = parse_features((folder / "clip.mp4.txt").read_text())
    assert written == list(vpdq_hash(load_bytes(clip)))
    _, out = run("hash", "--format", "csv", str(path))
    (csv_row,) = csv.DictReader(io.StringIO(out))
    assert (csv_row["kind"], csv_row["frames"], csv_row["pdq"]) == ("video", "4", "")


def test_video_vpdq_dir_writes_videos_of_the_same_name_to_files_of_their_own(
    tmp_path: Path, clip: bytes, testdata: Path
) -> None:
    other = videos.encode(videos.zoom(videos.photo(testdata, "bridge"), 30))
    for folder, data in (("a", clip), ("b", other)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "clip.mp4").write_bytes(data)
    hashes = tmp_path / "hashes"
    result = runner.invoke(
        app, ["hash", "--vpdq-dir", str(hashes), str(tmp_path / "a"), str(tmp_path / "b"), "-r"]
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in hashes.iterdir()) == ["clip.mp4.2.txt", "clip.mp4.txt"]
    assert parse_features((hashes / "clip.mp4.txt").read_text()) == list(
        vpdq_hash(load_bytes(clip))
    )
    assert parse_features((hashes / "clip.mp4.2.txt").read_text()) == list(
        vpdq_hash(load_bytes(other))
    )
    assert "b/clip.mp4 written as clip.mp4.2.txt" in result.stderr


def test_video_vpdq_dir_that_cannot_be_made_is_a_usage_error(tmp_path: Path, clip: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    (tmp_path / "taken").write_text("a file where the folder would go\n")
    result = runner.invoke(app, ["hash", "--vpdq-dir", str(tmp_path / "taken" / "x"), str(path)])
    assert result.exit_code == 2
    assert "--vpdq-dir: cannot create" in result.stderr
    assert result.stdout == ""
