"""The detector protocol, the ``Picture`` detectors read, and the registry that names them.

A detector is anything with a stable ``name``, a ``version`` and ``detect(pictures)``, which
takes a batch and returns one list of ``Signal`` per picture, in order. Model-backed detectors
load their model lazily, once per process, on the first batch. Built-in detectors register in
``DetectorRegistry`` exactly as a deployment's own would.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rempart.errors import DetectorError, MissingExtraError
from rempart.media import Media
from rempart.signals import ERROR_SIGNAL, Region, Signal

__all__ = [
    "DETECT_MAX_SIDE",
    "Detector",
    "DetectorFactory",
    "DetectorRegistry",
    "FakeDetector",
    "Picture",
    "Registration",
    "error_signal",
    "import_extra",
]

T = TypeVar("T")
RGB = NDArray[np.uint8]

DETECT_MAX_SIDE: Final = 1280
"""Longest side of the pixels detectors see: enough for a face of 80 pixels (the HOG face
detector's smallest) in a 16:1 crowd shot's worth of width, a quarter of a 12 MP photo's cost."""


class Picture:
    """One image as the detectors see it: its ``Media``, and its pixels decoded once.

    Every detector in a run reads the same ``Picture``, so the image is decoded once (a JPEG at
    a reduced DCT scale) however many detectors look at it, and work one detector shares with
    another (the faces found, say) is kept in ``shared``. Regions detectors report are in
    ``media.width`` x ``media.height`` pixels: multiply by ``1 / scale`` from ``pixels()``.
    """

    def __init__(self, media: Media, *, path: str = "") -> None:
        self.media = media
        self.path = path
        self._pixels: RGB | None = None
        self._full: RGB | None = None
        self._shared: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def scale(self) -> float:
        """Width of ``pixels()`` over the image's own width (1.0 when not reduced)."""
        return float(self.pixels().shape[1]) / self.media.width

    def pixels(self) -> RGB:
        """Upright RGB pixels, the long side at most ``DETECT_MAX_SIDE``; decoded on first call.

        Raises ``MediaError`` when the image cannot be decoded (a truncated file, say).
        """
        if self._pixels is None:
            longest = max(self.media.width, self.media.height)
            if longest <= DETECT_MAX_SIDE:
                self._pixels = self.full_pixels()
            else:
                image = self.media.decode(min_side=_min_side_for(self.media))
                image.thumbnail((DETECT_MAX_SIDE, DETECT_MAX_SIDE), Image.Resampling.BILINEAR)
                self._pixels = _rgb(image)
        return self._pixels

    def full_pixels(self) -> RGB:
        """Upright RGB pixels at full resolution (what a watermark decoder needs)."""
        if self._full is None:
            self._full = _rgb(self.media.decode())
        return self._full

    def region(self, box: Region) -> Region:
        """A box in ``pixels()`` coordinates, mapped to the image's own pixels."""
        return box.scaled(1 / self.scale, width=self.media.width, height=self.media.height)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed once per picture and kept under ``key``."""
        with self._lock:
            if key not in self._shared:
                self._shared[key] = compute()
            result: T = self._shared[key]
            return result


def _min_side_for(media: Media) -> int:
    """The short side that leaves the long side at least ``DETECT_MAX_SIDE`` after decoding."""
    longest, shortest = max(media.width, media.height), min(media.width, media.height)
    return max(1, DETECT_MAX_SIDE * shortest // longest)


def _rgb(image: Image.Image) -> RGB:
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


@runtime_checkable
class Detector(Protocol):
    """What every detector provides. ``detect`` returns one signal list per picture, in order.

    Don't raise for one bad picture in a batch: report what could not be read as an error signal
    (``error_signal``) so the rest of the batch keeps its results. Raise ``DetectorError`` only
    when the detector cannot run at all.
    """

    @property
    def name(self) -> str:
        """The stable registry name (``nudity``); signals carry it as ``detector``."""
        ...

    @property
    def version(self) -> str:
        """The model and its version, recorded in every signal."""
        ...

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Signals for each picture of the batch, in order."""
        ...


DetectorFactory = Callable[[], Detector]


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered detector: how to make it, and the optional extra its imports need."""

    factory: DetectorFactory
    extra: str | None = None
    requires: tuple[str, ...] = ()


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
    ) -> None:
        """Add a detector under ``name`` (once); ``requires`` names the modules it imports
        from the optional ``extra``."""
        if name in self.registrations:
            raise ValueError(f"a detector named {name!r} is already registered")
        self.registrations[name] = Registration(factory, extra, tuple(requires))

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
            raise ValueError(
                f"no detector named {name!r}; choose from {', '.join(self.names)}"
            ) from None


@dataclass
class FakeDetector:
    """A detector that returns given signals: for tests of what consumes signals.

    ``signals`` maps a picture's ``path`` to its signals; other pictures get none.
    """

    signals: Mapping[str, Sequence[Signal]] = field(default_factory=dict)
    name: str = "fake"
    version: str = "1"

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """The signals given for each picture's path."""
        return [list(self.signals.get(picture.path, ())) for picture in pictures]


def import_extra(module: str, *, extra: str, detector: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(detector, extra, module) from exc


def error_signal(prefix: str, *, detector: str, version: str, code: str, message: str) -> Signal:
    """A ``<prefix>.error`` signal: the detector could not read this part of the input."""
    return Signal(
        name=f"{prefix}.{ERROR_SIGNAL}",
        score=0.0,
        detector=detector,
        version=version,
        value=code,
        evidence={"code": code, "message": message},
    )


def batched(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise DetectorError(f"batch size must be at least 1, got {size}")
    return (items[start : start + size] for start in range(0, len(items), size))
