"""What a ``rempart`` command's exit status means, and the errors every command maps."""

from __future__ import annotations

import os
from enum import IntEnum

import typer

from rempart.config import Settings, load_settings
from rempart.errors import ConfigError

__all__ = ["ExitCode", "settings_or_exit"]


class ExitCode(IntEnum):
    """Exit statuses shared by every command."""

    OK = 0
    SOME_FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


def settings_or_exit() -> Settings:
    """The settings from the environment, or a clear message and exit status 2."""
    try:
        return load_settings(os.environ)
    except ConfigError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from exc
