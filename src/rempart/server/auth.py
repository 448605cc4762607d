"""Who may call what: API keys, the role each endpoint needs, and per-key rate limits.

Every ``/v1`` endpoint needs ``Authorization: Bearer <key>``, checked (with the key's rate
limit) by the ``Authentication`` middleware before any of the body is read; each endpoint's
dependency then checks the key's role. A key is checked against its
Argon2 hash once per worker, then by a SHA-256 of it kept in memory, so that only the first
request of a key pays for Argon2. The key table is re-read every second by the server's
follower thread: a revoked key is refused by every worker within seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from rempart.access.keys import ApiKey, ApiKeys, Role, parse_key, verify_secret
from rempart.server.problems import Problem

__all__ = ["PERMISSIONS", "Authenticator", "Permission", "RateLimiter", "check_role", "require"]


class Permission(StrEnum):
    """What an endpoint does, as roles are granted it."""

    HASH = "hash"
    MATCH = "match"
    SCAN = "scan"
    GATE = "gate"
    BANKS_READ = "banks:read"
    BANKS_ADD = "banks:add"
    BANKS_EXPORT = "banks:export"
    BANKS_WITHDRAW = "banks:withdraw"
    BANKS_ADMIN = "banks:admin"
    PERSONS_READ = "persons:read"
    PERSONS_ADMIN = "persons:admin"
    AUDIT_READ = "audit:read"
    KEYS_ADMIN = "keys:admin"
    METRICS = "metrics"
    DESK_REPORT = "desk:report"
    DESK_REVIEW = "desk:review"
    MODELS = "models"


_CHECKS: Final = {Permission.HASH, Permission.MATCH, Permission.SCAN, Permission.GATE}
PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.ADMIN: frozenset(Permission),
    # A platform or generator checks what its users upload or ask for (a hub, their models).
    Role.PLATFORM: frozenset({*_CHECKS, Permission.MODELS, Permission.BANKS_READ}),
    # A trusted flagger submits hashes of what it found, and reports cases for the victims
    # it acts for.
    Role.FLAGGER: frozenset(
        {
            Permission.HASH,
            Permission.MATCH,
            Permission.BANKS_READ,
            Permission.BANKS_ADD,
            Permission.DESK_REPORT,
        }
    ),
    # A reviewer checks decisions: reads banks, protected persons and the log, withdraws mistakes,
    # and works the desk's cases.
    Role.REVIEWER: frozenset(
        {
            *_CHECKS,
            Permission.MODELS,
            Permission.BANKS_READ,
            Permission.BANKS_EXPORT,
            Permission.BANKS_WITHDRAW,
            Permission.PERSONS_READ,
            Permission.AUDIT_READ,
            Permission.DESK_REVIEW,
        }
    ),
    # A monitoring system scrapes the metrics: an admin key would open everything else too.
    Role.MONITOR: frozenset({Permission.METRICS}),
}


# What a caller without a valid key can make a worker do, each second.
_LOOKUPS_PER_SECOND: Final = 20.0
_CHECKS_PER_KEY: Final = 2.0
_CHECKS_PER_SECOND: Final = 5.0


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts of twice that."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, key_id: str, rate: float) -> float:
        """0 when the key may make a request now (and takes a token), else the seconds until
        it may."""
        now = time.monotonic()
        capacity = max(1.0, 2 * rate)  # a request needs a whole token, however low the rate
        with self._lock:
            tokens, since = self._buckets.get(key_id, (capacity, now))
            tokens = min(capacity, tokens + (now - since) * rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / rate


class Authenticator:
    """Finds the key a request presents and applies its rate limit.

    ``workers``: how many processes serve; each allows its share of a key's rate. The costly
    steps a caller without a valid key can cause are rate-limited too: database lookups of
    unknown key ids, and Argon2 checks (per key id, and in all).
    """

    def __init__(self, keys: ApiKeys, *, default_rate: int, workers: int = 1) -> None:
        self.keys = keys
        self.default_rate = default_rate
        self.workers = max(1, workers)
        self.limiter = RateLimiter()
        self._known: dict[str, ApiKey] = {}
        self.position = 0
        self._verified: dict[str, str] = {}  # SHA-256 of a presented key -> its key id
        self._argon2 = asyncio.Semaphore(1)
        # Presented keys (by SHA-256) being checked now, and what each check will find.
        self._checking: dict[str, asyncio.Future[bool | None]] = {}
        self.reload()

    def reload(self) -> None:
        """Re-read the key table (the follower thread calls this every second)."""
        listed = self.keys.list()
        self._known = {key.key_id: key for key in listed}
        # Keys created plus keys revoked, as read: grows with each change (none is deleted).
        self.position = sum(1 if key.active else 2 for key in listed)

    async def authenticate(self, request: Request) -> ApiKey:
        """The active key the request presents, or ``Problem("unauthenticated")``."""
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise _unauthenticated("send an API key as 'Authorization: Bearer <key>'")
        return await self.verify(presented)

    async def verify(self, presented: str) -> ApiKey:
        """The active key ``presented`` is, or ``Problem("unauthenticated")``; the costly
        checks are throttled as ``authenticate``'s (the desk's staff sign-in uses this)."""
        presented = presented.strip()
        key_id = parse_key(presented)
        if key_id is None:
            raise _unauthenticated("the API key is malformed")
        key = self._known.get(key_id)
        if key is None and self._allowed("lookup", _LOOKUPS_PER_SECOND):
            # Created since the last reload? One indexed lookup (the reload finds it anyway
            # within a second, so lookups beyond the limit only delay a new key).
            key = await run_in_threadpool(self.keys.find, key_id)
        if key is None or not key.active:
            raise _unauthenticated("the API key is unknown or revoked")
        digest = hashlib.sha256(presented.encode()).hexdigest()
        if self._verified.get(digest) != key_id and not await self._verify(key, presented, digest):
            raise _unauthenticated("the API key is unknown or revoked")
        return key

    async def _verify(self, key: ApiKey, presented: str, digest: str) -> bool:
        """Check a presented key against its Argon2 hash, once however many requests present
        it at once: a worker's first requests with a key share the check in progress. Each
        failed attempt counts against the key id's limit, those that shared a check too."""
        while (pending := self._checking.get(digest)) is not None:
            shared = await asyncio.shield(pending)
            if shared is not None:  # None: the check was cut short (its client left); retry
                if not shared:
                    self._attempt(key.key_id)  # 429 once this key id has failed too often
                return shared
        self._attempt(key.key_id)
        pending = asyncio.get_running_loop().create_future()
        self._checking[digest] = pending
        valid: bool | None = None
        try:
            async with self._argon2:  # one at a time: wrong secrets cannot take every core
                valid = await run_in_threadpool(verify_secret, key, presented)
            if valid:
                self._verified[digest] = key.key_id
                self._known.setdefault(key.key_id, key)
        finally:
            del self._checking[digest]
            pending.set_result(valid)
        return valid

    def _attempt(self, key_id: str) -> None:
        """Take a token for an Argon2 check of ``key_id``; 429 when it has none left."""
        if not (
            self._allowed(f"verify:{key_id}", _CHECKS_PER_KEY)
            and self._allowed("verify", _CHECKS_PER_SECOND)
        ):
            raise Problem(
                "rate-limited",
                "too many attempts with this key id; retry in a second",
                headers={"Retry-After": "1"},
            )

    def _allowed(self, bucket: str, rate: float) -> bool:
        return self.limiter.wait_time(bucket, rate) == 0

    def check_rate(self, key: ApiKey) -> None:
        """``Problem("rate-limited")`` when the key is over its rate (each request takes a
        token)."""
        rate = key.rate_limit or self.default_rate
        wait = self.limiter.wait_time(key.key_id, rate / self.workers)
        if wait > 0:
            shared = f", shared by {self.workers} workers" if self.workers > 1 else ""
            raise Problem(
                "rate-limited",
                f"this key may make {rate} requests a second{shared}",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def check_role(key: ApiKey, *permissions: Permission) -> None:
    """``Problem("forbidden")`` unless the key's role has one of ``permissions``."""
    if PERMISSIONS[key.role].isdisjoint(permissions):
        needed = " or ".join(permission.value for permission in permissions)
        raise Problem(
            "forbidden", f"the {key.role.value} role may not use this endpoint ({needed})"
        )


def require(*permissions: Permission) -> Callable[[Request], Awaitable[ApiKey]]:
    """A FastAPI dependency: the request's key (``Authentication`` found it before the body
    was read), if its role has one of ``permissions``."""

    async def dependency(request: Request) -> ApiKey:  # async: FastAPI runs it inline
        key: ApiKey = request.state.key
        check_role(key, *permissions)
        return key

    dependency.__name__ = "require_" + "_or_".join(p.name.lower() for p in permissions)
    return dependency


def _unauthenticated(detail: str) -> Problem:
    return Problem("unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"})
