"""``rempart signals``: every signal of every detector, for each image and video, so anyone can
see what Rempart sees."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from rempart.cli.detectors import DetectorOption, choose_detectors, detector_registry
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
    from rempart.detectors import PictureSignals, VideoSignals
    from rempart.media import MediaFailure

__all__ = ["signals_command"]

COLUMNS = (
    "path",
    "signal",
    "score",
    "value",
    "region",
    "detector",
    "error_code",
    "error_message",
    "timestamps",  # last: a video's, added after the others
)
TABLE_COLUMNS = ("path", "signal", "score", "value", "region", "timestamps", "error_code")


def signals_command(
    paths: PathsArgument,
    detector_names: DetectorOption = None,
    output_format: FormatOption = OutputFormat.JSONL,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
) -> None:
    """Print every signal every detector gives for each image and video.

    JSON Lines: one {"path", "width", "height", "signals": [{"name", "score", "value",
    "region", "evidence", "detector", "version"}]} per image, or {"path", "error"}. A video
    gives {"path", "kind": "video", "width", "height", "duration", "frames", "signals"}: a
    frame a second through the detectors, each signal its frames' strongest, with the seconds
    of every frame that gave it in evidence "timestamps". CSV and the table have a row per
    signal. Regions are [x, y, width, height] in the upright image or the video's frame.

    \b
    Examples:
      rempart signals photo.jpg
      rempart signals clip.mp4 --format table
      rempart signals -r uploads/ --detector faces --format table
    """
    from rempart.detectors.frames import detect_media_paths
    from rempart.media import MediaFailure
    from rempart.walk import media_kind

    settings = current_settings()
    registry = detector_registry(settings)
    # The bank detector only hashes here (no index to match): asked for by name or not at all.
    names = choose_detectors(registry, detector_names, leave_out=("bank",))
    detectors = registry.create_all(names)
    if not detectors:
        exit_with("no detector can run; install one of the extras named above", ExitCode.USAGE)
    files, walk = walk_paths(
        paths,
        recursive=recursive,
        follow_links=follow_links,
        all_files=all_files,
        kind=media_kind(),
    )
    failures = 0
    started = time.perf_counter()
    with progress("Detecting", total=len(files)) as track:
        results = detect_media_paths(
            files,
            detectors,
            limits=settings.media,
            video_limits=settings.video,
            jobs=jobs or default_jobs(),
        )

        def records() -> Iterator[dict[str, Any]]:
            nonlocal failures
            for result in track(results):
                failures += isinstance(result, MediaFailure)
                if output_format is OutputFormat.JSONL:
                    yield result.to_json()
                else:
                    yield from _rows(result)

        write_records(
            records(),
            output_format,
            columns=COLUMNS,
            table_columns=TABLE_COLUMNS,
            flatten=lambda row: row,
        )
    elapsed = time.perf_counter() - started
    typer.echo(
        f"{len(files) - failures} files, {failures} failed, "
        f"{', '.join(d.name for d in detectors)} in {elapsed:.1f} s"
        + (f"; {walk.skipped_note()}" if walk.skipped else ""),
        err=True,
    )
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)


def _rows(result: PictureSignals | VideoSignals | MediaFailure) -> Iterator[dict[str, str]]:
    from rempart.media import MediaFailure

    if isinstance(result, MediaFailure):
        error = result.error
        yield {"path": result.path, "error_code": error.code.value, "error_message": error.message}
        return
    if not result.signals:
        yield {"path": result.path}
    for signal in result.signals:
        yield {
            "path": result.path,
            "signal": signal.name,
            "score": f"{signal.score:.3f}",
            "value": "" if signal.value is None else str(signal.value),
            "region": " ".join(map(str, signal.region.to_json())) if signal.region else "",
            "timestamps": " ".join(map(str, signal.evidence.get("timestamps", ()))),
            "detector": signal.detector,
        }
