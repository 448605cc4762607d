"""Arguments and options several commands share, declared once so they read the same."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rempart.cli.output import OutputFormat

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.walk import FileKind, Walk, WalkItem

__all__ = [
    "AllFilesOption",
    "BankOption",
    "FollowLinksOption",
    "FormatOption",
    "JobsOption",
    "OutOption",
    "PathsArgument",
    "PersonsFlag",
    "PolicyOption",
    "RecursiveOption",
    "RegistryFlag",
    "ReportOption",
    "ResumeFlag",
    "current_settings",
    "default_jobs",
    "walk_paths",
]

PathsArgument = Annotated[
    list[str],
    typer.Argument(help="Image files or folders; - reads one image from standard input."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
JobsOption = Annotated[
    int | None,
    typer.Option(
        "--jobs", "-j", min=1, metavar="N", help="Files hashed at once [default: all cores]."
    ),
]
BankOption = Annotated[
    list[str] | None,
    typer.Option(
        "--bank",
        "-b",
        metavar="NAME",
        help="Match against this bank (repeatable) [default: all enabled].",
    ),
]
PolicyOption = Annotated[
    str,
    typer.Option(
        "--policy",
        "-p",
        metavar="NAME|FILE",
        help="A built-in policy (default, strict, survey, hub) or a YAML file.",
    ),
]
PersonsFlag = Annotated[
    bool,
    typer.Option("--persons", help="Also look for the protected persons enrolled."),
]
RegistryFlag = Annotated[bool, typer.Option("--registry", hidden=True, help="Old --persons.")]
RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-r", help="Descend into sub-folders of folders given.")
]
FollowLinksOption = Annotated[
    bool,
    typer.Option(
        "--follow-links",
        "-L",
        help="Follow links inside folders wherever they lead; a loop is recorded "
        "[default: only links to files inside the folder].",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        metavar="FILE",
        help="Write JSON Lines here; - is standard output [default: -].",
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report", metavar="FILE", help="Write the HTML report to this file [default: none]."
    ),
]
ResumeFlag = Annotated[
    bool, typer.Option("--resume", help="Skip the files --out already has a record for.")
]
AllFilesOption = Annotated[
    bool,
    typer.Option(
        "--all-files",
        help="Give every file inside folders a record [default: files that are not images "
        "by their first bytes are skipped and counted].",
    ),
]


def walk_paths(
    paths: list[str],
    *,
    recursive: bool = False,
    follow_links: bool = False,
    all_files: bool = False,
    kind: FileKind | None = None,
) -> tuple[list[WalkItem], Walk]:
    """Every file under ``paths`` (of ``kind``: by default images), listed now (a progress
    bar needs the total), and the walk, whose ``skipped_note`` the command's summary prints."""
    from rempart.walk import FileKind, Walk

    walk = Walk(
        paths,
        recursive=recursive,
        follow_links=follow_links,
        all_files=all_files,
        kind=kind or FileKind.IMAGES,
    )
    return list(walk), walk


def default_jobs() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def current_settings() -> Settings:
    """The settings from ``REMPART_*`` variables (``ConfigError``, exit 2, for a bad one)."""
    from rempart.config import load_settings

    return load_settings(os.environ)
