"""The bank detector: PDQ-hash each picture (``Picture.hashes``, as ``rempart hash`` does) and
report matches in the hash banks as ``bank.match`` signals.

It runs beside the image detectors, on the same pool; whoever writes the record reads the same
hashes from the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rempart.detectors.picture import Picture
from rempart.matching.banks.matcher import match_images
from rempart.signals import Signal

if TYPE_CHECKING:
    from rempart.matching.banks import BankMatch, BankMatcher

__all__ = ["HASH_SIDE", "BankDetector"]

HASH_SIDE: Final = 1024
"""The long side of the one decode when only the hash reads it: about the DCT scale the hash
decodes at (768 pixels on the short side of a 4:3 photo), so that no larger decode is made."""

_NAME: Final = "bank"


class BankDetector:
    """Hashes pictures and matches them, with their rotations and flips, against hash banks.

    Without a matcher it only hashes. A hash of quality under ``MIN_QUALITY`` is too
    featureless to match and is not looked up.
    """

    name = _NAME
    version = "pdq"
    max_side = HASH_SIDE

    def __init__(self, matcher: BankMatcher | None = None) -> None:
        self.matcher = matcher

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """``bank.match`` signals for each picture: one per bank entry within threshold."""
        hashes = [picture.hashes() for picture in pictures]
        if self.matcher is None:
            return [[] for _ in pictures]
        return [
            [_signal(match) for match in found.matches]
            for found in match_images(self.matcher, hashes)
        ]


def _signal(match: BankMatch) -> Signal:
    """A match as a signal: its score falls from 1 (identical) with the Hamming distance."""
    return Signal(
        "bank.match",
        round(1.0 - match.distance / 256, 4),
        _NAME,
        "pdq",
        value=match.bank,
        evidence=match.to_json(),
    )
