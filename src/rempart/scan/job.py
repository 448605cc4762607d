"""``ScanJob``: a scan of many files, as ``rempart scan``, ``rempart audit`` and any later
engine run it.

The job picks the files (all, or a random sample), skips those an earlier run of the same
output judged already (``resume``), writes one JSON record per file as it is judged, counts the
summary, and writes the HTML report. What judges the files is given to it: any ``Judge``, as
the ``Scanner`` (images) and the hub's ``Auditor`` (model files) are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, Protocol, TypeAlias, TypeVar

from rempart.errors import Interrupted, ScanOutputError
from rempart.media import MediaFailure
from rempart.policy import Action, Policy, Verdict
from rempart.scan.fingerprint import header_record, run_fingerprint
from rempart.scan.output import (
    STDOUT,
    ParquetShards,
    Previous,
    check_destination,
    check_folder,
    close_output,
    open_output,
    read_previous,
    read_previous_shards,
    sample,
    write_record,
)
from rempart.scan.report import MAX_FLAGGED_ROWS, FlaggedItem, write_report
from rempart.scan.scanner import Scanner
from rempart.scan.summary import ScanSummary, Subject
from rempart.walk import WalkItem, item_path, path_key

__all__ = ["Judge", "Judged", "Progress", "ScanJob", "ScanOutcome", "check_destinations"]


class Judged(Protocol):
    """One file's result: its verdict, its output record, and its mosaic when it has one."""

    @property
    def verdict(self) -> Verdict: ...

    @property
    def thumbnail(self) -> bytes | None: ...

    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Judged)
R_co = TypeVar("R_co", bound=Judged, covariant=True)


class Judge(Protocol[R_co]):
    """What judges a job's files under a policy: each file's result, or why it could not be
    read, in the order given (a ``MediaFailure`` given is passed on)."""

    @property
    def policy(self) -> Policy: ...

    def scan(
        self, paths: Iterable[WalkItem], *, jobs: int = 1
    ) -> Iterator[R_co | MediaFailure]: ...


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
class ScanJob(Generic[R]):
    """Judge ``paths`` (file paths, or what a folder walk could not read) with ``scanner``;
    records go to ``out`` (a file it can resume, whose first line is the run fingerprint;
    ``-``: standard output) or, when None, to the stream ``run`` is given (records only).
    ``fingerprint``: what made the run (an ``Auditor``'s ``fingerprint_of_run()``); None for
    a ``Scanner``, whose fingerprint is ``run_fingerprint(scanner, banks)``, ``banks`` the banks
    its matcher reads (None: every bank). ``subject``: what the summary and report call the
    files. ``on_result``: given each file's result as it is judged (the desk's watch counts
    its bank matches), after its record is written. ``out_format``: ``jsonl``, or ``parquet``
    (``out`` a folder of shards, ``output.ParquetShards``)."""

    scanner: Judge[R]
    paths: Sequence[WalkItem]
    out: Path | None = None
    resume: bool = False
    sample_size: int | None = None
    seed: int = 0
    report: Path | None = None
    jobs: int = 1
    banks: Sequence[str] | None = None
    on_result: Callable[[R], None] | None = None
    fingerprint: Mapping[str, Any] | None = None
    subject: Subject = Subject.IMAGES
    out_format: str = "jsonl"

    def __post_init__(self) -> None:
        if self.fingerprint is None and not isinstance(self.scanner, Scanner):
            raise TypeError("a job judged by another than a Scanner needs its run fingerprint")
        check_destinations(
            self.out, self.report, resume=self.resume, parquet=self.out_format == "parquet"
        )

    @property
    def _to_file(self) -> bool:
        return self.out is not None and str(self.out) != STDOUT

    def run(
        self, stream: IO[str] | None = None, *, progress: Progress = _no_progress
    ) -> ScanOutcome:
        """Judge every file not judged yet, writing each record as it is judged; the summary
        is finished and the report written even when a record cannot be (the run stops).
        Ctrl-C raises ``Interrupted``, saying what was written; the output holds whole lines."""
        files = list(self.paths)
        population = len(files)
        if self.sample_size is not None:
            files = sample(files, self.sample_size, seed=self.seed)
        policy = self.scanner.policy
        # Only a file is resumed, so only a file records what made it.
        fingerprint = self._run_fingerprint() if self._to_file else None
        previous = None
        if self.resume and self.out is not None:
            read = read_previous_shards if self.out_format == "parquet" else read_previous
            previous = read(self.out, policy.ref, fingerprint)
        summary = ScanSummary(
            policy.ref, population, sampled=self.sample_size is not None, subject=self.subject
        )
        keys = [path_key(item_path(item)) for item in files]
        flagged = self._earlier(previous, set(keys), summary)
        done = previous.records if previous is not None else {}
        todo = [item for item, key in zip(files, keys, strict=True) if key not in done]
        output = self._open(stream, previous, fingerprint)
        written = 0
        try:
            with progress(len(todo)) as track:
                for result in track(self.scanner.scan(todo, jobs=self.jobs)):
                    record = result.to_json()
                    write_record(output, record)
                    written += 1
                    summary.add(record)
                    if isinstance(result, MediaFailure):
                        continue
                    if self.on_result is not None:
                        self.on_result(result)
                    if result.verdict.action is Action.ALLOW:
                        continue
                    _keep(flagged, FlaggedItem(record, result.thumbnail))
        except KeyboardInterrupt as interrupt:
            raise Interrupted(self._interrupted(written, len(done))) from interrupt
        finally:
            close_output(output) if self._to_file else output.flush()
            summary.finish()
        if self.report is not None:
            write_report(self.report, summary, flagged)
        return ScanOutcome(summary, skipped=len(files) - len(todo))

    def _run_fingerprint(self) -> dict[str, Any]:
        if self.fingerprint is not None:
            return dict(self.fingerprint)
        assert isinstance(self.scanner, Scanner)  # __post_init__ checked it
        return run_fingerprint(self.scanner, self.banks)

    def _open(
        self, stream: IO[str] | None, previous: Previous | None, fingerprint: dict[str, Any] | None
    ) -> IO[str] | ParquetShards:
        """The output file, its fingerprint first; or ``stream``, which gets records only, as
        a pipe expects; or the folder of Parquet shards."""
        if self.out is not None and self.out_format == "parquet":
            return ParquetShards(self.out, fingerprint, previous)
        if self.out is not None and fingerprint is not None:
            return open_output(self.out, previous, header_record(fingerprint))
        if stream is None:
            raise ScanOutputError("a scan needs an output file or a stream to write to")
        return stream

    def _interrupted(self, written: int, earlier: int) -> str:
        """What Ctrl-C leaves: how many records, where, and how to go on."""
        records = f"{written:,} record{'s' if written != 1 else ''}"
        if not self._to_file:
            return (
                f"interrupted after {records} on standard output; write to a file with --out "
                "to be able to resume"
            )
        before = f" (after {earlier:,} from the earlier run)" if earlier else ""
        return (
            f"interrupted: {records} written to {self.out}{before}, each line whole; "
            "run the same command with --resume to go on"
        )

    def _earlier(
        self, previous: Previous | None, wanted: set[bytes], summary: ScanSummary
    ) -> list[FlaggedItem]:
        """Count what an earlier run judged of ``wanted``; its flagged items, for the report."""
        flagged: list[FlaggedItem] = []
        for key, record in (previous.records if previous else {}).items():
            if key in wanted:
                summary.add(record, new=False)
                if record.get("verdict", {}).get("action", "allow") != Action.ALLOW:
                    _keep(flagged, FlaggedItem(record))
        return flagged


def check_destinations(
    out: Path | None, report: Path | None, *, resume: bool = False, parquet: bool = False
) -> None:
    """Refuse, before any work, an output or report that cannot be written, and what cannot
    be resumed (``ScanOutputError``): the command line calls this before loading anything.
    ``parquet``: ``out`` is a folder of Parquet shards."""
    to_stream = out is None or str(out) == STDOUT
    if resume and to_stream:
        raise ScanOutputError("--resume needs --out: the output file a previous run wrote")
    if parquet:
        if to_stream:
            raise ScanOutputError("--format parquet needs --out DIR: the folder of its shards")
        assert out is not None
        check_folder(out, "--out")
    elif out is not None and not to_stream:
        check_destination(out, "--out")
    if report is not None:
        if str(report) == STDOUT:
            raise ScanOutputError(
                "--report needs a file: the HTML report is written beside it, then renamed"
            )
        check_destination(report, "--report", replaced=True)


def _keep(flagged: list[FlaggedItem], item: FlaggedItem) -> None:
    """Keep what the report's table lists, and no more: a scan may flag millions."""
    if len(flagged) < MAX_FLAGGED_ROWS:
        flagged.append(item)
