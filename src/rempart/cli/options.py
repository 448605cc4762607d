"""Arguments and options several commands share, declared once so they read the same."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rempart.cli.exit_codes import ExitCode, exit_with
from rempart.cli.output import OutputFormat
from rempart.policy import Policy, PolicyError, load_policy

__all__ = [
    "BankOption",
    "FormatOption",
    "JobsOption",
    "PathsArgument",
    "PolicyOption",
    "RecursiveOption",
    "default_jobs",
    "policy_or_exit",
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
PolicyOption = Annotated[
    str,
    typer.Option(
        "--policy", "-p", help="A built-in policy (default, strict, survey) or a YAML file."
    ),
]
RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-r", help="Descend into sub-folders of folders given.")
]


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def policy_or_exit(name: str) -> Policy:
    """The policy ``--policy`` names, or the reason it cannot be loaded and exit status 2."""
    try:
        return load_policy(name)
    except PolicyError as exc:
        exit_with(str(exc), ExitCode.USAGE)
