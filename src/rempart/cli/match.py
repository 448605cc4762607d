"""``rempart match``: hash image files and look each up in the hash banks."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from rempart.cli.errors import ExitCode
from rempart.cli.options import (
    AllFilesOption,
    BankOption,
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

__all__ = ["match_command"]

COLUMNS = ("path", "pdq", "quality", "matches", "skipped", "error_code", "error_message")
TABLE_COLUMNS = ("path", "quality", "matches", "skipped", "error_code")


def match_command(
    paths: PathsArgument,
    bank_names: BankOption = None,
    dihedral: Annotated[
        bool,
        typer.Option("--dihedral", help="Also match the 8 rotations and flips of each image."),
    ] = False,
    output_format: FormatOption = OutputFormat.JSONL,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
) -> None:
    """Hash images and match them against hash banks.

    One record per file: {"path", "sha256", "pdq", "quality", "matches": [{"bank", "entry_id",
    "hash", "distance", "variant"}]}. A hash of quality below 50 is too featureless to match: it is
    reported with "skipped": "low_quality". A match in a review bank (a victim's report no
    reviewer has confirmed) says "review": true. Exit status 0 whether or not anything matched;
    1 when a file could not be hashed.

    \b
    Examples:
      rempart match upload.jpg
      rempart match -r uploads/ --bank stopncii --format table
      rempart match upload.jpg --dihedral
    """
    from rempart.desk.watch import Watch
    from rempart.hashing import HashFailure, hash_files
    from rempart.matching.banks import BankMatcher, match_images
    from rempart.store import Store

    settings = current_settings()
    store = Store.open(settings.database_url)
    matcher = BankMatcher(store, bank_names or None)
    watch = Watch(store)  # a copy of a reported image found here shows on its case
    files, walk = walk_paths(
        paths, recursive=recursive, follow_links=follow_links, all_files=all_files
    )
    failures = matched = 0
    started = time.perf_counter()
    with progress("Matching", total=len(files)) as track:
        results = hash_files(
            files, dihedral=dihedral, limits=settings.media, jobs=jobs or default_jobs()
        )

        def records() -> Any:
            nonlocal failures, matched
            for result in track(results):
                if isinstance(result, HashFailure):
                    failures += 1
                    yield result.to_json()
                    continue
                (found,) = match_images(matcher, [result])
                matched += bool(found.matches)
                watch.observe(found.matches, key_id=None)
                yield found.to_json()

        try:
            write_records(
                records(),
                output_format,
                columns=COLUMNS,
                table_columns=TABLE_COLUMNS,
                flatten=_flatten,
            )
        finally:  # what was seen before Ctrl-C too
            watch.close()
    elapsed = time.perf_counter() - started
    typer.echo(
        f"{len(files)} files, {matched} matched, {failures} failed, "
        f"against {len(matcher)} hashes in {elapsed:.1f} s"
        + (f"; {walk.skipped_note()}" if walk.skipped else ""),
        err=True,
    )
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    error = record.get("error", {})
    matches = record.get("matches", [])
    return {
        "path": record["path"],
        "pdq": record.get("pdq", ""),
        "quality": str(record.get("quality", "")),
        "matches": " ".join(f"{m['bank']}#{m['entry_id']}@{m['distance']}" for m in matches),
        "skipped": record.get("skipped", ""),
        "error_code": error.get("code", ""),
        "error_message": error.get("message", ""),
    }
