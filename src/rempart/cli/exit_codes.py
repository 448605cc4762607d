"""What a ``rempart`` command's exit status means, and the errors every command maps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import NoReturn

import typer

from rempart.config import Settings, load_settings
from rempart.errors import ConfigError

__all__ = ["ExitCode", "exit_with", "reported_errors", "settings_or_exit"]


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


def exit_with(message: str, code: ExitCode) -> NoReturn:
    """Print ``Error: message`` on standard error and exit with ``code``."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn Rempart's errors into a message and an exit status: bad input data exits 1,
    anything about the request or the configuration (no such bank, no database, a detector's
    missing extra) exits 2."""
    from rempart.banks import BankError, ImportLineError
    from rempart.errors import DetectorError
    from rempart.index import IndexFileError
    from rempart.keys import ApiKeyError
    from rempart.persons import PersonsError
    from rempart.store import StoreError

    try:
        yield
    except ImportLineError as exc:
        exit_with(f"nothing imported: {exc}", ExitCode.SOME_FAILED)
    except (
        BankError,
        StoreError,
        IndexFileError,
        ConfigError,
        DetectorError,
        PersonsError,
        ApiKeyError,
    ) as exc:
        exit_with(str(exc), ExitCode.USAGE)
