"""API keys: created with a role, shown once, stored as an Argon2 hash, revocable.

A key reads ``rmp_<key id>_<secret>``. The key id is public (it names the key in listings
and in the audit log); only an Argon2id hash of the whole key is stored, so a copy of the
database gives no usable key. The ``rmp_`` prefix lets secret scanners recognise a leaked key.
"""

from __future__ import annotations

import builtins
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from rempart.access.roles import Role
from rempart.errors import ApiKeyError, UnknownKeyError
from rempart.store import Store, as_utc, utc_now
from rempart.store.schema import api_keys

__all__ = ["ApiKey", "ApiKeyError", "ApiKeys", "NewKey", "Role", "parse_key", "verify_secret"]

PREFIX: Final = "rmp"
MAX_NAME_LENGTH: Final = 200
_KEY_RE: Final = re.compile(r"^rmp_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")
# Argon2id with argon2-cffi's defaults (RFC 9106's second recommended setting: t=3, 64 MiB, p=4).
_HASHER: Final = PasswordHasher()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    role: Role
    rate_limit: int | None
    created_at: datetime
    revoked_at: datetime | None
    secret_hash: str

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        """``{"key_id", "name", "role", "rate_limit", "created_at", "revoked_at"}``: never
        the hash."""
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role.value,
            "rate_limit": self.rate_limit,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just created: ``secret`` is the whole key, shown once and never stored."""

    key: ApiKey
    secret: str


def parse_key(presented: str) -> str | None:
    """The key id of a well-formed key, else None (so a malformed key costs no lookup)."""
    found = _KEY_RE.match(presented)
    return found.group(1) if found else None


def verify_secret(key: ApiKey, presented: str) -> bool:
    """Whether ``presented`` is the key whose hash ``key`` holds. Costs an Argon2 hash
    (tens of milliseconds): callers cache the answer."""
    try:
        return _HASHER.verify(key.secret_hash, presented)
    except (VerificationError, InvalidHashError):
        return False


class ApiKeys:
    """The keys in a ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, role: Role | str, *, name: str = "", rate_limit: int | None = None) -> NewKey:
        """A new key for ``role``; the returned secret is the only copy there will be."""
        try:
            role = Role(role)
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise ApiKeyError(f"unknown role {role!r}; roles: {valid}") from None
        name = name.strip()
        if len(name) > MAX_NAME_LENGTH:
            raise ApiKeyError(f"a key's name is at most {MAX_NAME_LENGTH} characters")
        if rate_limit is not None and rate_limit < 1:
            raise ApiKeyError("a rate limit is at least 1 request a second")
        key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        secret_hash = _HASHER.hash(secret)  # before the transaction: it takes tens of ms
        now = utc_now()
        with self.store.write() as connection:
            connection.execute(
                insert(api_keys).values(
                    key_id=key_id,
                    name=name,
                    role=role.value,
                    secret_hash=secret_hash,
                    rate_limit=rate_limit,
                    created_at=now,
                )
            )
        return NewKey(self.get(key_id), secret)

    def get(self, key_id: str) -> ApiKey:
        """One key, revoked or not; ``ApiKeyError`` when there is none."""
        found = self._select(key_id)
        if not found:
            raise UnknownKeyError(f"no API key {key_id!r}; see rempart key list")
        return found[0]

    def find(self, key_id: str) -> ApiKey | None:
        """One key, or None."""
        found = self._select(key_id)
        return found[0] if found else None

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return self._select()

    def has_active(self) -> bool:
        """Whether any key is not revoked: the server listens beyond loopback only then."""
        with self.store.read() as connection:
            found = connection.execute(
                select(api_keys.c.id).where(api_keys.c.revoked_at.is_(None)).limit(1)
            ).first()
        return found is not None

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key: every server refuses it within seconds. Revoking twice is harmless."""
        with self.store.write() as connection:
            connection.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
        return self.get(key_id)

    def _select(self, key_id: str | None = None) -> builtins.list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.id)
        if key_id is not None:
            query = query.where(api_keys.c.key_id == key_id)
        with self.store.read() as connection:
            rows = connection.execute(query).mappings().all()
        return [_to_key(row) for row in rows]


def _to_key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        role=Role(row["role"]),
        rate_limit=row["rate_limit"],
        created_at=as_utc(row["created_at"]),
        revoked_at=as_utc(row["revoked_at"]) if row["revoked_at"] else None,
        secret_hash=row["secret_hash"],
    )
