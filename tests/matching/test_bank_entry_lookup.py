"""``Banks.entry`` and ``Banks.find``: one entry read by id, or by kind and hash (HMA's content
ids under ``--hma-compat``), active or withdrawn, never another bank's (SQLite and
PostgreSQL)."""

from __future__ import annotations

import hashlib

import pytest

from rempart.errors import BankError
from rempart.matching.banks import Banks
from rempart.store import Store

PDQ = "1e2feb89414c343c1027c4d1c386bbc4cd613e30d8f16adf91b7584a2265b1f5"
MD5 = hashlib.md5(b"a reported file").hexdigest()


def test_an_entry_is_found_by_id_and_by_kind_and_hash(store: Store) -> None:
    banks = Banks(store)
    banks.create("mine")
    banks.create("theirs")
    banks.add("mine", PDQ.upper(), note="from a report")
    banks.add_digest("mine", "md5", MD5)
    banks.add("theirs", PDQ)
    image = banks.find("mine", "image", PDQ.upper())
    digest = banks.find("mine", "md5", MD5)
    assert image is not None
    assert digest is not None
    assert (image.kind, image.hash, image.note) == ("image", PDQ, "from a report")
    assert (digest.kind, digest.hash) == ("md5", MD5)
    assert banks.find("mine", "md5", PDQ) is None  # the kind counts, not the hash alone
    assert banks.find("mine", "image", "0" * 64) is None
    assert banks.entry("mine", image.entry_id) == image
    theirs = banks.find("theirs", "image", PDQ)
    assert theirs is not None
    assert theirs.entry_id != image.entry_id
    assert banks.entry("mine", theirs.entry_id) is None  # another bank's entry
    banks.withdraw("mine", entry_ids=[image.entry_id])
    withdrawn = banks.entry("mine", image.entry_id)
    assert withdrawn is not None
    assert withdrawn.withdrawn_at is not None
    with pytest.raises(BankError):
        banks.entry("nobody", image.entry_id)
    with pytest.raises(BankError):
        banks.find("nobody", "image", PDQ)
