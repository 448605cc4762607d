"""256-bit hashes as hex, bytes and numpy arrays, and their Hamming distances.

A hash's hex form is the standard one (PDQ's, python-threatexchange's): 64 hex digits of a
big-endian 256-bit integer. In arrays a hash is 4 big-endian uint64 words, so that a million
hashes take 32 MB and distances are one XOR and a popcount per word.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "HASH_BYTES",
    "HASH_HEX_DIGITS",
    "from_hex",
    "hamming",
    "lower_hex",
    "pack",
    "to_hex",
]

HASH_BYTES: Final = 32
HASH_HEX_DIGITS: Final = 64
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_LOWER_HEX_DIGITS: Final = frozenset("0123456789abcdef")

Words = npt.NDArray[np.uint64]


def lower_hex(text: str) -> str | None:
    """``text`` (64 hex digits in either case, blanks around) as 64 lowercase hex digits, or
    None when it is not a 256-bit hash: what ``from_hex(text).hex()`` gives, without the bytes
    between (an exchange's fetch checks a million)."""
    value = text.strip().lower()
    if len(value) == HASH_HEX_DIGITS and _LOWER_HEX_DIGITS.issuperset(value):
        return value
    return None


def from_hex(text: str) -> bytes:
    """Parse 64 hex digits into 32 bytes; raise ``ValueError`` saying what is wrong."""
    value = lower_hex(text)
    if value is not None:
        return bytes.fromhex(value)
    text = text.strip()
    if len(text) != HASH_HEX_DIGITS:
        raise ValueError(f"a 256-bit hash is {HASH_HEX_DIGITS} hex digits, got {len(text)}")
    bad = next(char for char in text if char not in _HEX_DIGITS)
    raise ValueError(f"a 256-bit hash holds only hex digits, got {bad!r}")


def to_hex(value: bytes) -> str:
    """Format 32 bytes as 64 lowercase hex digits."""
    if len(value) != HASH_BYTES:
        raise ValueError(f"a 256-bit hash is {HASH_BYTES} bytes, got {len(value)}")
    return value.hex()


def pack(hashes: Iterable[bytes | str]) -> Words:
    """Pack hashes (32 bytes or 64 hex digits each) into an ``(n, 4)`` uint64 array."""
    raw = b"".join(from_hex(h) if isinstance(h, str) else _checked(h) for h in hashes)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def hamming(a: Words, b: Words) -> npt.NDArray[np.int64]:
    """Hamming distances between packed hashes, broadcasting over leading axes.

    ``hamming(pack([q]), haystack)`` gives one query's distance to every hash in a haystack;
    ``hamming(queries[:, None], haystack[None])`` gives the full matrix.
    """
    distances: npt.NDArray[np.int64] = np.bitwise_count(np.bitwise_xor(a, b)).sum(
        axis=-1, dtype=np.int64
    )
    return distances


def _checked(value: bytes) -> bytes:
    if len(value) != HASH_BYTES:
        raise ValueError(f"a 256-bit hash is {HASH_BYTES} bytes, got {len(value)}")
    return value
