"""The bank detector: PDQ-hash each picture (``Picture.hashes``, as ``rempart hash`` does) and
report matches in the hash banks as signals: ``bank.match``, or ``bank.reported`` for a match in
a review bank (a victim's report no reviewer has confirmed: it sends to review, never blocks).
A file's MD5 and SHA-256 are looked up in the banks' exact entries too: such a match is a
``bank.match`` whose evidence says ``"kind": "md5"`` (or ``sha256``).

It runs beside the image detectors, on the same pool; whoever writes the record reads the same
hashes from the picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from rempart.detectors.picture import Picture
from rempart.hashing.vpdq import VpdqFeature
from rempart.matching.banks.bank import VIDEO
from rempart.matching.banks.matcher import BankMatch, VideoMatch, match_images
from rempart.signals import Signal

if TYPE_CHECKING:
    from rempart.matching.banks import BankMatcher

__all__ = ["HASH_SIDE", "BankDetector", "bank_matches"]

HASH_SIDE: Final = 1024
"""The long side of the one decode when only the hash reads it: about the DCT scale the hash
decodes at (768 pixels on the short side of a 4:3 photo), so that no larger decode is made."""

_NAME: Final = "bank"
_MATCH: Final = "bank.match"
_REPORTED: Final = "bank.reported"
_SIGNALS: Final = (_MATCH, _REPORTED)


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
        """``bank.match`` or ``bank.reported`` signals for each picture: one per bank entry
        within threshold."""
        hashes = [picture.hashes() for picture in pictures]
        if self.matcher is None:
            return [[] for _ in pictures]
        return [
            [_signal(match) for match in found.matches]
            for found in match_images(self.matcher, hashes)
        ]

    def detect_frames(
        self, features: Sequence[VpdqFeature], mirrored: Sequence[VpdqFeature]
    ) -> list[Signal]:
        """``bank.match`` or ``bank.reported`` for each banked video the frames match as vPDQ
        defines it (each bank's thresholds), mirrored copies included; the banked images in
        the frames are the frames' own signals."""
        if self.matcher is None or not features:
            return []
        found = self.matcher.match_stored_videos(features, mirrored=mirrored)
        return [_video_signal(match) for match in found]

    def detect_digests(self, md5: str | None, sha256: str | None) -> list[Signal]:
        """``bank.match`` or ``bank.reported`` for each exact entry a file's digests match (a
        video's: its frames have no file of their own)."""
        if self.matcher is None:
            return []
        return [_signal(match) for match in self.matcher.match_file_digests(md5, sha256)]


def bank_matches(signals: Iterable[Signal]) -> list[BankMatch]:
    """The image matches behind ``signals`` (a scan's, or a verdict's reasons'), read back from
    the evidence of this detector's signals; each signal once, however often it is given. A
    banked video's match is not one: the desk, which follows these, banks images only."""
    found = {
        id(signal): signal
        for signal in signals
        if signal.detector == _NAME
        and signal.name in _SIGNALS
        and signal.evidence.get("kind") != VIDEO
    }
    return [BankMatch.from_json(signal.evidence) for signal in found.values()]


def _video_signal(match: VideoMatch) -> Signal:
    """A banked video's match as a signal: its score the smaller of the two shares matched."""
    return Signal(
        _REPORTED if match.review else _MATCH,
        round(min(match.query_percent, match.stored_percent) / 100, 4),
        _NAME,
        "vpdq",
        value=match.bank,
        evidence=match.to_json(),
    )


def _signal(match: BankMatch) -> Signal:
    """A match as a signal: its score falls from 1 (identical) with the Hamming distance (an
    exact entry's is 1)."""
    return Signal(
        _REPORTED if match.review else _MATCH,
        round(1.0 - match.distance / 256, 4),
        _NAME,
        match.kind or "pdq",
        value=match.bank,
        evidence=match.to_json(),
    )
