"""Exact digests from the command line: ``rempart bank add --md5``, then ``rempart match`` and
``rempart scan`` find the very file, and a withdrawal stops them."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tests.cli.invoke import run


def test_a_banked_md5_is_found_by_match_and_scan_until_withdrawn(
    env: dict[str, str], tmp_path: Path, testdata: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    banked = folder / "banked.jpg"
    shutil.copy(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg", banked)
    shutil.copy(testdata / "faces" / "obama.jpg", folder / "other.jpg")
    md5 = hashlib.md5(banked.read_bytes()).hexdigest()
    assert run(env, "bank", "create", "hotline", "--source", "ncmec")[0] == 0
    code, out, err = run(env, "bank", "add", "hotline", "--md5", md5.upper(), "--note", "case 9")
    assert code == 0, err
    assert json.loads(out)["added"] == 1
    code, _, err = run(env, "bank", "add", "hotline", "--md5", md5, "--sha256", "ab" * 31)
    assert code != 0, "a bad digest is refused"
    assert "sha256" in err
    listed = json.loads(run(env, "bank", "list", "--format", "jsonl")[1])
    assert (listed["images"], listed["digests"]) == (0, 1), "the good one was not added twice"
    stats = json.loads(run(env, "bank", "stats", "--format", "jsonl")[1])
    assert (stats["md5"], stats["sha256"], stats["active"]) == (1, 0, 1)
    assert run(env, "bank", "export", "hotline")[1] == f"video_md5 {md5}\n"

    code, out, err = run(env, "match", str(folder))
    assert code == 0, err
    records = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    (found,) = records["banked.jpg"]["matches"]
    assert (found["bank"], found["kind"], found["hash"], found["distance"]) == (
        "hotline",
        "md5",
        md5,
        0,
    )
    assert found["category"] == "child_sexual_abuse"
    assert records["other.jpg"]["matches"] == []
    assert "1 digests" in err

    out_file = tmp_path / "scan.jsonl"
    code, _, err = run(env, "scan", str(folder), "-d", "provenance", "--out", str(out_file))
    lines = [json.loads(line) for line in out_file.read_text().splitlines()[1:]]
    scanned = {Path(r["path"]).name: r for r in lines}
    (signal,) = [s for s in scanned["banked.jpg"]["signals"] if s["name"] == "bank.match"]
    assert (signal["evidence"]["kind"], signal["evidence"]["hash"]) == ("md5", md5)
    assert scanned["banked.jpg"]["verdict"]["action"] == "block"
    assert scanned["other.jpg"]["verdict"]["action"] == "allow"

    code, out, err = run(env, "bank", "withdraw", "hotline", "--md5", md5, "--reason", "wrong")
    assert (code, json.loads(out)["withdrawn"]) == (0, 1), err
    assert json.loads(run(env, "match", str(banked))[1])["matches"] == []


def test_a_banked_video_file_digest_is_found(
    env: dict[str, str], tmp_path: Path, testdata: Path
) -> None:
    from tests import videos

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(videos.encode(videos.scenes(testdata, ("bridge", "coffee"))))
    sha256 = hashlib.sha256(clip.read_bytes()).hexdigest()
    assert run(env, "bank", "create", "clips")[0] == 0
    assert run(env, "bank", "add", "clips", "--sha256", sha256)[0] == 0
    code, out, err = run(env, "match", str(clip))
    assert code == 0, err
    (found,) = json.loads(out)["matches"]
    assert (found["kind"], found["hash"]) == ("sha256", sha256)
    out_file = tmp_path / "scan.jsonl"
    run(env, "scan", str(clip), "-d", "provenance", "--out", str(out_file))
    (record,) = [json.loads(line) for line in out_file.read_text().splitlines()[1:]]
    assert [s["evidence"]["kind"] for s in record["signals"] if s["name"] == "bank.match"] == [
        "sha256"
    ]
