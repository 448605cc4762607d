"""Arguments and options several commands share, declared once so they read the same."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rempart.cli.output import OutputFormat

__all__ = [
    "BankOption",
    "FormatOption",
    "JobsOption",
    "PathsArgument",
    "RecursiveOption",
    "default_jobs",
]

PathsArgument = Annotated[
    list[str],
    typer.Argument(help="Image files or folders; - reads one image from standard input."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
JobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Files hashed at once [default: all cores]."),
]
BankOption = Annotated[
    list[str] | None,
    typer.Option(
        "--bank", "-b", help="Match against this bank (repeatable) [default: all enabled]."
    ),
]
RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-r", help="Descend into sub-folders of folders given.")
]


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
