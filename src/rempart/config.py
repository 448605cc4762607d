"""Rempart's settings, each declared once: name, environment variable, default and help.

The declaration drives the defaults, validation and the settings table in the docs (a test
checks the docs list every setting). Precedence: defaults < environment < command-line flags.
Unknown ``REMPART_*`` variables are refused with the list of valid ones, so that a typo is
not silently ignored.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rempart import video
from rempart.errors import ConfigError
from rempart.media import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, MediaLimits
from rempart.modelfile import DEFAULT_MAX_HEADER_BYTES

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_RESOLUTION",
    "SETTINGS",
    "Setting",
    "Settings",
    "address_and_port",
    "load_settings",
]

ENV_PREFIX: Final = "REMPART_"
DEFAULT_RESOLUTION: Final = 320
"""Input side of the nudity model: NudeNet's 320n, the model the nudenet package ships."""
DEFAULT_MAX_DISTANCE: Final = 0.6
"""dlib's own face-embedding threshold, at which its model scores 99.38% on LFW."""
DEFAULT_RATE_LIMIT: Final = 100
DEFAULT_MAX_BODY_BYTES: Final = 100 * 1024 * 1024
DEFAULT_DECODE_PIXELS: Final = DEFAULT_MAX_PIXELS
"""One image of the largest size accepted at a time per worker (or several smaller ones): a
150-megapixel decode peaks near 1.5 GB, so a worker stays under about 2 GB."""
DEFAULT_DECODE_WAIT: Final = 2.0
DEFAULT_HEADER_TIMEOUT: Final = 10.0
DEFAULT_BODY_TIMEOUT: Final = 30.0
DEFAULT_DESK_SESSIONS_MINUTES: Final = 30
DEFAULT_DESK_REPORTS_PER_MINUTE: Final = 10
DEFAULT_SMTP_PORT: Final = 587
DEFAULT_SMTP_TIMEOUT: Final = 30.0
DEFAULT_FETCH_MAX_BYTES: Final = 20 * 1024 * 1024
DEFAULT_FETCH_TIMEOUT: Final = 20.0
DEFAULT_RECHECK_HOURS: Final = 6
DEFAULT_EVIDENCE_DAYS: Final = 365
SMTP_SECURITY: Final = ("starttls", "tls", "none")
DEFAULT_INDEX_SNAPSHOT_CHANGES: Final = 100_000
DEFAULT_EXCHANGE_INTERVAL: Final = 3600
"""Seconds between two scheduled fetches of an exchange: hourly."""
ONNX_PROVIDERS: Final = ("auto", "cpu", "cuda")
FACE_DETECTORS: Final = ("retinaface", "dlib")
DEFAULT_RAY_BATCH_SIZE: Final = 8
DEFAULT_GATE_PROMPT_MS: Final = 15
"""CPU milliseconds the gate reads a request's prompt and negative prompt for: under its 20 ms
target (issue 17). The same as ``rempart.text.deadline.DEFAULT_PROMPT_MS``, which the text
layer cannot import from here without the image libraries (a test checks they agree)."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, default and the sentence that explains it; ``minimum`` and
    ``maximum``: the least and the most a whole number may be (None: no most)."""

    name: str
    default: int | float | str
    help: str
    minimum: int = 1
    maximum: int | None = None

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return ENV_PREFIX + self.name.upper()


SETTINGS: Final = (
    Setting("media_max_bytes", DEFAULT_MAX_BYTES, "Largest image file accepted, in bytes."),
    Setting(
        "media_max_pixels",
        DEFAULT_MAX_PIXELS,
        "Most pixels (width x height) in one frame, checked from the header before decoding.",
    ),
    Setting(
        "media_max_frames", DEFAULT_MAX_FRAMES, "Most frames in an animation or pages in a TIFF."
    ),
    Setting("video_max_bytes", video.DEFAULT_MAX_BYTES, "Largest video file accepted, in bytes."),
    Setting(
        "video_max_duration",
        video.DEFAULT_MAX_DURATION,
        "Longest video accepted, in seconds, as declared and as decoded.",
    ),
    Setting(
        "video_max_frames",
        video.DEFAULT_MAX_FRAMES,
        "Most frames in a video, as declared and as decoded.",
    ),
    Setting(
        "video_max_pixels",
        video.DEFAULT_MAX_PIXELS,
        "Most pixels (width x height) in one video frame, declared and decoded.",
    ),
    Setting(
        "video_max_streams",
        video.DEFAULT_MAX_STREAMS,
        "Most streams (video, audio, subtitles) in a video file.",
    ),
    Setting(
        "video_max_decode_seconds",
        video.DEFAULT_MAX_DECODE_SECONDS,
        "Most wall-clock seconds one pass over a video's frames may take.",
    ),
    Setting(
        "model_max_header_bytes",
        DEFAULT_MAX_HEADER_BYTES,
        "Largest model file header read (a safetensors JSON header, a GGUF header, a pickle), "
        "in bytes.",
    ),
    Setting(
        "data_dir",
        "",
        "Folder for Rempart's database and index files "
        "(default: $XDG_DATA_HOME/rempart, else ~/.local/share/rempart).",
    ),
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/rempart "
        "(default: SQLite file rempart.db in the data folder).",
    ),
    Setting(
        "nudity_model",
        "",
        "Path of another NudeNet ONNX export for the nudity detector, e.g. 640m.onnx "
        "(default: the 320n model inside the nudenet package).",
    ),
    Setting(
        "nudity_resolution",
        DEFAULT_RESOLUTION,
        "Input size of the nudity model, in pixels a side (640 for NudeNet's 640m).",
    ),
    Setting(
        "identity_max_distance",
        DEFAULT_MAX_DISTANCE,
        "Largest face-embedding distance at which a face matches a protected person.",
    ),
    Setting(
        "policy",
        "default",
        "Policy the server judges scans and generation requests by: a built-in name "
        "(default, strict, survey, hub) or a YAML file.",
    ),
    Setting(
        "api_rate_limit",
        DEFAULT_RATE_LIMIT,
        "Requests a second one API key may make, unless the key sets its own "
        "(a burst of twice as many is allowed).",
    ),
    Setting(
        "api_max_body_bytes",
        DEFAULT_MAX_BODY_BYTES,
        "Largest request body the server reads, in bytes; a larger one gets 413 unread.",
    ),
    Setting(
        "api_decode_pixels",
        DEFAULT_DECODE_PIXELS,
        "Most pixels one server worker decodes at once, over every request; a request beyond "
        "waits, then gets 503 (an image larger than this is decoded alone).",
    ),
    Setting(
        "api_decode_wait",
        DEFAULT_DECODE_WAIT,
        "Seconds a request waits for pixels to decode before it gets 503 with Retry-After.",
    ),
    Setting(
        "api_header_timeout",
        DEFAULT_HEADER_TIMEOUT,
        "Seconds a client has to send a request's headers; then the connection is closed.",
    ),
    Setting(
        "api_body_timeout",
        DEFAULT_BODY_TIMEOUT,
        "Seconds the server waits for the next part of a body, and after which a body must "
        "arrive at 16 KiB a second or more; else 408.",
    ),
    Setting(
        "gate_prompt_ms",
        DEFAULT_GATE_PROMPT_MS,
        "CPU milliseconds the gate may spend reading a request's prompt and negative prompt; "
        "one not read in full by then goes to review (0: no limit).",
        minimum=0,
    ),
    Setting(
        "desk_key_file",
        "",
        "Key file that seals the desk's notes, victims' words and mandates "
        "(rempart desk init makes it; default: desk.key in the data folder).",
    ),
    Setting(
        "desk_authority",
        "",
        "Authority channel minors' cases are flagged for, e.g. PHAROS or NCMEC "
        "(default: none named).",
    ),
    Setting(
        "desk_sessions_minutes",
        DEFAULT_DESK_SESSIONS_MINUTES,
        "Minutes of inactivity after which a desk page session ends.",
    ),
    Setting(
        "desk_reports_per_minute",
        DEFAULT_DESK_REPORTS_PER_MINUTE,
        "Reports the desk's pages take from one address a minute, in each worker (bursts of "
        "as many): a victim reports freely, a script cannot flood the queue and review banks.",
    ),
    Setting(
        "desk_platforms",
        "",
        "Folder of the deployment's platform profiles (*.yaml), read beside the built-in "
        "jurisdictions and example platform (default: none).",
    ),
    Setting(
        "desk_notifier_name",
        "",
        "Name notices are sent in: the association or service running the desk.",
    ),
    Setting(
        "desk_notifier_email",
        "",
        "E-mail address notices give for replies (DSA Art. 16(2)(c)), and send from by default.",
    ),
    Setting(
        "desk_trusted_flagger",
        "",
        "The Digital Services Coordinator that awarded the deployment trusted flagger status "
        "under DSA Art. 22, e.g. Arcom (default: not a trusted flagger).",
    ),
    Setting(
        "desk_dsa_hours",
        0,
        "Hours the deployment gives a platform under the DSA's 'without undue delay' "
        "(0: 24 for a trusted flagger, else 72).",
        minimum=0,
        maximum=24 * 366,  # a year, as a jurisdiction's hours: a due time stays in the calendar
    ),
    Setting(
        "desk_regulator",
        "Arcom",
        "Digital Services Coordinator a notice is escalated to when a platform does not act.",
    ),
    Setting(
        "desk_timezone",
        "UTC",
        "Time zone the desk shows times in (notices, due dates, the victim's page), "
        "e.g. Europe/Paris.",
    ),
    Setting(
        "desk_url",
        "",
        "Public address the desk is served under, e.g. https://desk.example.org (its pages at "
        "/desk): the only one victims' mails link to (default: none: news mails carry no "
        "link, and a lost secret cannot be reset by mail).",
    ),
    Setting(
        "desk_fetch_allow",
        "",
        "Addresses the desk may fetch though private, loopback or link-local, comma-separated: "
        "IP, IP/prefix or IP:port (default: none).",
    ),
    Setting(
        "desk_fetch_max_bytes",
        DEFAULT_FETCH_MAX_BYTES,
        "Largest body the desk reads from one URL (a page, or one image it embeds), in bytes.",
    ),
    Setting(
        "desk_fetch_timeout",
        DEFAULT_FETCH_TIMEOUT,
        "Seconds a fetched URL has to answer in full, redirects included.",
    ),
    Setting(
        "desk_recheck_hours",
        DEFAULT_RECHECK_HOURS,
        "Hours between two checks of a notified URL (rempart desk recheck, and serve --desk's "
        "thread; 0: serve --desk does not re-check).",
        minimum=0,
    ),
    Setting(
        "desk_evidence_days",
        DEFAULT_EVIDENCE_DAYS,
        "Days a capture is kept after its case closes, unless a reviewer holds it.",
    ),
    Setting(
        "desk_tsa_url",
        "",
        "RFC 3161 timestamp authority a capture's SHA-256 is sent to (default: none, no "
        "timestamp).",
    ),
    Setting(
        "smtp_host",
        "",
        "Mail server notices and victims' news are sent through (default: none; notices are "
        "then recorded by hand).",
    ),
    Setting("smtp_port", DEFAULT_SMTP_PORT, "Mail server's port.", maximum=65535),
    Setting(
        "smtp_security",
        "starttls",
        "How the mail connection is secured: starttls, tls, or none (none only to a loopback "
        "server).",
    ),
    Setting("smtp_user", "", "User name for the mail server (default: no authentication)."),
    Setting(
        "smtp_password_file",
        "",
        "File holding the mail server's password (never an environment variable, never logged).",
    ),
    Setting(
        "smtp_from",
        "",
        "Sender address of notices and news (default: REMPART_DESK_NOTIFIER_EMAIL).",
    ),
    Setting("smtp_timeout", DEFAULT_SMTP_TIMEOUT, "Seconds a mail server has to answer."),
    Setting(
        "follow_seconds",
        1.0,
        "Seconds between two reads of the database's change logs (banks, keys, persons) by a "
        "server or other long-running process; on PostgreSQL a notification wakes it sooner.",
    ),
    Setting(
        "follow_notify",
        1,
        "1: on PostgreSQL, wake at once on each committed change (LISTEN/NOTIFY) instead of "
        "at the next read; 0: read every REMPART_FOLLOW_SECONDS only.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "index_snapshots",
        1,
        "1: a server starts its match index from a snapshot in the data folder and rewrites "
        "it in the background; 0: it reads every entry from the database at each start.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "hma_compat",
        0,
        "1: the server also answers HMA 2.x's API at its own paths (/m, /h, /c), behind "
        "Rempart's API keys (rempart serve --hma-compat); 0: those paths are 404.",
        minimum=0,
        maximum=1,
    ),
    Setting(
        "index_snapshot_changes",
        DEFAULT_INDEX_SNAPSHOT_CHANGES,
        "Bank changes applied since the last index snapshot after which a new one is written.",
    ),
    Setting(
        "exchange_interval",
        DEFAULT_EXCHANGE_INTERVAL,
        "Seconds between two fetches of each enabled exchange (StopNCII, NCMEC, ...) by "
        "rempart serve, one process of the deployment fetching; 0: serve does not fetch.",
        minimum=0,
    ),
    Setting(
        "onnx_provider",
        "auto",
        "ONNX Runtime's execution provider: auto (CUDA where the installed onnxruntime has it, "
        "else CPU), cpu, or cuda (refused before any work where there is none).",
    ),
    Setting(
        "face_detector",
        "retinaface",
        "What finds faces for the faces and identity detectors: retinaface (in ONNX Runtime, "
        "CPU or CUDA) or dlib (its HOG detector, frontal faces of 80 pixels and more).",
    ),
    Setting(
        "ray_address",
        "",
        "Ray cluster rempart scan --engine ray joins: auto, or ray://HOST:PORT (default: "
        "RAY_ADDRESS, else a Ray started on this machine).",
    ),
    Setting(
        "ray_actors",
        0,
        "Actors judging images under --engine ray (default 0: one per CPU of the cluster, one "
        "per GPU with --gpu).",
        minimum=0,
    ),
    Setting("ray_batch_size", DEFAULT_RAY_BATCH_SIZE, "Images an actor judges in one batch."),
)
# Longest authority name a case records (desk_cases.authority).
_MAX_AUTHORITY: Final = 32


@dataclass(frozen=True, slots=True)
class Settings:
    """Rempart's configuration, resolved and validated."""

    media: MediaLimits
    data_dir: Path
    database_url: str
    video: video.VideoLimits = video.DEFAULT_LIMITS
    model_max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    nudity_model: Path | None = None
    nudity_resolution: int = DEFAULT_RESOLUTION
    identity_max_distance: float = DEFAULT_MAX_DISTANCE
    policy: str = "default"
    api_rate_limit: int = DEFAULT_RATE_LIMIT
    api_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    api_decode_pixels: int = DEFAULT_DECODE_PIXELS
    api_decode_wait: float = DEFAULT_DECODE_WAIT
    api_header_timeout: float = DEFAULT_HEADER_TIMEOUT
    api_body_timeout: float = DEFAULT_BODY_TIMEOUT
    gate_prompt_ms: int = DEFAULT_GATE_PROMPT_MS
    desk_key_file: Path | None = None
    desk_authority: str = ""
    desk_sessions_minutes: int = DEFAULT_DESK_SESSIONS_MINUTES
    desk_reports_per_minute: int = DEFAULT_DESK_REPORTS_PER_MINUTE
    desk_platforms: Path | None = None
    desk_notifier_name: str = ""
    desk_notifier_email: str = ""
    desk_trusted_flagger: str = ""
    desk_dsa_hours: int = 0
    desk_regulator: str = "Arcom"
    desk_timezone: str = "UTC"
    desk_url: str = ""
    desk_fetch_allow: tuple[str, ...] = ()
    desk_fetch_max_bytes: int = DEFAULT_FETCH_MAX_BYTES
    desk_fetch_timeout: float = DEFAULT_FETCH_TIMEOUT
    desk_recheck_hours: int = DEFAULT_RECHECK_HOURS
    desk_evidence_days: int = DEFAULT_EVIDENCE_DAYS
    desk_tsa_url: str = ""
    smtp_host: str = ""
    smtp_port: int = DEFAULT_SMTP_PORT
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password_file: Path | None = None
    smtp_from: str = ""
    smtp_timeout: float = DEFAULT_SMTP_TIMEOUT
    follow_seconds: float = 1.0
    follow_notify: bool = True
    index_snapshots: bool = True
    hma_compat: bool = False
    index_snapshot_changes: int = DEFAULT_INDEX_SNAPSHOT_CHANGES
    exchange_interval: int = DEFAULT_EXCHANGE_INTERVAL
    onnx_provider: str = "auto"
    face_detector: str = "retinaface"
    ray_address: str = ""
    ray_actors: int = 0
    ray_batch_size: int = DEFAULT_RAY_BATCH_SIZE

    @property
    def dsa_hours(self) -> int:
        """Hours a platform has under the DSA: the setting, else 24 for a trusted flagger and
        72 otherwise."""
        if self.desk_dsa_hours:
            return self.desk_dsa_hours
        return 24 if self.desk_trusted_flagger else 72


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Resolve settings from an environment mapping (pass ``os.environ``), validating each."""
    known = {setting.env: setting for setting in SETTINGS}
    for key in environ:
        if key.startswith(ENV_PREFIX) and key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(
                f"unknown setting {key}{hint}; valid settings: {', '.join(sorted(known))}"
            )
    values = {setting.name: _parse(setting, environ.get(setting.env)) for setting in SETTINGS}
    data_dir = Path(str(values["data_dir"]) or _default_data_dir(environ)).expanduser()
    authority = str(values["desk_authority"])
    if len(authority) > _MAX_AUTHORITY:
        raise ConfigError(
            f"REMPART_DESK_AUTHORITY is at most {_MAX_AUTHORITY} characters, got {len(authority)}"
        )
    return Settings(
        media=MediaLimits(
            max_bytes=int(values["media_max_bytes"]),
            max_pixels=int(values["media_max_pixels"]),
            max_frames=int(values["media_max_frames"]),
        ),
        video=video.VideoLimits(
            max_bytes=int(values["video_max_bytes"]),
            max_duration=float(values["video_max_duration"]),
            max_frames=int(values["video_max_frames"]),
            max_pixels=int(values["video_max_pixels"]),
            max_streams=int(values["video_max_streams"]),
            max_decode_seconds=float(values["video_max_decode_seconds"]),
        ),
        data_dir=data_dir,
        model_max_header_bytes=int(values["model_max_header_bytes"]),
        database_url=str(values["database_url"]) or f"sqlite:///{data_dir / 'rempart.db'}",
        nudity_model=Path(str(values["nudity_model"])).expanduser()
        if values["nudity_model"]
        else None,
        nudity_resolution=int(values["nudity_resolution"]),
        identity_max_distance=float(values["identity_max_distance"]),
        policy=str(values["policy"]) or "default",
        api_rate_limit=int(values["api_rate_limit"]),
        api_max_body_bytes=int(values["api_max_body_bytes"]),
        api_decode_pixels=int(values["api_decode_pixels"]),
        api_decode_wait=float(values["api_decode_wait"]),
        api_header_timeout=float(values["api_header_timeout"]),
        api_body_timeout=float(values["api_body_timeout"]),
        gate_prompt_ms=int(values["gate_prompt_ms"]),
        desk_key_file=Path(str(values["desk_key_file"]) or data_dir / "desk.key").expanduser(),
        desk_authority=authority,
        desk_sessions_minutes=int(values["desk_sessions_minutes"]),
        desk_reports_per_minute=int(values["desk_reports_per_minute"]),
        desk_platforms=_optional_path(values["desk_platforms"]),
        desk_notifier_name=str(values["desk_notifier_name"]),
        desk_notifier_email=_notifier_email(str(values["desk_notifier_email"]).strip()),
        desk_trusted_flagger=str(values["desk_trusted_flagger"]),
        desk_dsa_hours=int(values["desk_dsa_hours"]),
        desk_regulator=str(values["desk_regulator"]) or "Arcom",
        desk_timezone=_timezone(str(values["desk_timezone"]) or "UTC"),
        desk_url=_desk_url(str(values["desk_url"])),
        desk_fetch_allow=_fetch_allow(str(values["desk_fetch_allow"])),
        desk_fetch_max_bytes=int(values["desk_fetch_max_bytes"]),
        desk_fetch_timeout=float(values["desk_fetch_timeout"]),
        desk_recheck_hours=int(values["desk_recheck_hours"]),
        desk_evidence_days=int(values["desk_evidence_days"]),
        desk_tsa_url=_tsa_url(str(values["desk_tsa_url"])),
        smtp_host=str(values["smtp_host"]),
        smtp_port=int(values["smtp_port"]),
        smtp_security=_one_of(
            "smtp_security", str(values["smtp_security"]) or "starttls", SMTP_SECURITY
        ),
        smtp_user=str(values["smtp_user"]),
        smtp_password_file=_optional_path(values["smtp_password_file"]),
        smtp_from=str(values["smtp_from"]),
        smtp_timeout=float(values["smtp_timeout"]),
        follow_seconds=float(values["follow_seconds"]),
        follow_notify=bool(values["follow_notify"]),
        index_snapshots=bool(values["index_snapshots"]),
        hma_compat=bool(values["hma_compat"]),
        index_snapshot_changes=int(values["index_snapshot_changes"]),
        exchange_interval=int(values["exchange_interval"]),
        onnx_provider=_one_of(
            "onnx_provider", str(values["onnx_provider"]) or "auto", ONNX_PROVIDERS
        ),
        face_detector=_one_of(
            "face_detector", str(values["face_detector"]) or "retinaface", FACE_DETECTORS
        ),
        ray_address=str(values["ray_address"]),
        ray_actors=int(values["ray_actors"]),
        ray_batch_size=int(values["ray_batch_size"]),
    )


def _optional_path(value: int | float | str) -> Path | None:
    return Path(str(value)).expanduser() if value else None


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(
            f"REMPART_DESK_TIMEZONE={name!r} is not a time zone (e.g. UTC, Europe/Paris)"
        ) from None
    return name


# One plain address: no display name, no list, nothing a mail header would read as more.
_PLAIN_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)


def _notifier_email(value: str) -> str:
    """The notifier's address, which every notice names and replies go to (``Reply-To``):
    one plain e-mail address, or nothing."""
    if value and (len(value) > 254 or not _PLAIN_ADDRESS.fullmatch(value)):
        raise ConfigError(
            f"REMPART_DESK_NOTIFIER_EMAIL={value[:80]!r} is not one e-mail address such as "
            "notices@association.example"
        )
    return value


def _desk_url(value: str) -> str:
    """The desk's address as links write it: https, or http to a loopback host only (a
    victim's link must not cross a network in clear)."""
    parts = urlsplit(value.rstrip("/"))
    if not value:
        return ""
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
    if (
        not parts.hostname
        or parts.query
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    ):
        raise ConfigError(
            f"REMPART_DESK_URL={value!r} is not the desk's address: https://HOST[:PORT][/PATH] "
            "(http only to a loopback host)"
        )
    return value.rstrip("/")


def _fetch_allow(value: str) -> tuple[str, ...]:
    """The addresses a desk fetch may reach though not public: each an IP address, a network
    (``10.0.0.0/8``) or an address and port (``127.0.0.1:8080``, ``[::1]:8080``), never a
    host name (the check is made on the address a name resolves to)."""
    entries = tuple(entry.strip() for entry in value.split(",") if entry.strip())
    for entry in entries:
        address, port = address_and_port(entry)
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            address = ""
        if not address or (port is not None and not 0 < port < 65536):
            raise ConfigError(
                f"REMPART_DESK_FETCH_ALLOW entry {entry[:80]!r} is not an IP address, a network "
                "(10.0.0.0/8) or an address and port (127.0.0.1:8080, [::1]:8080)"
            )
    return entries


def address_and_port(entry: str) -> tuple[str, int | None]:
    """``[::1]:8080`` or ``127.0.0.1:8080`` as (address, port); an address alone as
    (address, None); a port that is not a number as port -1."""
    if entry.startswith("["):
        address, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
    elif entry.count(":") == 1:
        address, _, port = entry.partition(":")
    else:
        return entry, None
    return address, int(port) if port.isdigit() else -1


def _tsa_url(value: str) -> str:
    parts = urlsplit(value)
    if value and (parts.scheme not in {"http", "https"} or not parts.hostname):
        raise ConfigError(f"REMPART_DESK_TSA_URL={value[:80]!r} is not an http(s) address")
    return value


def _one_of(name: str, value: str, choices: Sequence[str]) -> str:
    """``value``, or ``ConfigError`` naming the setting when it is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"REMPART_{name.upper()}={value!r} is not one of {', '.join(choices)}")
    return value


def _default_data_dir(environ: Mapping[str, str]) -> str:
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")) / ".local/share")
    return str(Path(base) / "rempart")


def _parse(setting: Setting, raw: str | None) -> int | float | str:
    if raw is None:
        return setting.default
    if isinstance(setting.default, str):
        return raw.strip()
    if isinstance(setting.default, float):
        try:
            number = float(raw)
        except ValueError:
            raise ConfigError(f"{setting.env}={raw!r} is not a number ({setting.help})") from None
        if not 0 < number < float("inf"):
            raise ConfigError(f"{setting.env}={raw!r} must be above 0 ({setting.help})")
        return number
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{setting.env}={raw!r} is not a whole number ({setting.help})") from None
    if value < setting.minimum:
        raise ConfigError(
            f"{setting.env}={raw!r} must be at least {setting.minimum} ({setting.help})"
        )
    if setting.maximum is not None and value > setting.maximum:
        raise ConfigError(
            f"{setting.env}={raw!r} must be at most {setting.maximum} ({setting.help})"
        )
    return value
