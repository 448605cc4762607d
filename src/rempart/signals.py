"""``Signal``: the one type every detector and analyser returns, and every policy reads.

A signal says what was seen (a dotted ``name`` such as ``nudity.exposed.breast_f``,
``face.minor``, ``identity.match`` or ``provenance.c2pa.ai_generated``), how sure the detector
is (``score`` in [0, 1]), optionally a ``value`` (an age, a person's name, a generator) and a
``region`` of the image, the ``evidence`` behind it, and which detector and version said so.
Policies read signals, never detector internals, so a detector can be replaced without
touching a rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["ERROR_SIGNAL", "Region", "Signal", "SignalValue"]

NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
ERROR_SIGNAL: Final = "error"
"""Last part of the name of a signal that reports a detector could not read something (score 0,
``evidence`` holds ``code`` and ``message``): ``provenance.c2pa.error``, for one."""

SignalValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Region:
    """A box in the upright image's pixels: left, top, width and height."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 0 or self.height < 0:
            raise ValueError(f"a region cannot have a negative size: {self.width}x{self.height}")

    def to_json(self) -> list[int]:
        """``[x, y, width, height]``."""
        return [self.x, self.y, self.width, self.height]

    def scaled(self, factor: float, *, width: int, height: int) -> Region:
        """This box multiplied by ``factor`` and clipped to a ``width`` x ``height`` image."""
        left = min(max(round(self.x * factor), 0), width)
        top = min(max(round(self.y * factor), 0), height)
        right = min(max(round((self.x + self.width) * factor), left), width)
        bottom = min(max(round((self.y + self.height) * factor), top), height)
        return Region(left, top, right - left, bottom - top)


@dataclass(frozen=True, slots=True)
class Signal:
    """One thing a detector saw in an image.

    Attributes:
        name: dotted, lowercase, most general part first (``nudity.exposed.buttocks``).
        score: the detector's confidence in [0, 1]; how a policy weighs it is the policy's call.
        detector: the registry name of the detector that produced it (``nudity``).
        version: the detector's model and version, so a verdict can be reproduced.
        value: what was measured, when there is one (an apparent age, a person's name).
        region: where in the image, in the upright image's pixels, when it is a place.
        evidence: what produced the signal (matched codes, distances, a prompt), JSON-ready.
    """

    name: str
    score: float
    detector: str
    version: str
    value: SignalValue = None
    region: Region | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(
                f"signal name {self.name!r} must be dotted lowercase words, like 'face.minor'"
            )
        if not (isinstance(self.score, int | float) and math.isfinite(self.score)):
            raise ValueError(f"signal {self.name}: score {self.score!r} is not a finite number")
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"signal {self.name}: score {self.score} is outside [0, 1]")

    @property
    def is_error(self) -> bool:
        """Whether this signal reports that its detector could not read part of the input."""
        return self.name.rsplit(".", 1)[-1] == ERROR_SIGNAL

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``rempart signals`` prints; absent fields are left out."""
        record: dict[str, Any] = {"name": self.name, "score": round(float(self.score), 4)}
        if self.value is not None:
            record["value"] = self.value
        if self.region is not None:
            record["region"] = self.region.to_json()
        if self.evidence:
            record["evidence"] = dict(self.evidence)
        record["detector"] = self.detector
        record["version"] = self.version
        return record
