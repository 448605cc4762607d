"""Choosing detectors and banks on the command line: ``--detector`` and the defaults, shared
by ``rempart signals``, ``rempart scan`` and ``rempart guard``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

import typer

from rempart.banks import BankMatcher
from rempart.cli.exit_codes import ExitCode, exit_with, reported_errors
from rempart.cli.registry import stored_gallery
from rempart.config import Settings
from rempart.detectors import Detector, default_registry
from rempart.store import Store, database_exists

__all__ = ["DetectorOption", "bank_matcher", "choose_detectors"]

DetectorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--detector",
        "-d",
        help="Run this detector (repeatable) [default: every one whose extra is installed].",
    ),
]


def choose_detectors(
    settings: Settings, names: list[str] | None, *, leave_out: Collection[str] = ()
) -> list[Detector]:
    """The detectors asked for; by default every one whose extra is installed (less
    ``leave_out``), saying which were left out and how to add them."""
    registry = default_registry(settings, gallery=lambda: stored_gallery(settings))
    chosen = []
    for name in names or [name for name in registry.names if name not in leave_out]:
        try:
            missing = registry.missing(name)
        except ValueError as exc:
            exit_with(str(exc), ExitCode.USAGE)
        if missing is not None:
            if names:
                exit_with(str(missing), ExitCode.USAGE)
            typer.echo(f"Skipping {name}: {missing}", err=True)
            continue
        chosen.append(registry.create(name))
    return chosen


def bank_matcher(settings: Settings, names: list[str] | None) -> BankMatcher | None:
    """The banks to match (by default all); none, without creating a database, when there is
    none yet."""
    if names is None and not database_exists(settings.database_url):
        return None
    with reported_errors():
        return BankMatcher(Store.from_settings(settings), names)
