"""rempart.access.keys: a key is shown once, stored as an Argon2id hash, checked and revoked."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from rempart.access.keys import ApiKeys, Role, parse_key, verify_secret
from rempart.errors import ApiKeyError
from rempart.store import Store
from rempart.store.schema import api_keys


def stored_rows(store: Store) -> list[dict[str, object]]:
    with store.read() as connection:
        return [dict(row) for row in connection.execute(select(api_keys)).mappings()]


def test_a_new_key_is_shown_once_and_stored_as_an_argon2id_hash(store: Store) -> None:
    keys = ApiKeys(store)
    new = keys.create(Role.PLATFORM, name="  upload checks  ", rate_limit=50)
    assert parse_key(new.secret) == new.key.key_id
    assert new.secret.startswith(f"rmp_{new.key.key_id}_")
    assert (new.key.name, new.key.role, new.key.rate_limit) == ("upload checks", Role.PLATFORM, 50)
    assert new.key.active
    assert new.key.revoked_at is None
    assert new.key.created_at.tzinfo is not None

    [row] = stored_rows(store)
    assert str(row["secret_hash"]).startswith("$argon2id$")
    secret_part = new.secret[len(f"rmp_{new.key.key_id}_") :]
    assert len(secret_part) == 43
    for value in row.values():  # no column holds the key or its secret part
        assert new.secret not in str(value)
        assert secret_part not in str(value)
    assert keys.get(new.key.key_id) == new.key


def test_secrets_differ_and_parse(store: Store) -> None:
    keys = ApiKeys(store)
    made = [keys.create(role) for role in Role]
    assert len({new.secret for new in made}) == len({new.key.key_id for new in made}) == len(Role)
    assert [new.key.role for new in made] == list(Role)
    for new in made:
        assert parse_key(new.secret) == new.key.key_id
    assert parse_key("") is None
    assert parse_key("Bearer " + made[0].secret) is None
    assert parse_key(made[0].secret + "x") is None
    assert parse_key(made[0].secret.replace("rmp_", "rmq_")) is None


def test_verify_secret(store: Store) -> None:
    keys = ApiKeys(store)
    new, other = keys.create(Role.ADMIN), keys.create(Role.ADMIN)
    key = keys.get(new.key.key_id)
    assert verify_secret(key, new.secret)
    last = new.secret[-1]
    changed = new.secret[:-1] + ("A" if last != "A" else "B")
    assert parse_key(changed) == key.key_id  # well-formed, same id, wrong secret
    assert not verify_secret(key, changed)
    assert not verify_secret(key, other.secret)
    assert not verify_secret(key, "")
    assert verify_secret(keys.get(other.key.key_id), other.secret)


def test_a_corrupt_stored_hash_verifies_nothing(store: Store) -> None:
    new = ApiKeys(store).create(Role.REVIEWER)
    broken = replace(new.key, secret_hash="not an argon2 hash")
    assert not verify_secret(broken, new.secret)


def test_revoke(store: Store) -> None:
    keys = ApiKeys(store)
    assert not keys.has_active()
    first, second = keys.create(Role.ADMIN), keys.create(Role.FLAGGER)
    assert keys.has_active()

    revoked = keys.revoke(first.key.key_id)
    assert revoked.revoked_at is not None
    assert not revoked.active
    assert revoked.revoked_at >= revoked.created_at
    assert keys.get(first.key.key_id) == revoked
    assert keys.has_active()  # the second key still is

    again = keys.revoke(first.key.key_id)  # harmless, and keeps the first time
    assert again.revoked_at == revoked.revoked_at

    keys.revoke(second.key.key_id)
    assert not keys.has_active()
    assert [key.active for key in keys.list()] == [False, False]
    # A revoked key's secret still verifies against its hash; refusing it is the caller's
    # job (the server checks ``active`` first).
    assert verify_secret(keys.get(second.key.key_id), second.secret)


def test_unknown_key_ids(store: Store) -> None:
    keys = ApiKeys(store)
    assert keys.find("nosuchkey000") is None
    with pytest.raises(ApiKeyError, match="no API key"):
        keys.get("nosuchkey000")
    with pytest.raises(ApiKeyError, match="no API key"):
        keys.revoke("nosuchkey000")


@pytest.mark.parametrize("role", ["nobody", "ADMIN ", "", "root"])
def test_unknown_role(store: Store, role: str) -> None:
    with pytest.raises(ApiKeyError) as caught:
        ApiKeys(store).create(role)
    for known in Role:
        assert known.value in str(caught.value)
    assert stored_rows(store) == []


def test_role_by_name_and_refused_options(store: Store) -> None:
    keys = ApiKeys(store)
    assert keys.create("reviewer").key.role is Role.REVIEWER
    with pytest.raises(ApiKeyError, match="name"):
        keys.create(Role.ADMIN, name="x" * 201)
    with pytest.raises(ApiKeyError, match="rate limit"):
        keys.create(Role.ADMIN, rate_limit=0)
    assert len(keys.list()) == 1


def test_list_never_shows_a_secret(store: Store) -> None:
    keys = ApiKeys(store)
    made = [keys.create(role, name=f"holder {role.value}") for role in Role]
    keys.revoke(made[1].key.key_id)
    listed = keys.list()
    assert [key.key_id for key in listed] == [new.key.key_id for new in made]  # oldest first
    for key, new in zip(listed, made, strict=True):
        record = key.to_json()
        assert set(record) == {"key_id", "name", "role", "rate_limit", "created_at", "revoked_at"}
        text = json.dumps(record)
        assert new.secret not in text
        assert key.secret_hash not in text
        assert "argon2" not in text
    assert listed[1].to_json()["revoked_at"] is not None
    assert listed[0].to_json()["revoked_at"] is None
