"""``rempart sor``: the statements of reasons (DSA Art. 17) for the decisions the deployment
takes on content it hosts (a platform profile marked ``own``), in the DSA Transparency
Database's fields: export them, checked, as files to submit; check statements made elsewhere.

Like ``rempart notice``, these act as an admin at this machine's console (the actor ``cli``).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from rempart.cli.console import console_actor, local_desk
from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import current_settings

__all__ = ["sor_app"]

sor_app = typer.Typer(
    help="Statements of reasons (DSA Art. 17) for the Transparency Database: export, check.",
    no_args_is_help=True,
)


@sor_app.command("export")
def export_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="A folder to create (or an empty one) for the statements.",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Every statement made on or after this day, YYYY-MM-DD "
            "[default: those not exported yet].",
        ),
    ] = None,
) -> None:
    """Export the statements of reasons: one JSON file per decision (PUID.json) and batches
    of at most 100 (batch-0001.json, {"statements": [...]}), all or nothing.

    Statements are first made for every decision recorded on a notice to a platform marked
    own that removed or restricted an item. Every statement is checked before any file is
    written; one that fails names its index and field, and nothing is written.

    \b
    Examples:
      rempart sor export --out statements/
      rempart sor export --since 2026-12-01 --out statements-december/
    """
    from rempart.desk.notices import Notices
    from rempart.desk.sor import BATCH_LIMIT, Statements, check_batch

    day: date | None = None
    if since is not None:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            exit_with(f"--since: {since!r} is not a YYYY-MM-DD day", ExitCode.USAGE)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        exit_with(f"--out: {out} exists and is not an empty folder", ExitCode.USAGE)
    with local_desk() as desk:
        statements = Statements(Notices.from_settings(current_settings(), desk))
        statements.make_all(console_actor())
        stored = statements.stored(since=day)
        if day is None:
            stored = [s for s in stored if s.exported_at is None]
        check_batch_all = [s.statement for s in stored]
        for start in range(0, len(check_batch_all), BATCH_LIMIT):
            check_batch(check_batch_all[start : start + BATCH_LIMIT])
        _write(out, check_batch_all, BATCH_LIMIT)
        statements.mark_exported([s.id for s in stored])
    typer.echo(f"{len(stored)} statements written to {out}", err=True)


@sor_app.command("check")
def check_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help='A JSON file: one statement, or {"statements": [...]}.',
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Check statements of reasons made elsewhere against the Transparency Database's rules
    and for personal data; the first that fails names its index and field.

    \b
    Examples:
      rempart sor check statements/batch-0001.json
    """
    from rempart.desk.sor import check_batch, parse

    statements = parse(file.read_bytes())
    check_batch(statements)
    typer.echo(f"{file}: {len(statements)} statements valid", err=True)


def _write(out: Path, statements: list[dict[str, object]], limit: int) -> None:
    """Write the files into a new folder beside ``out``, then rename it to ``out``."""
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=parent))
    try:
        for statement in statements:
            (staging / f"{statement['puid']}.json").write_text(
                json.dumps(statement, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        for number, start in enumerate(range(0, len(statements), limit), start=1):
            batch = {"statements": statements[start : start + limit]}
            (staging / f"batch-{number:04d}.json").write_text(
                json.dumps(batch, ensure_ascii=False) + "\n", encoding="utf-8"
            )
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except BaseException:
        for path in staging.iterdir():
            path.unlink()
        staging.rmdir()
        raise
