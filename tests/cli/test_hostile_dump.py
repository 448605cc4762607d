"""A hostile dump, as a seized disk or a leaked bucket holds one: link loops, a link to a parent
folder and one out of the tree, a dangling link, a FIFO, an unreadable file, names that are
not UTF-8 or hold a newline, files that are not images. Every command that takes paths runs on
it as a user runs it (a new process, with a timeout: a FIFO opened would hang it) and judges
every image, records each bad entry with its code, and writes valid UTF-8."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.images import encode, gradient

ROOT = os.geteuid() == 0  # root reads a file of mode 000 anyway
BAD_NAME = b"bad-\xff\xfe.png"  # not UTF-8
NEWLINE_NAME = "new\nline.png"


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    """The dump; beside it, a folder the dump links out to."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "elsewhere.png").write_bytes(encode(gradient(64, 48, seed=9), "PNG"))
    dump = tmp_path / "dump"
    (dump / "sub").mkdir(parents=True)
    (dump / "a.png").write_bytes(encode(gradient(80, 60, seed=1), "PNG"))
    (dump / "sub" / "b.jpg").write_bytes(encode(gradient(90, 70, seed=2), "JPEG"))
    (dump / "secret.png").write_bytes(encode(gradient(70, 50, seed=3), "PNG"))
    (dump / "secret.png").chmod(0)
    (dump / NEWLINE_NAME).write_bytes(encode(gradient(60, 60, seed=4), "PNG"))
    with open(os.path.join(os.fsencode(dump), BAD_NAME), "wb") as bad:
        bad.write(encode(gradient(50, 70, seed=5), "PNG"))
    (dump / "notes.txt").write_text("not an image\n")
    (dump / "empty.jpg").write_bytes(b"")
    (dump / "alias.png").symlink_to("a.png")  # a link inside the tree: read
    (dump / "out.png").symlink_to(outside / "elsewhere.png")  # out of the tree: not followed
    (dump / "loop1").symlink_to("loop2")
    (dump / "loop2").symlink_to("loop1")
    (dump / "gone.jpg").symlink_to("nowhere.jpg")
    (dump / "sub" / "up").symlink_to("..")  # a loop for whoever follows it
    os.mkfifo(dump / "pipe.jpg")
    return dump


def rempart(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """``rempart ARGS`` in a new process with its own data folder; a hang fails the test."""
    env = {**os.environ, "REMPART_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "rempart", *map(str, args)],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def parse(output: bytes) -> list[dict[str, Any]]:
    """JSON Lines that must be valid UTF-8."""
    return [json.loads(line) for line in output.decode("utf-8").splitlines()]


def name(record: dict[str, Any]) -> bytes:
    """The raw name of a record's file."""
    if "path_bytes" in record:
        return os.path.basename(base64.b64decode(record["path_bytes"]))
    path: str = record["path"]
    return os.path.basename(path.encode("utf-8"))


IMAGES = {b"a.png", b"alias.png", BAD_NAME, NEWLINE_NAME.encode()}
DEEP_IMAGES = IMAGES | {b"b.jpg"}
BAD = {
    b"loop1": "link_loop",
    b"loop2": "link_loop",
    b"gone.jpg": "dangling_link",
    b"pipe.jpg": "not_regular",
}
if not ROOT:
    BAD[b"secret.png"] = "permission_denied"
else:
    IMAGES.add(b"secret.png")
    DEEP_IMAGES.add(b"secret.png")


def check(found: subprocess.CompletedProcess[bytes], images: set[bytes]) -> list[dict[str, Any]]:
    """Each image judged, each bad entry recorded with its code, and nothing else."""
    stderr = found.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr
    assert found.returncode == 1, stderr  # the bad entries
    records = [record for record in parse(found.stdout) if "rempart_scan" not in record]
    errors = {name(record): record["error"]["code"] for record in records if "error" in record}
    assert errors == BAD
    assert {name(record) for record in records if "error" not in record} == images
    assert "skipped: not an image or video (2)" in stderr  # notes.txt, empty.jpg
    return records


@pytest.mark.parametrize("recursive", [False, True], ids=["flat", "recursive"])
def test_hash_judges_every_image_of_a_hostile_dump(
    dump: Path, tmp_path: Path, recursive: bool
) -> None:
    found = rempart(tmp_path, "hash", dump, *(["-r"] if recursive else []))
    records = check(found, DEEP_IMAGES if recursive else IMAGES)
    bad = next(record for record in records if name(record) == BAD_NAME)
    assert bad["path"].endswith("bad-\\xff\\xfe.png"), "readable, the bytes escaped"
    if recursive:
        assert "a link to a folder (-L follows it) (1)" in found.stderr.decode()
    assert "a link out of the tree (-L follows it) (1)" in found.stderr.decode()


def test_match_signals_and_scan_judge_every_image_and_scan_resumes(
    dump: Path, tmp_path: Path
) -> None:
    check(rempart(tmp_path, "match", dump, "-r"), DEEP_IMAGES)
    check(rempart(tmp_path, "signals", dump, "-r", "-d", "provenance"), DEEP_IMAGES)
    out = tmp_path / "out.jsonl"
    scan = ("scan", dump, "-r", "-d", "provenance", "--out", out)
    first = rempart(tmp_path, *scan)
    assert first.stdout == b""
    check(subprocess.CompletedProcess([], first.returncode, out.read_bytes(), first.stderr),
          DEEP_IMAGES)  # fmt: skip
    written = out.read_bytes()
    again = rempart(tmp_path, *scan, "--resume")
    assert again.returncode == 1, again.stderr.decode()  # the output still holds the errors
    assert out.read_bytes() == written, "everything was judged already"
    assert f"{len(DEEP_IMAGES) + len(BAD)} already in the output" in again.stderr.decode()


def test_following_links_records_the_loop_and_reads_out_of_the_tree(
    dump: Path, tmp_path: Path
) -> None:
    found = rempart(tmp_path, "hash", dump, "-r", "-L")
    records = parse(found.stdout)
    codes = {name(record): record.get("error", {}).get("code") for record in records}
    assert codes[b"up"] == "link_loop"
    assert codes[b"out.png"] is None, "-L reads the link out of the tree"
    assert "Traceback" not in found.stderr.decode()


def test_all_files_reports_what_is_not_an_image(dump: Path, tmp_path: Path) -> None:
    records = parse(rempart(tmp_path, "hash", dump, "--all-files").stdout)
    codes = {name(record): record.get("error", {}).get("code") for record in records}
    assert (codes[b"notes.txt"], codes[b"empty.jpg"]) == ("unsupported_format", "empty")


def test_no_name_breaks_a_csv_row_or_a_table(dump: Path, tmp_path: Path) -> None:
    found = rempart(tmp_path, "hash", dump, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(found.stdout.decode("utf-8"))))
    assert len(rows) == len(IMAGES) + len(BAD)
    assert any(row["path"].endswith("new\\nline.png") for row in rows)
    assert all("\n" not in row["path"] for row in rows)
    table = rempart(tmp_path, "hash", dump / NEWLINE_NAME, "--format", "table").stdout
    (row,) = [line for line in table.decode("utf-8").splitlines() if "line.png" in line]
    assert "new\\nline.png" in row


def test_ctrl_c_says_what_a_scan_wrote_and_resume_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(150):
        (folder / f"{number:03}.png").write_bytes(encode(gradient(600, 500, seed=number), "PNG"))
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "rempart", "scan", str(folder), "-d", "provenance", "-j", "1"]
    env = {**os.environ, "REMPART_DATA_DIR": str(tmp_path / "data")}
    scan = subprocess.Popen([*args, "--out", str(out)], env=env, stderr=subprocess.PIPE)
    while scan.poll() is None and (not out.exists() or out.read_bytes().count(b"\n") < 3):
        time.sleep(0.05)  # until a few records are written
    scan.send_signal(signal.SIGINT)
    _, err = scan.communicate(timeout=120)
    if scan.returncode == 0:
        pytest.skip("the scan ended before Ctrl-C reached it")
    written = out.read_bytes()
    records = written.count(b"\n") - 1  # less the fingerprint
    assert scan.returncode == 130
    assert err.decode().strip() == (
        f"interrupted: {records} records written to {out}, each line whole; "
        "run the same command with --resume to go on"
    )
    assert written.endswith(b"\n")
    resumed = subprocess.run([*args, "--out", str(out), "--resume"], env=env, timeout=300,
                             capture_output=True, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert f"{records} already in the output" in resumed.stderr.decode()
    assert out.read_bytes().startswith(written)
    assert out.read_bytes().count(b"\n") == 151
