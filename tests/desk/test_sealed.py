"""Sealed fields: the key file, AES-256-GCM under a data key per case, and key rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from rempart.desk.sealed import (
    DeskKeys,
    RekeyReport,
    capture_aad,
    capture_key_label,
    rekey,
    seal,
    seal_bytes,
    unseal,
    unseal_bytes,
)
from rempart.errors import DeskKeyError
from rempart.store import Store, utc_now
from rempart.store.schema import desk_cases
from tests.desk import without_cases


@pytest.fixture
def keys(tmp_path: Path) -> DeskKeys:
    return DeskKeys.create(tmp_path / "desk.key")


def test_init_writes_one_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "desk.key"
    keys = DeskKeys.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["version"] == 1
    assert list(document["keys"]) == [document["active"]] == [keys.active]
    assert len(base64.b64decode(document["keys"][keys.active])) == 32
    assert DeskKeys.load(path).keys == keys.keys


def test_init_never_overwrites_a_key_file(keys: DeskKeys) -> None:
    assert keys.path is not None
    before = keys.path.read_bytes()
    with pytest.raises(DeskKeyError, match="exists already: rempart desk rekey"):
        DeskKeys.create(keys.path)
    assert keys.path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"no desk key file; run rempart desk init \(looked for"),
        ("not json", "is not a desk key file"),
        ('{"version": 2, "active": "a", "keys": {}}', "version 2, not 1"),
        ('{"version": 1, "active": "a", "keys": {"a": "c2hvcnQ="}}', "5 bytes, not 32"),
        ('{"version": 1, "active": "a", "keys": {"a": "!!"}}', "not base64"),
        ('{"version": 1, "keys": {}}', "is not a desk key file: 'active'"),
        ('{"version": 1, "active": "b", "keys": {}}', "active key 'b' is not among"),
        ('["version", 1]', "is not a desk key file"),
    ],
)
def test_a_missing_or_bad_key_file_is_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "desk.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DeskKeyError, match=message):
        DeskKeys.load(path)


def test_no_key_file_configured() -> None:
    with pytest.raises(DeskKeyError, match=r"^no desk key file; run rempart desk init$"):
        DeskKeys.load(None)


def test_a_sealed_field_opens_for_its_case_and_field_only(keys: DeskKeys) -> None:
    data_key, _, _ = keys.new_data_key(case_id=7)
    words = "report text 1: the words of the report"
    sealed = seal(data_key, words, case_id=7, field="words")
    assert words.encode() not in sealed
    assert b"report text" not in sealed
    assert unseal(data_key, sealed, case_id=7, field="words") == words
    assert seal(data_key, words, case_id=7, field="words") != sealed  # a fresh nonce each time
    other_key, _, _ = keys.new_data_key(case_id=7)
    for key, case_id, field in (
        (data_key, 8, "words"),
        (data_key, 7, "note"),
        (other_key, 7, "words"),
    ):
        with pytest.raises(DeskKeyError, match="does not open"):
            unseal(key, sealed, case_id=case_id, field=field)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(DeskKeyError, match="does not open"):
        unseal(data_key, bytes(tampered), case_id=7, field="words")


def test_a_wrapped_data_key_opens_for_its_case_only(keys: DeskKeys) -> None:
    data_key, wrapped, kid = keys.new_data_key(case_id=3)
    assert kid == keys.active
    assert data_key not in wrapped
    assert keys.unwrap(wrapped, kid, case_id=3) == data_key
    with pytest.raises(DeskKeyError, match="case 4's data key does not open"):
        keys.unwrap(wrapped, kid, case_id=4)
    with pytest.raises(DeskKeyError, match="wrapped by key 'gone', which the desk key file"):
        keys.unwrap(wrapped, "gone", case_id=3)


def test_sealed_bytes_open_with_their_key_and_associated_data_only(keys: DeskKeys) -> None:
    data_key, _, _ = keys.new_data_key_for(capture_key_label(5))
    plain = bytes(range(256)) * 64
    aad = capture_aad(5, "ab" * 32)
    sealed = seal_bytes(data_key, plain, aad)
    assert len(sealed) == len(plain) + 12 + 16  # the nonce, the tag
    assert plain[:16] not in sealed
    assert unseal_bytes(data_key, sealed, aad) == plain
    other_key, _, _ = keys.new_data_key_for(capture_key_label(5))
    tampered = bytearray(sealed)
    tampered[100] ^= 0x80
    for key, blob, data in (
        (other_key, sealed, aad),
        (data_key, sealed, capture_aad(6, "ab" * 32)),
        (data_key, sealed, capture_aad(5, "cd" * 32)),
        (data_key, bytes(tampered), aad),
        (data_key, sealed[:10], aad),
    ):
        with pytest.raises(DeskKeyError, match=r"^the WARC does not open$"):
            unseal_bytes(key, blob, data, what="the WARC")


def test_a_key_wrapped_under_a_label_opens_under_it_only(keys: DeskKeys) -> None:
    data_key, wrapped, kid = keys.new_data_key_for(capture_key_label(9))
    assert keys.unwrap_for(wrapped, kid, capture_key_label(9)) == data_key
    with pytest.raises(DeskKeyError, match=r"^capture 9's data key does not open with key"):
        keys.unwrap_for(wrapped, kid, capture_key_label(10), owner="capture 9")
    # A case's key and a capture's of the same id are bound apart.
    with pytest.raises(DeskKeyError, match="case 9's data key does not open"):
        keys.unwrap(wrapped, kid, case_id=9)
    case_key, case_wrapped, _ = keys.new_data_key(case_id=9)
    assert keys.unwrap_for(case_wrapped, kid, "rempart-desk-key:9") == case_key


def test_a_rekey_report_counts_cases_and_captures() -> None:
    report = RekeyReport("abc", 3, ("old",), captures=2)
    assert report.to_json() == {"key_id": "abc", "cases": 3, "captures": 2, "dropped": ["old"]}


def test_keys_follow_their_file(keys: DeskKeys, tmp_path: Path) -> None:
    assert keys.current() is keys
    assert keys.path is not None
    replacement = DeskKeys.create(tmp_path / "other.key")
    assert replacement.path is not None
    replacement.path.replace(keys.path)
    assert keys.current().active == replacement.active


def make_cases(store: Store, keys: DeskKeys, count: int) -> dict[int, bytes]:
    """``count`` bare cases, each with its own data key: their ids and data keys."""
    data_keys = {}
    now = utc_now()
    with store.write() as connection:
        for i in range(count):
            case_id = connection.execute(
                insert(desk_cases)
                .values(
                    number=f"R-{i:010d}",
                    branch="adult",
                    state="received",
                    created_at=now,
                    updated_at=now,
                )
                .returning(desk_cases.c.id)
            ).scalar_one()
            data_key, wrapped, kid = keys.new_data_key(case_id=case_id)
            connection.execute(
                desk_cases.update()
                .where(desk_cases.c.id == case_id)
                .values(wrapped_key=wrapped, wrapping_key_id=kid)
            )
            data_keys[case_id] = data_key
    return data_keys


def stored_keys(store: Store) -> dict[int, tuple[bytes, str]]:
    with store.read() as connection:
        rows = connection.execute(
            select(desk_cases.c.id, desk_cases.c.wrapped_key, desk_cases.c.wrapping_key_id)
        ).all()
    return {row.id: (row.wrapped_key, row.wrapping_key_id) for row in rows}


def test_rekey_rewraps_every_case_and_drops_the_old_key(store: Store, keys: DeskKeys) -> None:
    without_cases(store)
    assert keys.path is not None
    data_keys = make_cases(store, keys, 3)
    report = rekey(store, keys.path)
    assert report.cases == 3
    assert report.dropped == (keys.active,)
    after = DeskKeys.load(keys.path)
    assert list(after.keys) == [after.active] == [report.key_id] != [keys.active]
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    for case_id, (wrapped, kid) in stored_keys(store).items():
        assert kid == report.key_id
        assert after.unwrap(wrapped, kid, case_id=case_id) == data_keys[case_id]
    assert not list(keys.path.parent.glob(".*.tmp"))


def test_an_interrupted_rekey_loses_no_key(
    store: Store, keys: DeskKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_cases(store)
    assert keys.path is not None
    data_keys = make_cases(store, keys, 2)
    before = stored_keys(store)

    def fail() -> None:
        raise RuntimeError("the power went off")

    monkeypatch.setattr(store, "write", fail)
    with pytest.raises(RuntimeError):
        rekey(store, keys.path)
    monkeypatch.undo()
    assert stored_keys(store) == before  # nothing re-wrapped...
    now = DeskKeys.load(keys.path)
    assert keys.active in now.keys  # ...and the old key kept, beside the new active one
    assert now.active != keys.active
    for case_id, (wrapped, kid) in before.items():
        assert now.unwrap(wrapped, kid, case_id=case_id) == data_keys[case_id]
    report = rekey(store, keys.path)  # run again, it finishes the job
    assert report.cases == 2
    assert set(report.dropped) == {keys.active, now.active}


def test_the_desk_imports_without_its_extra_and_says_what_is_missing(
    keys: DeskKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nor the fetcher's, the WARCs' or the timestamps' libraries: rempart case works without.
    missing = ("cryptography", "httpx", "httpcore", "warcio", "asn1crypto")
    hidden = f"import sys; sys.modules.update(dict.fromkeys({missing!r})); import rempart.desk"
    subprocess.run([sys.executable, "-c", hidden], check=True, env=os.environ)
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    with pytest.raises(DeskKeyError, match=r"pip install 'rempart\[desk\]'"):
        keys.new_data_key(case_id=1)
