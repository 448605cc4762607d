"""The protected-persons registry: enrol from photos (only face embeddings are kept), list,
remove."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Depends, Request
from pydantic import Base64Bytes, BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.detectors.identity import IdentityDetector
from rempart.detectors.pipeline import load_picture
from rempart.errors import MediaError
from rempart.persons import MAX_ALIASES, Person, chosen_faces, clean_name
from rempart.server.auth import Permission, require
from rempart.server.problems import Problem
from rempart.server.routes.common import audit, services
from rempart.server.services import Services
from rempart.text import PersonName

router = APIRouter(prefix="/v1/registry", tags=["registry"])

MAX_PHOTOS: Final = 10


class Enrolment(BaseModel):
    """A person and photos of them; the photos are read for faces and dropped."""

    name: str = Field(description="The person's name, as their association uses it.")
    photos: list[Base64Bytes] = Field(
        min_length=1, max_length=MAX_PHOTOS, description="Photos of the person (base64)."
    )
    largest: bool = Field(
        default=False, description="In a photo with several faces, enrol the largest."
    )
    aliases: list[str] = Field(
        default_factory=list,
        max_length=MAX_ALIASES,
        description="Other names prompts use for the person.",
    )
    distinctive: list[str] | None = Field(
        default=None,
        max_length=MAX_ALIASES,
        description="Parts of the name that name the person alone "
        "(default: a surname rare in all six languages).",
    )


@router.get(
    "", summary="List protected persons", dependencies=[Depends(require(Permission.REGISTRY_READ))]
)
async def list_persons(request: Request) -> JSONResponse:
    """``{"persons": [{"name", "embeddings", "created_at", "aliases", "distinctive"}]}``."""
    people = await run_in_threadpool(services(request).persons.list)
    return JSONResponse({"persons": [person.to_json() for person in people]})


@router.post(
    "",
    summary="Enrol a person from photos (all or nothing)",
    status_code=201,
    dependencies=[Depends(require(Permission.REGISTRY_ADMIN))],
)
async def enrol(request: Request, body: Enrolment) -> JSONResponse:
    """The person with ``added``, the embeddings enrolled. One face per photo; if any photo
    gives none, nothing is enrolled (422 ``enrolment-failed`` with each photo's problem)."""
    name = clean_name(body.name)
    person, added = await run_in_threadpool(_enrol, services(request), name, body)
    audit(request, target=person.name, outcome=f"{added} enrolled", now=True)
    return JSONResponse({**person.to_json(), "added": added}, status_code=201)


def _enrol(found: Services, name: str, body: Enrolment) -> tuple[Person, int]:
    identity = IdentityDetector(max_distance=found.settings.identity_max_distance)
    pictures, problems = [], []
    for number, data in enumerate(body.photos, start=1):
        try:
            pictures.append(
                load_picture(
                    data,
                    limits=found.settings.media,
                    side=identity.max_side,
                    path=f"photo {number}",
                )
            )
        except MediaError as exc:
            problems.append(f"photo {number}: {exc.message}")
    vectors, unusable = chosen_faces(pictures, identity.embed(pictures), largest=body.largest)
    problems += unusable
    if problems:
        raise Problem(
            "enrolment-failed", f"nothing enrolled for {name!r}: {problems[0]}", problems=problems
        )
    parts = None if body.distinctive is None else tuple(body.distinctive)
    names = PersonName(name, tuple(body.aliases), parts)
    return found.persons.enroll(name, vectors, names=names), len(vectors)


@router.delete(
    "/{name}",
    summary="Remove a person and every embedding enrolled for them",
    dependencies=[Depends(require(Permission.REGISTRY_ADMIN))],
)
async def remove(request: Request, name: str) -> JSONResponse:
    """The person as removed."""
    person = await run_in_threadpool(services(request).persons.remove, name)
    audit(request, target=person.name, outcome="removed", now=True)
    return JSONResponse(person.to_json())
