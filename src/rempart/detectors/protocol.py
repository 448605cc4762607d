"""The detector protocol: what every detector, built-in or a deployment's own, provides.

A detector is anything with a stable ``name``, a ``version``, the ``max_side`` of the pixels it
reads (0 for none), and ``detect(pictures)``, which takes a batch and returns one list of
``Signal`` per picture, in order. Model-backed detectors load their model lazily, once per
process, on the first batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from rempart.detectors.picture import DETECT_MAX_SIDE, Picture
from rempart.signals import ERROR_SIGNAL, Signal

__all__ = ["Detector", "DetectorFactory", "FakeDetector", "error_signal"]


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

    @property
    def max_side(self) -> int | None:
        """The longest side of the pixels it reads (``DETECT_MAX_SIDE`` for most; None: the
        full resolution; 0: none of the shared pixels, as a detector that reads only the
        file's bytes or decodes what it needs itself, like provenance's watermark band).
        A run decodes each image once, at the largest side any of its detectors asks for."""
        ...

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Signals for each picture of the batch, in order."""
        ...


DetectorFactory = Callable[[], Detector]


@dataclass
class FakeDetector:
    """A detector that returns given signals: for tests of what consumes signals.

    ``signals`` maps a picture's ``path`` to its signals; other pictures get none.
    """

    signals: Mapping[str, Sequence[Signal]] = field(default_factory=dict)
    name: str = "fake"
    version: str = "1"
    max_side: int | None = DETECT_MAX_SIDE

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """The signals given for each picture's path."""
        return [list(self.signals.get(picture.path, ())) for picture in pictures]


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
