"""``AuditResult``: one model file's record, as the audit writes it and the API answers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rempart.modelfile import ModelFile
from rempart.policy import Verdict
from rempart.signals import Signal
from rempart.walk import path_fields

__all__ = ["AuditResult"]


@dataclass(frozen=True, slots=True)
class AuditResult:
    """A model file's format, size, fingerprint, signals and verdict. ``thumbnail`` is always
    None: an audit's report shows no image, but the scan's job reads the field."""

    path: str
    model: ModelFile
    signals: list[Signal]
    verdict: Verdict
    thumbnail: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"path", "format", "bytes", "fingerprint", "verdict", "signals", "warnings"}``."""
        return {
            **path_fields(self.path),
            "format": self.model.format.value,
            "bytes": self.model.size,
            "fingerprint": self.model.fingerprint,
            "verdict": self.verdict.to_json(),
            "signals": [signal.to_json() for signal in self.signals],
            "warnings": list(self.model.warnings),
        }

    def to_api_json(self) -> dict[str, Any]:
        """The record without what names the uploader's file: no path, no fingerprint."""
        record = self.to_json()
        for key in ("path", "path_bytes", "fingerprint"):
            record.pop(key, None)
        return record
