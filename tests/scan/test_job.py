"""``ScanJob`` as a Python caller runs it: records to a stream or a file, resumed, sampled,
and reported; the same job ``rempart scan`` runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rempart.detectors import FakeDetector
from rempart.errors import ScanOutputError
from rempart.policy import load_policy
from rempart.scan import ScanJob, Scanner
from rempart.signals import Signal
from tests.images import encode, gradient


@pytest.fixture
def folder(tmp_path: Path) -> list[str]:
    paths = []
    for number in range(6):
        path = tmp_path / f"image-{number}.png"
        path.write_bytes(encode(gradient(48 + number, 40), "PNG"))
        paths.append(str(path))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return [*paths, str(tmp_path / "broken.png")]


def scanner(flagged: str) -> Scanner:
    """A scanner whose one detector says ``flagged`` is a known image."""
    known = Signal("bank.match", 1.0, "fake", "1", value="known")
    return Scanner([FakeDetector({flagged: [known]})], load_policy("default"), thumbnails=True)


def test_records_go_to_a_stream(folder: list[str]) -> None:
    stream = io.StringIO()
    outcome = ScanJob(scanner(folder[0]), folder).run(stream)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["path"] for r in records] == folder
    assert records[0]["verdict"]["action"] == "block"
    assert "code" in records[-1]["error"]
    assert (outcome.summary.failed, outcome.summary.flagged, outcome.skipped) == (1, 1, 0)


def test_a_resumed_job_skips_what_was_judged(folder: list[str], tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    ScanJob(scanner(folder[0]), folder[:3], out=out).run()
    report = tmp_path / "report.html"
    outcome = ScanJob(scanner(folder[0]), folder, out=out, resume=True, report=report).run()
    assert outcome.skipped == 3
    assert outcome.summary.new == len(folder) - 3
    assert outcome.summary.judged == len(folder) - 1
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == folder
    assert "image-0.png" in report.read_text()  # the flagged item judged in the first run


def test_a_sample_draws_that_many(folder: list[str]) -> None:
    stream = io.StringIO()
    outcome = ScanJob(scanner(folder[0]), folder, sample_size=3, seed=7).run(stream)
    assert len(stream.getvalue().splitlines()) == 3
    assert outcome.summary.sampled


def test_resuming_needs_a_file(folder: list[str]) -> None:
    with pytest.raises(ScanOutputError, match="output file"):
        ScanJob(scanner(folder[0]), folder, resume=True)
