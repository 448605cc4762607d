"""The bank detector: PDQ-hash each picture from its shared decode and report matches in the
hash banks as ``bank.match`` signals.

It runs beside the image detectors, so a scan hashes from the same decode they read, on the
same pool. The hashes stay on the picture (``picture_hashes``) for whoever writes the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rempart.detectors.base import Picture
from rempart.hashing import MIN_QUALITY, FileHashes, hash_decoded, pack
from rempart.signals import Signal

if TYPE_CHECKING:
    from rempart.banks import BankMatch, BankMatcher

__all__ = ["HASH_SIDE", "BankDetector", "picture_hashes"]

HASH_SIDE: Final = 1024
"""The long side the one decode gives at least when only the hash reads it: a JPEG then
decodes at about the DCT scale ``rempart hash`` uses (768 pixels on the short side of a 4:3
photo). On the benchmark's 266 photos of quality >= 80, the hash from the scan's decode equalled
``rempart hash``'s for 205 and was within 10 bits for all."""

_NAME: Final = "bank"


def picture_hashes(picture: Picture) -> FileHashes:
    """The picture's digests and PDQ hashes (with the 8 rotations and flips), computed once from
    its one decode, before the detectors' resizing (as ``rempart hash`` would decode it)."""
    return picture.shared(
        "hashes",
        lambda: hash_decoded(
            picture.media,
            picture.decoded(),
            path=picture.path,
            dihedral=True,
        ),
    )


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
        hashes = [picture_hashes(picture) for picture in pictures]
        if self.matcher is None:
            return [[] for _ in pictures]
        wanted = [i for i, item in enumerate(hashes) if item.quality >= MIN_QUALITY]
        results: list[list[Signal]] = [[] for _ in pictures]
        if wanted:
            variants = pack([h for i in wanted for h in hashes[i].dihedral or ()])
            found = self.matcher.match_dihedral(variants.reshape(len(wanted), 8, 4))
            for i, matches in zip(wanted, found, strict=True):
                results[i] = [_signal(match) for match in matches]
        return results


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
