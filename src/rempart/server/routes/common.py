"""What several endpoints share: the worker's runtime and services, reading an uploaded image,
and the note each request leaves in the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from rempart.runtime import Runtime
from rempart.server.budget import TRIM_ABOVE, decode_cost, give_back_memory
from rempart.server.middleware import AuditNote
from rempart.server.problems import Problem
from rempart.server.services import Services

__all__ = [
    "IMAGE_BODY",
    "MEDIA_BODY",
    "VIDEO_BODY",
    "audit",
    "decoding",
    "is_json",
    "media_type",
    "mirrored",
    "read_image",
    "read_media",
    "read_video",
    "runtime",
    "services",
]

_IMAGES: Final = "JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/AVIF"
_VIDEOS: Final = "MP4/MOV, Matroska/WebM, AVI"


def _body(description: str, *media_types: str) -> dict[str, Any]:
    """OpenAPI's description of an endpoint whose body is one file of ``media_types``."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content = dict.fromkeys((*media_types, "application/octet-stream"), binary)
    return {"requestBody": {"required": True, "description": description, "content": content}}


IMAGE_BODY: Final = _body(f"The image's bytes ({_IMAGES}).", "image/*")
VIDEO_BODY: Final = _body(f"The video's bytes ({_VIDEOS}).", "video/*")
MEDIA_BODY: Final = _body(
    f"The bytes of an image ({_IMAGES}) or a video ({_VIDEOS}).", "image/*", "video/*"
)


def services(request: Request) -> Services:
    """The worker's services: its runtime, and the keys, audit and batcher beside it."""
    found: Services = request.app.state.services
    return found


def runtime(request: Request) -> Runtime:
    """The worker's runtime: the apps (gate, scanner, banks, persons) kept current."""
    return services(request).runtime


async def read_image(request: Request) -> bytes:
    """The body of an image upload: ``Content-Type`` ``image/*`` or
    ``application/octet-stream``, not empty."""
    return await _read_upload(request, "image", ("image/",))


async def read_video(request: Request) -> bytes:
    """The body of a video upload: ``Content-Type`` ``video/*`` or
    ``application/octet-stream``, not empty."""
    return await _read_upload(request, "video", ("video/",))


async def read_media(request: Request) -> bytes:
    """The body of an upload that may be an image or a video (``walk.looks_like_video`` tells
    which from its first bytes): ``image/*``, ``video/*`` or ``application/octet-stream``."""
    return await _read_upload(request, "image or video", ("image/", "video/"))


async def _read_upload(request: Request, what: str, prefixes: tuple[str, ...]) -> bytes:
    content_type = media_type(request)
    if not (content_type.startswith(prefixes) or content_type == "application/octet-stream"):
        allowed = " or ".join(f"{prefix}..." for prefix in prefixes)
        raise Problem(
            "unsupported-media-type",
            f"send the {what}'s bytes as the body, with Content-Type {allowed} or "
            f"application/octet-stream (got {content_type or 'none'!r})",
        )
    data = await request.body()
    if not data:
        # A video upload's errors are video-*; one that may be either keeps image-*.
        family = "video" if what == "video" else "image"
        raise Problem(f"{family}-empty", f"the body is empty: send the {what}'s bytes")
    return data


@asynccontextmanager
async def decoding(request: Request, images: Sequence[bytes]) -> AsyncIterator[None]:
    """Around every decode a request makes: hold the pixels its images (or a video's frame)
    declare in the worker's budget (waiting briefly, else 503 ``overloaded``), and give a large
    decode's memory back to the system once it is done."""
    found = services(request)
    settings = found.runtime.settings
    cost = await run_in_threadpool(decode_cost, images, settings.media, settings.video)
    async with found.budget.admit(cost):
        try:
            yield
        finally:  # before the pixels are handed on, so that the next decode finds them free
            if cost >= TRIM_ABOVE:
                await run_in_threadpool(give_back_memory)


def media_type(request: Request) -> str:
    """The body's media type, without parameters, in lower case ("" when none is given)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json(media: str) -> bool:
    """Whether a media type (as ``media_type`` gives it) is JSON's: ``application/json`` or an
    ``application/...+json`` type."""
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def audit(request: Request, **note: Any) -> None:
    """Say what the audit entry of this request records besides who, what and when."""
    request.state.audit = AuditNote(**note)


def mirrored(router: APIRouter, prefix: str) -> APIRouter:
    """The routes of ``router`` again under ``prefix`` instead of its own, left out of the
    OpenAPI document: an old path kept working after a rename."""
    old = APIRouter(prefix=prefix, include_in_schema=False)
    for route in router.routes:
        assert isinstance(route, APIRoute)
        old.add_api_route(
            route.path.removeprefix(router.prefix),
            route.endpoint,
            methods=list(route.methods or ()),
            dependencies=route.dependencies,
            status_code=route.status_code,
        )
    return old
