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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
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
    "batched",
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

    Every detector in a run reads the same ``Picture``. The image is decoded once, at the
    largest size any of them needs (``decode_side``; a JPEG at a reduced DCT scale), and each
    detector takes it at its own size (``pixels(max_side)``), resized from that one decode.
    Work one detector shares with another (the faces found, say) is kept in ``shared``.
    Regions detectors report are in the image's own pixels: map boxes with ``region``.
    """

    def __init__(
        self, media: Media, *, path: str = "", decode_side: int | None = DETECT_MAX_SIDE
    ) -> None:
        self.media = media
        self.path = path
        self.decode_side = decode_side
        self._done: dict[object, Any] = {}
        self._locks: dict[object, threading.Lock] = {}
        self._lock = threading.Lock()

    def pixels(self, max_side: int | None = DETECT_MAX_SIDE) -> RGB:
        """Upright RGB pixels, the long side at most ``max_side`` (None: full resolution).

        Raises ``MediaError`` when the image cannot be decoded (a truncated file, say).
        """
        side = self._side(max_side)
        pixels: RGB = self._once(("pixels", side), lambda: self._decode(side))
        return pixels

    def full_pixels(self) -> RGB:
        """Upright RGB pixels at full resolution (what a watermark decoder needs)."""
        return self.pixels(None)

    def region(self, box: Region, pixels: RGB) -> Region:
        """A box in ``pixels`` (from ``pixels()``) mapped to the image's own pixels."""
        scale = self.media.width / pixels.shape[1]
        return box.scaled(scale, width=self.media.width, height=self.media.height)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed once per picture and kept under ``key``."""
        return self._once(("shared", key), compute)

    def _once(self, key: object, compute: Callable[[], T]) -> T:
        """Compute once per key; other keys go on meanwhile (one detector finding faces does
        not hold up another reading pixels)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._done:
                self._done[key] = compute()
            result: T = self._done[key]
            return result

    def _side(self, max_side: int | None) -> int | None:
        longest = max(self.media.width, self.media.height)
        return None if max_side is None or max_side >= longest else max_side

    def _decode(self, side: int | None) -> RGB:
        base = self.decoded()
        largest = max(base.shape[:2])
        wanted = max(self.media.width, self.media.height) if side is None else side
        if wanted < largest:
            image = Image.fromarray(base)  # resize the one decode
            image.thumbnail((wanted, wanted), Image.Resampling.BILINEAR)
            return _rgb(image)
        if wanted == largest:
            return base
        # Larger than any detector declared (decode_side): a decode of its own.
        return _rgb(self.media.decode(min_side=self._min_side(side)))

    def decoded(self) -> RGB:
        """The one decode, before any resizing: upright RGB, a JPEG at the smallest DCT scale
        that still gives ``decode_side`` pixels on the long side (hashes read this)."""
        return self._once("decoded", self._decode_once)

    def _decode_once(self) -> RGB:
        return _rgb(self.media.decode(min_side=self._min_side(self._side(self.decode_side))))

    def _min_side(self, side: int | None) -> int | None:
        """The short side that gives a long side of ``side`` (None: full resolution)."""
        if side is None:
            return None
        shortest = min(self.media.width, self.media.height)
        return max(1, side * shortest // max(self.media.width, self.media.height))


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


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive runs of at most ``size`` items, taken lazily from any iterable."""
    if size < 1:
        raise DetectorError(f"batch size must be at least 1, got {size}")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
