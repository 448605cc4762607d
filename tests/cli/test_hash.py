"""``rempart hash``: the JSON Lines contract, formats, exit statuses, and a mixed folder."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rempart.cli import app
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
    assert "skipped: not an image (2)" in result.stderr  # the empty file and the text
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
