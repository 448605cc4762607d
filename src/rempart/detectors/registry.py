"""``DetectorRegistry``: detectors by name, the built-in ones and a deployment's own.

Factories, not instances, are registered, so that listing the names imports no model code. A
deployment's detector is an installed package that declares an entry point in the group
``rempart.detectors``: its name is the detector's, its object a callable that takes no
arguments and returns a ``Detector`` (the class itself, usually)::

    [project.entry-points."rempart.detectors"]
    tattoo = "acme_tattoo:TattooDetector"

``rempart scan``, ``rempart gate`` and ``rempart serve`` all build one registry with
``load_entry_points`` and so see it alike.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Final

from rempart.detectors.protocol import Detector, DetectorFactory
from rempart.errors import DetectorError, MissingExtraError

__all__ = ["ENTRY_POINT_GROUP", "DetectorRegistry", "Registration"]

ENTRY_POINT_GROUP: Final = "rempart.detectors"
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered detector: how to make it, and the optional extra its imports need."""

    factory: DetectorFactory
    extra: str | None = None
    requires: tuple[str, ...] = ()
    plugin: bool = False
    """Registered from an entry point (a deployment's own), not built in."""


@dataclass
class DetectorRegistry:
    """Detectors by name: the built-in ones and any a deployment adds.

    Factories, not instances, are registered, so that listing the names imports no model code;
    ``missing`` tells, without importing anything, which detectors lack their extra.
    """

    registrations: dict[str, Registration] = field(default_factory=dict)

    def register(
        self,
        name: str,
        factory: DetectorFactory,
        *,
        extra: str | None = None,
        requires: Sequence[str] = (),
        plugin: bool = False,
    ) -> None:
        """Add a detector under ``name`` (once); ``requires`` names the modules it imports
        from the optional ``extra``."""
        if name in self.registrations:
            raise ValueError(f"a detector named {name!r} is already registered")
        self.registrations[name] = Registration(factory, extra, tuple(requires), plugin)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Register every installed package's detector (entry points in ``group``); one whose
        name a detector already has is left out, with a warning."""
        for point in entry_points(group=group):
            if point.name in self.registrations:
                _LOG.warning("detector %r from %s left out: the name is taken", point.name, point)
                continue
            self.register(point.name, _plugin_factory(point), plugin=True)

    def missing(self, name: str) -> MissingExtraError | None:
        """The error that says which extra to install, when ``name`` lacks one of its modules."""
        registration = self._registration(name)
        for module in registration.requires:
            if importlib.util.find_spec(module) is None:
                return MissingExtraError(name, registration.extra or name, module)
        return None

    @property
    def names(self) -> list[str]:
        """Every registered name, in registration order."""
        return list(self.registrations)

    @property
    def plugins(self) -> list[str]:
        """The names registered from entry points."""
        return [name for name, found in self.registrations.items() if found.plugin]

    def installed(self, *, leave_out: Collection[str] = ()) -> list[str]:
        """The names whose extras are installed, in registration order, less ``leave_out``."""
        return [n for n in self.names if n not in leave_out and self.missing(n) is None]

    def create_all(self, names: Sequence[str]) -> list[Detector]:
        """A new detector of each name."""
        return [self.create(name) for name in names]

    def create(self, name: str) -> Detector:
        """A new detector; ``ValueError`` listing the valid names for an unknown one, and
        ``MissingExtraError`` when its extra is not installed."""
        registration = self._registration(name)
        missing = self.missing(name)
        if missing is not None:
            raise missing
        return registration.factory()

    def _registration(self, name: str) -> Registration:
        try:
            return self.registrations[name]
        except KeyError:
            raise DetectorError(
                f"no detector named {name!r}; choose from {', '.join(self.names)}"
            ) from None


def _plugin_factory(point: EntryPoint) -> DetectorFactory:
    """A factory that imports the entry point's object when the detector is made, so that
    listing names imports no plugin code, and that says which package failed."""

    def create() -> Detector:
        try:
            factory = point.load()
            detector = factory()
        except Exception as exc:  # a plugin's own failure, reported as a detector that cannot run
            raise DetectorError(f"the {point.name} detector ({point.value}) failed: {exc}") from exc
        if not isinstance(detector, Detector):
            raise DetectorError(
                f"the {point.name} detector ({point.value}) is not a Detector: it needs "
                "name, version, max_side and detect(pictures)"
            )
        return detector

    return create
