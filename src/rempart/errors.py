"""Rempart's exceptions, in one hierarchy.

    RempartError            anything Rempart reports about its input or its configuration
    ├── ConfigError         a setting is unknown or has an invalid value
    ├── MediaError          a file or byte string is not an image Rempart will decode
    ├── PromptError         a prompt Rempart will not read (too long, not text)
    └── DetectorError       a detector cannot run (its model file is missing or invalid)
        └── MissingExtraError   the optional extra a detector needs is not installed

Every ``MediaError`` carries a machine-readable ``code`` (one of ``MediaErrorCode``) and a
message a person can act on. Third-party exceptions (Pillow's, the OS's, ONNX Runtime's) never
escape raw: ``rempart.media`` and the detectors wrap them with ``raise ... from exc``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ConfigError",
    "DetectorError",
    "MediaError",
    "MediaErrorCode",
    "MissingExtraError",
    "PromptError",
    "PromptErrorCode",
    "RempartError",
]


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


class PromptErrorCode(StrEnum):
    """Why a prompt was refused. Stable: scripts match on these strings."""

    TOO_LONG = "too_long"
    NOT_TEXT = "not_text"


class PromptError(RempartError):
    """A prompt Rempart will not read; ``code`` says why."""

    def __init__(self, code: PromptErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DetectorError(RempartError):
    """A detector cannot run: its model file is missing, unreadable or not the model expected."""


class MissingExtraError(DetectorError):
    """A detector needs an optional extra that is not installed; the message says which."""

    def __init__(self, detector: str, extra: str, missing: str) -> None:
        super().__init__(
            f"the {detector} detector needs the {extra!r} extra ({missing} is not installed): "
            f"pip install 'rempart[{extra}]'"
        )
        self.detector = detector
        self.extra = extra
