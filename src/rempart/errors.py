"""Rempart's exceptions, in one hierarchy.

    RempartError            anything Rempart reports about its input or its configuration
    ├── ConfigError         a setting is unknown or has an invalid value
    └── MediaError          a file or byte string is not an image Rempart will decode

Every ``MediaError`` carries a machine-readable ``code`` (one of ``MediaErrorCode``) and a
message a person can act on. Third-party exceptions (Pillow's, the OS's) never escape raw:
``rempart.media`` wraps them with ``raise MediaError(...) from exc``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConfigError", "MediaError", "MediaErrorCode", "RempartError"]


class RempartError(Exception):
    """Base class of every error Rempart raises about its input or configuration."""


class ConfigError(RempartError):
    """A setting is unknown or has an invalid value."""


class MediaErrorCode(StrEnum):
    """Why an input could not be used as an image. Stable: scripts match on these strings."""

    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FRAMES = "too_many_frames"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


class MediaError(RempartError):
    """An input is not an image Rempart will decode; ``code`` says why."""

    def __init__(self, code: MediaErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"MediaError({self.code.value!r}, {self.message!r})"
