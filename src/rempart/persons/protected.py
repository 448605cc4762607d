"""The protected-persons registry: people whose likeness Rempart must never let be sexualised.

An association enrols the person it acts for from one or more photos; only the face
embeddings are kept (``person_embeddings``), never the photos, and removing a person deletes
their embeddings. The identity detector reads the registry as a ``Gallery``.
"""

from __future__ import annotations

import builtins
import json
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rempart.detectors.identity import FaceEmbedding
from rempart.detectors.picture import Picture
from rempart.errors import PersonsError, UnknownPersonError
from rempart.gallery import EMBEDDING_MODEL, EMBEDDING_SIZE, Gallery
from rempart.store import Store, as_utc, database_exists, utc_now
from rempart.store.schema import person_changes, person_embeddings, protected_persons
from rempart.text.names import PersonName

__all__ = [
    "MAX_ALIASES",
    "Person",
    "PersonsSnapshot",
    "ProtectedPersons",
    "chosen_faces",
    "clean_name",
    "read_persons_file",
]

T = TypeVar("T")
MAX_NAME_LENGTH: Final = 200
MAX_ALIASES: Final = 50
"""The most aliases, or distinctive parts, a person has."""
MAX_PERSONS_FILE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Person:
    """A protected person: their name, how many embeddings are enrolled, and since when; the
    other names the prompt gate reads for them, and the parts of the name that name them
    alone (None: decided from word frequencies)."""

    name: str
    embeddings: int
    created_at: datetime
    aliases: tuple[str, ...] = ()
    distinctive: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"name", "embeddings", "created_at", "aliases", "distinctive"}``."""
        return {
            "name": self.name,
            "embeddings": self.embeddings,
            "created_at": self.created_at.isoformat(),
            "aliases": list(self.aliases),
            "distinctive": None if self.distinctive is None else list(self.distinctive),
        }

    @property
    def names(self) -> PersonName:
        """The person as the prompt analysis reads them."""
        return PersonName(self.name, self.aliases, self.distinctive)


def clean_name(name: str) -> str:
    """The name as stored (Unicode NFC, outer spaces removed), or ``PersonsError``."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise PersonsError("a person's name cannot be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise PersonsError(f"a person's name is at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise PersonsError("a person's name cannot contain control or invisible characters")
    return cleaned


def read_persons_file(path: str | Path) -> list[PersonName]:
    """The persons in a registry file: JSON ``{"protected_persons": [entry, ...]}``, each entry
    a name or ``{"name": ..., "aliases": [...], "distinctive": [...]}`` (``distinctive``: the
    parts of the name that name the person alone), as ``dev-registry.json`` is written."""
    try:
        with Path(path).open("rb") as stream:  # a byte past the limit, not a device's endless
            raw = stream.read(MAX_PERSONS_FILE_BYTES + 1)
    except OSError as exc:
        raise PersonsError(f"cannot read registry file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_PERSONS_FILE_BYTES:
        raise PersonsError(f"persons file {path} is over {MAX_PERSONS_FILE_BYTES:,} bytes")
    try:
        spec = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PersonsError(f"persons file {path} is not JSON: {exc}") from exc
    items = spec.get("protected_persons") if isinstance(spec, dict) else None
    if not isinstance(items, list):
        raise PersonsError(f'registry file {path} must hold {{"protected_persons": [names]}}')
    persons: dict[str, PersonName] = {}
    for index, item in enumerate(items):
        try:
            person = _entry(item)
        except PersonsError as exc:
            raise PersonsError(f"persons file {path}: entry {index}: {exc}") from None
        known = persons.get(person.name)
        if known is not None:  # a name listed twice: one person, every alias and part
            person = _merged(known, person)
        persons[person.name] = person
    return list(persons.values())


def _entry(item: object) -> PersonName:
    """One registry file entry, or ``PersonsError`` saying what is wrong with it."""
    if isinstance(item, str):
        return PersonName(clean_name(item))
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise PersonsError(
            'must be a name or {"name": ..., "aliases": [names], "distinctive": [parts]}'
        )
    unknown = set(item) - {"name", "aliases", "distinctive"}
    if unknown:
        raise PersonsError(f"unknown keys {sorted(unknown)}")
    name = clean_name(item["name"])
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("aliases", "distinctive"):
        values = item.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PersonsError(f'"{key}" must be a list of names')
        lists[key] = tuple(_names(values, key))
    distinctive = lists["distinctive"] if "distinctive" in item else None
    return PersonName(name, lists["aliases"], distinctive)


def _named_values(
    aliases: Sequence[str], distinctive: Sequence[str] | None
) -> dict[str, str | None]:
    """The ``aliases`` and ``distinctive`` columns, checked and cleaned."""
    kept = _names(aliases, "aliases")
    parts = None if distinctive is None else _names(distinctive, "distinctive parts")
    return {
        "aliases": json.dumps(kept, ensure_ascii=False),
        "distinctive": None if parts is None else json.dumps(parts, ensure_ascii=False),
    }


def _names(values: Sequence[str], what: str) -> list[str]:
    """Aliases or name parts, cleaned like names, each once; ``PersonsError`` for a bad one."""
    if len(values) > MAX_ALIASES:
        raise PersonsError(f"at most {MAX_ALIASES} {what}, not {len(values)}")
    return list(dict.fromkeys(clean_name(value) for value in values))


def _merged(one: PersonName, other: PersonName) -> PersonName:
    aliases = tuple(dict.fromkeys((*one.aliases, *other.aliases)))
    if one.distinctive is None or other.distinctive is None:
        distinctive = one.distinctive if other.distinctive is None else other.distinctive
    else:
        distinctive = tuple(dict.fromkeys((*one.distinctive, *other.distinctive)))
    return PersonName(one.name, aliases, distinctive)


def chosen_faces(
    pictures: Sequence[Picture], embedded: Sequence[Sequence[FaceEmbedding]], *, largest: bool
) -> tuple[list[NDArray[np.float32]], list[str]]:
    """The embedding to enrol from each photo, and a problem for each photo that gives none:
    no face, or several when ``largest`` does not allow taking the largest."""
    vectors: list[NDArray[np.float32]] = []
    problems: list[str] = []
    for picture, faces in zip(pictures, embedded, strict=True):
        if not faces:
            problems.append(f"{picture.path}: no face found")
        elif len(faces) > 1 and not largest:
            problems.append(
                f"{picture.path}: {len(faces)} faces; crop the photo to the person, "
                "or ask for the largest"
            )
        else:
            chosen = max(faces, key=lambda e: e.face.box.width * e.face.box.height)
            vectors.append(chosen.vector)
    return vectors, problems


class ProtectedPersons:
    """The registry in a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enroll(
        self,
        name: str,
        vectors: Sequence[NDArray[np.float32]],
        *,
        model: str = EMBEDDING_MODEL,
        names: PersonName | None = None,
    ) -> Person:
        """Add embeddings for ``name``, creating the person on first enrolment, and set the
        aliases and distinctive parts of ``names`` when given; one transaction."""
        name = clean_name(name)
        named = {} if names is None else _named_values(names.aliases, names.distinctive)
        if not vectors:
            raise PersonsError(f"nothing to enrol for {name!r}: no face embeddings given")
        for vector in vectors:
            if vector.shape != (EMBEDDING_SIZE,) or not np.all(np.isfinite(vector)):
                raise PersonsError(f"an embedding must be {EMBEDDING_SIZE} finite numbers")
        now = utc_now()
        with self.store.write() as connection:
            person_id = connection.scalar(
                select(protected_persons.c.id).where(protected_persons.c.name == name)
            )
            if person_id is None:
                try:
                    person_id = connection.execute(
                        insert(protected_persons)
                        .values(name=name, created_at=now)
                        .returning(protected_persons.c.id)
                    ).scalar_one()
                except IntegrityError:  # pragma: no cover - writers are serialised
                    raise PersonsError(f"{name!r} was enrolled concurrently; retry") from None
            connection.execute(
                insert(person_embeddings),
                [
                    {
                        "person_id": person_id,
                        "model": model,
                        "vector": np.asarray(vector, dtype="<f4").tobytes(),
                        "created_at": now,
                    }
                    for vector in vectors
                ],
            )
            if named:
                connection.execute(
                    update(protected_persons)
                    .where(protected_persons.c.id == person_id)
                    .values(**named, names_updated_at=now)
                )
            _log(connection, name, "enrol", now)
        return self.get(name)

    def rename(
        self,
        name: str,
        aliases: Sequence[str] = (),
        distinctive: Sequence[str] | None = None,
    ) -> Person:
        """Set the other names an enrolled person is read under in prompts, and the parts of
        their name that name them alone (None: decided from word frequencies); replaces what
        was set before."""
        person = self.get(name)
        named = _named_values(aliases, distinctive)
        now = utc_now()
        with self.store.write() as connection:
            connection.execute(
                update(protected_persons)
                .where(protected_persons.c.name == person.name)
                .values(**named, names_updated_at=now)
            )
            _log(connection, person.name, "rename", now)
        return self.get(person.name)

    def names(self) -> builtins.list[PersonName]:
        """Every protected person as the prompt analysis reads them."""
        return [person.names for person in self.list()]

    def get(self, name: str) -> Person:
        """One person, or ``PersonsError`` saying where to see who is enrolled."""
        name = clean_name(name)
        found = self._people(name)
        if not found:
            raise UnknownPersonError(
                f"no protected person named {name!r}; see rempart persons list"
            )
        return found[0]

    def list(self) -> list[Person]:
        """Every protected person, by name."""
        return self._people()

    def _people(self, name: str | None = None) -> builtins.list[Person]:
        query = (
            select(
                protected_persons.c.name,
                protected_persons.c.created_at,
                func.count(person_embeddings.c.id),
                protected_persons.c.aliases,
                protected_persons.c.distinctive,
            )
            .select_from(protected_persons.outerjoin(person_embeddings))
            .group_by(protected_persons.c.id)
            .order_by(protected_persons.c.name)
        )
        if name is not None:
            query = query.where(protected_persons.c.name == name)
        with self.store.read() as connection:
            rows = connection.execute(query).all()
        return [
            Person(
                name,
                int(count),
                as_utc(created),
                tuple(json.loads(aliases)),
                None if distinctive is None else tuple(json.loads(distinctive)),
            )
            for name, created, count, aliases, distinctive in rows
        ]

    def remove(self, name: str) -> Person:
        """Delete a person and every embedding enrolled for them."""
        person = self.get(name)
        with self.store.write() as connection:
            person_id = select(protected_persons.c.id).where(
                protected_persons.c.name == person.name
            )
            connection.execute(
                delete(person_embeddings).where(person_embeddings.c.person_id.in_(person_id))
            )
            connection.execute(
                delete(protected_persons).where(protected_persons.c.name == person.name)
            )
            _log(connection, person.name, "remove", utc_now())
        return person

    def changes(self) -> int:
        """The newest entry of the change log (0 before any): what a long-running process
        compares with the last it read to know its gallery and names are stale."""
        with self.store.read() as connection:
            newest = connection.scalar(select(func.max(person_changes.c.seq)))
        return int(newest or 0)

    def gallery(self, *, model: str = EMBEDDING_MODEL) -> Gallery:
        """Every embedding of ``model``, with its person's name, for the identity detector."""
        query = (
            select(protected_persons.c.name, person_embeddings.c.vector)
            .join(protected_persons)
            .where(person_embeddings.c.model == model)
            .order_by(person_embeddings.c.id)
        )
        with self.store.read() as connection:
            rows = connection.execute(query).all()
        if not rows:
            return Gallery()
        vectors = np.stack([np.frombuffer(vector, dtype="<f4") for _, vector in rows])
        return Gallery(names=[name for name, _ in rows], vectors=vectors.astype(np.float32))


def _log(connection: Connection, person: str, op: str, at: datetime) -> None:
    """Append to the change log, in the transaction of the change itself."""
    connection.execute(insert(person_changes).values(person=person, op=op, at=at))


class PersonsSnapshot:
    """The protected persons of a database, read once on first use: what a command that runs
    once (a scan, a batch of gate requests) matches against. No database is created: where
    there is none yet, no one is protected."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._gallery: Gallery | None = None
        self._names: builtins.list[PersonName] | None = None

    def gallery(self) -> Gallery:
        """The enrolled embeddings, read on first use."""
        if self._gallery is None:
            self._gallery = self._read(ProtectedPersons.gallery, Gallery())
        return self._gallery

    def names(self) -> builtins.list[PersonName]:
        """The persons' names, with their aliases, read on first use (a text-only gate
        reads no embeddings)."""
        if self._names is None:
            nobody: builtins.list[PersonName] = []
            self._names = self._read(ProtectedPersons.names, nobody)
        return self._names

    def _read(self, read: Callable[[ProtectedPersons], T], empty: T) -> T:
        if not database_exists(self.database_url):
            return empty
        with closing(Store.open(self.database_url)) as store:
            return read(ProtectedPersons(store))
