"""``rempart hash``: PDQ, SHA-256 and MD5 of image files, as JSON Lines, CSV or a table."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from rempart.cli.errors import ExitCode
from rempart.cli.options import (
    AllFilesOption,
    FollowLinksOption,
    FormatOption,
    JobsOption,
    PathsArgument,
    RecursiveOption,
    current_settings,
    default_jobs,
    walk_paths,
)
from rempart.cli.output import OutputFormat, progress, write_records

__all__ = ["hash_command"]

COLUMNS = ("path", "pdq", "quality", "sha256", "md5", "dihedral", "error_code", "error_message")
TABLE_COLUMNS = ("path", "pdq", "quality", "error_code", "error_message")


def hash_command(
    paths: PathsArgument,
    dihedral: Annotated[
        bool,
        typer.Option("--dihedral", help="Also print the PDQ hashes of the 8 rotations and flips."),
    ] = False,
    output_format: FormatOption = OutputFormat.JSONL,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
) -> None:
    """Hash images: PDQ (perceptual, with quality) and SHA-256/MD5 of the bytes.

    One record per file, in the order given. A file that cannot be hashed gets a record with
    an error code and the run goes on; the exit status is then 1.

    \b
    Examples:
      rempart hash photo.jpg
      rempart hash -r uploads/ --format csv > hashes.csv
      rempart hash photo.jpg | rempart bank import known - --format jsonl
    """
    from rempart.hashing import HashFailure, hash_files

    settings = current_settings()
    files, walk = walk_paths(
        paths, recursive=recursive, follow_links=follow_links, all_files=all_files
    )
    failures = 0
    started = time.perf_counter()
    with progress("Hashing", total=len(files)) as track:
        results = hash_files(
            files, dihedral=dihedral, limits=settings.media, jobs=jobs or default_jobs()
        )

        def records() -> Any:
            nonlocal failures
            for result in track(results):
                failures += isinstance(result, HashFailure)
                yield result.to_json()

        write_records(
            records(),
            output_format,
            columns=COLUMNS,
            table_columns=TABLE_COLUMNS,
            flatten=_flatten,
        )
    elapsed = time.perf_counter() - started
    if sys.stderr.isatty():
        rate = len(files) / elapsed if elapsed > 0 else 0.0
        typer.echo(
            f"{len(files) - failures} hashed, {failures} failed "
            f"in {elapsed:.1f} s ({rate:.0f} files/s)",
            err=True,
        )
    if walk.skipped:
        typer.echo(walk.skipped_note(), err=True)
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    error = record.get("error", {})
    return {
        "path": record["path"],
        "pdq": record.get("pdq", ""),
        "quality": str(record.get("quality", "")),
        "sha256": record.get("sha256", ""),
        "md5": record.get("md5", ""),
        "dihedral": " ".join(record.get("dihedral", [])),
        "error_code": error.get("code", ""),
        "error_message": error.get("message", ""),
    }
