"""``ScanJob`` with another judge than the ``Scanner`` (the hub's ``Auditor`` is one): its run
fingerprint given, resumed only by the same run, its summary and report about models, copies
grouped; and the walk that gives a folder's model files."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import html5lib
import pytest

from rempart.errors import MediaError, MediaErrorCode, ScanOutputError
from rempart.media import MediaFailure
from rempart.policy import Policy, Verdict, load_policy
from rempart.scan import ScanJob, Subject
from rempart.scan.fingerprint import fingerprint_differences
from rempart.signals import Signal
from rempart.walk import SKIP_NOT_MODEL, FileKind, Walk, WalkItem


@dataclass(frozen=True)
class Judged:
    """A model's result as the job reads it."""

    path: str
    fingerprint: str | None
    verdict: Verdict
    thumbnail: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": "safetensors",
            "bytes": 12_345_678,
            "fingerprint": self.fingerprint,
            "verdict": self.verdict.to_json(),
            "signals": [],
            "warnings": [],
        }


@dataclass
class FakeJudge:
    """Blocks the files named in ``blocked``, gives each the fingerprint ``copies`` names
    (its own path otherwise), and cannot read those named ``unreadable``."""

    blocked: set[str] = field(default_factory=set)
    copies: dict[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=lambda: load_policy("strict"))
    seen: list[str] = field(default_factory=list)

    def scan(self, paths: Iterable[WalkItem], *, jobs: int = 1) -> Iterator[Judged | MediaFailure]:
        for item in paths:
            if isinstance(item, MediaFailure):
                yield item
                continue
            self.seen.append(item)
            if "unreadable" in item:
                error = MediaError(MediaErrorCode.TRUNCATED, f"{item}: cut short")
                yield MediaFailure(item, error)
                continue
            signals = [Signal("bank.match", 1.0, "hub", "1", value="known")]
            verdict = self.policy.decide(signals if item in self.blocked else [])
            yield Judged(item, self.copies.get(item, f"s1:{item}"), verdict)


AUDIT = {"policy": "strict", "fingerprint": "sampled", "known": None}


def job(judge: FakeJudge, paths: list[str], **options: Any) -> ScanJob[Judged]:
    options.setdefault("fingerprint", AUDIT)
    return ScanJob(judge, paths, subject=Subject.MODELS, **options)


def test_the_output_starts_with_the_fingerprint_given(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    outcome = job(FakeJudge(), ["a.safetensors", "b.unreadable"], out=out).run()
    header, *records = [json.loads(line) for line in out.read_text().splitlines()]
    assert header == {"rempart_scan": AUDIT}
    assert [record["path"] for record in records] == ["a.safetensors", "b.unreadable"]
    assert records[1]["error"]["code"] == "truncated"
    assert outcome.summary.subject is Subject.MODELS
    assert (outcome.summary.judged, outcome.summary.failed) == (1, 1)


def test_resume_skips_what_the_same_run_judged_and_refuses_another(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    job(FakeJudge(), ["a.pt", "b.pt"], out=out).run()
    judge = FakeJudge()
    outcome = job(judge, ["a.pt", "b.pt", "c.pt"], out=out, resume=True).run()
    assert judge.seen == ["c.pt"]
    assert outcome.skipped == 2
    full = {**AUDIT, "fingerprint": "full", "known": "3f2a"}
    with pytest.raises(ScanOutputError) as refused:
        job(FakeJudge(), ["a.pt"], out=out, resume=True, fingerprint=full).run()
    assert "fingerprint sampled then, full now" in str(refused.value)
    assert "known none then, 3f2a now" in str(refused.value)


def test_fingerprint_differences_name_fields_of_any_run() -> None:
    earlier = {"policy": {"name": "hub"}, "lexicon": {"en": "3"}, "images": False}
    now = {"policy": {"name": "hub"}, "lexicon": {"en": "4", "fr": "1"}, "images": True}
    assert fingerprint_differences(earlier, now) == [
        "images False then, True now",
        "lexicon: en 3 then, 4 now",
        "lexicon: fr absent then",
    ]
    assert fingerprint_differences(now, dict(now)) == []


def test_another_judge_than_a_scanner_needs_its_fingerprint() -> None:
    with pytest.raises(TypeError):
        ScanJob(FakeJudge(), ["a.pt"])


def test_the_report_is_an_audit_one_with_copies_in_one_row(tmp_path: Path) -> None:
    report = tmp_path / "audit.html"
    paths = ["hub/a.safetensors", "mirror/renamed.safetensors", "other.safetensors", "ok.pt"]
    judge = FakeJudge(
        blocked=set(paths[:3]),
        copies={paths[0]: "s1:" + "ab" * 32, paths[1]: "s1:" + "ab" * 32},
    )
    job(judge, paths, report=report).run(io.StringIO())
    html = report.read_text()
    html5lib.HTMLParser(strict=True).parse(html)
    assert "<title>Rempart audit report</title>" in html
    assert "Flagged models" in html
    assert "<img" not in html
    rows = html.split("<h2>Flagged models</h2>", 1)[1].split("<tbody>", 1)[1].split("<tr>")[1:]
    assert len(rows) == 2, "the two copies share a row"
    assert "hub/a.safetensors" in rows[0]
    assert "mirror/renamed.safetensors" in rows[0]
    assert "2 copies" in rows[0]
    assert "other.safetensors" in rows[1]
    assert "12.3 MB" in rows[1]
    assert "models/s" in html


def test_a_clean_audit_says_no_model_was_flagged(tmp_path: Path) -> None:
    report = tmp_path / "audit.html"
    job(FakeJudge(), ["a.gguf"], report=report).run(io.StringIO())
    html = report.read_text()
    assert "No model was flagged." in html
    assert "No model fell under any category." in html


def test_a_folder_gives_its_model_files_by_suffix(tmp_path: Path) -> None:
    for name in ("a.safetensors", "B.GGUF", "c.ckpt", "d.pt", "e.pth", "f.bin", "README.md"):
        (tmp_path / name).write_bytes(b"\x00" * 16)
    (tmp_path / "g.civitai.info").write_text("{}")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    walk = Walk([str(tmp_path)], kind=FileKind.MODELS)
    found = [Path(str(item)).name for item in walk]
    assert found == ["B.GGUF", "a.safetensors", "c.ckpt", "d.pt", "e.pth", "f.bin"]
    assert walk.skipped == {SKIP_NOT_MODEL: 3}
    assert walk.skipped_note() == "skipped: not a model file (3)"
    images = Walk([str(tmp_path)])
    assert [Path(str(item)).name for item in images] == ["photo.png"], "images by default"


def test_a_model_file_named_is_given_whatever_its_name(tmp_path: Path) -> None:
    named = tmp_path / "weights.data"
    named.write_bytes(b"\x00" * 16)
    assert list(Walk([str(named)], kind=FileKind.MODELS)) == [str(named)]
