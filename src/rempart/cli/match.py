"""``rempart match``: hash image and video files and look each up in the hash banks."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from rempart.walk import WalkItem

__all__ = ["match_command"]

COLUMNS = (
    "path",
    "kind",
    "pdq",
    "quality",
    "frames",
    "matches",
    "skipped",
    "error_code",
    "error_message",
)
TABLE_COLUMNS = ("path", "quality", "frames", "matches", "skipped", "error_code")


def match_command(
    paths: PathsArgument,
    bank_names: BankOption = None,
    dihedral: Annotated[
        bool,
        typer.Option(
            "--dihedral",
            help="Also match the 8 rotations and flips of each image, and each video mirrored.",
        ),
    ] = False,
    output_format: FormatOption = OutputFormat.JSONL,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
    all_files: AllFilesOption = False,
) -> None:
    """Hash images and videos and match them against hash banks.

    One record per image: {"path", "sha256", "pdq", "quality", "matches": [{"bank", "entry_id",
    "hash", "distance", "variant"}]}. A hash of quality below 50 is too featureless to match: it is
    reported with "skipped": "low_quality". A file whose MD5 or SHA-256 is banked matches an exact
    entry, {"kind": "md5" or "sha256", "hash": <digest>, "distance": 0}, whatever its quality.
    One per video (or vPDQ feature file, named *.vpdq or *.vpdq.txt), after the images: {"path",
    "kind": "video", "frames", "matches"}, each match a banked video ({"kind": "video",
    "query_percent", "stored_percent", "timestamps"}), a banked image seen in its frames
    ({"kind": "image", "distance", "timestamps"}) or an exact digest of its file. A match in
    a review bank (a victim's report no reviewer has confirmed) says "review": true. Exit
    status 0 whether or not anything matched; 1 when a file could not be hashed.

    \b
    Examples:
      rempart match upload.jpg
      rempart match -r uploads/ --bank stopncii --format table
      rempart match upload.jpg clip.mp4 --dihedral
    """
    from rempart.desk.watch import Watch
    from rempart.hashing import HashFailure, hash_files
    from rempart.matching.banks import (
        BankMatcher,
        VideoFileMatch,
        match_images,
        match_video_file,
    )
    from rempart.store import Store
    from rempart.walk import FileKind, media_kind

    settings = current_settings()
    store = Store.open(settings.database_url)
    matcher = BankMatcher(store, bank_names or None)
    watch = Watch(store)  # a copy of a reported image found here shows on its case
    files, walk = walk_paths(
        paths,
        recursive=recursive,
        follow_links=follow_links,
        all_files=all_files,
        kind=media_kind(),
    )
    # Without the video extra, a video is read as an image (and refused as such).
    images, videos = _split(files, read_videos=media_kind() is FileKind.MEDIA)
    failures = matched = 0
    started = time.perf_counter()
    with progress("Matching", total=len(files)) as track:
        results = hash_files(
            images, dihedral=dihedral, limits=settings.media, jobs=jobs or default_jobs()
        )
        video_results = (
            match_video_file(matcher, path, limits=settings.video, mirrored=dihedral)
            for path in videos
        )

        def records() -> Any:
            nonlocal failures, matched
            for result in track(itertools.chain(results, video_results)):
                if isinstance(result, HashFailure):
                    failures += 1
                    yield result.to_json()
                    continue
                if isinstance(result, VideoFileMatch):
                    found = result.matches.bank_matches
                    matched += bool(result.matches.videos or found)
                    watch.observe(found, key_id=None)
                    yield result.to_json()
                    continue
                (image,) = match_images(matcher, [result])
                matched += bool(image.matches)
                watch.observe(image.matches, key_id=None)
                yield image.to_json()

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
        f"against {len(matcher)} hashes, {matcher.videos} videos and {matcher.digests} digests "
        f"in {elapsed:.1f} s" + (f"; {walk.skipped_note()}" if walk.skipped else ""),
        err=True,
    )
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)


def _split(files: list[WalkItem], *, read_videos: bool) -> tuple[list[WalkItem], list[str]]:
    """The walk's images (and failures, which the image reader reports) and its videos and
    vPDQ feature files, told by their names and first bytes."""
    from rempart.matching.banks import is_feature_file
    from rempart.media import STDIN
    from rempart.walk import starts_as_video

    images: list[WalkItem] = []
    videos: list[str] = []
    for item in files:
        if (
            isinstance(item, str)
            and item != STDIN
            and (is_feature_file(item) or starts_as_video(item))
        ):
            videos.append(item)
        else:
            images.append(item)
    return images, videos


def _flatten(record: dict[str, Any]) -> dict[str, str]:
    error = record.get("error", {})
    matches = record.get("matches", [])
    return {
        "path": record["path"],
        "kind": record.get("kind", "image"),
        "pdq": record.get("pdq", ""),
        "quality": str(record.get("quality", "")),
        "frames": str(record.get("frames", "")),
        "matches": " ".join(_match_cell(m) for m in matches),
        "skipped": record.get("skipped", ""),
        "error_code": error.get("code", ""),
        "error_message": error.get("message", ""),
    }


def _match_cell(match: dict[str, Any]) -> str:
    """``bank#entry@distance`` for an image, ``bank#entry@query%`` for a video,
    ``bank#entry@md5`` for an exact digest."""
    if match.get("kind") in ("md5", "sha256"):
        return f"{match['bank']}#{match['entry_id']}@{match['kind']}"
    if "query_percent" in match:
        return f"{match['bank']}#{match['entry_id']}@{match['query_percent']:.0f}%"
    return f"{match['bank']}#{match['entry_id']}@{match['distance']}"
