"""``KnownModels``: the models an earlier audit blocked, by fingerprint, so that every
re-upload of one (renamed, its metadata stripped) is found as a copy (``model.copy``).

Fingerprints compare only within one scheme: ``s1:`` (sampled) with ``s1:``, ``f1:`` (every
byte) with ``f1:``; an output of one scheme finds no copy in a run of the other.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rempart.errors import ScanOutputError
from rempart.policy import Action
from rempart.scan.fingerprint import HEADER_KEY
from rempart.scan.output import json_record

__all__ = ["KnownModel", "KnownModels"]

_KIND: Final = "an audit record"
_THEN: Final = "give an audit's output"


@dataclass(frozen=True, slots=True)
class KnownModel:
    """A blocked model of an earlier audit: where it was, and its verdict's categories."""

    path: str
    categories: tuple[str, ...]


class KnownModels:
    """Fingerprints of blocked models, each with its ``KnownModel``; ``digest`` names the
    file they were read from (a run's fingerprint records it)."""

    def __init__(self, models: Mapping[str, KnownModel], *, digest: str = "") -> None:
        self.models = dict(models)
        self.digest = digest

    def __len__(self) -> int:
        return len(self.models)

    def get(self, fingerprint: str | None) -> KnownModel | None:
        """The blocked model with this fingerprint, if any (None never matches)."""
        return None if fingerprint is None else self.models.get(fingerprint)

    @classmethod
    def read(cls, path: str | Path) -> KnownModels:
        """The blocked models of an audit's output (JSON Lines, its first line perhaps the
        run's fingerprint); ``ScanOutputError`` when it cannot be read or is not one."""
        where = Path(path)
        models: dict[str, KnownModel] = {}
        digest = hashlib.sha256()
        try:
            # A pipe would be waited on, a device (/dev/zero) read without end: never opened.
            if not stat.S_ISREG(where.stat().st_mode):
                raise ScanOutputError(f"the known models {where} are not a file; {_THEN}")
            with where.open("rb") as stream:
                for number, line in enumerate(stream, start=1):
                    digest.update(line)
                    if line.strip():
                        record = json_record(where, number, line, kind=_KIND, then=_THEN)
                        _add(models, record, where, number)
        except OSError as exc:
            raise ScanOutputError(
                f"cannot read the known models {where}: {exc.strerror}; {_THEN}"
            ) from exc
        return cls(models, digest=digest.hexdigest())


def _add(models: dict[str, KnownModel], record: dict[str, Any], where: Path, number: int) -> None:
    """Add a blocked record's fingerprint; pass over the header, errors and other verdicts."""
    if number == 1 and HEADER_KEY in record:
        return
    if not isinstance(record.get("path"), str) or not ("verdict" in record or "error" in record):
        raise ScanOutputError(f"{where}:{number}: not {_KIND} (no path, verdict or error); {_THEN}")
    verdict = record.get("verdict")
    fingerprint = record.get("fingerprint")
    if not isinstance(verdict, dict) or verdict.get("action") != Action.BLOCK:
        return
    if isinstance(fingerprint, str) and fingerprint not in models:
        listed = verdict.get("categories")
        categories = tuple(
            str(category.get("name"))
            for category in (listed if isinstance(listed, list) else ())
            if isinstance(category, dict) and category.get("name")
        )
        models[fingerprint] = KnownModel(record["path"], categories)
