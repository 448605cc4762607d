"""The protected-persons registry: enrol from photos (only face embeddings are kept), list,
remove."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Depends, Request
from pydantic import Base64Bytes, BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.detectors.faces import face_finder
from rempart.detectors.identity import IdentityDetector
from rempart.persons import MAX_ALIASES, enrol_photos
from rempart.server.auth import Permission, require
from rempart.server.routes.common import audit, decoding, mirrored, runtime

router = APIRouter(prefix="/v1/persons", tags=["persons"])

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
    "", summary="List protected persons", dependencies=[Depends(require(Permission.PERSONS_READ))]
)
async def list_persons(request: Request) -> JSONResponse:
    """``{"persons": [{"name", "embeddings", "created_at", "aliases", "distinctive"}]}``."""
    people = await run_in_threadpool(runtime(request).persons.list)
    return JSONResponse({"persons": [person.to_json() for person in people]})


@router.post(
    "",
    summary="Enrol a person from photos (all or nothing)",
    status_code=201,
    dependencies=[Depends(require(Permission.PERSONS_ADMIN))],
)
async def enrol(request: Request, body: Enrolment) -> JSONResponse:
    """The person with ``added``, the embeddings enrolled. One face per photo; if any photo
    gives none, nothing is enrolled (422 ``enrolment-failed`` with each photo's problem)."""
    found = runtime(request)
    photos = list(body.photos)
    async with decoding(request, photos):
        enrolled = await run_in_threadpool(
            enrol_photos,
            found.persons,
            body.name,
            photos,
            labels=[f"photo {number}" for number in range(1, len(photos) + 1)],
            largest=body.largest,
            aliases=body.aliases,
            distinctive=body.distinctive,
            limits=found.settings.media,
            identity=IdentityDetector(finder=face_finder(found.settings.face_detector)),
        )
    audit(request, target=enrolled.person.name, outcome=f"{enrolled.added} enrolled", now=True)
    return JSONResponse(enrolled.to_json(), status_code=201)


@router.delete(
    "/{name}",
    summary="Remove a person and every embedding enrolled for them",
    dependencies=[Depends(require(Permission.PERSONS_ADMIN))],
)
async def remove(request: Request, name: str) -> JSONResponse:
    """The person as removed."""
    person = await run_in_threadpool(runtime(request).persons.remove, name)
    audit(request, target=person.name, outcome="removed", now=True)
    return JSONResponse(person.to_json())


# The old path of the same endpoints, kept for clients written against it.
old_router = mirrored(router, "/v1/registry")
