"""A case's dossier, for a complaint, PHAROS or a commissaire de justice: one folder holding
the case's timeline as PDF (its facts, its items with their last removal check, its events in
order with who and when, its notices with their deliveries, replies and escalations, its
captures with their SHA-256 and state), each notice as the platform read it (PDF), each
capture's WARC unsealed with its manifest and timestamp token, and ``index.json`` naming every
file with its SHA-256.

The folder is new or empty and its owner's alone (0700, files 0600): it holds what the
captures hold. Writing is all or nothing: on any failure what was written is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from rempart import __version__
from rempart.desk.evidence import Evidence
from rempart.desk.evidence_model import Capture, Check, Dossier
from rempart.desk.i18n import language_of
from rempart.desk.model import Actor, Case, Event
from rempart.desk.notice_model import Notice
from rempart.desk.notices import Notices
from rempart.desk.render import template, write_pdf
from rempart.errors import EvidenceRefusedError

__all__ = ["INDEX", "TIMELINE", "export_dossier"]

INDEX: Final = "index.json"
TIMELINE: Final = "timeline.pdf"
_TIMELINE_JSON: Final = "timeline.json"
"""The name the timeline's data has inside its PDF."""


@dataclass(frozen=True, slots=True)
class _Timeline:
    """What the timeline shows, read once for the template and its attached JSON."""

    case: Case
    checks: Mapping[int, Check]
    events: Sequence[Event]
    notices: Sequence[Notice]
    captures: Sequence[Capture]
    exported_at: datetime
    exported_by: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case.to_json(),
            "checks": {str(item): check.to_json() for item, check in self.checks.items()},
            "events": [event.to_json() for event in self.events],
            "notices": [notice.to_json() for notice in self.notices],
            "captures": [capture.to_json() for capture in self.captures],
            "exported_at": self.exported_at.isoformat(),
            "exported_by": self.exported_by,
            "reason": self.reason,
        }


def export_dossier(
    evidence: Evidence,
    notices: Notices,
    number: str,
    actor: Actor,
    out: Path,
    *,
    reason: str,
    checks: Mapping[int, Check] | None = None,
    language: str = "en",
) -> Dossier:
    """Write the case's captures (WARCs unsealed, manifests, tokens), its timeline and every
    notice as PDF into ``out`` (a new or empty folder, 0700; files 0600); recorded by
    ``Evidence.export`` (each capture exported, and the dossier). ``checks``: each item's last
    removal check (``Rechecker.checks``), shown in the timeline; ``language``: the timeline's
    (French, else English). ``EvidenceRefusedError`` for an ``out`` that is not empty, before
    anything is read or recorded, or for a folder that cannot be written (what was written
    removed)."""
    _check_empty(out)
    desk = notices.desk
    case = desk.get(number, actor)
    # Checks the role and the reason, unseals and records: before anything is written.
    exported = evidence.export(case.number, actor, reason=reason)
    listed = notices.for_case(case.number, actor)
    captures = evidence.captures(case.number, actor)
    timeline = _Timeline(
        case=case,
        checks=dict(checks or {}),
        events=desk.events(case.number),
        notices=listed,
        captures=captures,
        exported_at=desk.clock.now(),
        exported_by=actor.label,
        reason=reason.strip(),
    )
    files: dict[str, bytes] = {TIMELINE: _timeline_pdf(timeline, language_of(language))}
    for notice in listed:
        pdf = notices.render(notice.reference, actor, "pdf")
        assert isinstance(pdf, bytes)
        files[f"notices/{notice.reference}.pdf"] = pdf
    for capture, warc in exported:
        files[f"captures/{capture.id}.warc"] = warc
        manifest = json.dumps(dict(capture.manifest), ensure_ascii=False, indent=2, sort_keys=True)
        files[f"captures/{capture.id}.manifest.json"] = manifest.encode() + b"\n"
        if capture.timestamp_token is not None:
            files[f"captures/{capture.id}.tsr"] = capture.timestamp_token
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    listing = [
        {"name": name, "sha256": digests[name], "size": len(data)} for name, data in files.items()
    ]
    index = {
        "case": case.number,
        "exported_at": timeline.exported_at.isoformat(),
        "exported_by": actor.label,
        "reason": timeline.reason,
        "rempart": __version__,
        "files": listing,
    }
    files[INDEX] = json.dumps(index, ensure_ascii=False, indent=2).encode() + b"\n"
    digests[INDEX] = hashlib.sha256(files[INDEX]).hexdigest()
    try:
        with _all_or_nothing(out):
            for name, data in files.items():
                _write(out / name, data)
    except OSError as exc:
        raise EvidenceRefusedError(
            f"cannot write the dossier to {out}: {exc.strerror or exc}; nothing was left there"
        ) from exc
    return Dossier(out, tuple(digests.items()))


def _check_empty(out: Path) -> None:
    """``out`` is absent, or an empty folder; else refused, naming it."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise EvidenceRefusedError(f"{out} is not a folder: give a new or empty folder")
    if out.is_dir() and any(out.iterdir()):
        raise EvidenceRefusedError(f"{out} is not empty: give a new or empty folder")


@contextmanager
def _all_or_nothing(out: Path) -> Iterator[None]:
    """Make ``out`` (0700) for the writes inside; on a failure remove what they wrote (and
    ``out`` itself if it was made here)."""
    made = not out.exists()
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        out.chmod(0o700)
        yield
    except BaseException:
        if made:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in list(out.iterdir()):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _write(path: Path, data: bytes) -> None:
    """A new file of the owner's alone (0600), its folder (0700) made as needed."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700)
        path.parent.chmod(0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _timeline_pdf(timeline: _Timeline, language: str) -> bytes:
    """The timeline as PDF/A-3b, its data attached as JSON."""
    html = template("dossier.html", language).render(t=timeline, lang=language, detail=_detail)
    return write_pdf(
        html,
        source=json.dumps(timeline.to_json(), ensure_ascii=False, indent=2).encode(),
        name=_TIMELINE_JSON,
        description=f"Case {timeline.case.number}: timeline (JSON)",
        created=timeline.exported_at,
        modified=timeline.exported_at,
    )


def _detail(detail: Mapping[str, Any]) -> str:
    """An event's detail as one line, ``name: value`` each."""
    return "; ".join(
        f"{name}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for name, value in sorted(detail.items())
    )
