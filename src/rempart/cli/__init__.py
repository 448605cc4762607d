"""The ``rempart`` command line: thin commands that parse, call the library, and render.

Exit status, for every command: 0 success, 1 some inputs failed (each is reported), 2 usage
or configuration error, 130 interrupted (see ``ExitCode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from rempart import __version__
from rempart.cli.audit import audit_command
from rempart.cli.bank import bank_app
from rempart.cli.desk import case_app, desk_app, report_command
from rempart.cli.errors import ExitCode, RempartGroup
from rempart.cli.evidence import evidence_app
from rempart.cli.exchange import exchange_app
from rempart.cli.gate import gate_command
from rempart.cli.hash import hash_command
from rempart.cli.match import match_command
from rempart.cli.notice import notice_app
from rempart.cli.persons import persons_app
from rempart.cli.scan import scan_command
from rempart.cli.serve import db_app, key_app, serve_command
from rempart.cli.signals import signals_command
from rempart.cli.sor import sor_app

__all__ = ["ExitCode", "app", "main"]

app = typer.Typer(
    name="rempart",
    help="Find, stop and take down sexual deepfakes, NCII and sexualised imagery of minors."
    "\n\n\b\nExamples:\n"
    "  rempart scan uploads/ --out verdicts.jsonl --report report.html\n"
    "  rempart audit models/ -r --out audit.jsonl --report audit.html\n"
    '  rempart gate --prompt "a watercolour of a harbour"\n'
    "  rempart hash photo.jpg\n"
    "  rempart COMMAND --help",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=RempartGroup,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rempart {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Rempart: hash, match and screen images against sexual abuse imagery."""


app.command("hash")(hash_command)
app.command("match")(match_command)
app.add_typer(bank_app, name="bank")
app.add_typer(exchange_app, name="exchange")
app.command("scan")(scan_command)
app.command("audit")(audit_command)
app.command("gate")(gate_command)
app.command("guard", hidden=True)(gate_command)  # the old name of gate
app.command("signals")(signals_command)
app.add_typer(persons_app, name="persons")
app.add_typer(persons_app, name="registry", hidden=True)  # the old name of persons
app.command("serve")(serve_command)
app.add_typer(key_app, name="key")
app.add_typer(db_app, name="db")
app.command("report")(report_command)
app.add_typer(case_app, name="case")
app.add_typer(desk_app, name="desk")
app.add_typer(notice_app, name="notice")
app.add_typer(sor_app, name="sor")
app.add_typer(evidence_app, name="evidence")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); exits with ``ExitCode``."""
    app(args=None if argv is None else list(argv), prog_name="rempart")
