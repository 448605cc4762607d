"""A case's dossier, for a complaint, PHAROS or a commissaire de justice.

SKELETON: the interface is fixed; helper D implements it.
"""

from __future__ import annotations

from pathlib import Path

from rempart.desk.evidence import Evidence
from rempart.desk.evidence_model import Dossier
from rempart.desk.model import Actor
from rempart.desk.notices import Notices

__all__ = ["export_dossier"]


def export_dossier(
    evidence: Evidence, notices: Notices, number: str, actor: Actor, out: Path, *, reason: str
) -> Dossier:
    """Write the case's captures (WARCs unsealed, manifests), its timeline and every notice
    and reply as PDF into ``out`` (a new or empty folder, 0700; files 0600); recorded."""
    raise NotImplementedError
