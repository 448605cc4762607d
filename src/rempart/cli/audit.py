"""``rempart audit``: judge model files by their metadata, cards and sidecars, as a hub
audits its uploads; records, a summary and a report as ``rempart scan`` writes them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rempart.cli.errors import ExitCode
from rempart.cli.options import (
    OutOption,
    PolicyOption,
    RecursiveOption,
    ReportOption,
    ResumeFlag,
    current_settings,
    default_jobs,
    walk_paths,
)
from rempart.cli.output import print_summary, progress
from rempart.modelfile import FingerprintMode

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.hub import Auditor, AuditResult
    from rempart.media import MediaFailure
    from rempart.policy import Policy
    from rempart.walk import WalkItem

__all__ = ["audit_command"]


def audit_command(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Model files, or folders: their .safetensors .ckpt .pt .pth .bin .gguf files."
        ),
    ],
    recursive: RecursiveOption = False,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            metavar="FILE",
            help='Protected persons from this JSON file ({"protected_persons": [names]}) '
            "[default: those enrolled in the data directory].",
        ),
    ] = None,
    policy_name: PolicyOption = "hub",
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            help="Files read at once, each in its own process [default: all cores].",
        ),
    ] = None,
    out: OutOption = None,
    resume: ResumeFlag = False,
    report: ReportOption = None,
    fingerprint: Annotated[
        FingerprintMode,
        typer.Option(
            "--fingerprint",
            case_sensitive=False,
            metavar="sampled|full|none",
            help="What the fingerprint of a model's tensors reads: 768 bytes of each, every "
            "byte, or nothing.",
        ),
    ] = FingerprintMode.SAMPLED,
    known: Annotated[
        Path | None,
        typer.Option(
            "--known",
            metavar="FILE",
            help="An earlier audit's output: a copy of a model it blocked is blocked "
            "[default: none].",
        ),
    ] = None,
    images: Annotated[
        bool,
        typer.Option(
            "--images",
            help="Also scan the repository's images and the models' embedded thumbnails.",
        ),
    ] = False,
) -> None:
    """Audit model files for the models made to sexualise a real person or a child.

    Reads each file's header (never a weight, never a pickle run), the nearest README.md
    and the same-stem .civitai.info, and judges what they say under a policy (by default
    hub). JSON Lines: one {"path", "format", "bytes", "fingerprint", "verdict", "signals",
    "warnings"} per file, or {"path", "error": {"code", "message"}}. An --out file starts
    with a line naming what made it: --resume refuses an output made by another run. Copies
    (same tensors, whatever their names or metadata) share a fingerprint. A summary goes to
    standard error. Exit status 0 when every file was audited, 1 when some could not be
    read, 2 for a usage or configuration error, 130 on Ctrl-C (whole lines kept; --resume
    goes on).

    \b
    Examples:
      rempart audit uploads/ -r --out audit.jsonl --report audit.html
      rempart audit model.safetensors
      rempart audit mirror/ -r --known audit.jsonl --registry persons.json
      rempart audit uploads/ -r --out audit.jsonl --resume --jobs 2
    """
    from rempart.scan import ScanJob, Subject
    from rempart.scan.job import check_destinations
    from rempart.walk import FileKind

    settings = current_settings()
    check_destinations(out, report, resume=resume)  # before anything is read
    auditor = _auditor(settings, policy_name, registry, fingerprint, known, images=images)
    files, walk = walk_paths(paths, recursive=recursive, kind=FileKind.MODELS)
    roots = tuple(path for path in paths if os.path.isdir(path))
    job = ScanJob(
        _Rooted(auditor, roots),
        files,
        out=out,
        resume=resume,
        report=report,
        jobs=jobs or default_jobs(),
        fingerprint=auditor.fingerprint_of_run(),
        subject=Subject.MODELS,
    )
    outcome = job.run(sys.stdout, progress=lambda total: progress("Auditing", total=total))
    note = walk.skipped_note()
    print_summary(outcome.summary, title="Audit summary", skipped=outcome.skipped, not_read=note)
    if report is not None:
        typer.echo(f"Report: {report}", err=True)
    raise typer.Exit(ExitCode.SOME_FAILED if outcome.summary.failed else ExitCode.OK)


def _auditor(
    settings: Settings,
    policy_name: str,
    registry: Path | None,
    fingerprint: FingerprintMode,
    known: Path | None,
    *,
    images: bool,
) -> Auditor:
    """The auditor, with the persons of ``registry``, or else those enrolled (none when the
    data directory has no database yet)."""
    from rempart.hub import AuditorSpec
    from rempart.persons import PersonsSnapshot, read_persons_file

    persons = (
        read_persons_file(registry)
        if registry is not None
        else PersonsSnapshot(settings.database_url).names()
    )
    spec = AuditorSpec(
        policy=policy_name,
        persons=tuple(persons),
        fingerprint=fingerprint,
        known=None if known is None else str(known),
        images=images,
        max_header_bytes=settings.model_max_header_bytes,
    )
    return spec.build()


@dataclass(frozen=True, slots=True)
class _Rooted:
    """The auditor as the job calls it: a model's card is looked for up to the folder named
    on the command line that holds it (a repository's README.md above its models)."""

    auditor: Auditor
    roots: tuple[str, ...]

    @property
    def policy(self) -> Policy:
        """The auditor's policy."""
        return self.auditor.policy

    def scan(
        self, paths: Iterable[WalkItem], *, jobs: int = 1
    ) -> Iterator[AuditResult | MediaFailure]:
        """Each file's record, or why it could not be read, in order."""
        return self.auditor.scan(paths, jobs=jobs, roots=self.roots)
