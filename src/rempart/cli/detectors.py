"""Choosing detectors on the command line: ``--detector`` and the defaults, shared by
``rempart signals`` and ``rempart scan``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

import typer

from rempart.cli.exit_codes import ExitCode, exit_with
from rempart.cli.registry import stored_gallery
from rempart.config import Settings
from rempart.detectors import Detector, default_registry

__all__ = ["DetectorOption", "choose_detectors"]

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
