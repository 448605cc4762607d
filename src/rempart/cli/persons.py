"""``rempart persons`` (formerly ``rempart registry``): the protected persons. Enrol a person
from photos (only face embeddings are kept), name them, list, remove, and check photos."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.errors import ExitCode
from rempart.cli.options import (
    FollowLinksOption,
    FormatOption,
    JobsOption,
    RecursiveOption,
    current_settings,
    default_jobs,
    walk_paths,
)
from rempart.cli.output import OutputFormat, progress, write_records

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.detectors.identity import IdentityDetector
    from rempart.persons import ProtectedPersons

__all__ = ["persons_app"]

persons_app = typer.Typer(
    help="Protected persons: people whose likeness must never be sexualised.",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str, typer.Argument(help="The person's name, as their association uses it.")
]
PhotosArgument = Annotated[
    list[str], typer.Argument(help="Photos (files or folders; - for stdin).")
]
AliasOption = Annotated[
    list[str] | None,
    typer.Option(
        "--alias", metavar="NAME", help="Another name prompts use for the person (repeatable)."
    ),
]
DistinctiveOption = Annotated[
    list[str] | None,
    typer.Option(
        "--distinctive",
        metavar="WORD",
        help="A part of the name that names the person alone (repeatable) "
        "[default: a surname rare in all six languages].",
    ),
]
LIST_COLUMNS = ("name", "embeddings", "created_at", "aliases", "distinctive")


def _persons(settings: Settings) -> ProtectedPersons:
    from rempart.persons import ProtectedPersons
    from rempart.store import Store

    return ProtectedPersons(Store.open(settings.database_url))


def _identity(settings: Settings) -> IdentityDetector:
    """The identity detector as settings configure it, matching the persons enrolled (a
    missing extra is reported when it first runs, with the command that installs it)."""
    from rempart.detectors.faces import face_finder
    from rempart.detectors.identity import IdentityDetector
    from rempart.persons import PersonsSnapshot

    snapshot = PersonsSnapshot(settings.database_url)
    return IdentityDetector(
        snapshot.gallery,
        max_distance=settings.identity_max_distance,
        finder=face_finder(settings.face_detector),
    )


@persons_app.command("enroll")
def enroll_command(
    name: NameArgument,
    photos: PhotosArgument,
    largest: Annotated[
        bool,
        typer.Option(
            "--largest", help="In a photo with several faces, enrol the largest [default: refuse]."
        ),
    ] = False,
    aliases: AliasOption = None,
    distinctive: DistinctiveOption = None,
) -> None:
    """Enrol a person from photos of them: one face per photo, embeddings kept, photos not.

    All or nothing: if any photo has no usable face, nothing is enrolled and the exit status
    is 1, with the reason for each photo.

    \b
    Examples:
      rempart persons enroll "Ada Lovelace" portraits/ada/
      rempart persons enroll "Ada Lovelace" ada-1.jpg ada-2.jpg --alias "Lady Ada"
    """
    from rempart.errors import EnrolmentError
    from rempart.media import MediaFailure
    from rempart.persons import enrol_photos
    from rempart.walk import printable

    settings = current_settings()
    items, walk = walk_paths(photos)
    if walk.skipped:
        typer.echo(walk.skipped_note(), err=True)
    unreadable = [item for item in items if isinstance(item, MediaFailure)]
    if unreadable:  # all or nothing: a photo the walk could not read enrols no one
        raise EnrolmentError(name, [f"{printable(f.path)}: {f.error.message}" for f in unreadable])
    files = [item for item in items if isinstance(item, str)]
    enrolled = enrol_photos(
        _persons(settings),
        name,
        files,
        largest=largest,
        aliases=aliases or (),
        distinctive=distinctive,
        limits=settings.media,
        identity=_identity(settings),
    )
    typer.echo(json.dumps(enrolled.to_json(), ensure_ascii=False))


@persons_app.command("names")
def names_command(
    name: NameArgument,
    aliases: AliasOption = None,
    distinctive: DistinctiveOption = None,
) -> None:
    """Set the other names the prompt gate reads for an enrolled person, and the parts of
    their name that name them alone (replacing those set before).

    \b
    Examples:
      rempart persons names "Ada Lovelace" --alias "Lady Ada"
      rempart persons names "Ada Lovelace" --distinctive Lovelace
    """
    settings = current_settings()
    person = _persons(settings).rename(name, aliases or (), distinctive)
    typer.echo(json.dumps(person.to_json(), ensure_ascii=False))


@persons_app.command("list")
def list_command(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """List the protected persons and how many embeddings each has.

    \b
    Examples:
      rempart persons list
      rempart persons list --format jsonl
    """
    settings = current_settings()
    people = _persons(settings).list()
    write_records(
        [person.to_json() for person in people],
        output_format,
        columns=LIST_COLUMNS,
        table_columns=LIST_COLUMNS,
        flatten=lambda record: {key: _cell(value) for key, value in record.items()},
    )


def _cell(value: object) -> str:
    """A value as a table shows it: lists joined, nothing for None."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


@persons_app.command("remove")
def remove_command(name: NameArgument) -> None:
    """Remove a person and delete every embedding enrolled for them.

    \b
    Examples:
      rempart persons remove "Ada Lovelace"
    """
    settings = current_settings()
    person = _persons(settings).remove(name)
    typer.echo(f"Removed {person.name!r} and {person.embeddings} embeddings.", err=True)


@persons_app.command("match")
def match_command(
    photos: PhotosArgument,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
    follow_links: FollowLinksOption = False,
) -> None:
    """Check photos against the protected persons: each face with the protected persons it matches.

    JSON Lines: {"path", "faces": [{"box": [x, y, width, height], "matches": [{"name",
    "distance"}]}]} per photo, nearest first, or {"path", "error"}. Exit status 1 when a photo
    could not be read.

    \b
    Examples:
      rempart persons match upload.jpg
      rempart persons match -r uploads/ > faces.jsonl
    """
    from rempart.media import MediaFailure
    from rempart.persons.match import match_photos

    settings = current_settings()
    identity = _identity(settings)
    files, walk = walk_paths(photos, recursive=recursive, follow_links=follow_links)
    failures = 0
    with progress("Matching faces", total=len(files)) as track:

        def records() -> Iterator[dict[str, Any]]:
            nonlocal failures
            found = match_photos(
                files, identity, limits=settings.media, jobs=jobs or default_jobs()
            )
            for result in track(found):
                failures += isinstance(result, MediaFailure)
                yield result.to_json()

        write_records(
            records(),
            OutputFormat.JSONL,
            columns=(),
            table_columns=(),
            flatten=lambda record: record,
        )
    if walk.skipped:
        typer.echo(walk.skipped_note(), err=True)
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)
