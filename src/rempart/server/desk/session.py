"""Desk sessions, kept in the browser in a cookie sealed with AES-256-GCM.

Why a sealed cookie, not a table or worker memory: every worker (and every server sharing the
desk's key file) reads the same cookie with no database write per page and no schema of its
own, and what it holds (a case number, a staff key id) is unreadable and unforgeable without
the key file. Its key is derived (HKDF-SHA256) from the key file's active key, so a rekey ends
every session. What it costs: a copied cookie cannot be revoked before it expires, so it expires
``desk_sessions_minutes`` after the last request (each response renews it), lives at most
``MAX_LIFETIME`` however active, is a browser-session cookie (no expiry date, gone when the
browser closes), staff sessions re-check their API key on every request (a revoked key ends
them at once), and victims' sessions their case's secret (a new one, reissued because the card
was lost or seen, ends them). Quick exit and sign-out delete it.

The cookie is ``HttpOnly; SameSite=Strict; Path=/desk`` (never sent to ``/v1``), ``Secure``
unless the desk is served over plain HTTP on loopback. Every session, a visitor's too, carries
a random CSRF token that each form posts back; signing in starts a new session, so a token
planted before it is worthless after.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

from rempart.desk import Clock, DeskKeys
from rempart.server.launch import is_loopback

__all__ = [
    "COOKIE",
    "MAX_LIFETIME",
    "Session",
    "SessionCodec",
    "SessionKind",
    "delete_cookie",
    "secure",
    "set_cookie",
]

COOKIE: Final = "rempart_desk"
PATH: Final = "/desk"
MAX_LIFETIME: Final = timedelta(hours=8)
"""However active, a session ends this long after it began: a staff member signs in again."""
_AAD: Final = b"rempart desk session 1"
_KEY_INFO: Final = b"rempart desk sessions"
_NONCE_BYTES: Final = 12
_MAX_COOKIE: Final = 2048  # what a sealed session can grow to, with room; longer is not ours
_SKEW: Final = timedelta(minutes=1)


class SessionKind(StrEnum):
    """Who the session is: anyone reading the desk, a victim signed in to a case, or staff."""

    VISITOR = "visitor"
    VICTIM = "victim"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class Session:
    """One browser's session. ``subject``: the case number (victim) or key id (staff);
    ``tag``: a victim's, the ``secret_tag`` of the secret it signed in with (a new secret
    ends the session)."""

    kind: SessionKind
    subject: str | None
    csrf: str
    started: datetime
    seen: datetime
    tag: str = ""

    @classmethod
    def begin(
        cls, kind: SessionKind, now: datetime, subject: str | None = None, *, tag: str = ""
    ) -> Session:
        """A new session with a new CSRF token."""
        return cls(kind, subject, secrets.token_urlsafe(32), now, now, tag)

    def token_matches(self, presented: str) -> bool:
        """Whether a form's token is this session's (in constant time)."""
        return hmac.compare_digest(self.csrf.encode(), presented.encode())

    def renewed(self, now: datetime) -> Session:
        """The session, seen now."""
        return replace(self, seen=now)


class SessionCodec:
    """Seals sessions into cookie values and opens them, refusing stale ones."""

    def __init__(self, keys: DeskKeys, *, idle: timedelta, clock: Clock) -> None:
        self._keys = keys
        self._aeads: dict[str, AESGCM] = {}
        self.idle = idle
        self.clock = clock

    def begin(self, kind: SessionKind, subject: str | None = None, *, tag: str = "") -> Session:
        """A new session, begun now, with a new CSRF token."""
        return Session.begin(kind, self.clock.now(), subject, tag=tag)

    @property
    def _aead(self) -> AESGCM:
        """The cipher of the key file's active key (re-read after a rekey)."""
        self._keys = self._keys.current()
        active = self._keys.active
        if active not in self._aeads:
            derive = HKDF(algorithm=SHA256(), length=32, salt=None, info=_KEY_INFO)
            self._aeads = {active: AESGCM(derive.derive(self._keys.keys[active]))}
        return self._aeads[active]

    def seal(self, session: Session) -> str:
        """The cookie value for ``session``."""
        payload = json.dumps(
            {
                "kind": session.kind.value,
                "subject": session.subject,
                "csrf": session.csrf,
                "started": int(session.started.timestamp()),
                "seen": int(session.seen.timestamp()),
                "tag": session.tag,
            },
            separators=(",", ":"),
        ).encode()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, payload, _AAD)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, value: str | None) -> Session | None:
        """The session a cookie value holds, or None when there is none, it was not sealed
        with this key, or it is stale: idle too long, too old, or seen in the future."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            payload = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _AAD)
            fields = json.loads(payload)
            subject = fields["subject"]
            session = Session(
                SessionKind(fields["kind"]),
                None if subject is None else _text(subject),
                _text(fields["csrf"]),
                _utc(fields["started"]),
                _utc(fields["seen"]),
                _text(fields["tag"]),
            )
        except (binascii.Error, ValueError, InvalidTag, KeyError, TypeError):
            return None
        now = self.clock.now()
        fresh = (
            session.seen + self.idle >= now
            and session.started + MAX_LIFETIME >= now
            and session.seen <= now + _SKEW
        )
        return session if fresh else None

    def read(self, request: Request) -> Session | None:
        """The request's session, if it has a fresh one."""
        return self.open(request.cookies.get(COOKIE))

    def write(self, response: Response, session: Session, request: Request) -> None:
        """Set the cookie holding ``session``, seen now."""
        set_cookie(response, request, COOKIE, self.seal(session.renewed(self.clock.now())))

    @staticmethod
    def delete(response: Response, request: Request) -> None:
        """Delete the session cookie: the browser forgets it."""
        delete_cookie(response, request, COOKIE)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """Set a desk cookie: ``HttpOnly; SameSite=Strict; Path=/desk``, ``Secure`` unless the
    page came over plain HTTP to a loopback address, and no expiry (gone with the browser)."""
    response.set_cookie(
        name, value, path=PATH, httponly=True, samesite="strict", secure=secure(request)
    )


def delete_cookie(response: Response, request: Request, name: str) -> None:
    """Tell the browser to forget a desk cookie."""
    response.delete_cookie(
        name, path=PATH, httponly=True, samesite="strict", secure=secure(request)
    )


def secure(request: Request) -> bool:
    """Whether the desk's cookies are ``Secure`` on this request: unless it came over plain
    HTTP to a loopback address (a browser on this machine)."""
    server = request.scope.get("server")
    host = str(server[0] if server else request.url.hostname or "")
    return request.url.scheme == "https" or not is_loopback(host)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a session's subject and token are text")
    return value


def _utc(timestamp: object) -> datetime:
    if not isinstance(timestamp, int):
        raise TypeError("a session time is whole seconds")
    return datetime.fromtimestamp(timestamp, tz=UTC)
