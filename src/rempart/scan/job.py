"""``ScanJob``: a scan of many files, as ``rempart scan`` and any later engine run it.

The job picks the files (all, or a random sample), skips those an earlier run of the same
output judged already (``resume``), writes one JSON record per file as it is judged, counts the
summary, and writes the HTML report. The scanner (detectors, banks, policy) is given to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

from rempart.errors import ScanOutputError
from rempart.media import MediaFailure
from rempart.policy import Action
from rempart.scan.output import (
    Previous,
    close_output,
    open_output,
    read_previous,
    sample,
    write_record,
)
from rempart.scan.report import MAX_FLAGGED_ROWS, FlaggedItem, write_report
from rempart.scan.scanner import Scanner
from rempart.scan.summary import ScanSummary

__all__ = ["Progress", "ScanJob", "ScanOutcome"]

Track: TypeAlias = Callable[[Iterable[Any]], Iterator[Any]]
Progress: TypeAlias = Callable[[int], AbstractContextManager[Track]]
"""Given how many files are to be judged, a context that wraps the stream of results (a
progress bar, say)."""


def _no_progress(total: int) -> AbstractContextManager[Track]:
    return nullcontext(iter)


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What a job did: its summary, and how many files an earlier run had judged already."""

    summary: ScanSummary
    skipped: int


@dataclass
class ScanJob:
    """Scan ``paths`` with ``scanner``; records go to ``out`` (a file it can resume) or, when
    None, to the stream ``run`` is given."""

    scanner: Scanner
    paths: Sequence[str]
    out: Path | None = None
    resume: bool = False
    sample_size: int | None = None
    seed: int = 0
    report: Path | None = None
    jobs: int = 1

    def __post_init__(self) -> None:
        if self.resume and self.out is None:
            raise ScanOutputError("resuming needs the output file a previous run wrote")

    def run(
        self, stream: IO[str] | None = None, *, progress: Progress = _no_progress
    ) -> ScanOutcome:
        """Judge every file not judged yet, writing each record as it is judged; the summary
        is finished and the report written even when a record cannot be (the run stops)."""
        files = list(self.paths)
        population = len(files)
        if self.sample_size is not None:
            files = sample(files, self.sample_size, seed=self.seed)
        policy = self.scanner.policy
        previous = read_previous(self.out, policy.ref) if self.resume and self.out else None
        summary = ScanSummary(policy.ref, population, sampled=self.sample_size is not None)
        flagged = self._earlier(previous, set(files), summary)
        todo = [path for path in files if previous is None or path not in previous.records]
        output = open_output(self.out, previous) if self.out is not None else stream
        if output is None:
            raise ScanOutputError("a scan needs an output file or a stream to write to")
        try:
            with progress(len(todo)) as track:
                for result in track(self.scanner.scan(todo, jobs=self.jobs)):
                    record = result.to_json()
                    write_record(output, record)
                    summary.add(record)
                    if isinstance(result, MediaFailure) or result.verdict.action is Action.ALLOW:
                        continue
                    _keep(flagged, FlaggedItem(record, result.thumbnail))
        finally:
            output.flush() if self.out is None else close_output(output)
            summary.finish()
        if self.report is not None:
            write_report(self.report, summary, flagged)
        return ScanOutcome(summary, skipped=len(files) - len(todo))

    def _earlier(
        self, previous: Previous | None, wanted: set[str], summary: ScanSummary
    ) -> list[FlaggedItem]:
        """Count what an earlier run judged of ``wanted``; its flagged items, for the report."""
        flagged: list[FlaggedItem] = []
        for record in (previous.records if previous else {}).values():
            if record["path"] in wanted:
                summary.add(record, new=False)
                if record.get("verdict", {}).get("action", "allow") != Action.ALLOW:
                    _keep(flagged, FlaggedItem(record))
        return flagged


def _keep(flagged: list[FlaggedItem], item: FlaggedItem) -> None:
    """Keep what the report's table lists, and no more: a scan may flag millions."""
    if len(flagged) < MAX_FLAGGED_ROWS:
        flagged.append(item)
