"""What the desk's commands share (``rempart case``, ``rempart notice``, ``rempart desk``): the
desk on the local database, acted on as an admin at this machine's console, their records
printed, and documents (a notice, a report) written to a file or standard output.

Their events name the actor ``cli`` (an API key's id is 12 letters and digits, so no key is
ever named so).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from rempart.cli.errors import exit_with
from rempart.cli.options import current_settings
from rempart.cli.output import OutputFormat, write_records
from rempart.errors import ExitCode

if TYPE_CHECKING:
    from rempart.desk import Actor, Desk
    from rempart.desk.evidence import Evidence

__all__ = [
    "CLI_LABEL",
    "DocumentOutOption",
    "cells",
    "console_actor",
    "local_desk",
    "local_evidence",
    "print_records",
    "refuse_pdf_to_terminal",
    "write_document",
]

CLI_LABEL: Final = "cli"


@contextmanager
def local_desk() -> Iterator[Desk]:
    """The desk on the local database (``REMPART_DATABASE_URL``), with the key file."""
    from rempart.desk import Desk
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        yield Desk.from_settings(settings, store)


@contextmanager
def local_evidence() -> Iterator[Evidence]:
    """The desk's evidence on the local database, fetching as ``REMPART_DESK_FETCH_*`` say."""
    from rempart.desk.evidence import Evidence

    with local_desk() as desk:
        yield Evidence.from_settings(current_settings(), desk)


def console_actor() -> Actor:
    """The actor the desk's commands act as: an admin at this machine's console."""
    from rempart.access.roles import Role
    from rempart.desk import Actor

    return Actor(kind="staff", key_id=CLI_LABEL, role=Role.ADMIN)


def print_records(records: list[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str]) -> None:
    """``records`` in ``fmt``: a table of ``columns``, or every field as JSON Lines."""
    write_records(records, fmt, columns=columns, table_columns=columns, flatten=cells)


def cells(record: dict[str, Any]) -> dict[str, str]:
    """A record's cells: a list (a case's items) by its length, nothing for None."""
    return {
        name: str(len(value)) if isinstance(value, list) else "" if value is None else str(value)
        for name, value in record.items()
    }


DocumentOutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        metavar="FILE",
        help="Write it to this file [default: standard output, but a PDF never to a terminal].",
    ),
]


def refuse_pdf_to_terminal(what: str = "a PDF") -> None:
    """Exit with a usage error when standard output is a terminal: PDF bytes (or ``what``
    else is binary, a WARC file) are not for one."""
    if sys.stdout.isatty():
        exit_with(f"{what} is not for a terminal: give --out FILE, or pipe it", ExitCode.USAGE)


def write_document(
    data: str | bytes, out: Path | None, *, private: bool, what: str = "a PDF"
) -> None:
    """Write a document to ``out``, or to standard output (never bytes, ``what`` they are, to
    a terminal). ``private``: a new file is the user's alone (0600), for a document that may
    name someone."""
    if out is None:
        if isinstance(data, bytes):
            refuse_pdf_to_terminal(what)
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            typer.echo(data, nl=not data.endswith("\n"))
        return
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        # Private: never through a symbolic link, and a file that was there (perhaps readable
        # by others, or someone else's) made the user's alone before a byte goes in.
        descriptor = os.open(
            out, flags | os.O_NOFOLLOW if private else flags, 0o600 if private else 0o666
        )
        with os.fdopen(descriptor, "wb") as file:
            if private:
                os.fchmod(file.fileno(), 0o600)
            file.write(raw)
    except OSError as exc:
        exit_with(f"cannot write {out}: {exc.strerror or exc}", ExitCode.USAGE)
