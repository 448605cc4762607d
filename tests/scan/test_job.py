"""``ScanJob`` as a Python caller runs it: records to a stream or a file, resumed, sampled,
and reported; the same job ``rempart scan`` runs."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rempart.detectors import FakeDetector
from rempart.errors import Interrupted, ScanOutputError
from rempart.media import MediaFailure
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


def scanner(flagged: str, version: str = "1") -> Scanner:
    """A scanner whose one detector says ``flagged`` is a known image."""
    known = Signal("bank.match", 1.0, "fake", "1", value="known")
    detector = FakeDetector({flagged: [known]}, version=version)
    return Scanner([detector], load_policy("default"), thumbnails=True)


def lines(text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An output's fingerprint (its first line) and its records."""
    header, *records = [json.loads(line) for line in text.splitlines()]
    return header["rempart_scan"], records


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
    fingerprint = lines(out.read_text())[0]
    assert fingerprint["detectors"] == {"bank": "pdq", "fake": "1"}
    assert (fingerprint["policy"]["name"], fingerprint["banks"]) == ("default", {})
    report = tmp_path / "report.html"
    outcome = ScanJob(scanner(folder[0]), folder, out=out, resume=True, report=report).run()
    assert outcome.skipped == 3
    assert outcome.summary.new == len(folder) - 3
    assert outcome.summary.judged == len(folder) - 1
    assert [record["path"] for record in lines(out.read_text())[1]] == folder
    assert "image-0.png" in report.read_text()  # the flagged item judged in the first run


def test_a_sample_draws_that_many(folder: list[str]) -> None:
    stream = io.StringIO()
    outcome = ScanJob(scanner(folder[0]), folder, sample_size=3, seed=7).run(stream)
    assert len(stream.getvalue().splitlines()) == 3
    assert outcome.summary.sampled


def test_resuming_needs_a_file(folder: list[str]) -> None:
    with pytest.raises(ScanOutputError, match="output file"):
        ScanJob(scanner(folder[0]), folder, resume=True)
    with pytest.raises(ScanOutputError, match="output file"):
        ScanJob(scanner(folder[0]), folder, out=Path("-"), resume=True)


def test_a_resume_with_other_detectors_is_refused_naming_the_difference(
    folder: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "scan.jsonl"
    ScanJob(scanner(folder[0]), folder[:2], out=out).run()
    before = out.read_bytes()
    job = ScanJob(scanner(folder[0], version="2"), folder, out=out, resume=True)
    with pytest.raises(ScanOutputError, match="detectors: fake 1 then, 2 now"):
        job.run()
    other = Scanner([FakeDetector(name="other")], load_policy("default"))
    with pytest.raises(ScanOutputError, match=r"fake absent now.*other absent then"):
        ScanJob(other, folder, out=out, resume=True).run()
    assert out.read_bytes() == before, "a refused resume leaves the output as it was"


def test_an_output_without_fingerprint_is_resumed_under_the_same_policy(
    folder: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "scan.jsonl"
    ScanJob(scanner(folder[0]), folder[:2], out=out).run()
    older = out.read_text().split("\n", 1)[1]  # as Rempart wrote outputs before fingerprints
    out.write_text(older)
    outcome = ScanJob(scanner(folder[0], "2"), folder, out=out, resume=True).run()
    assert outcome.skipped == 2
    assert [record["path"] for record in map(json.loads, out.read_text().splitlines())] == folder


def test_garbage_in_an_output_is_refused(folder: list[str], tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    for garbage in ('{"rempart_scan": 3}\n', "[1]\n", '{"path": "a.png"}\n', "{\n"):
        out.write_text(garbage)
        with pytest.raises(ScanOutputError, match="cannot resume"):
            ScanJob(scanner(folder[0]), folder, out=out, resume=True).run()


@pytest.mark.parametrize("out", ["/dev/null", "-"])
def test_an_output_that_is_no_file_is_written(
    folder: list[str], out: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = ScanJob(scanner(folder[0]), folder, out=Path(out)).run(io.StringIO())
    assert outcome.summary.new == len(folder)


def test_outputs_are_checked_before_any_work(folder: list[str], tmp_path: Path) -> None:
    outs = {"there is no folder": tmp_path / "missing" / "out.jsonl", "is a folder": tmp_path}
    for message, out in outs.items():
        with pytest.raises(ScanOutputError, match=message):
            ScanJob(scanner(folder[0]), folder, out=out)
    reports = {r"report.* no folder": tmp_path / "missing" / "r.html", "needs a file": Path("-")}
    for message, report in reports.items():
        with pytest.raises(ScanOutputError, match=message):
            ScanJob(scanner(folder[0]), folder, report=report)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_output_in_a_folder_that_cannot_be_written_is_refused(
    folder: list[str], tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ScanOutputError, match="permission denied"):
        ScanJob(scanner(folder[0]), folder, out=locked / "out.jsonl")


class Stopped(Scanner):
    """A scanner that Ctrl-C stops after ``after`` results."""

    after = 2

    def scan(self, paths: Iterable[str | MediaFailure], *, jobs: int = 1) -> Iterator[Any]:
        for number, result in enumerate(super().scan(paths, jobs=jobs)):
            if number == self.after:
                raise KeyboardInterrupt
            yield result


def test_ctrl_c_says_what_was_written_and_leaves_whole_lines(
    folder: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "scan.jsonl"
    stopped = Stopped([FakeDetector()], load_policy("default"))
    with pytest.raises(Interrupted) as interrupted:
        ScanJob(stopped, folder, out=out).run()
    assert str(interrupted.value) == (
        f"interrupted: 2 records written to {out}, each line whole; "
        "run the same command with --resume to go on"
    )
    assert len(lines(out.read_text())[1]) == 2
    outcome = ScanJob(stopped, folder[2:4], out=out, resume=True).run()
    assert outcome.summary.new == 2  # the resumed run goes on
    with pytest.raises(Interrupted, match="after 2 records on standard output"):
        ScanJob(stopped, folder).run(io.StringIO())
