"""``rempart registry``: the protected-persons registry. Enrol a person from photos (only face
embeddings are kept), list, remove, and check photos against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from rempart.cli.exit_codes import ExitCode, exit_with, reported_errors, settings_or_exit
from rempart.cli.options import FormatOption, JobsOption, RecursiveOption, default_jobs
from rempart.cli.output import OutputFormat, progress, write_records
from rempart.config import Settings
from rempart.detectors.base import Picture
from rempart.detectors.identity import Gallery, IdentityDetector
from rempart.detectors.pipeline import load_batches
from rempart.media import MediaFailure
from rempart.paths import expand_paths
from rempart.persons import ProtectedPersons, chosen_faces
from rempart.store import Store, database_exists
from rempart.text import PersonName

__all__ = ["registry_app", "stored_gallery"]

registry_app = typer.Typer(
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
    typer.Option("--alias", help="Another name prompts use for the person (repeatable)."),
]
DistinctiveOption = Annotated[
    list[str] | None,
    typer.Option(
        "--distinctive",
        help="A part of the name that names the person alone (repeatable) "
        "[default: a surname rare in all six languages].",
    ),
]
LIST_COLUMNS = ("name", "embeddings", "created_at", "aliases", "distinctive")


def stored_gallery(settings: Settings) -> Gallery:
    """The registry's embeddings; empty, without creating a database, when there is none yet."""
    persons = _stored(settings)
    return Gallery() if persons is None else persons.gallery()


def stored_names(settings: Settings) -> list[PersonName]:
    """The persons enrolled, with their aliases; none, without creating a database, when
    there is none yet."""
    persons = _stored(settings)
    return [] if persons is None else persons.names()


def _stored(settings: Settings) -> ProtectedPersons | None:
    return _persons(settings) if database_exists(settings.database_url) else None


def _persons(settings: Settings) -> ProtectedPersons:
    with reported_errors():
        return ProtectedPersons(Store.from_settings(settings))


def _identity(settings: Settings, gallery: Gallery | None = None) -> IdentityDetector:
    """The identity detector as settings configure it (a missing extra is reported when it
    first runs, with the command that installs it)."""
    return IdentityDetector(
        lambda: gallery or Gallery(), max_distance=settings.identity_max_distance
    )


@registry_app.command("enroll")
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
    """
    settings = settings_or_exit()
    identity = _identity(settings)
    vectors = []
    problems = []
    files = list(expand_paths(photos))
    for batch in load_batches(files, limits=settings.media, jobs=default_jobs()):
        pictures = [item for item in batch if isinstance(item, Picture)]
        problems += [
            f"{item.path}: {item.error.message}" for item in batch if isinstance(item, MediaFailure)
        ]
        with reported_errors():
            embedded = identity.embed(pictures)
        found, unusable = chosen_faces(pictures, embedded, largest=largest)
        vectors += found
        problems += unusable
    if problems:
        for problem in problems:
            typer.echo(f"Error: {problem}", err=True)
        exit_with(f"nothing enrolled for {name!r}", ExitCode.SOME_FAILED)
    named = aliases or distinctive
    parts = None if distinctive is None else tuple(distinctive)
    names = PersonName(name, tuple(aliases or ()), parts) if named else None

    with reported_errors():
        person = _persons(settings).enroll(name, vectors, names=names)
    typer.echo(json.dumps({**person.to_json(), "added": len(vectors)}, ensure_ascii=False))


@registry_app.command("names")
def names_command(
    name: NameArgument,
    aliases: AliasOption = None,
    distinctive: DistinctiveOption = None,
) -> None:
    """Set the other names the prompt gate reads for an enrolled person, and the parts of
    their name that name them alone (replacing those set before)."""
    settings = settings_or_exit()
    with reported_errors():
        person = _persons(settings).rename(name, aliases or (), distinctive)
    typer.echo(json.dumps(person.to_json(), ensure_ascii=False))


@registry_app.command("list")
def list_command(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """List the protected persons and how many embeddings each has."""
    settings = settings_or_exit()
    with reported_errors():
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


@registry_app.command("remove")
def remove_command(name: NameArgument) -> None:
    """Remove a person and delete every embedding enrolled for them."""
    settings = settings_or_exit()
    with reported_errors():
        person = _persons(settings).remove(name)
    typer.echo(f"Removed {person.name!r} and {person.embeddings} embeddings.", err=True)


@registry_app.command("match")
def match_command(
    photos: PhotosArgument,
    jobs: JobsOption = None,
    recursive: RecursiveOption = False,
) -> None:
    """Check photos against the registry: each face with the protected persons it matches.

    JSON Lines: {"path", "faces": [{"box": [x, y, width, height], "matches": [{"name",
    "distance"}]}]} per photo, nearest first, or {"path", "error"}. Exit status 1 when a photo
    could not be read.
    """
    settings = settings_or_exit()
    identity = _identity(settings, stored_gallery(settings))
    files = list(expand_paths(photos, recursive=recursive))
    failures = 0
    with progress("Matching faces", total=len(files)) as track:

        def records() -> Iterator[dict[str, Any]]:
            nonlocal failures
            batches = load_batches(files, limits=settings.media, jobs=jobs or default_jobs())
            for batch in batches:
                pictures = [item for item in batch if isinstance(item, Picture)]
                with reported_errors():
                    matched = iter(identity.match(pictures))
                for item in track(batch):
                    if isinstance(item, MediaFailure):
                        failures += 1
                        yield item.to_json()
                        continue
                    yield {
                        "path": item.path,
                        "faces": [
                            {
                                "box": identity.finder.region(item, face).to_json(),
                                "matches": [m.to_json() for m in matches],
                            }
                            for face, matches in next(matched)
                        ],
                    }

        write_records(
            records(),
            OutputFormat.JSONL,
            columns=(),
            table_columns=(),
            flatten=lambda record: record,
        )
    raise typer.Exit(ExitCode.SOME_FAILED if failures else ExitCode.OK)
