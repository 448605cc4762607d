"""``rempart evidence``: captures of what an adult case's URLs served, in the local database:
capture an item, list a case's captures, open one (its WARC, unsealed), hold it for
proceedings or release it, purge it or purge those past retention, and export a case's
dossier to a folder.

Like ``rempart case``, these act as an admin at this machine's console (the actor ``cli``);
every reading, export, hold and purge is recorded in the case's events with the reason given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from rempart.cli.console import (
    DocumentOutOption,
    console_actor,
    local_desk,
    local_evidence,
    print_records,
    refuse_pdf_to_terminal,
    write_document,
)
from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import current_settings
from rempart.cli.output import OutputFormat

if TYPE_CHECKING:
    from rempart.desk.evidence_model import Capture

__all__ = ["evidence_app"]

evidence_app = typer.Typer(
    help="Evidence: captures of an adult case's URLs, sealed, held, purged, exported.",
    no_args_is_help=True,
)

CAPTURE_COLUMNS: Final = ("id", "case", "item", "captured_at", "size", "state", "sha256")
FILE_COLUMNS: Final = ("name", "sha256")
_WARC: Final = "a WARC file"

IdArgument = Annotated[
    int, typer.Argument(metavar="ID", help="The capture's id, as evidence list shows it.")
]
CaseArgument = Annotated[str, typer.Argument(metavar="CASE", help="The case number, R-XXXXXXXXXX.")]
ReasonOption = Annotated[
    str,
    typer.Option(
        metavar="TEXT", help="Why, in one line: recorded in the case's events with who and when."
    ),
]
ListFormatOption = Annotated[
    str, typer.Option("--format", "-f", metavar="table|json", help="table or json.")
]


@evidence_app.command("capture")
def capture_command(
    item: Annotated[int, typer.Argument(metavar="ITEM", help="The item, as case show lists it.")],
    reason: ReasonOption,
) -> None:
    """Capture an adult case's item: its URL's page and the images it embeds, as one WARC
    file, sealed. Never an item of a minor's case.

    \b
    Examples:
      rempart evidence capture 3 --reason "complaint to the police"
    """
    with local_evidence() as evidence:
        capture = evidence.capture(item, console_actor(), reason=reason)
    _done(capture, "captured")


@evidence_app.command("list")
def list_command(case: CaseArgument, output_format: ListFormatOption = "table") -> None:
    """A case's captures, newest first, purged ones too (their SHA-256 stays).

    \b
    Examples:
      rempart evidence list R-ABCDEFGHJK
      rempart evidence list R-ABCDEFGHJK --format json
    """
    if output_format not in ("table", "json"):
        exit_with(f"--format must be table or json, not {output_format!r}", ExitCode.USAGE)
    with local_evidence() as evidence:
        captures = evidence.captures(case, console_actor())
    if output_format == "json":
        found = [capture.to_json() for capture in captures]
        typer.echo(json.dumps({"captures": found}, ensure_ascii=False, indent=2))
        return
    print_records([_row(capture) for capture in captures], OutputFormat.TABLE, CAPTURE_COLUMNS)


@evidence_app.command("open")
def open_command(capture: IdArgument, reason: ReasonOption, out: DocumentOutOption = None) -> None:
    """Write a capture's WARC file, unsealed (recorded as viewed, with the reason). A file it
    writes is its owner's alone (0600); never to a terminal.

    \b
    Examples:
      rempart evidence open 7 --reason "before the complaint" --out 7.warc
      rempart evidence open 7 --reason "replay" | warcio index /dev/stdin
    """
    if out is None:
        refuse_pdf_to_terminal(_WARC)  # before it is opened: nothing recorded
    with local_evidence() as evidence:
        data = evidence.open(capture, console_actor(), reason=reason)
    write_document(data, out, private=True, what=_WARC)
    if out is not None:
        typer.echo(f"Wrote capture {capture} to {out}.", err=True)


@evidence_app.command("hold")
def hold_command(capture: IdArgument, reason: ReasonOption) -> None:
    """Hold a capture for proceedings: retention does not purge it until it is released.

    \b
    Examples:
      rempart evidence hold 7 --reason "complaint filed, PV 2026/123"
    """
    with local_evidence() as evidence:
        held = evidence.hold(capture, console_actor(), reason=reason)
    _done(held, "held")


@evidence_app.command("release")
def release_command(capture: IdArgument, reason: ReasonOption) -> None:
    """Release a hold: retention applies to the capture again.

    \b
    Examples:
      rempart evidence release 7 --reason "proceedings closed"
    """
    with local_evidence() as evidence:
        released = evidence.release(capture, console_actor(), reason=reason)
    _done(released, "released")


@evidence_app.command("purge")
def purge_command(
    capture: Annotated[
        int | None,
        typer.Argument(
            metavar="[ID]",
            help="The capture to purge now, with --reason [default: every capture past "
            "retention and not held].",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT",
            help="Why, with an ID: recorded in the case's events [default: none; needed "
            "with an ID].",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be purged; change nothing.")
    ] = False,
) -> None:
    """Purge a capture now (its WARC and data key deleted, its SHA-256 kept), or without an
    ID every capture past retention (REMPART_DESK_EVIDENCE_DAYS after its case closed) that
    no one holds.

    \b
    Examples:
      rempart evidence purge --dry-run
      rempart evidence purge
      rempart evidence purge 7 --reason "the person asked for it"
    """
    if capture is None and reason is not None:
        exit_with("--reason goes with an ID: retention needs none", ExitCode.USAGE)
    if capture is not None and reason is None and not dry_run:
        exit_with("give --reason: why this capture is purged now", ExitCode.USAGE)
    actor = console_actor()
    with local_evidence() as evidence:
        if capture is not None:
            found = evidence.get(capture, actor)
            if dry_run:
                print_records([_row(found)], OutputFormat.TABLE, CAPTURE_COLUMNS)
                typer.echo(f"Would purge capture {capture} (nothing changed).", err=True)
                return
            assert reason is not None
            _done(evidence.purge(capture, actor, reason=reason), "purged")
            return
        if dry_run:
            due = evidence.due()
            print_records([_row(c) for c in due], OutputFormat.TABLE, CAPTURE_COLUMNS)
            typer.echo(f"Would purge {len(due)} capture(s) (nothing changed).", err=True)
            return
        report = evidence.purge_due(actor=actor)
    print_records([report.to_json()], OutputFormat.JSONL, ())
    typer.echo(
        f"Purged {len(report.purged)} capture(s); {report.held} past retention kept (held).",
        err=True,
    )


@evidence_app.command("export")
def export_command(
    case: CaseArgument,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="DIR", help="A new or empty folder (made 0700, files 0600)."
        ),
    ],
    reason: ReasonOption,
    language: Annotated[
        str, typer.Option(metavar="en|fr", help="The timeline's language: en or fr.")
    ] = "en",
) -> None:
    """Export a case's dossier to a folder: its timeline (facts, items and their last
    check, notices and replies, events, captures) and each notice as PDF, each capture's WARC
    file unsealed with its manifest, and index.json with every file's SHA-256.

    \b
    Examples:
      rempart evidence export R-ABCDEFGHJK --out dossier --reason "PHAROS"
    """
    from rempart.desk.dossier import export_dossier
    from rempart.desk.evidence import Evidence
    from rempart.desk.notices import Notices
    from rempart.desk.recheck import Rechecker

    if language not in ("en", "fr"):
        exit_with(f"--language must be en or fr, not {language!r}", ExitCode.USAGE)
    settings = current_settings()
    actor = console_actor()
    with local_desk() as desk:
        checks = Rechecker.from_settings(settings, desk).checks(desk.get(case).number)
        dossier = export_dossier(
            Evidence.from_settings(settings, desk),
            Notices.from_settings(settings, desk),
            case,
            actor,
            out,
            reason=reason,
            checks=checks,
            language=language,
        )
    rows = [{"name": name, "sha256": digest} for name, digest in dossier.files]
    print_records(rows, OutputFormat.TABLE, FILE_COLUMNS)
    typer.echo(f"Wrote the dossier of {case} to {out} ({len(rows)} files).", err=True)


def _row(capture: Capture) -> dict[str, Any]:
    """A capture's row in a table: its state in words."""
    if capture.purged_at is not None:
        why = capture.purge_reason.value if capture.purge_reason else ""
        state = f"purged {capture.purged_at:%Y-%m-%d} ({why})"
    elif capture.held:
        state = f"held: {capture.hold_reason or ''}"
    elif capture.purge_due is not None:
        state = f"kept until {capture.purge_due:%Y-%m-%d}"
    else:
        state = "kept (case open)"
    return {**capture.to_json(), "item": capture.item_id, "state": state}


def _done(capture: Capture, outcome: str) -> None:
    print_records([_row(capture)], OutputFormat.TABLE, CAPTURE_COLUMNS)
    typer.echo(f"Capture {capture.id} {outcome}.", err=True)
