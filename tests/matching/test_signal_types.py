"""One table of python-threatexchange's signal types (``PYTX_KINDS``) and one digest check
(``check_digest``): a list imported as ``pytx`` and an exchange's fetched signals bank every
name the same way, and refuse the same bad values."""

from __future__ import annotations

import io
import secrets

import pytest

from rempart.errors import BankError, ImportLineError
from rempart.exchanges.clients import FetchedSignal
from rempart.exchanges.sync import _record
from rempart.matching.banks.formats import (
    IMAGE,
    MD5,
    PYTX_KINDS,
    SHA256,
    Record,
    Skipped,
    check_digest,
    read_records,
)
from rempart.matching.formats import HashListFormat

DIGITS = {IMAGE: 64, MD5: 32, SHA256: 64}


def test_the_table_names_every_pytx_image_and_digest_type() -> None:
    assert dict(PYTX_KINDS) == {
        "pdq": IMAGE,
        "md5": MD5,
        "photo_md5": MD5,
        "video_md5": MD5,
        "sha256": SHA256,
        "photo_sha256": SHA256,
        "video_sha256": SHA256,
    }


@pytest.mark.parametrize("name", sorted(PYTX_KINDS))
def test_a_list_and_an_exchange_bank_each_type_alike(name: str) -> None:
    kind = PYTX_KINDS[name]
    value = secrets.token_hex(DIGITS[kind] // 2)
    (imported,) = read_records(
        io.BytesIO(f"{name} {value.upper()}\n".encode()), HashListFormat.PYTX
    )
    fetched = _record(1, FetchedSignal("key-1", name, f" {value.upper()} ", withdrawn=False))
    assert imported == Record(1, value, kind=kind)
    assert fetched == Record(1, value, kind=kind, source_ref="key-1")


@pytest.mark.parametrize("name", sorted(PYTX_KINDS))
@pytest.mark.parametrize("bad", ["", "g", "0" * 31, "0" * 63, "0" * 65, "\u0661" * 32])
def test_a_bad_value_is_refused_by_both(name: str, bad: str) -> None:
    skipped = _record(3, FetchedSignal("key", name, bad, withdrawn=False))
    assert isinstance(skipped, Skipped)
    assert skipped.reason == f"invalid {name if PYTX_KINDS[name] == IMAGE else PYTX_KINDS[name]}"
    if bad:  # an empty value is a line with no signal, refused for its own reason
        with pytest.raises(ImportLineError):
            list(read_records(io.BytesIO(f"{name} {bad}\n".encode()), HashListFormat.PYTX))


def test_check_digest_is_the_one_digest_check() -> None:
    digest = secrets.token_hex(16)
    assert check_digest("MD5", f"  {digest.upper()}\n") == digest
    assert check_digest(SHA256, "A" * 64) == "a" * 64
    for algorithm, bad in ((MD5, "0" * 64), (SHA256, "0" * 32), (MD5, "z" * 32), ("crc", "0")):
        with pytest.raises(BankError):
            check_digest(algorithm, bad)
