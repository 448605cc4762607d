"""What the labelled prompt sets check of a verdict."""

from __future__ import annotations

from rempart.policy import Verdict


def names_its_match(verdict: Verdict) -> bool:
    """Whether a reason of ``verdict`` cites a prompt signal with the text it matched."""
    return any(
        signal.name.startswith("text.") and signal.evidence.get("match")
        for reason in verdict.reasons
        for signal in reason.signals
    )
