"""``rempart hash``: PDQ, SHA-256 and MD5 of image files, vPDQ of videos, as JSON Lines, CSV or
a table."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.errors import ExitCode, exit_with
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

if TYPE_CHECKING:
    from rempart.hashing import VideoHashes

__all__ = ["hash_command"]

COLUMNS = (
    "path",
    "pdq",
    "quality",
    "sha256",
    "md5",
    "dihedral",
    "error_code",
    "error_message",
    "kind",
    "duration",
    "frames",
)
# A video's row shows how many frames were hashed, not its hundreds of hashes.
TABLE_COLUMNS = ("path", "kind", "pdq", "quality", "frames", "error_code", "error_message")


def hash_command(
    paths: PathsArgument,
    dihedral: Annotated[
        bool,
        typer.Option("--dihedral", help="Also print the PDQ hashes of the 8 rotations and flips."),
    ] = False,
    vpdq_dir: Annotated[
        Path | None,
        typer.Option(
            "--vpdq-dir",
            help="Also write each video's vPDQ to DIR/NAME.txt, in the text format of Meta's "
            "vpdq tool (the table and CSV only count a video's frames) [default: none written].",
            metavar="DIR",
            file_okay=False,
        ),
    ] = None,
    output_format: FormatOption = OutputFormat.JSONL,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
) -> None:
    """Hash images and videos: PDQ (perceptual, with quality) and SHA-256/MD5 of the bytes;
    for a video, vPDQ (PDQ of one frame a second) and SHA-256/MD5 of the file.

    One record per file, in the order given. A file that cannot be hashed gets a record with
    an error code and the run goes on; the exit status is then 1.

    \b
    Examples:
      rempart hash photo.jpg clip.mp4
      rempart hash -r uploads/ --format csv > hashes.csv
      rempart hash photo.jpg | rempart bank import known - --format jsonl
      rempart hash clip.mp4 --vpdq-dir hashes/
    """
    from rempart.hashing import HashFailure, VideoHashes, hash_files
    from rempart.walk import FileKind, media_kind

    settings = current_settings()
    kind = media_kind()
    files, walk = walk_paths(
        paths, recursive=recursive, follow_links=follow_links, all_files=all_files, kind=kind
    )
    if vpdq_dir is not None:
        try:
            vpdq_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            exit_with(f"--vpdq-dir: cannot create {vpdq_dir}: {exc.strerror}", ExitCode.USAGE)
    written: set[str] = set()  # --vpdq-dir's files, so that none is written twice
    failures = 0
    started = time.perf_counter()
    with progress("Hashing", total=len(files)) as track:
        results = hash_files(
            files,
            dihedral=dihedral,
            limits=settings.media,
            # Without the video extra, a video named on the command line is read as an
            # image, and refused as a format it cannot read.
            video_limits=settings.video if kind is FileKind.MEDIA else None,
            jobs=jobs or default_jobs(),
        )

        def records() -> Any:
            nonlocal failures
            for result in track(results):
                failures += isinstance(result, HashFailure)
                if vpdq_dir is not None and isinstance(result, VideoHashes):
                    _write_vpdq(vpdq_dir, result, written)
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


def _write_vpdq(folder: Path, hashes: VideoHashes, written: set[str]) -> None:
    """``<folder>/<video's file name>.txt``, as Meta's ``vpdq-hash-video`` names its output;
    a video whose name was written already in this run gets ``<name>.<n>.txt``, and a note
    on stderr says which (videos in two folders are often both ``clip.mp4``)."""
    from rempart.hashing.vpdq import format_features

    name = Path(hashes.path).name
    file, number = f"{name}.txt", 1
    while file.casefold() in written:  # Clip.mp4 and clip.mp4 are one file on macOS
        number += 1
        file = f"{name}.{number}.txt"
    written.add(file.casefold())
    try:
        (folder / file).write_text(format_features(hashes.features))
    except OSError as exc:
        exit_with(f"--vpdq-dir: cannot write {folder / file}: {exc.strerror}", ExitCode.USAGE)
    if number > 1:
        typer.echo(f"--vpdq-dir: {hashes.path} written as {file}", err=True)


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    error = record.get("error", {})
    frames = record.get("vpdq")
    return {
        "path": record["path"],
        "pdq": record.get("pdq", ""),
        "quality": str(record.get("quality", "")),
        "sha256": record.get("sha256", ""),
        "md5": record.get("md5", ""),
        "dihedral": " ".join(record.get("dihedral", [])),
        "error_code": error.get("code", ""),
        "error_message": error.get("message", ""),
        "kind": record.get("kind", "image" if "pdq" in record else ""),
        "duration": str(record.get("duration", "")),
        "frames": "" if frames is None else str(len(frames)),
    }
