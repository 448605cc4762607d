"""What several endpoints share: the worker's services, reading an uploaded image, and the
note each request leaves in the audit log."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request

from rempart.server.middleware import AuditNote
from rempart.server.problems import Problem
from rempart.server.services import Services

__all__ = ["IMAGE_BODY", "audit", "media_type", "read_image", "services"]

# OpenAPI's description of an endpoint whose body is one image.
IMAGE_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "The image's bytes (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/AVIF).",
        "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def services(request: Request) -> Services:
    """The worker's services."""
    found: Services = request.app.state.services
    return found


async def read_image(request: Request) -> bytes:
    """The body of an image upload: ``Content-Type`` ``image/*`` or
    ``application/octet-stream``, not empty."""
    content_type = media_type(request)
    if not (content_type.startswith("image/") or content_type == "application/octet-stream"):
        raise Problem(
            "unsupported-media-type",
            f"send the image's bytes as the body, with Content-Type image/... or "
            f"application/octet-stream (got {content_type or 'none'!r})",
        )
    data = await request.body()
    if not data:
        raise Problem("image-empty", "the body is empty: send the image's bytes")
    return data


def media_type(request: Request) -> str:
    """The body's media type, without parameters, in lower case ("" when none is given)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def audit(request: Request, **note: Any) -> None:
    """Say what the audit entry of this request records besides who, what and when."""
    request.state.audit = AuditNote(**note)
