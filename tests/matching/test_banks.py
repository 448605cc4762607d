"""Banks on a real database (each test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
    text,
)

import rempart.store
from rempart.errors import BankError, ImportLineError
from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks, HashListFormat, read_records
from rempart.matching.banks.bank import _insert_many
from rempart.matching.formats import BankCategory
from rempart.store import Store
from rempart.store.schema import bank_changes, bank_entries, bank_imports

HASHES = [f"{i:02x}" * 32 for i in range(1, 6)]


def import_text(banks: Banks, name: str, text: str, fmt: HashListFormat = HashListFormat.HEX):  # type: ignore[no-untyped-def]
    return banks.import_records(name, read_records(io.StringIO(text), fmt), origin="test", fmt=fmt)


def row_counts(store: Store) -> tuple[int, int, int]:
    with store.read() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (bank_entries, bank_imports, bank_changes)
        )


def test_create_list_and_refuse_bad_banks(store: Store) -> None:
    banks = Banks(store)
    banks.create("stopncii", source="stopncii", description="victim hashes", threshold=20)
    banks.create("local")
    assert [b.name for b in banks.list()] == ["local", "stopncii"]
    assert banks.get("stopncii").threshold == 20
    with pytest.raises(BankError, match="exists already"):
        banks.create("local")
    with pytest.raises(BankError, match="invalid bank name"):
        banks.create("../etc")
    with pytest.raises(BankError, match="threshold must be 0 to 63"):
        banks.create("wide", threshold=64)
    with pytest.raises(BankError, match=r"no bank named 'nope' \(banks: local, stopncii\)"):
        banks.get("nope")


def test_import_is_idempotent_and_records_provenance(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    first = import_text(banks, "b", "\n".join([*HASHES, HASHES[0]]))
    assert (first.added, first.already_present) == (5, 1)
    again = import_text(banks, "b", "\n".join(HASHES))
    assert (again.added, again.already_present) == (0, 5)
    stats = banks.stats("b")
    assert (stats.active, stats.withdrawn, stats.imports) == (5, 0, 2)
    entries = list(banks.entries("b"))
    assert [e.hash for e in entries] == HASHES
    assert {e.import_id for e in entries} == {first.import_id}


def test_a_malformed_import_changes_nothing(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    import_text(banks, "b", HASHES[0])
    before = row_counts(store)
    # Enough good lines before the bad one that several batches were written first.
    good = "\n".join(f"{i:064x}" for i in range(1, 5000))
    with pytest.raises(ImportLineError, match=r"line 5000 \(byte 324935\): invalid PDQ hash"):
        import_text(banks, "b", good + "\nnot-a-hash\n")
    assert row_counts(store) == before
    assert banks.stats("b").active == 1


def test_withdrawal_is_immediate_kept_on_record_and_not_undone_by_reimport(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    import_text(banks, "b", "\n".join(HASHES))
    matcher = BankMatcher(store, refresh_interval=0)
    assert [m.hash for m in matcher.match(pack(HASHES[:1]))[0]] == [HASHES[0]]
    report = banks.withdraw("b", hashes=[HASHES[0], "ab" * 32], reason="victim request")
    assert (report.withdrawn, report.not_found) == (1, ("ab" * 32,))
    assert matcher.match(pack(HASHES[:1])) == [[]]
    entry = next(e for e in list(banks.entries("b", include_withdrawn=True)) if e.hash == HASHES[0])
    assert entry.withdrawn_at is not None
    again = import_text(banks, "b", HASHES[0])
    assert (again.added, again.already_withdrawn) == (0, 1)
    assert matcher.match(pack(HASHES[:1])) == [[]]
    by_id = banks.withdraw("b", entry_ids=[entry.entry_id + 1, 999])
    assert (by_id.withdrawn, by_id.not_found) == (1, ("999",))
    assert banks.stats("b").withdrawn == 2


def test_stopncii_withdrawn_records_withdraw(store: Store) -> None:
    banks = Banks(store)
    banks.create("s", source="stopncii")
    import_text(banks, "s", "\n".join(HASHES))
    record = f'{{"signalType": "ImagePDQ", "hashValue": "{HASHES[1]}", "hashStatus": "Deleted"}}'
    report = import_text(banks, "s", record, HashListFormat.STOPNCII)
    assert report.withdrawn == 1
    assert banks.stats("s").active == 4


def test_matcher_applies_thresholds_bank_choice_and_enabled_flag(store: Store) -> None:
    banks = Banks(store)
    banks.create("strict", threshold=2)
    banks.create("loose")
    import_text(banks, "strict", HASHES[0])
    import_text(banks, "loose", HASHES[0])
    near = list(bytes.fromhex(HASHES[0]))
    near[0] ^= 0b111  # three bits away
    query = pack([bytes(near)])
    matcher = BankMatcher(store, refresh_interval=0)
    assert [(m.bank, m.distance) for m in matcher.match(query)[0]] == [("loose", 3)]
    assert BankMatcher(store, ["strict"]).match(query) == [[]]
    banks.update("loose", enabled=False)
    assert matcher.match(query) == [[]]
    banks.update("strict", threshold=3)
    assert [m.bank for m in matcher.match(query)[0]] == ["strict"]
    with pytest.raises(BankError, match="no bank named nope"):
        BankMatcher(store, ["nope"])


def test_matcher_follows_another_process(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    matcher = BankMatcher(store, refresh_interval=0)
    assert len(matcher) == 0
    listing = "\n".join(HASHES)
    url = store.engine.url.render_as_string(hide_password=False)
    script = textwrap.dedent(
        f"""
        import io
        from rempart.matching.banks import Banks, HashListFormat, read_records
        from rempart.store import Store
        banks = Banks(Store.open({url!r}))
        banks.import_records("b", read_records(io.StringIO({listing!r}),
            HashListFormat.HEX), origin="other process", fmt=HashListFormat.HEX)
        banks.withdraw("b", hashes=[{HASHES[2]!r}])
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ))
    assert matcher.refresh() == 6  # five adds and a withdrawal, from the log
    assert len(matcher) == 4
    results = matcher.match(pack(HASHES))
    assert [len(r) for r in results] == [1, 1, 0, 1, 1]
    assert matcher.refresh() == 0


@pytest.mark.parametrize(
    "hostile",
    [
        b"\xff\xfe\n",
        b'{"hash": 1' + b"0" * 5000 + b"}\n",
        b"[" * 60_000 + b"\n",
        f'{{"hash": "{HASHES[4]}", "note": "\\ud800"}}\n'.encode(),
    ],
    ids=["not-utf8", "huge-integer", "deep-nesting", "lone-surrogate"],
)
def test_a_refused_byte_stream_imports_nothing(store: Store, hostile: bytes) -> None:
    banks = Banks(store)
    banks.create("b")
    import_text(banks, "b", HASHES[0])
    before = row_counts(store)
    # Several batches of good lines were written before the hostile one.
    good = b"".join(f'{{"hash": "{i:064x}"}}\n'.encode() for i in range(1, 5000))
    with pytest.raises(ImportLineError) as caught:
        banks.import_list("b", io.BytesIO(good + hostile), origin="dump", fmt=HashListFormat.JSONL)
    assert caught.value.line == 5000
    assert caught.value.offset is not None
    assert caught.value.offset >= len(good)
    assert row_counts(store) == before


def test_an_origin_that_was_not_utf8_is_stored_escaped(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    name = os.fsdecode(b"dump/\xff\xfe.txt")  # as a file name on the command line arrives
    report = banks.import_list("b", io.BytesIO(HASHES[0].encode()), origin=name, filename=name)
    assert report.added == 1
    with store.read() as connection:
        assert connection.execute(select(bank_imports.c.origin)).scalar_one() == (
            "dump/\\udcff\\udcfe.txt"
        )


def test_banks_declare_a_category_that_matches_carry(store: Store) -> None:
    banks = Banks(store)
    assert banks.create("local").category is BankCategory.NCII  # as every bank was before
    assert banks.create("hotline", source="NCMEC").category is BankCategory.CHILD_SEXUAL_ABUSE
    assert banks.create("arachnid", source="Project-Arachnid").category == "child_sexual_abuse"
    assert banks.create("victims", source="stopncii").category is BankCategory.NCII
    assert banks.create("demo", category="demo").to_json()["category"] == "demo"
    assert banks.stats("demo").to_json()["category"] == "demo"
    with pytest.raises(BankError, match="unknown bank category 'terror'; choose one of ncii, "):
        banks.create("x", category="terror")
    with pytest.raises(BankError, match="source is 1 to 32 characters"):
        banks.create("y", source="s" * 33)
    with pytest.raises(BankError, match="description is not valid Unicode"):
        banks.create("z", description="\udcff")
    assert [b.name for b in banks.list()] == ["arachnid", "demo", "hotline", "local", "victims"]

    import_text(banks, "demo", HASHES[0])
    matcher = BankMatcher(store, refresh_interval=0)
    (found,) = matcher.match(pack(HASHES[:1]))
    assert [(m.bank, m.category, m.to_json()["category"]) for m in found] == [
        ("demo", BankCategory.DEMO, "demo")
    ]
    banks.update("demo", category=BankCategory.SEXUAL_DEEPFAKE)
    (found,) = matcher.match(pack(HASHES[:1]))
    assert [m.category for m in found] == [BankCategory.SEXUAL_DEEPFAKE]


def test_the_migration_gives_existing_banks_a_category(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store.open(url, migrate=False)
    config = Config()
    scripts = Path(rempart.store.__file__).parent / "migrations"
    config.set_main_option("script_location", str(scripts))
    with old.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    with old.write() as connection:
        for name, source in (("mine", "local"), ("hotline", "ncmec"), ("uk", "Project Arachnid")):
            connection.execute(
                text(
                    "INSERT INTO banks (name, description, source, threshold, enabled, "
                    "created_at, updated_at) VALUES (:name, '', :source, 31, 1, :now, :now)"
                ),
                {"name": name, "source": source, "now": "2026-11-01 00:00:00"},
            )
    old.close()
    migrated = Store.open(url)
    try:
        categories = {bank.name: bank.category for bank in Banks(migrated).list()}
    finally:
        migrated.close()
    assert categories == {
        "mine": BankCategory.NCII,
        "hotline": BankCategory.CHILD_SEXUAL_ABUSE,
        "uk": BankCategory.CHILD_SEXUAL_ABUSE,
    }


def test_text_the_database_cannot_hold_is_refused_before_it(store: Store) -> None:
    banks = Banks(store)
    banks.create("b")
    with pytest.raises(BankError, match="note is not valid Unicode"):
        banks.add("b", HASHES[0], note="\ud800")  # as a JSON body may escape it
    with pytest.raises(BankError, match="reason is not valid Unicode"):
        banks.withdraw("b", hashes=[HASHES[0]], reason="\udcff")
    with pytest.raises(BankError, match="description is not valid Unicode"):
        banks.update("b", description="\udfff")
    assert row_counts(store) == (0, 0, 1)  # the creation, logged


def test_an_insert_leaves_out_only_columns_that_are_null_without_them() -> None:
    """``_insert_many`` binds no column whose every value is None when leaving it out gives
    NULL too; one with a default is bound (NULL, not its default), and columns given in any
    order land where they belong."""
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("plain", String, nullable=True),
        Column("defaulted", String, nullable=True, server_default="7"),
        Column("number", Integer, nullable=False),
    )
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        table.create(connection)
        columns: dict[str, Sequence[Any]] = {
            "number": [3, 4],
            "defaulted": [None, None],
            "plain": (None, None),
        }
        assert _insert_many(connection, insert(table), columns) == 2
        more: dict[str, Sequence[Any]] = {
            "plain": ["a", None],
            "defaulted": ["x", "y"],
            "number": (5, 5),
        }
        assert _insert_many(connection, insert(table), more) == 2
        rows = connection.execute(
            select(table.c.plain, table.c.defaulted, table.c.number).order_by(table.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (None, None, 3),
        (None, None, 4),
        ("a", "x", 5),
        (None, "y", 5),
    ]
