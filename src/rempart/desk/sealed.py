"""Sealed fields: what the desk keeps that says more than a hash (notes, a victim's words, a
flagger's mandate), encrypted at rest with AES-256-GCM.

Each case has its own data key, made when the case is; the case row keeps it wrapped (itself
AES-256-GCM encrypted) by the active key of the deployment's key file, with the case id as
associated data, so that a wrapped key copied onto another case does not open. Each field is
sealed with the case's data key, the case id and the field's name as associated data. A copy of
the database without the key file reads no sealed field; withdrawing a case deletes its sealed
rows and its wrapped key (crypto-erasure, even of rows a backup kept).

The key file (``REMPART_DESK_KEY_FILE``, ``rempart desk init``) is JSON, mode 0600:
``{"version": 1, "active": KID, "keys": {KID: base64 of 32 bytes}}``. ``rekey`` adds a key,
re-wraps every case's data key in one transaction, then drops the old keys. A ``DeskKeys``
re-reads its file when it changed (``current``), and the desk wraps keys only inside a write
transaction, which a rekey's waits for: so a case made while a rekey runs never ends up with a
key the file no longer has.

Don't: log or put in an event any sealed text; reuse a data key across cases; write the key
file other than through ``_write`` (atomic, 0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select, update

from rempart.errors import DeskKeyError
from rempart.store import Store
from rempart.store.schema import desk_cases

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["DeskKeys", "RekeyReport", "rekey", "seal", "unseal"]

FILE_VERSION: Final = 1
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # GCM's standard nonce, random: far under 2**32 seals per key
_KEY_ID: Final = re.compile(r"[a-z0-9]{1,32}")
_REKEY_BATCH: Final = 1000
_NO_FILE: Final = "no desk key file; run rempart desk init"


@dataclass(frozen=True, slots=True)
class RekeyReport:
    """What a rekey did: the new key's id, how many cases' data keys it re-wrapped, and the
    key ids it dropped from the file."""

    key_id: str
    cases: int
    dropped: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {"key_id": self.key_id, "cases": self.cases, "dropped": list(self.dropped)}


class DeskKeys:
    """The deployment's wrapping keys, by id, and which one wraps new data keys."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        active: str,
        *,
        path: Path | None = None,
        stamp: tuple[int, int, int] | None = None,
    ) -> None:
        if active not in keys:
            raise DeskKeyError(f"the active key {active!r} is not among the keys")
        self.keys: Mapping[str, bytes] = MappingProxyType(dict(keys))
        self.active = active
        self.path = path
        self._stamp = stamp

    @classmethod
    def create(cls, path: Path) -> DeskKeys:
        """Make a key file with one new key; refuses to overwrite one (``rekey`` rotates)."""
        kid = _new_key_id()
        keys = cls({kid: _new_key()}, kid)
        _write(path, keys, exclusive=True)
        return cls.load(path)

    @classmethod
    def load(cls, path: Path | None) -> DeskKeys:
        """Read the key file; ``DeskKeyError`` when there is none or it is not one."""
        if path is None:
            raise DeskKeyError(_NO_FILE)
        try:
            with path.open("rb") as file:
                stamp = _stamp(os.fstat(file.fileno()))
                raw = file.read(1 << 20)
        except FileNotFoundError:
            raise DeskKeyError(f"{_NO_FILE} (looked for {path})") from None
        except OSError as exc:
            raise DeskKeyError(f"cannot read the desk key file {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            if data.get("version") != FILE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, not {FILE_VERSION}")
            keys = {kid: _key(kid, text) for kid, text in data["keys"].items()}
            active = data["active"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DeskKeyError(f"{path} is not a desk key file: {exc}") from None
        return cls(keys, active, path=path, stamp=stamp)

    def current(self) -> DeskKeys:
        """These keys, or the file's newer ones if it changed since (after a rekey)."""
        if self.path is None:
            return self
        try:
            stamp = _stamp(self.path.stat())
        except OSError:
            return self  # load() would say why; the keys in hand still work
        return self if stamp == self._stamp else DeskKeys.load(self.path)

    def new_data_key(self, *, case_id: int) -> tuple[bytes, bytes, str]:
        """A fresh data key for case ``case_id``: ``(key, wrapped key, wrapping key id)``."""
        data_key = _new_key()
        return data_key, self.wrap(data_key, case_id=case_id), self.active

    def wrap(self, data_key: bytes, *, case_id: int) -> bytes:
        """``data_key`` encrypted under the active key, bound to the case."""
        return _encrypt(self.keys[self.active], data_key, _wrap_aad(case_id))

    def unwrap(self, wrapped: bytes, kid: str, *, case_id: int) -> bytes:
        """The case's data key; ``DeskKeyError`` when the file lacks its key or it will not
        open (a changed key file, or a wrapped key moved to another case)."""
        key = self.keys.get(kid)
        if key is None:
            raise DeskKeyError(
                f"case {case_id}'s data key is wrapped by key {kid!r}, which the desk key file "
                f"{self.path or ''} does not hold"
            )
        data_key = _decrypt(key, wrapped, _wrap_aad(case_id))
        if data_key is None:
            raise DeskKeyError(f"case {case_id}'s data key does not open with key {kid!r}")
        return data_key


def seal(data_key: bytes, plaintext: str, *, case_id: int, field: str) -> bytes:
    """``plaintext`` encrypted under the case's data key: nonce, then ciphertext and tag."""
    return _encrypt(data_key, plaintext.encode("utf-8"), _field_aad(case_id, field))


def unseal(data_key: bytes, sealed: bytes, *, case_id: int, field: str) -> str:
    """The text ``seal`` sealed; ``DeskKeyError`` when it does not open (another key, case or
    field, or altered bytes)."""
    plain = _decrypt(data_key, sealed, _field_aad(case_id, field))
    if plain is None:
        raise DeskKeyError(f"a sealed {field} of case {case_id} does not open")
    return plain.decode("utf-8")


def rekey(store: Store, path: Path) -> RekeyReport:
    """Rotate the key file's key: add a new active key (the file keeps the old ones), re-wrap
    every case's data key under it in one transaction, then drop the old keys from the file.
    Interrupted at any point, the file still holds every key some case needs."""
    old = DeskKeys.load(path)
    kid = _new_key_id()
    both = DeskKeys({**old.keys, kid: _new_key()}, kid)
    _write(path, both)
    rewrapped = 0
    with store.write() as connection:
        last = 0
        while True:
            rows = connection.execute(
                select(desk_cases.c.id, desk_cases.c.wrapped_key, desk_cases.c.wrapping_key_id)
                .where(
                    desk_cases.c.id > last,
                    desk_cases.c.wrapped_key.is_not(None),
                    desk_cases.c.wrapping_key_id != kid,
                )
                .order_by(desk_cases.c.id)
                .limit(_REKEY_BATCH)
            ).all()
            if not rows:
                break
            for case_id, wrapped, old_kid in rows:
                data_key = both.unwrap(wrapped, old_kid, case_id=case_id)
                connection.execute(
                    update(desk_cases)
                    .where(desk_cases.c.id == case_id)
                    .values(wrapped_key=both.wrap(data_key, case_id=case_id), wrapping_key_id=kid)
                )
            rewrapped += len(rows)
            last = rows[-1].id
    _write(path, DeskKeys({kid: both.keys[kid]}, kid))
    return RekeyReport(kid, rewrapped, tuple(sorted(old.keys)))


def _new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM under a fresh random nonce: the nonce, then the ciphertext and its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + _aesgcm(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes | None:
    """What ``_encrypt`` encrypted; None when it does not open (another key or associated
    data, or altered bytes)."""
    from cryptography.exceptions import InvalidTag

    try:
        return _aesgcm(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        return None


def _aesgcm(key: bytes) -> AESGCM:
    # Imported here: cryptography comes with the desk extra, and a server without the desk
    # must start without it.
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise DeskKeyError(
            "the desk needs the 'desk' extra (cryptography is not installed): "
            "pip install 'rempart[desk]'"
        ) from None
    return AESGCM(key)


def _new_key_id() -> str:
    return secrets.token_hex(6)


def _key(kid: str, text: str) -> bytes:
    if not _KEY_ID.fullmatch(kid):
        raise ValueError(f"invalid key id {kid!r}")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"key {kid!r} is not base64") from exc
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {kid!r} has {len(key)} bytes, not {KEY_BYTES}")
    return key


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _wrap_aad(case_id: int) -> bytes:
    return f"rempart-desk-key:{case_id}".encode()


def _field_aad(case_id: int, field: str) -> bytes:
    return f"rempart-desk-field:{case_id}:{field}".encode()


def _write(path: Path, keys: DeskKeys, *, exclusive: bool = False) -> None:
    """Write the key file, mode 0600, durably: a new file (``exclusive``: refused if one
    exists) or a whole replacement, never a file half-written."""
    document = {
        "version": FILE_VERSION,
        "active": keys.active,
        "keys": {kid: base64.b64encode(key).decode("ascii") for kid, key in keys.keys.items()},
    }
    body = (json.dumps(document, indent=2) + "\n").encode()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = path if exclusive else path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DeskKeyError(
            f"{path} exists already: rempart desk rekey rotates its key; delete it only if no "
            "case was ever sealed with it"
        ) from None
    except OSError as exc:
        raise DeskKeyError(f"cannot write the desk key file {path}: {exc.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        if not exclusive:
            os.replace(target, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a file's creation or renaming in ``folder`` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
