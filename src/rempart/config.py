"""Rempart's settings, each declared once: name, environment variable, default and help.

The declaration drives the defaults, validation and the settings table in the docs (a test
checks the docs list every setting). Precedence: defaults < environment < command-line flags.
Unknown ``REMPART_*`` variables are refused with the list of valid ones, so that a typo is
not silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from rempart.errors import ConfigError
from rempart.media import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, MediaLimits

__all__ = ["SETTINGS", "Setting", "Settings", "load_settings"]

ENV_PREFIX: Final = "REMPART_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, default and the sentence that explains it."""

    name: str
    default: int
    help: str

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
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Rempart's configuration, resolved and validated."""

    media: MediaLimits


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
    return Settings(
        media=MediaLimits(
            max_bytes=values["media_max_bytes"],
            max_pixels=values["media_max_pixels"],
            max_frames=values["media_max_frames"],
        )
    )


def _parse(setting: Setting, raw: str | None) -> int:
    if raw is None:
        return setting.default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{setting.env}={raw!r} is not a whole number ({setting.help})") from None
    if value < 1:
        raise ConfigError(f"{setting.env}={raw!r} must be at least 1 ({setting.help})")
    return value
