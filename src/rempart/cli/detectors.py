"""Choosing detectors and banks on the command line: ``--detector`` and the defaults, shared
by ``rempart signals``, ``rempart scan`` and ``rempart gate``."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.detectors import DetectorRegistry
    from rempart.gallery import Gallery
    from rempart.matching.banks import BankMatcher

__all__ = ["DetectorOption", "bank_matcher", "choose_detectors", "detector_registry"]

DetectorOption = Annotated[
    list[str] | None,
    typer.Option(
        "--detector",
        "-d",
        metavar="NAME",
        help="Run this detector (repeatable) [default: every one whose extra is installed].",
    ),
]


def detector_registry(
    settings: Settings, *, gallery: Callable[[], Gallery] | None = None
) -> DetectorRegistry:
    """The command's one registry: the built-in detectors and every installed plugin, the
    identity detector matching ``gallery`` (by default the persons enrolled, read once, when
    first needed)."""
    from rempart.detectors import default_registry
    from rempart.persons import PersonsSnapshot

    return default_registry(
        settings, gallery=gallery or PersonsSnapshot(settings.database_url).gallery
    )


def choose_detectors(
    registry: DetectorRegistry, names: list[str] | None, *, leave_out: Collection[str] = ()
) -> list[str]:
    """The detectors asked for (``MissingExtraError`` for one whose extra is not installed);
    by default every one whose extra is, less ``leave_out``, saying which were left out and
    how to add them."""
    if names:
        for name in names:
            missing = registry.missing(name)
            if missing is not None:
                raise missing
        return names
    for name in registry.names:
        missing = None if name in leave_out else registry.missing(name)
        if missing is not None:
            typer.echo(f"Skipping {name}: {missing}", err=True)
    return registry.installed(leave_out=leave_out)


def bank_matcher(settings: Settings, names: list[str] | None) -> BankMatcher | None:
    """The banks to match (by default all); none, without creating a database, when there is
    none yet."""
    from rempart.matching.banks import BankMatcher
    from rempart.store import Store, database_exists

    if names is None and not database_exists(settings.database_url):
        return None
    return BankMatcher(Store.open(settings.database_url), names)
