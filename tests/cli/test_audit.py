"""``rempart audit`` as a hub runs it on its uploads: one record per model file, exit status,
--resume, the report grouping copies, --known, --fingerprint and --jobs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import html5lib
import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.cli.invoke import run

DECLARED = {"model": {"name": "portrait lora", "poi": True, "nsfw": True}}


def write_model(path: Path, metadata: Mapping[str, Any] | None = None, *, seed: int = 0) -> Path:
    """A kohya-style LoRA written by the safetensors library (metadata values as JSON text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = np.random.default_rng(seed).standard_normal((64, 16)).astype(np.float32)
    tensors = {
        "lora_unet_down.lora_down.weight": weights,
        "lora_unet_down.lora_up.weight": weights.T.copy(),
        "lora_unet_down.alpha": np.array(8.0, dtype=np.float32),
    }
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    save_file(tensors, str(path), metadata=values or None)
    return path


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    """A model declared (by its Civitai sidecar) to show a real person, nude; a harmless one;
    a file cut short; and files that are not models."""
    folder = tmp_path / "uploads"
    write_model(folder / "declared.safetensors", seed=1)
    (folder / "declared.civitai.info").write_text(json.dumps(DECLARED))
    write_model(folder / "harbour.safetensors", {"ss_output_name": "watercolour harbour"}, seed=2)
    (folder / "cut.safetensors").write_bytes((4096).to_bytes(8, "little") + b'{"a":')
    (folder / "notes.txt").write_text("not a model")
    (folder / "README.md").write_text("---\ntags: [lora]\n---\nA few models.\n")
    return folder


def lines(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An output's run fingerprint and its records."""
    header, *records = [json.loads(line) for line in path.read_text().splitlines()]
    return header["rempart_scan"], records


def by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(record["path"]).name: record for record in records}


def test_every_model_gets_a_record_and_a_file_cut_short_its_error(
    env: dict[str, str], uploads: Path
) -> None:
    code, stdout, err = run(env, "audit", str(uploads), "--jobs", "1")
    assert code == 1, err
    records = by_name([json.loads(line) for line in stdout.splitlines()])
    assert sorted(records) == ["cut.safetensors", "declared.safetensors", "harbour.safetensors"]
    declared = records["declared.safetensors"]
    assert set(declared) == {
        "path",
        "format",
        "bytes",
        "fingerprint",
        "verdict",
        "signals",
        "warnings",
    }
    assert declared["format"] == "safetensors"
    assert declared["fingerprint"].startswith("s1:")
    assert declared["verdict"]["action"] == "block"
    assert declared["verdict"]["policy"]["name"] == "hub"
    assert {s["name"] for s in declared["signals"]} >= {"model.poi", "model.nsfw"}
    assert records["harbour.safetensors"]["verdict"]["action"] == "allow"
    assert set(records["cut.safetensors"]) == {"path", "error"}
    assert records["cut.safetensors"]["error"]["code"] in ("truncated", "corrupt")
    assert "Audit summary" in err
    assert "models/s" in err
    assert "not a model file (3)" in err  # the card, the sidecar, the notes
    assert "Traceback" not in err


def test_a_folder_of_good_models_exits_0_and_writes_its_output(
    env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    (uploads / "cut.safetensors").unlink()
    out = tmp_path / "audit.jsonl"
    code, stdout, err = run(env, "audit", str(uploads), "--out", str(out), "-j", "1")
    assert code == 0, err
    assert stdout == ""
    fingerprint, records = lines(out)
    assert fingerprint["policy"]["name"] == "hub"
    assert len(records) == 2


def test_a_hostile_file_among_good_ones_gives_its_error_line(
    env: dict[str, str], uploads: Path
) -> None:
    (uploads / "loop.safetensors").write_bytes((1 << 62).to_bytes(8, "little") + b"{}")
    (uploads / "code.pt").write_bytes(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85R.")
    code, stdout, err = run(env, "audit", str(uploads), "-j", "1")
    assert code == 1, err
    records = by_name([json.loads(line) for line in stdout.splitlines()])
    assert records["loop.safetensors"]["error"]["code"] in ("too_large", "truncated", "corrupt")
    pickled = records["code.pt"]
    assert "error" not in pickled, pickled
    code_signals = [s for s in pickled["signals"] if s["name"] == "model.pickle.code"]
    assert code_signals[0]["value"] == "os.system"
    assert code_signals[0]["score"] == 1.0
    assert pickled["verdict"]["action"] == "review"
    assert records["harbour.safetensors"]["verdict"]["action"] == "allow"
    assert "Traceback" not in err


def test_usage_and_configuration_errors_exit_2(
    env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    assert run(env, "audit", str(uploads), "--policy", "no-such-policy")[0] == 2
    assert run(env, "audit", str(uploads), "--resume")[0] == 2  # --resume needs --out
    assert run(env, "audit", str(uploads), "--fingerprint", "most")[0] == 2
    assert run(env, "audit", str(uploads), "--registry", str(tmp_path / "none.json"))[0] == 2
    bad = tmp_path / "known.jsonl"
    bad.write_text("not json\n")
    code, _, err = run(env, "audit", str(uploads), "--known", str(bad))
    assert code == 2
    assert "Traceback" not in err


def test_resume_skips_what_was_audited_and_refuses_another_run(
    env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    (uploads / "cut.safetensors").unlink()
    out = tmp_path / "audit.jsonl"
    assert run(env, "audit", str(uploads / "harbour.safetensors"), "-o", str(out))[0] == 0
    code, _, err = run(env, "audit", str(uploads), "-o", str(out), "--resume", "-j", "1")
    assert code == 0, err
    assert "1 already in the output" in err
    _, records = lines(out)
    assert sorted(by_name(records)) == ["declared.safetensors", "harbour.safetensors"]
    code, _, err = run(env, "audit", str(uploads), "-o", str(out), "--resume", "-p", "default")
    assert code == 2
    assert "was written by another run (policy hub" in err
    code, _, err = run(
        env, "audit", str(uploads), "-o", str(out), "--resume", "--fingerprint", "full"
    )
    assert code == 2
    assert "fingerprint sampled then, full now" in err


def test_the_report_is_valid_html_and_groups_copies(
    env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    write_model(mirror / "renamed.safetensors", {"ss_output_name": "other name"}, seed=1)
    (mirror / "renamed.civitai.info").write_text(json.dumps(DECLARED))
    report = tmp_path / "audit.html"
    code, stdout, err = run(
        env, "audit", str(uploads), str(mirror), "--report", str(report), "-j", "1"
    )
    assert code == 1, err
    assert f"Report: {report}" in err
    records = by_name([json.loads(line) for line in stdout.splitlines()])
    copy = records["renamed.safetensors"]
    assert copy["fingerprint"] == records["declared.safetensors"]["fingerprint"]
    html = report.read_text()
    html5lib.HTMLParser(strict=True).parse(html)
    assert "<title>Rempart audit report</title>" in html
    flagged = html.split("<h2>Flagged models</h2>", 1)[1]
    rows = flagged.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert len(rows) == 1, "the copy shares its original's row"
    assert "declared.safetensors" in rows[0]
    assert "renamed.safetensors" in rows[0]
    assert "2 copies" in rows[0]


def test_known_blocks_a_stripped_copy_of_a_model_blocked_before(
    env: dict[str, str], uploads: Path, tmp_path: Path
) -> None:
    earlier = tmp_path / "earlier.jsonl"
    run(env, "audit", str(uploads), "-o", str(earlier), "-j", "1")
    copy = write_model(tmp_path / "later" / "plain.safetensors", seed=1)  # no metadata, no sidecar
    other = write_model(tmp_path / "later" / "other.safetensors", seed=9)
    code, stdout, err = run(env, "audit", str(copy.parent), "--known", str(earlier), "-j", "1")
    assert code == 0, err
    records = by_name([json.loads(line) for line in stdout.splitlines()])
    blocked = records[copy.name]
    assert blocked["verdict"]["action"] == "block"
    (signal,) = [s for s in blocked["signals"] if s["name"] == "model.copy"]
    assert signal["evidence"]["known"].endswith("declared.safetensors")
    assert records[other.name]["verdict"]["action"] == "allow"
    code, stdout, _ = run(env, "audit", str(copy))
    assert json.loads(stdout)["verdict"]["action"] == "allow", "without --known, no copy"


@pytest.mark.parametrize(("mode", "prefix"), [("full", "f1:"), ("none", None)])
def test_fingerprint_full_or_none(
    env: dict[str, str], uploads: Path, mode: str, prefix: str | None
) -> None:
    model = uploads / "harbour.safetensors"
    code, stdout, err = run(env, "audit", str(model), "--fingerprint", mode)
    assert code == 0, err
    fingerprint = json.loads(stdout)["fingerprint"]
    if prefix is None:
        assert fingerprint is None
    else:
        assert fingerprint.startswith(prefix)


def test_a_protected_person_in_a_registry_file_is_named(
    env: dict[str, str], tmp_path: Path
) -> None:
    registry = tmp_path / "persons.json"
    registry.write_text(json.dumps({"protected_persons": ["Maria Exemplova"]}))
    tags = {"1_maria": {"maria exemplova": 30, "nude": 30}}
    model = write_model(
        tmp_path / "m.safetensors",
        {"ss_output_name": "maria exemplova", "ss_tag_frequency": tags},
    )
    code, stdout, err = run(env, "audit", str(model), "--registry", str(registry))
    assert code == 0, err
    record = json.loads(stdout)
    assert record["verdict"]["action"] == "block"
    assert "person-model-sexualised" in {r["rule"] for r in record["verdict"]["reasons"]}
    code, stdout, _ = run(env, "audit", str(model))
    assert json.loads(stdout)["verdict"]["action"] != "block", "no one enrolled, no one named"


def test_two_processes_write_what_one_does(
    env: dict[str, str], uploads: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rempart.hub.auditor.FILES_PER_PROCESS", 1)  # a pool for 9 files
    for number in range(6):
        write_model(
            uploads / "more" / f"m{number}.safetensors", {"ss_output_name": "x"}, seed=number
        )
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert run(env, "audit", str(uploads), "-r", "-o", str(one), "-j", "1")[0] == 1
    assert run(env, "audit", str(uploads), "-r", "-o", str(two), "-j", "2")[0] == 1
    assert lines(one)[1] == lines(two)[1]
    assert len(lines(one)[1]) == 9
