"""``rempart scan`` as a new user runs it: the output contract, the report, --resume, --sample
and policies."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import html5lib
import pytest
from PIL import Image

from rempart.config import load_settings
from rempart.scan import THUMBNAIL_CELLS
from rempart.store import Store
from tests.cli.invoke import run
from tests.desk.watched import desk_bank, entry_id, item, watched_item
from tests.images import encode, gradient


@pytest.fixture
def folder(tmp_path: Path, testdata: Path) -> Path:
    """Two photos of people, a bridge photo that a bank will hold, and a truncated file."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copy(testdata / "faces" / "obama.jpg", folder / "a.jpg")
    shutil.copy(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg", folder / "b.jpg")
    shutil.copy(testdata / "faces" / "biden.jpg", folder / "c.jpg")
    (folder / "d.jpg").write_bytes(encode(gradient(300, 200), "JPEG")[:500])
    return folder


def bank_holding(env: dict[str, str], image: Path) -> None:
    assert run(env, "bank", "create", "known")[0] == 0
    code, hashes, _ = run(env, "hash", str(image))
    assert code == 0
    assert run(env, "bank", "import", "known", "-", "--format", "jsonl", stdin=hashes)[0] == 0


def records(path: Path) -> list[dict[str, Any]]:
    """The records of an output, less its first line, the run fingerprint."""
    header, *lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert set(header) == {"rempart_scan"}
    return lines


def test_scan_judges_every_file_and_writes_a_report(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    bank_holding(env, folder / "b.jpg")
    out, report = tmp_path / "out.jsonl", tmp_path / "report.html"
    code, stdout, err = run(env, "scan", str(folder), "--out", str(out), "--report", str(report))
    assert code == 1, err  # the truncated file
    assert stdout == ""
    lines = records(out)
    assert [Path(r["path"]).name for r in lines] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    a, b, c, d = lines
    assert d["error"]["code"] == "truncated"
    assert b["verdict"]["action"] == "block"
    assert b["verdict"]["reasons"][0]["rule"] == "known-image"
    assert b["verdict"]["categories"][0]["dsa_category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert any(s["name"] == "bank.match" for s in b["signals"])
    for record in (a, c):
        assert record["verdict"]["action"] == "allow"
        assert {"face.detected", "face.age"} <= {s["name"] for s in record["signals"]}
        assert not any(s["name"].startswith("identity.") for s in record["signals"])
    assert "block" in err
    assert "error: truncated" in err
    assert f"Report: {report}" in err

    html = report.read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(html)  # raises on any parse error
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html), (
        "nothing loads from elsewhere"
    )
    assert "b.jpg" in html
    assert "known-image" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 1, "one thumbnail: the one flagged image"
    for data in images:
        thumbnail = Image.open(io.BytesIO(base64.b64decode(data)))
        assert max(thumbnail.size) <= THUMBNAIL_CELLS, "a coarse mosaic, never the image"


def test_scan_to_standard_output_without_a_database(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    code, stdout, _ = run(env, "scan", str(folder / "a.jpg"), "-d", "provenance")
    assert code == 0
    (record,) = [json.loads(line) for line in stdout.splitlines()]
    assert record["verdict"]["action"] == "allow"
    assert not (tmp_path / "data").exists(), "scanning created no database"


def test_resume_skips_what_was_judged_and_redoes_a_cut_line(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    args = ("scan", str(folder), "-d", "provenance", "--out", str(out))
    assert run(env, *args)[0] == 1
    complete = out.read_bytes()
    first = b"".join(complete.splitlines(keepends=True)[:2])  # the fingerprint, one record
    out.write_bytes(first + complete[len(first) : len(first) + 40])  # killed mid-line
    code, _, err = run(env, *args, "--resume")
    assert code == 1
    assert "1 already in the output" in err
    resumed = out.read_bytes()
    assert resumed.startswith(first)
    expected = [json.loads(line)["path"] for line in complete.splitlines()[1:]]
    assert [r["path"] for r in records(out)] == expected
    code, _, err = run(env, *args, "--resume")
    assert code == 1, "the output as a whole still holds the truncated file's error"
    assert "4 already in the output" in err
    assert out.read_bytes() == resumed


def test_resume_refuses_an_output_judged_by_another_policy(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    run(env, "scan", str(folder / "a.jpg"), "-d", "provenance", "--out", str(out))
    code, _, err = run(
        env, "scan", str(folder), "-d", "provenance", "--out", str(out), "--resume", "-p", "strict"
    )
    assert code == 2
    assert "was written by another run (policy default" in err
    assert "strict" in err
    assert len(records(out)) == 1, "nothing changed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resume",), "--resume needs --out"),
        (("--policy", "lenient"), "no policy 'lenient'"),
        (("--bank", "nope"), "no bank named nope"),
        (("-d", "nudityy"), "choose from"),
    ],
)
def test_usage_errors_exit_2(
    env: dict[str, str], folder: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(env, "scan", str(folder), *args)
    assert code == 2
    assert message in err


def test_a_policy_file_that_weakens_a_fixed_rule_is_refused(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "weak.yaml"
    policy.write_text("policy: weak\nversion: 1\ndisable: [minor-sexualised]\n")
    code, stdout, err = run(env, "scan", str(folder), "--policy", str(policy))
    assert code == 2
    assert "cannot be disabled" in err
    assert stdout == ""


def test_sample_draws_the_same_files_and_reports_prevalence(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(12):
        (folder / f"{index:02}.png").write_bytes(encode(gradient(80, 60, seed=index), "PNG"))
    report = tmp_path / "report.html"
    args = ("scan", str(folder), "-d", "provenance", "--sample", "5", "-p", "survey")
    code, first, err = run(env, *args, "--report", str(report))
    assert code == 0
    assert len(first.splitlines()) == 5
    assert "action: block: 0.00% (95% CI 0.00% to" in err
    assert run(env, *args)[1] == first, "the same seed draws the same files"
    assert run(env, *args, "--seed", "7")[1] != first
    html = report.read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(html)
    assert "A random sample of 5 of 12 files" in html
    assert "95% interval" in html


def test_persons_adds_identity_matches(env: dict[str, str], testdata: Path) -> None:
    faces = testdata / "faces"
    assert run(env, "persons", "enroll", "Barack Obama", str(faces / "obama.jpg"))[0] == 0
    photos = [str(faces / "obama2.jpg"), str(faces / "biden.jpg")]
    code, stdout, _ = run(env, "scan", *photos, "-d", "faces", "--persons")
    assert stdout == run(env, "scan", *photos, "-d", "faces", "--registry")[1]  # the old flag
    assert code == 0
    matched, other = (json.loads(line) for line in stdout.splitlines())
    names = [s["value"] for s in matched["signals"] if s["name"] == "identity.match"]
    assert names == ["Barack Obama"]
    assert not any(s["name"] == "identity.match" for s in other["signals"])
    assert matched["verdict"]["action"] == "allow", "a protected person alone is not blocked"
    code, stdout, _ = run(env, "scan", *photos, "-d", "faces")
    assert "identity.match" not in stdout, "identity runs only with --persons"


def test_out_dev_null_and_standard_output(env: dict[str, str], folder: Path) -> None:
    args = ("scan", str(folder / "a.jpg"), "-d", "provenance")
    code, stdout, err = run(env, *args, "--out", "/dev/null")
    assert (code, stdout) == (0, ""), err
    code, stdout, _ = run(env, *args, "--out", "-")
    assert code == 0
    (record,) = [json.loads(line) for line in stdout.splitlines()]  # records only, no fingerprint
    assert record["verdict"]["action"] == "allow"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--report", "{tmp}/missing/report.html"), "there is no folder"),
        (("--report", "-"), "--report needs a file"),
        (("--out", "{tmp}/missing/out.jsonl"), "there is no folder"),
        (("--out", "{tmp}"), "is a folder"),
        (("--out", "-", "--resume"), "--resume needs --out"),
    ],
)
def test_outputs_are_refused_before_any_work(
    env: dict[str, str], folder: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    filled = [arg.format(tmp=tmp_path) for arg in args]
    # --bank nope would fail at the bank: the output is checked before anything is loaded
    code, stdout, err = run(env, "scan", str(folder), "--bank", "nope", *filled)
    assert code == 2
    assert message in err
    assert stdout == ""


def test_resume_refuses_an_output_made_with_other_banks(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    bank_holding(env, folder / "b.jpg")
    args = ("scan", str(folder / "a.jpg"), "-d", "provenance", "--bank", "known", "--out", str(out))
    assert run(env, *args)[0] == 0
    code, hashes, _ = run(env, "hash", str(folder / "c.jpg"))
    assert run(env, "bank", "import", "known", "-", "--format", "jsonl", stdin=hashes)[0] == 0
    code, _, err = run(env, *args, "--resume")
    assert code == 2
    assert "banks: known" in err
    assert "active 1" in err
    assert "active 2" in err


def test_scan_of_a_reported_image_says_review_and_sights_it(
    env: dict[str, str], folder: Path
) -> None:
    store = Store.open(load_settings(env).database_url)
    try:
        desk_bank(store, "desk-adult")
        pdq = json.loads(run(env, "hash", str(folder / "b.jpg"))[1])["pdq"]
        watched = watched_item(store, [entry_id(store, "desk-adult", pdq)], state="removed")
        code, out, err = run(env, "scan", str(folder / "b.jpg"), "-d", "provenance")
        assert code == 0, err
        (record,) = map(json.loads, out.splitlines())
        assert record["verdict"]["action"] == "review"
        assert [r["rule"] for r in record["verdict"]["reasons"]] == ["reported-image"]
        assert [s["name"] for s in record["signals"] if s["name"].startswith("bank.")] == [
            "bank.reported"
        ]
        row = item(store, watched.item_id)
        assert (row["state"], row["sightings"]) == ("reappeared", 1)
    finally:
        store.close()
