"""Sealed fields: what the desk keeps that says more than a hash (notes, a victim's words, a
flagger's mandate), encrypted at rest with AES-256-GCM.

Each case has its own data key, made when the case is; the case row keeps it wrapped (itself
AES-256-GCM encrypted) by the active key of the deployment's key file, with the case id as
associated data, so that a wrapped key copied onto another case does not open. Each field is
sealed with the case's data key, the case id and the field's name as associated data. A copy of
the database without the key file reads no sealed field; withdrawing a case deletes its sealed
rows and its wrapped key (crypto-erasure, even of rows a backup kept).

A capture of evidence (``desk.evidence``) has a data key of its own, wrapped the same way under
the label ``capture_key_label(id)``; its WARC is sealed with the capture's id and SHA-256 as
associated data (``capture_aad``). ``seal_bytes``/``unseal_bytes`` and ``DeskKeys.wrap_for``/
``unwrap_for`` serve both.

The key file (``REMPART_DESK_KEY_FILE``, ``rempart desk init``) is JSON, mode 0600:
``{"version": 1, "active": KID, "keys": {KID: base64 of 32 bytes}}``. ``rekey`` adds a key,
re-wraps every case's and every live capture's data key in one transaction, then drops the old
keys. A ``DeskKeys``
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Table, select, update

from rempart.errors import DeskKeyError
from rempart.files import sync_folder
from rempart.store import Store
from rempart.store.schema import desk_cases, desk_evidence

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DeskKeys",
    "RekeyReport",
    "capture_aad",
    "capture_key_label",
    "rekey",
    "seal",
    "seal_bytes",
    "unseal",
    "unseal_bytes",
]

FILE_VERSION: Final = 1
KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # GCM's standard nonce, random: far under 2**32 seals per key
_KEY_ID: Final = re.compile(r"[a-z0-9]{1,32}")
_REKEY_BATCH: Final = 1000
_NO_FILE: Final = "no desk key file; run rempart desk init"


@dataclass(frozen=True, slots=True)
class RekeyReport:
    """What a rekey did: the new key's id, how many cases' and captures' data keys it
    re-wrapped, and the key ids it dropped from the file."""

    key_id: str
    cases: int
    dropped: tuple[str, ...]
    captures: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "key_id": self.key_id,
            "cases": self.cases,
            "captures": self.captures,
            "dropped": list(self.dropped),
        }


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
        return self.new_data_key_for(_case_label(case_id))

    def new_data_key_for(self, label: str) -> tuple[bytes, bytes, str]:
        """A fresh data key wrapped under ``label``: ``(key, wrapped key, wrapping key id)``."""
        data_key = _new_key()
        return data_key, self.wrap_for(data_key, label), self.active

    def wrap(self, data_key: bytes, *, case_id: int) -> bytes:
        """``data_key`` encrypted under the active key, bound to the case."""
        return self.wrap_for(data_key, _case_label(case_id))

    def unwrap(self, wrapped: bytes, kid: str, *, case_id: int) -> bytes:
        """The case's data key; ``DeskKeyError`` when the file lacks its key or it will not
        open (a changed key file, or a wrapped key moved to another case)."""
        return self.unwrap_for(wrapped, kid, _case_label(case_id), owner=f"case {case_id}")

    def wrap_for(self, data_key: bytes, label: str) -> bytes:
        """``data_key`` encrypted under the active key, bound to ``label`` (what owns it: a
        wrapped key copied onto another owner does not open)."""
        return seal_bytes(self.keys[self.active], data_key, label.encode())

    def unwrap_for(self, wrapped: bytes, kid: str, label: str, *, owner: str = "a") -> bytes:
        """The data key ``wrap_for`` wrapped under ``label``; ``DeskKeyError`` (naming
        ``owner``) when the file lacks key ``kid`` or the wrapped key does not open."""
        key = self.keys.get(kid)
        if key is None:
            raise DeskKeyError(
                f"{owner}'s data key is wrapped by key {kid!r}, which the desk key file "
                f"{self.path or ''} does not hold"
            )
        return unseal_bytes(
            key, wrapped, label.encode(), what=f"{owner}'s data key", how=f" with key {kid!r}"
        )


def seal(data_key: bytes, plaintext: str, *, case_id: int, field: str) -> bytes:
    """``plaintext`` encrypted under the case's data key: nonce, then ciphertext and tag."""
    return seal_bytes(data_key, plaintext.encode("utf-8"), _field_aad(case_id, field))


def unseal(data_key: bytes, sealed: bytes, *, case_id: int, field: str) -> str:
    """The text ``seal`` sealed; ``DeskKeyError`` when it does not open (another key, case or
    field, or altered bytes)."""
    what = f"a sealed {field} of case {case_id}"
    return unseal_bytes(data_key, sealed, _field_aad(case_id, field), what=what).decode("utf-8")


def seal_bytes(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``plaintext`` encrypted with AES-256-GCM under ``key`` and a fresh random nonce, bound
    to the associated data ``aad``: the nonce, then the ciphertext and its tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + _aesgcm(key).encrypt(nonce, plaintext, aad)


def unseal_bytes(
    key: bytes, blob: bytes, aad: bytes, *, what: str = "the sealed bytes", how: str = ""
) -> bytes:
    """What ``seal_bytes`` sealed; ``DeskKeyError`` ("``what`` does not open``how``") when it
    does not open: another key or associated data, or one altered byte (GCM's tag)."""
    cipher = _aesgcm(key)  # first: without the extra, say so rather than "does not open"
    from cryptography.exceptions import InvalidTag

    try:
        return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
        raise DeskKeyError(f"{what} does not open{how}") from None


def capture_key_label(capture_id: int) -> str:
    """What a capture's data key is wrapped under: the capture, no other."""
    return f"rempart-desk-evidence-key:{capture_id}"


def capture_aad(capture_id: int, sha256: str) -> bytes:
    """A capture's sealed WARC's associated data: its id and the plain WARC's SHA-256."""
    return f"rempart-desk-evidence:{capture_id}:{sha256}".encode()


def rekey(store: Store, path: Path) -> RekeyReport:
    """Rotate the key file's key: add a new active key (the file keeps the old ones), re-wrap
    every case's and every live capture's data key under it in one transaction, then drop the
    old keys from the file. Interrupted at any point, the file still holds every key some case
    or capture needs."""
    old = DeskKeys.load(path)
    kid = _new_key_id()
    both = DeskKeys({**old.keys, kid: _new_key()}, kid)
    _write(path, both)
    with store.write() as connection:
        cases = _rewrap(connection, both, desk_cases, _case_label, "case")
        captures = _rewrap(connection, both, desk_evidence, capture_key_label, "capture")
    _write(path, DeskKeys({kid: both.keys[kid]}, kid))
    return RekeyReport(kid, cases, tuple(sorted(old.keys)), captures)


def _rewrap(
    connection: Connection,
    keys: DeskKeys,
    table: Table,
    label: Callable[[int], str],
    what: str,
) -> int:
    """Re-wrap under ``keys``' active key every data key ``table`` holds wrapped by another
    (rows ``id``, ``wrapped_key``, ``wrapping_key_id``; ``label(id)`` binds each to its row):
    how many."""
    rewrapped = 0
    last = 0
    while True:
        rows = connection.execute(
            select(table.c.id, table.c.wrapped_key, table.c.wrapping_key_id)
            .where(
                table.c.id > last,
                table.c.wrapped_key.is_not(None),
                table.c.wrapping_key_id != keys.active,
            )
            .order_by(table.c.id)
            .limit(_REKEY_BATCH)
        ).all()
        if not rows:
            return rewrapped
        for row_id, wrapped, old_kid in rows:
            data_key = keys.unwrap_for(wrapped, old_kid, label(row_id), owner=f"{what} {row_id}")
            connection.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(
                    wrapped_key=keys.wrap_for(data_key, label(row_id)),
                    wrapping_key_id=keys.active,
                )
            )
        rewrapped += len(rows)
        last = rows[-1].id


def _new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


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


def _case_label(case_id: int) -> str:
    return f"rempart-desk-key:{case_id}"


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
    sync_folder(path.parent)
