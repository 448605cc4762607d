"""Byte mutations of a seed, shared by the runner's fallback loop (without atheris) and the
tests' Hypothesis properties, so that both explore the same neighbourhood of the corpus."""

from __future__ import annotations

import random

__all__ = ["mutate"]

# Values that sit on parsers' boundaries: sizes, counts and offsets read from headers.
_INTERESTING: tuple[bytes, ...] = (
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\x00\x00",
    b"\xff\xff",
    b"\x7f\xff",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
)


def mutate(data: bytes, rng: random.Random, *, rounds: int = 4) -> bytes:
    """``data`` changed by 1 to ``rounds`` random edits: bit flips, boundary values written
    over header fields, bytes inserted or deleted, truncation, and a block repeated."""
    out = bytearray(data)
    for _ in range(rng.randint(1, rounds)):
        _edit(out, rng)
    return bytes(out)


def _edit(out: bytearray, rng: random.Random) -> None:
    kind = rng.randrange(6)
    at = rng.randrange(len(out) + 1)
    if kind == 0 and out:  # flip one bit
        at = min(at, len(out) - 1)
        out[at] ^= 1 << rng.randrange(8)
    elif kind == 1:  # a boundary value over whatever was there
        value = rng.choice(_INTERESTING)
        out[at : at + len(value)] = value
    elif kind == 2:  # insert random bytes
        out[at:at] = rng.randbytes(rng.randint(1, 16))
    elif kind == 3:  # delete a run
        del out[at : at + rng.randint(1, 16)]
    elif kind == 4:  # truncate
        del out[at:]
    elif out:  # repeat a block (chunks, frames, IFD entries)
        start = rng.randrange(len(out))
        block = out[start : start + rng.randint(1, 64)]
        out[at:at] = block * rng.randint(1, 4)
