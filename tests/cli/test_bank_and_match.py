"""``rempart bank`` and ``rempart match`` from the command line, as a new user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from rempart.config import load_settings
from rempart.store import Store
from tests.cli.invoke import run
from tests.desk.watched import desk_bank, entry_id, item, sightings, watched_item
from tests.images import encode, gradient


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "known.png").write_bytes(encode(gradient(320, 240, seed=3), "PNG"))
    rotated = gradient(320, 240, seed=3).transpose(Image.Transpose.ROTATE_90)
    (folder / "known-rotated.png").write_bytes(encode(rotated, "PNG"))
    (folder / "other.png").write_bytes(encode(gradient(320, 240, seed=8), "PNG"))
    (folder / "flat.png").write_bytes(encode(Image.new("RGB", (64, 64), "grey"), "PNG"))
    return folder


def test_bank_life_and_match(env: dict[str, str], photos: Path, tmp_path: Path) -> None:
    assert run(env, "bank", "create", "ncii", "--description", "victims' hashes")[0] == 0
    code, out, _ = run(env, "hash", str(photos / "known.png"))
    listing = tmp_path / "known.jsonl"
    listing.write_text(out)
    code, out, err = run(env, "bank", "import", "ncii", str(listing))
    assert code == 0, err
    assert json.loads(out)["added"] == 1
    assert json.loads(run(env, "bank", "import", "ncii", str(listing))[1])["added"] == 0

    code, out, _ = run(env, "match", str(photos))
    assert code == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert [m["bank"] for m in records["known.png"]["matches"]] == ["ncii"]
    assert records["known.png"]["matches"][0]["distance"] == 0
    assert records["other.png"]["matches"] == []
    assert records["known-rotated.png"]["matches"] == [], "a rotation needs --dihedral"
    assert records["flat.png"]["skipped"] == "low_quality"

    code, out, _ = run(env, "match", "--dihedral", str(photos / "known-rotated.png"))
    (match,) = json.loads(out)["matches"]
    assert match["variant"] != "original"

    code, out, _ = run(env, "bank", "export", "ncii")
    assert out.startswith("pdq ")
    assert len(out.split()) == 2
    entry_id = str(records["known.png"]["matches"][0]["entry_id"])
    code, out, _ = run(env, "bank", "withdraw", "ncii", "--id", entry_id, "--reason", "victim")
    assert (code, json.loads(out)["withdrawn"]) == (0, 1)
    assert json.loads(run(env, "match", str(photos / "known.png"))[1])["matches"] == []
    code, out, _ = run(env, "bank", "stats", "--format", "jsonl")
    stats = json.loads(out)
    assert (stats["active"], stats["withdrawn"]) == (0, 1)


def test_errors_are_clear_and_change_nothing(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(env, "bank", "import", "nope", "-", "--format", "hex", stdin="00\n")
    assert code == 2
    assert "no bank named 'nope'" in err
    run(env, "bank", "create", "b")
    bad = tmp_path / "bad.txt"
    bad.write_text("ab" * 32 + "\n" + "xyz\n")
    code, _, err = run(env, "bank", "import", "b", str(bad))
    assert code == 1
    assert "nothing imported: line 2" in err
    assert json.loads(run(env, "bank", "stats", "b", "-f", "jsonl")[1])["active"] == 0
    code, _, err = run(env, "bank", "import", "b", "-", stdin="ab" * 32)
    assert code == 2
    assert "give --format" in err
    code, _, err = run(env, "bank", "export", "b", "--format", "stopncii")
    assert code == 2
    assert "cannot export" in err
    code, _, err = run(env, "bank", "withdraw", "b", "cd" * 32)
    assert code == 1
    assert "Not in 'b'" in err
    code, _, err = run(env, "match", "--bank", "missing", str(bad))
    assert code == 2
    assert "no bank named missing" in err
    code, _, err = run(
        {**env, "REMPART_DATABASE_URL": "postgresql+psycopg://u:secret@127.0.0.1:1/x"},
        "bank",
        "list",
    )
    assert code == 2
    assert "secret" not in err
    assert "***" in err


def test_export_to_a_file_then_import_elsewhere(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "bank", "create", "a")
    hashes = [f"{i:064x}" for i in range(1, 50)]
    run(env, "bank", "import", "a", "-", "--format", "hex", stdin="\n".join(hashes))
    for fmt in ("hex", "pytx", "csv", "jsonl", "te"):
        out = tmp_path / f"a.{fmt}"
        assert run(env, "bank", "export", "a", "-f", fmt, "-o", str(out))[0] == 0
        run(env, "bank", "create", f"copy-{fmt}")
        code, report, err = run(env, "bank", "import", f"copy-{fmt}", str(out), "-f", fmt)
        assert code == 0, err
        assert json.loads(report)["added"] == 49


HASH = "ab" * 32
HOSTILE_LISTS = {
    "not-utf8.txt": (HASH + "\n\n" + HASH + "\n").encode() + b"\xff\n",
    "huge-integer.jsonl": b'{"hash": 1' + b"0" * 5000 + b"}\n",
    "deep.jsonl": f'{{"hash": "{HASH}"}}\n'.encode() + b"[" * 60_000 + b"\n",
    "surrogate.jsonl": f'{{"hash": "{HASH}", "note": "\\udc80"}}\n'.encode(),
    "document.json": b'{"hashRecords": [\n' + b"{" * 3000,
}


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("not-utf8.txt", "line 4 (byte 131)"),
        ("huge-integer.jsonl", "line 1 (byte 0)"),
        ("deep.jsonl", "line 2 (byte 77)"),
        ("surrogate.jsonl", "line 1 (byte 0)"),
        ("document.json", "line 2 (byte 19)"),
    ],
)
def test_a_hostile_list_is_refused_naming_line_and_byte(
    env: dict[str, str], tmp_path: Path, name: str, where: str
) -> None:
    run(env, "bank", "create", "b")
    path = tmp_path / name
    path.write_bytes(HOSTILE_LISTS[name])
    for fmt in ((), ("--format", "hex")) if name.endswith(".txt") else ((),):
        code, out, err = run(env, "bank", "import", "b", str(path), *fmt)
        assert (code, out) == (1, ""), err
        assert f"nothing imported: {where}: " in err
    assert json.loads(run(env, "bank", "stats", "b", "-f", "jsonl")[1])["active"] == 0


def test_a_hostile_list_named_in_no_utf8_never_gives_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "bank", "create", "b")
    good = tmp_path / os.fsdecode(b"list-\xff.txt")
    good.write_bytes(HASH.encode() + b"\n")
    bad = tmp_path / os.fsdecode(b"bad-\xfe.txt")
    bad.write_bytes(HOSTILE_LISTS["not-utf8.txt"])
    command = [sys.executable, "-m", "rempart", "bank", "import", "b"]
    environment = {**os.environ, **env}
    done = subprocess.run([*command, good], capture_output=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([*command, bad], capture_output=True, env=environment, check=False)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert b"nothing imported: line 4 (byte 131): byte 0xff is not UTF-8 text" in done.stderr


def test_bank_categories_from_the_command_line(
    env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    assert run(env, "bank", "create", "demo", "--category", "demo")[0] == 0
    code, _, err = run(env, "bank", "create", "hotline", "--source", "ncmec")
    assert "(child_sexual_abuse, threshold 31)" in err
    code, _, err = run(env, "bank", "create", "x", "--category", "terror")
    assert code == 2
    assert "'terror' is not one of" in err
    code, out, _ = run(env, "bank", "list", "--format", "jsonl")
    assert {r["name"]: r["category"] for r in map(json.loads, out.splitlines())} == {
        "demo": "demo",
        "hotline": "child_sexual_abuse",
    }
    listing = tmp_path / "known.jsonl"
    listing.write_text(run(env, "hash", str(photos / "known.png"))[1])
    assert run(env, "bank", "import", "demo", str(listing))[0] == 0
    code, out, _ = run(env, "match", str(photos / "known.png"))
    assert [(m["bank"], m["category"]) for m in json.loads(out)["matches"]] == [("demo", "demo")]
    code, out, _ = run(env, "bank", "update", "demo", "--category", "other")
    assert json.loads(out)["category"] == "other"


def test_match_of_a_reported_image_says_review_and_sights_it(
    env: dict[str, str], photos: Path
) -> None:
    store = Store.open(load_settings(env).database_url)
    try:
        desk_bank(store, "desk-adult")
        pdq = json.loads(run(env, "hash", str(photos / "known.png"))[1])["pdq"]
        watched = watched_item(store, [entry_id(store, "desk-adult", pdq)], pdq=pdq)
        code, out, err = run(env, "match", str(photos / "known.png"), str(photos / "other.png"))
        assert code == 0, err
        known, other = map(json.loads, out.splitlines())
        assert [(m["bank"], m["review"]) for m in known["matches"]] == [("desk-adult", True)]
        assert other["matches"] == []
        row = item(store, watched.item_id)
        assert (row["state"], row["sightings"]) == ("sighted", 1)
        assert [(r["key_id"], r["count"]) for r in sightings(store, 0)] == [(None, 1)]
    finally:
        store.close()


def test_video_banks_from_the_command_line(
    env: dict[str, str], tmp_path: Path, testdata: Path
) -> None:
    from rempart.hashing.vpdq import format_features, vpdq_hash
    from rempart.video import load_bytes
    from tests import videos

    original = videos.encode(videos.scenes(testdata, ("bridge", "coffee", "rocket")))
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(videos.encode(videos.decoded(original), size=(128, 96), options={"crf": "30"}))
    mirrored = tmp_path / "mirrored.mp4"
    mirrored.write_bytes(videos.encode(f[:, ::-1].copy() for f in videos.decoded(original)))
    other = tmp_path / "other.mp4"
    other.write_bytes(videos.encode(videos.scenes(testdata, ("chelsea", "coins"))))
    features = tmp_path / "original.vpdq.txt"
    features.write_text(format_features(vpdq_hash(load_bytes(original))))

    code, _, err = run(env, "bank", "create", "clips", "--video-stored", "50")
    assert code == 0, err
    code, out, err = run(env, "bank", "import", "clips", str(features))
    assert (code, json.loads(out)["added"]) == (0, 1), err
    code, out, _ = run(env, "bank", "list", "--format", "jsonl")
    listed = json.loads(out)
    assert (listed["images"], listed["videos"]) == (0, 1)
    assert listed["video_thresholds"]["stored_percent"] == 50.0

    code, out, err = run(
        env, "match", "--dihedral", str(copy), str(mirrored), str(other), str(features)
    )
    assert code == 0, err
    records = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert records["copy.mp4"]["kind"] == "video"
    (found,) = records["copy.mp4"]["matches"]
    assert (found["bank"], found["kind"], found.get("variant")) == ("clips", "video", None)
    assert found["query_percent"] >= 80
    assert [m.get("variant") for m in records["mirrored.mp4"]["matches"]] == ["flipy"]
    assert records["other.mp4"]["matches"] == []
    assert records["original.vpdq.txt"]["matches"][0]["query_percent"] == 100.0
    assert "1 videos" in err
    code, out, _ = run(env, "match", str(copy), "--format", "table")
    assert f"clips#{found['entry_id']}@" in out

    code, out, err = run(env, "bank", "export", "clips")
    assert out.startswith("vpdq [")
    code, out, err = run(env, "bank", "export", "clips", "--format", "hex")
    assert out == ""
    assert "1 videos and digests left out" in err

    bad = tmp_path / "bad.txt"
    bad.write_text(f'vpdq {json.dumps(["ab" * 32 + ",100,0.0"])}\nvpdq ["zz,1,0"]\n')
    code, _, err = run(env, "bank", "import", "clips", str(bad), "--format", "pytx")
    assert code == 1
    assert "line 2" in err
    assert "vPDQ" in err
    assert json.loads(run(env, "bank", "stats", "clips", "-f", "jsonl")[1])["videos"] == 1

    entry = str(found["entry_id"])
    assert run(env, "bank", "withdraw", "clips", "--id", entry)[0] == 0
    code, out, _ = run(env, "match", str(copy))
    assert json.loads(out)["matches"] == []

    code, out, _ = run(env, "match", str(bad.with_name("broken.vpdq")))
    assert code == 1
    assert json.loads(out)["error"]["code"] == "not_found"
