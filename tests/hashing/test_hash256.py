"""256-bit hash arithmetic: hex parsing, packing, vectorised Hamming distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.hashing import from_hex, hamming, pack, to_hex
from rempart.hashing.hash256 import lower_hex

hashes = st.binary(min_size=32, max_size=32)


@given(st.lists(hashes, min_size=1, max_size=20), hashes)
def test_hamming_equals_popcount_of_xor(haystack: list[bytes], query: bytes) -> None:
    got = hamming(pack([query]), pack(haystack))
    expected = [bin(int.from_bytes(query) ^ int.from_bytes(h)).count("1") for h in haystack]
    assert got.tolist() == expected


def test_hamming_broadcasts_to_a_matrix() -> None:
    rng = np.random.default_rng(0)
    a = pack([rng.bytes(32) for _ in range(3)])
    b = pack([rng.bytes(32) for _ in range(5)])
    matrix = hamming(a[:, None], b[None])
    assert matrix.shape == (3, 5)
    assert matrix[2, 4] == hamming(a[2], b[4])


@given(hashes)
def test_hex_round_trip(value: bytes) -> None:
    assert from_hex(to_hex(value)) == value
    assert from_hex(to_hex(value).upper()) == value
    assert lower_hex(f" {to_hex(value).upper()}\n") == to_hex(value)


@given(st.text(alphabet="0123456789abcdefABCDEFgxİ \t", max_size=70))
def test_lower_hex_is_from_hex_or_none(text: str) -> None:
    try:
        expected: str | None = from_hex(text).hex()
    except ValueError:
        expected = None
    assert lower_hex(text) == expected


def test_bit_order_is_big_endian() -> None:
    one = "0" * 63 + "1"
    assert pack([one])[0].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize(
    ("text", "message"), [("abc", "64 hex digits, got 3"), ("g" * 64, "only hex digits, got 'g'")]
)
def test_bad_hex_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_hex(text)


def test_wrong_byte_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        pack([b"\x00" * 31])
