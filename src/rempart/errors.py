"""Rempart's exceptions, in one hierarchy, each knowing how every interface reports it.

    RempartError            anything Rempart reports about its input or its configuration
    ├── ConfigError         a setting is unknown or has an invalid value
    │   ├── PolicyError     a policy cannot be loaded
    │   ├── LexiconError    a prompt lexicon cannot be loaded
    │   ├── DeskKeyError    the desk's key file is missing, or a sealed field will not open
    │   ├── ExchangeConfigError  an exchange's type, credential string or option is not valid
    │   └── EngineError     a scan engine cannot run as asked (Ray missing, no GPU)
    ├── MediaError          a file or byte string is not an image Rempart will decode
    │   ├── VideoError      ... not a video Rempart will decode (problem types video-*)
    │   └── ModelFileError  a file is not a model file Rempart will read
    ├── PromptError         a prompt Rempart will not read (too long, not text)
    ├── RequestError        a request (an API body, a batch line) is not one Rempart reads
    │   └── MalformedBodyError  a body that cannot be read as JSON at all
    ├── DetectorError       a detector cannot run (its model file is missing or invalid)
    │   └── MissingExtraError   the optional extra a detector needs is not installed
    ├── C2paError           a C2PA manifest is present but cannot be read
    ├── StoreError          the database cannot be reached, or is not Rempart's
    ├── IndexFileError      a saved match index is missing, truncated or not an index
    ├── BankError           a bank operation cannot be done as asked
    │   ├── UnknownBankError
    │   └── BankExistsError
    ├── ImportLineError     a line of a hash list is not valid; nothing was imported
    ├── PersonsError        a protected-persons operation cannot be done as asked
    │   ├── UnknownPersonError
    │   └── EnrolmentError  no usable face in a photo; nothing was enrolled
    ├── ApiKeyError         a key cannot be created or revoked as asked
    │   └── UnknownKeyError
    ├── NotReadyError       a long-running process is still loading what this needs
    ├── OverloadedError     a server worker decodes all the pixels it may; retry shortly
    ├── RateLimitedError    too many attempts (a desk sign-in); retry later
    ├── ScanOutputError     a scan output that cannot be resumed
    ├── CaseInvalidError    a desk case operation cannot be done as asked
    │   ├── CaseNotFoundError       no case has that number (or the secret is wrong)
    │   └── CaseStateConflictError  the case or item is not in a state that allows it
    ├── EvidenceRefusedError  a capture that may not be made or read (a minor's case, no key)
    │   └── EvidenceNotFoundError  no capture has that id (or the actor may not see it)
    ├── ExchangeError       an exchange operation cannot be done as asked (unknown, taken name)
    │   ├── UnknownExchangeError
    │   └── ExchangeFetchError  a fetch from an exchange failed; the last good state is kept
    ├── FetchError          a URL the desk fetched did not answer, or answered too much
    │   └── FetchRefusedError  a URL refused before connecting (scheme, private address)
    └── HashLowQualityError a reported hash too featureless to act on

Each class says what the command line exits with (``exit_code``, an ``ExitCode``) and which
problem type the API answers with (``problem``, a slug of ``urn:rempart:problem:<slug>``), so
that the CLI and the server each map every error with one handler. Third-party exceptions
(Pillow's, the OS's, ONNX Runtime's) never escape raw: the modules that call those libraries wrap
them with ``raise ... from exc``.
"""

from __future__ import annotations

import importlib
from enum import IntEnum, StrEnum
from types import ModuleType
from typing import Any, ClassVar

__all__ = [
    "ApiKeyError",
    "BankError",
    "BankExistsError",
    "C2paError",
    "CaseInvalidError",
    "CaseNotFoundError",
    "CaseStateConflictError",
    "ConfigError",
    "DeliveryFailedError",
    "DeskKeyError",
    "DetectorError",
    "EngineError",
    "EnrolmentError",
    "EvidenceNotFoundError",
    "EvidenceRefusedError",
    "ExchangeConfigError",
    "ExchangeError",
    "ExchangeFetchError",
    "ExitCode",
    "FetchError",
    "FetchRefusedError",
    "HashLowQualityError",
    "ImportLineError",
    "IndexFileError",
    "Interrupted",
    "LexiconError",
    "MalformedBodyError",
    "MediaError",
    "MediaErrorCode",
    "MissingExtraError",
    "ModelFileError",
    "NotReadyError",
    "NoticeInvalidError",
    "NoticeNotFoundError",
    "OverloadedError",
    "PersonsError",
    "PlatformFileError",
    "PlatformUnknownError",
    "PolicyError",
    "PromptError",
    "PromptErrorCode",
    "RateLimitedError",
    "RempartError",
    "RequestError",
    "ScanOutputError",
    "SorInvalidError",
    "StoreError",
    "UnknownBankError",
    "UnknownExchangeError",
    "UnknownKeyError",
    "UnknownPersonError",
    "VideoError",
    "import_extra",
    "media_os_error",
]


class ExitCode(IntEnum):
    """Exit statuses shared by every command."""

    OK = 0
    SOME_FAILED = 1
    """Some input could not be used (each is reported)."""
    USAGE = 2
    """The request or the configuration is wrong: nothing was done."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT), as shells report it."""


class RempartError(Exception):
    """Base class of every error Rempart raises about its input or configuration."""

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE
    problem: ClassVar[str] = "invalid-request"

    @property
    def problem_slug(self) -> str:
        """The problem type's slug for this error (some depend on its ``code``)."""
        return self.problem

    def problem_extra(self) -> dict[str, Any]:
        """Members the problem document carries beside ``detail`` (its ``code``, its ``line``)."""
        return {}

    def problem_headers(self) -> dict[str, str]:
        """HTTP headers the problem response carries."""
        return {}

    def describe(self) -> str:
        """The message the command line prints after ``Error:``."""
        return str(self)


class ConfigError(RempartError):
    """A setting is unknown or has an invalid value."""

    problem = "misconfigured"


class PolicyError(ConfigError):
    """A policy that cannot be loaded: unknown, malformed, or trying to weaken a fixed rule."""


class ExchangeConfigError(ConfigError):
    """An exchange (StopNCII, NCMEC, ...) configured with an unknown type, a credential string
    not of its format, or an unknown or invalid option."""


class EngineError(ConfigError):
    """A scan engine cannot run as asked: Ray not installed, no cluster at the address, a GPU
    asked of a cluster or an ``onnxruntime`` without one."""


class LexiconError(ConfigError):
    """A lexicon file that cannot be used: malformed, or a term that normalises to nothing."""


class MediaErrorCode(StrEnum):
    """Why an input could not be used as an image or a video. Stable: scripts match on them."""

    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_FRAMES = "too_many_frames"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    # Videos (``rempart.video``): the limits and allow-lists images do not have.
    TOO_LONG = "too_long"
    TOO_MANY_STREAMS = "too_many_streams"
    UNSUPPORTED_CODEC = "unsupported_codec"
    NO_VIDEO_STREAM = "no_video_stream"
    TIMED_OUT = "timed_out"
    # Entries of a folder walk that were not read (``rempart.walk``).
    DANGLING_LINK = "dangling_link"
    LINK_LOOP = "link_loop"
    NOT_REGULAR = "not_regular"
    PERMISSION_DENIED = "permission_denied"


class _CodedError(RempartError):
    """An error about one input with a machine-readable ``code``; its problem type is
    ``<problem>-<code>``."""

    exit_code = ExitCode.SOME_FAILED

    def __init__(self, code: StrEnum, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def problem_slug(self) -> str:
        """``image-too-large``, ``prompt-not-text``, ..."""
        return f"{self.problem}-{self.code.value.replace('_', '-')}"

    def problem_extra(self) -> dict[str, Any]:
        """The code, for clients that match on it."""
        return {"code": self.code.value}


class MediaError(_CodedError):
    """An input is not an image Rempart will decode; ``code`` says why."""

    problem = "image"
    code: MediaErrorCode

    def __init__(self, code: MediaErrorCode, message: str) -> None:
        super().__init__(code, message)

    def __repr__(self) -> str:
        return f"MediaError({self.code.value!r}, {self.message!r})"


class VideoError(MediaError):
    """An input is not a video Rempart will decode; ``code`` says why, in ``MediaError``'s words,
    under the problem types ``video-<code>`` so that an API client is told it was the video."""

    problem = "video"

    def __repr__(self) -> str:
        return f"VideoError({self.code.value!r}, {self.message!r})"


class ModelFileError(MediaError):
    """A file is not a model file Rempart will read; ``code`` says why, in ``MediaError``'s
    words, so that a folder's failures read the same whether it held images or models."""

    problem = "model"

    def __repr__(self) -> str:
        return f"ModelFileError({self.code.value!r}, {self.message!r})"


class PromptErrorCode(StrEnum):
    """Why a prompt was refused. Stable: scripts match on these strings."""

    TOO_LONG = "too_long"
    NOT_TEXT = "not_text"


class PromptError(_CodedError):
    """A prompt Rempart will not read; ``code`` says why."""

    problem = "prompt"
    code: PromptErrorCode

    def __init__(self, code: PromptErrorCode, message: str) -> None:
        super().__init__(code, message)


class RequestError(RempartError):
    """A request that is not one Rempart reads: a field missing or of the wrong type
    (``field`` names it: ``inputs.2``; None for the request as a whole)."""

    exit_code = ExitCode.SOME_FAILED

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def problem_extra(self) -> dict[str, Any]:
        """Where in the body, as the API's other validation errors say it."""
        location = "body" if self.field is None else f"body.{self.field}"
        return {"errors": [{"location": location, "message": str(self)}]}


class MalformedBodyError(RequestError):
    """A body that cannot be read as JSON at all (not UTF-8, cut short, nested or numbered
    beyond what a parser takes), as opposed to JSON of the wrong shape."""

    problem = "malformed-body"


class DetectorError(RempartError):
    """A detector cannot run: its model file is missing, unreadable or not the model expected."""

    problem = "detector-unavailable"


class MissingExtraError(DetectorError):
    """A detector needs an optional extra that is not installed; the message says which."""

    def __init__(self, detector: str, extra: str, missing: str) -> None:
        super().__init__(
            f"the {detector} detector needs the {extra!r} extra ({missing} is not installed): "
            f"pip install 'rempart[{extra}]'"
        )
        self.detector = detector
        self.extra = extra


class C2paError(RempartError):
    """A C2PA manifest is present but cannot be read (truncated, malformed)."""

    exit_code = ExitCode.SOME_FAILED
    problem = "image-corrupt"


class StoreError(RempartError):
    """The database cannot be reached, or is not a Rempart database."""

    problem = "database-unavailable"


class IndexFileError(RempartError):
    """A saved index file is missing, truncated or not an index."""

    problem = "index-unavailable"


class BankError(RempartError):
    """A bank operation cannot be done as asked (unknown bank, taken name, bad value)."""

    problem = "bank-invalid"


class UnknownBankError(BankError):
    """No bank has the name given."""

    problem = "bank-not-found"


class BankExistsError(BankError):
    """A bank has the name given already."""

    problem = "bank-exists"


class ImportLineError(RempartError):
    """A line of a hash-list file is not valid; nothing from the file was imported."""

    exit_code = ExitCode.SOME_FAILED
    problem = "import-invalid"

    def __init__(self, line: int, reason: str, *, offset: int | None = None) -> None:
        where = f"line {line}" if offset is None else f"line {line} (byte {offset})"
        super().__init__(f"{where}: {reason}")
        self.line = line
        self.offset = offset
        self.reason = reason

    def problem_extra(self) -> dict[str, Any]:
        """The line and, when known, the byte offset (of the bad byte or the line's start),
        for clients that point at it."""
        extra: dict[str, Any] = {"line": self.line}
        if self.offset is not None:
            extra["offset"] = self.offset
        return extra

    def describe(self) -> str:
        """``nothing imported: line N: reason``."""
        return f"nothing imported: {self}"


class PersonsError(RempartError):
    """A protected-persons operation cannot be done as asked (unknown person, invalid name)."""

    problem = "person-invalid"


class UnknownPersonError(PersonsError):
    """No protected person has the name given."""

    problem = "person-not-found"


class EnrolmentError(PersonsError):
    """No usable face in a photo given to enrol; nothing was enrolled."""

    exit_code = ExitCode.SOME_FAILED
    problem = "enrolment-failed"

    def __init__(self, person: str, problems: list[str]) -> None:
        super().__init__(f"nothing enrolled for {person!r}: {problems[0]}")
        self.person = person
        self.problems = problems

    def problem_extra(self) -> dict[str, Any]:
        """Each photo's problem."""
        return {"problems": self.problems}

    def describe(self) -> str:
        """Each photo's problem, one a line, then that nothing was enrolled."""
        return "\nError: ".join([*self.problems, f"nothing enrolled for {self.person!r}"])


class ApiKeyError(RempartError):
    """A key cannot be created or revoked as asked."""

    problem = "key-invalid"


class UnknownKeyError(ApiKeyError):
    """No API key has the id given."""

    problem = "key-not-found"


class NotReadyError(RempartError):
    """A long-running process is still loading what this needs (the match index)."""

    problem = "not-ready"

    def problem_headers(self) -> dict[str, str]:
        """Ask the client to retry in a moment."""
        return {"Retry-After": "2"}


class OverloadedError(RempartError):
    """A server worker is decoding as many pixels as it may (``REMPART_API_DECODE_PIXELS``)
    and the request waited its turn in vain: retry shortly."""

    exit_code = ExitCode.SOME_FAILED
    problem = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def problem_headers(self) -> dict[str, str]:
        """Ask the client to retry once the decodes in progress are likely done."""
        return {"Retry-After": str(self.retry_after)}


class RateLimitedError(RempartError):
    """Too many attempts in too little time (signing in to a desk case): retry later."""

    exit_code = ExitCode.SOME_FAILED
    problem = "rate-limited"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def problem_headers(self) -> dict[str, str]:
        """Say when to retry."""
        return {"Retry-After": str(self.retry_after)}


class ScanOutputError(RempartError):
    """An output that cannot be written or resumed: a folder, in a missing folder, not a
    scan's output, or made by another policy, other detectors or other banks."""


class CaseInvalidError(RempartError):
    """A desk case operation that cannot be done as asked: an invalid item, words on a
    minor's case, an actor who may not do this; nothing was changed."""

    problem = "case-invalid"


class CaseNotFoundError(CaseInvalidError):
    """No case has the number given, or the secret given is not its secret (one message for
    both, so that a wrong secret does not tell that the number exists)."""

    problem = "case-not-found"


class CaseStateConflictError(CaseInvalidError):
    """The case or item is not in a state from which this move is allowed; the message names
    the moves that are."""

    problem = "case-state-conflict"


class HashLowQualityError(RempartError):
    """A reported PDQ hash under the quality a match needs (``MIN_QUALITY``): too featureless
    to act on; nothing was stored."""

    exit_code = ExitCode.SOME_FAILED
    problem = "hash-low-quality"


class DeskKeyError(ConfigError):
    """The desk's key file (``REMPART_DESK_KEY_FILE``) is missing or unusable, or a sealed
    field does not open with it: no key, no desk."""

    problem = "desk-unavailable"


class PlatformFileError(ConfigError):
    """A platform or jurisdiction file (built in, or in ``REMPART_DESK_PLATFORMS``) that is
    not valid; the message names the file and the line."""


class PlatformUnknownError(RempartError):
    """No platform profile has this name, or none names the host of an item's URL."""

    problem = "platform-unknown"


class NoticeInvalidError(RempartError):
    """A notice that cannot be drafted or sent as asked: ``element`` names what is missing or
    wrong (``explanation``, ``url``, ``notifier``, ``bona-fide``, ``signature``,
    ``identification``, ``good-faith``, ``contact``, ``mandate``, ...); nothing was sent."""

    problem = "notice-invalid"

    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element

    def problem_extra(self) -> dict[str, Any]:
        """The element, for clients that point at it."""
        return {"element": self.element}


class SorInvalidError(RempartError):
    """A statement of reasons that the DSA Transparency Database would refuse, or that would
    carry personal data: ``field`` names the first field at fault (with ``statements[N].``
    before it in a batch); nothing was exported."""

    problem = "sor-invalid"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field

    def problem_extra(self) -> dict[str, Any]:
        """The field, for clients that point at it."""
        return {"field": self.field}


class NoticeNotFoundError(RempartError):
    """No notice has this reference (or the actor may not see it: one message for both)."""

    problem = "notice-not-found"


class DeliveryFailedError(RempartError):
    """A channel could not deliver a notice (the SMTP server refused or could not be reached);
    the notice stays drafted with the error, and may be sent again."""

    exit_code = ExitCode.SOME_FAILED
    problem = "delivery-failed"


class EvidenceRefusedError(RempartError):
    """A capture that may not be made, read or kept as asked: an item of a minor's case (never
    captured, by the service and by the database), a purged capture, no desk key file, no
    reason given; nothing was fetched or changed."""

    problem = "evidence-refused"


class EvidenceNotFoundError(EvidenceRefusedError):
    """No capture has this id (or the actor may not see it: one message for both)."""

    problem = "evidence-not-found"


class ExchangeError(RempartError):
    """An exchange operation cannot be done as asked: a taken name, a bank another exchange
    fills, a credential file or variable that cannot be read, a fetch under way elsewhere."""

    problem = "invalid-request"


class UnknownExchangeError(ExchangeError):
    """No exchange has the name given."""

    problem = "not-found"


class ExchangeFetchError(ExchangeError):
    """A fetch from an exchange failed (refused credential, malformed page, no answer): what
    earlier pages brought stays, the rest is fetched next time. The message names no secret."""

    exit_code = ExitCode.SOME_FAILED
    problem = "fetch-failed"


class FetchError(RempartError):
    """A URL the desk fetched (a removal check, a capture) that could not be read: no answer
    in time, a body over the size limit, too many redirects, a broken connection. ``url``
    names the address."""

    exit_code = ExitCode.SOME_FAILED
    problem = "fetch-failed"

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url[:200]}: {message}")
        self.url = url


class FetchRefusedError(FetchError):
    """A URL refused before any connection: not http or https, or an address (or a redirect's)
    that resolves to a private, loopback, link-local or reserved address not in
    ``REMPART_DESK_FETCH_ALLOW``."""

    exit_code = ExitCode.USAGE
    problem = "fetch-refused"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run that wrote an output: the message says what was written and how
    to go on. A ``KeyboardInterrupt`` still, so whatever handles Ctrl-C handles this."""


def media_os_error(
    path: object, exc: OSError, *, error: type[MediaError] = MediaError
) -> MediaError:
    """The ``error`` (``MediaError``, or ``VideoError`` for a video) for an ``OSError`` met
    opening a media file at ``path``: what a user can act on (no such file, a folder, the
    file's mode), else the OS's own words."""
    if isinstance(exc, FileNotFoundError):
        return error(MediaErrorCode.NOT_FOUND, f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return error(MediaErrorCode.UNREADABLE, f"{path}: is a directory")
    if isinstance(exc, PermissionError):
        return error(MediaErrorCode.UNREADABLE, f"{path}: permission denied; check the file's mode")
    return error(MediaErrorCode.UNREADABLE, f"{path}: {exc.strerror or exc}")


def import_extra(module: str, *, extra: str, detector: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it (``MissingExtraError``)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(detector, extra, module) from exc
