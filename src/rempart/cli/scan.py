"""``rempart scan``: judge every image under a policy, with hashes, signals and reasons, a
summary, and an HTML report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console
from rich.table import Table

from rempart.cli.detectors import DetectorOption, bank_matcher, choose_detectors
from rempart.cli.exit_codes import ExitCode, exit_with, reported_errors, settings_or_exit
from rempart.cli.options import (
    BankOption,
    JobsOption,
    PathsArgument,
    PolicyOption,
    RecursiveOption,
    default_jobs,
    policy_or_exit,
)
from rempart.cli.output import progress
from rempart.config import Settings
from rempart.detectors import Detector
from rempart.media import MediaFailure
from rempart.paths import expand_paths
from rempart.policy import Action, Policy
from rempart.scan import (
    MAX_FLAGGED_ROWS,
    FlaggedItem,
    Previous,
    Scanner,
    ScanOutputError,
    ScanSummary,
    close_output,
    open_output,
    read_previous,
    sample,
    write_record,
    write_report,
)

__all__ = ["scan_command"]


def scan_command(
    paths: PathsArgument,
    policy_name: PolicyOption = "default",
    bank_names: BankOption = None,
    registry: Annotated[
        bool,
        typer.Option("--registry", help="Also look for the protected persons enrolled."),
    ] = False,
    detector_names: DetectorOption = None,
    jobs: JobsOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write JSON Lines here [default: standard output]."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML report here.")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Skip the files --out already has a record for."),
    ] = False,
    sample_size: Annotated[
        int | None,
        typer.Option(
            "--sample", min=1, help="Scan N files drawn at random, and report prevalence."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The random draw of --sample.")] = 0,
    recursive: RecursiveOption = False,
) -> None:
    """Judge images under a policy: hashes, bank matches, every detector's signals, a verdict.

    JSON Lines: one {"path", "sha256", "md5", "pdq", "quality", "width", "height", "verdict":
    {"action", "categories", "reasons", "policy"}, "signals": [...]} per file, or {"path",
    "error"}. A summary goes to standard error. Exit status 0 when every file was judged,
    1 when some could not be read, 2 for a usage or configuration error.
    """
    settings = settings_or_exit()
    if resume and out is None:
        exit_with("--resume needs --out: the output a previous run wrote", ExitCode.USAGE)
    policy = policy_or_exit(policy_name)
    files = list(expand_paths(paths, recursive=recursive))
    population = len(files)
    if sample_size is not None:
        files = sample(files, sample_size, seed=seed)
    previous = _previous(out, policy) if resume else None
    scanner = Scanner(
        _detectors(settings, detector_names, registry=registry),
        policy,
        matcher=bank_matcher(settings, bank_names),
        thumbnails=report is not None,
        limits=settings.media,
    )
    summary = ScanSummary(policy.ref, population, sampled=sample_size is not None)
    flagged: list[FlaggedItem] = []
    wanted = set(files)
    for record in (previous.records if previous else {}).values():
        if record["path"] in wanted:
            summary.add(record, new=False)
            if record.get("verdict", {}).get("action", "allow") != Action.ALLOW:
                _keep(flagged, FlaggedItem(record))
    todo = [path for path in files if previous is None or path not in previous.records]
    stream: IO[str] = sys.stdout if out is None else open_output(out, previous)
    try:
        with progress("Scanning", total=len(todo)) as track, reported_errors():
            for result in track(scanner.scan(todo, jobs=jobs or default_jobs())):
                record = result.to_json()
                write_record(stream, record)
                summary.add(record)
                if isinstance(result, MediaFailure) or result.verdict.action is Action.ALLOW:
                    continue
                _keep(flagged, FlaggedItem(record, result.thumbnail))
    finally:
        stream.flush() if out is None else close_output(stream)
        summary.finish()
    _print_summary(summary, skipped=len(files) - len(todo))
    if report is not None:
        write_report(report, summary, flagged)
        typer.echo(f"Report: {report}", err=True)
    raise typer.Exit(ExitCode.SOME_FAILED if summary.failed else ExitCode.OK)


def _keep(flagged: list[FlaggedItem], item: FlaggedItem) -> None:
    """Keep what the report's table lists, and no more: a scan may flag millions."""
    if len(flagged) < MAX_FLAGGED_ROWS:
        flagged.append(item)


def _previous(out: Path | None, policy: Policy) -> Previous | None:
    assert out is not None
    try:
        return read_previous(out, policy.ref)
    except ScanOutputError as exc:
        exit_with(str(exc), ExitCode.USAGE)


def _detectors(settings: Settings, names: list[str] | None, *, registry: bool) -> list[Detector]:
    """By default every installed detector but identity, which ``--registry`` adds."""
    detectors = choose_detectors(settings, names, leave_out=() if registry else ("identity",))
    if registry and "identity" not in {detector.name for detector in detectors}:
        detectors += choose_detectors(settings, ["identity"])
    return detectors


def _print_summary(summary: ScanSummary, *, skipped: int) -> None:
    table = Table(title="Scan summary", header_style="bold", show_header=True)
    table.add_column("")
    table.add_column("images", justify="right")
    for action in Action:
        table.add_row(action.value, str(summary.actions[action.value]))
    for name in summary.category_names():
        table.add_row(f"  {name}", str(summary.categories[name]))
    for code, count in summary.errors.items():
        table.add_row(f"error: {code}", str(count))
    console = Console(stderr=True)
    console.print(table)
    console.print(
        f"{summary.new} files in {summary.elapsed:.1f} s ({summary.rate:.1f} images/s)"
        + (f", {skipped} already in the output" if skipped else "")
        + f"; policy {summary.policy.name} {summary.policy.version}",
        highlight=False,
    )
    if summary.sampled:
        for item in summary.prevalence():
            console.print(
                f"  {item.name}: {item.rate:.2%} (95% CI {item.low:.2%} to {item.high:.2%})",
                highlight=False,
            )
