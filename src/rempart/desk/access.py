"""How a victim reaches their case without an account: a case number and a secret.

The number (``R-`` and 10 base32 characters) names the case; the secret (100 random bits, 20
base32 characters shown once, on a card, grouped ``XXXXX-XXXXX-XXXXX-XXXXX``) proves the
holder reported it. Only a SHA-256 of the secret is stored. Argon2 is deliberately not used: it
protects secrets people choose, which are few enough to try one by one; a 100-bit random secret
cannot be found by trying, salted or not, so a slow hash would only hand anyone who can reach
the sign-in page a lever on the server's CPU. Sign-ins are throttled anyway (per case number
and in all), which keeps guessing at numbers and the database load it costs bounded.

Input is forgiving: any case, spaces and dashes anywhere, and the digits 0, 1 and 8, which
base32 never uses, read as the letters O, I and B they are mistaken for.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Final

from rempart.desk.clock import Clock, SystemClock

__all__ = [
    "CASE_NUMBER_PATTERN",
    "AddressThrottle",
    "SignInThrottle",
    "hash_secret",
    "new_case_number",
    "new_secret",
    "normalise_case_number",
    "normalise_secret",
    "secret_matches",
    "secret_tag",
    "tag_matches",
]

ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
CASE_NUMBER_PATTERN: Final = re.compile(r"R-[A-Z2-7]{10}")
_NUMBER_LENGTH: Final = 10
SECRET_BITS: Final = 100
_SECRET_LENGTH: Final = SECRET_BITS // 5
_GROUP: Final = 5
# What a person copying a card by hand types for a letter base32 has (it has no 0, 1 or 8).
_LOOKALIKES: Final = str.maketrans({"0": "O", "1": "I", "8": "B"})
_SEPARATORS: Final = re.compile(r"[\s\-]+")
# Longer input is not a number or a secret, however it is spaced: not worth normalising.
_MAX_INPUT: Final = 100
_TAG_DIGITS: Final = 16


def new_case_number() -> str:
    """A fresh random case number, ``R-`` and 10 base32 characters (50 bits)."""
    return "R-" + "".join(secrets.choice(ALPHABET) for _ in range(_NUMBER_LENGTH))


def normalise_case_number(text: str) -> str | None:
    """``R-XXXXXXXXXX`` for a case number as a person may type it (any case, spaces and
    dashes anywhere), else None. The ``R`` is needed: without it, a number typed one
    character short would read as another number."""
    compact = _compact(text)
    if compact is None or len(compact) != _NUMBER_LENGTH + 1 or not compact.startswith("R"):
        return None
    return None if compact[1:].strip(ALPHABET) else "R-" + compact[1:]


def new_secret() -> str:
    """A fresh secret of 100 random bits, shown ``XXXXX-XXXXX-XXXXX-XXXXX``."""
    value = int.from_bytes(secrets.token_bytes(13), "big") >> (13 * 8 - SECRET_BITS)
    chars = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(_SECRET_LENGTH)))
    return "-".join(chars[i : i + _GROUP] for i in range(0, _SECRET_LENGTH, _GROUP))


def normalise_secret(secret: str) -> str:
    """The secret's 20 characters as issued, from however it was typed ("" for input that
    cannot be one)."""
    return _compact(secret) or ""


def hash_secret(secret: str) -> str:
    """The SHA-256, in hex, of the normalised secret: what a case stores."""
    return hashlib.sha256(normalise_secret(secret).encode("ascii", "replace")).hexdigest()


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the one whose hash is ``stored``, in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored)


def secret_tag(secret: str) -> str:
    """What a victim's session keeps of the secret it signed in with: the first 16 hex digits
    of its stored hash. Enough to tell that a new secret replaced it (which ends the session),
    of no use to sign in with."""
    return hash_secret(secret)[:_TAG_DIGITS]


def tag_matches(tag: str, stored: str) -> bool:
    """Whether ``tag`` is the ``secret_tag`` of the secret whose hash is ``stored``."""
    return hmac.compare_digest(tag.encode(), stored[:_TAG_DIGITS].encode())


def _compact(text: str) -> str | None:
    if len(text) > _MAX_INPUT:
        return None
    return _SEPARATORS.sub("", text).upper().translate(_LOOKALIKES)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class _Buckets:
    """Token buckets by name: ``rate`` tokens a second, up to ``burst``; at most ``size``
    names are remembered (a full bucket is the same as none, so those go first)."""

    def __init__(self, *, rate: float, burst: float, size: int) -> None:
        self.rate, self.burst, self.size = rate, burst, size
        self._buckets: dict[str, _Bucket] = {}

    def take(self, name: str, now: float) -> bool:
        bucket = self._buckets.get(name)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[name] = _Bucket(self.burst, now)
        # max(0, ...): the wall clock may step back; that must not drain a bucket.
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.size:
            return
        for name, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst:
                del self._buckets[name]
        while len(self._buckets) >= self.size:  # all in use: forget the oldest
            del self._buckets[next(iter(self._buckets))]


class AddressThrottle:
    """Requests of one kind (reports, sign-ins) allowed from each address, in this process:
    ``per_minute`` a minute, in bursts of as many. The addresses live in memory for the count
    only (at most ``addresses``, the idle first forgotten), never stored."""

    def __init__(
        self, per_minute: int, *, clock: Clock | None = None, addresses: int = 100_000
    ) -> None:
        self.clock = clock or SystemClock()
        self._addresses = _Buckets(rate=per_minute / 60, burst=per_minute, size=addresses)
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Whether ``address`` may go ahead now (and count it)."""
        with self._lock:
            return self._addresses.take(address, self.clock.now().timestamp())


class SignInThrottle:
    """Sign-in attempts allowed, per case number and in all, in this process.

    Per number: ``burst`` attempts at once, then one every ``per_number_s`` seconds: a victim
    who mistypes gets several tries, someone trying secrets gets nowhere (nor could they: see
    the module's docstring). In all: ``per_second`` attempts a second, bursts of twice that,
    which bounds what guessing at numbers costs the database.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        burst: int = 5,
        per_number_s: float = 60.0,
        per_second: float = 20.0,
        numbers: int = 10_000,
    ) -> None:
        self.clock = clock or SystemClock()
        self._numbers = _Buckets(rate=1 / per_number_s, burst=burst, size=numbers)
        self._all = _Buckets(rate=per_second, burst=2 * per_second, size=1)
        self._lock = threading.Lock()

    def allow(self, number: str) -> bool:
        """Whether an attempt to sign in to ``number`` may go ahead now (and count it)."""
        now = self.clock.now().timestamp()
        key = normalise_case_number(number) or "?"  # anything that is not a number: one bucket
        with self._lock:
            return self._all.take("", now) and self._numbers.take(key, now)
