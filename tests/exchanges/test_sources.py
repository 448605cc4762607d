"""Which exchange records list each entry (``bank_entry_sources``): a hash two NCMEC entries
share stays active, and matching, until the last of them is deleted; an updated entry's old
fingerprints stop matching; a full fetch withdraws only what the exchange brought; a fetch
that brings nothing records no import; and the migration fills the table from what was
stored. On SQLite and PostgreSQL (the ``store`` fixture of tests/conftest.py)."""

from __future__ import annotations

import base64
import json
import random
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, make_url, select, text

import rempart.matching.banks.bank as bank_module
import rempart.store
from rempart.exchanges.sync import Exchanges
from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks, HashListFormat, Record
from rempart.store import Store
from rempart.store.schema import bank_entries, bank_entry_sources
from tests.exchanges.fakes import Response, fake_exchange
from tests.exchanges.ncmec import PASSWORD, USER, FakeNCMEC, _format_time, _parse_time

if TYPE_CHECKING:
    from alembic.config import Config

PDQ_A = "f" * 8 + "0" * 56
PDQ_B = "0" * 8 + "f" * 56
PDQ_C = "a5" * 32
PDQ_D = "3c" * 32
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
AT_SOURCE = "withdrawn at source"


class EntriesNCMEC(FakeNCMEC):
    """NCMEC serving whole entries, as NCMEC does: an entry (member, id) holds several
    fingerprints, two entries may hold the same one, and an update replaces the entry."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # (member, id) -> (fingerprint element -> value, or None once deleted; its stamp)
        self.entries: dict[tuple[int, int], tuple[dict[str, str] | None, int]] = {}

    def put(self, member: int, entry_id: int, **fingerprints: str) -> str:
        """Serve the entry with these fingerprints (``md5``, ``pdq``); its key."""
        self.entries[member, entry_id] = (fingerprints, self.clock(0, 1))
        return f"{member}-{entry_id}"

    def remove(self, member: int, entry_id: int) -> None:
        """Serve the entry's deletion."""
        self.entries[member, entry_id] = (None, self.clock(0, 1))

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, "text/plain", b"Unauthorized"
        low, high = _parse_time(query["from"][0]), _parse_time(query["to"][0])
        root = ET.Element("queryResult", xmlns="https://hashsharing.ncmec.org/hashsharing/v2")
        images = ET.SubElement(root, "images")
        newest = low
        for (member, entry_id), (fingerprints, stamp) in sorted(self.entries.items()):
            if not low <= stamp < high:
                continue
            newest = max(newest, stamp)
            entry = ET.SubElement(images, "image" if fingerprints else "deletedImage")
            ET.SubElement(entry, "id").text = str(entry_id)
            ET.SubElement(entry, "member", id=str(member)).text = f"member {member}"
            ET.SubElement(entry, "timestamp").text = _format_time(stamp)
            if fingerprints:
                ET.SubElement(entry, "classification").text = "A1"
                held = ET.SubElement(entry, "fingerprints")
                for element, value in fingerprints.items():
                    ET.SubElement(held, element).text = value
        images.set("count", str(len(images)))
        images.set("maxTimestamp", _format_time(newest))
        return 200, "application/xml", ET.tostring(root, encoding="utf-8")


@pytest.fixture
def ncmec(store: Store) -> Iterator[tuple[EntriesNCMEC, Exchanges]]:
    fake = EntriesNCMEC()
    fake.start()
    try:
        exchanges = Exchanges(store, environ={"NCMEC": fake.credentials})
        exchanges.add("nc", "ncmec", credentials_env="NCMEC", url=fake.url, options=fake.options)
        yield fake, exchanges
    finally:
        fake.stop()


def fetch(fake: FakeNCMEC, exchanges: Exchanges, name: str = "nc", **options: Any) -> Any:
    fake.settle()
    return exchanges.fetch(name, **options)


def active(store: Store, bank: str = "nc") -> set[str]:
    return {row.hash for row in Banks(store).entries(bank)}


def sources(store: Store) -> set[tuple[str, str]]:
    """(key, hash) for every key that lists an entry: its first (``source_listed``), or a
    further one (a row of ``bank_entry_sources``)."""
    banks = Banks(store)
    hashes = {
        row.entry_id: row.hash
        for bank in banks.list()
        for row in banks.entries(bank.name, include_withdrawn=True)
    }
    with store.read() as connection:
        rows = connection.execute(select(bank_entry_sources)).all()
        firsts = connection.execute(
            select(bank_entries.c.source_ref, bank_entries.c.hash).where(
                bank_entries.c.source_listed
            )
        ).all()
    further = {(row.source_ref, hashes[row.entry_id]) for row in rows}
    return further | {(row.source_ref, row.hash) for row in firsts}


def test_a_hash_two_entries_share_matches_until_the_last_is_deleted(
    store: Store, ncmec: tuple[EntriesNCMEC, Exchanges]
) -> None:
    fake, exchanges = ncmec
    fake.put(1, 1, md5=MD5, pdq=PDQ_A)
    fake.put(2, 7, md5=MD5)
    report = fetch(fake, exchanges)
    assert (report.added, report.entries) == (2, 2)
    assert sources(store) == {("1-1", MD5), ("1-1", PDQ_A), ("2-7", MD5)}
    matcher = BankMatcher(store, refresh_interval=None)
    assert [m.hash for m in matcher.match_digest("md5", MD5)] == [MD5]

    fake.remove(1, 1)
    report = fetch(fake, exchanges)
    assert report.withdrawn == 1  # PDQ_A: no other entry lists it
    matcher.refresh()
    assert [m.hash for m in matcher.match_digest("md5", MD5)] == [MD5]  # 2-7 still lists it
    assert matcher.match(pack([PDQ_A])) == [[]]
    assert active(store) == {MD5}

    fake.remove(2, 7)
    assert fetch(fake, exchanges).withdrawn == 1
    matcher.refresh()
    assert matcher.match_digest("md5", MD5) == []
    assert active(store) == set()
    assert sources(store) == set()
    withdrawn = Banks(store).find("nc", "md5", MD5)
    assert withdrawn is not None
    assert withdrawn.source_ref == "1-1"  # the first key, for display

    fake.put(2, 7, md5=MD5)  # listed again: it matches again
    fetch(fake, exchanges)
    matcher.refresh()
    assert [m.hash for m in matcher.match_digest("md5", MD5)] == [MD5]


def test_an_updated_entry_replaces_its_fingerprints(
    store: Store, ncmec: tuple[EntriesNCMEC, Exchanges]
) -> None:
    fake, exchanges = ncmec
    fake.put(3, 3, pdq=PDQ_A, md5=MD5)
    fake.put(4, 4, pdq=PDQ_C)
    fetch(fake, exchanges)
    matcher = BankMatcher(store, refresh_interval=None)
    assert [m.hash for m in matcher.match(pack([PDQ_A]))[0]] == [PDQ_A]

    fake.put(3, 3, pdq=PDQ_B, md5=MD5)  # its PDQ changed from A to B
    report = fetch(fake, exchanges)
    assert (report.added, report.withdrawn) == (1, 1)
    matcher.refresh()
    assert matcher.match(pack([PDQ_A])) == [[]]
    assert [m.hash for m in matcher.match(pack([PDQ_B]))[0]] == [PDQ_B]
    assert active(store) == {PDQ_B, PDQ_C, MD5}
    row = Banks(store).find("nc", "image", PDQ_A)
    assert row is not None
    assert row.withdrawn_at is not None

    fake.put(3, 3, pdq=PDQ_C)  # now the PDQ another entry lists, and no MD5
    fetch(fake, exchanges)
    assert active(store) == {PDQ_C}
    fake.put(4, 4, pdq=PDQ_D)  # 4-4 moves on; 3-3 still lists C
    fetch(fake, exchanges)
    assert active(store) == {PDQ_C, PDQ_D}
    assert sources(store) == {("3-3", PDQ_C), ("4-4", PDQ_D)}


def test_distinct_hashes_keep_their_keys_in_the_entries(store: Store) -> None:
    """A fetch of hashes no two records share writes no row of ``bank_entry_sources``: each
    entry holds its one key (what keeps a fetch of a million fast), and a deletion still
    withdraws by it."""
    values = [PDQ_D, PDQ_A, PDQ_C, PDQ_B]  # not in hash order: the import sorts them
    with fake_exchange("stopncii") as fake:
        exchanges = Exchanges(store, environ={"S": fake.credentials})
        exchanges.add("sn", "stopncii", credentials_env="S", url=fake.url)
        for value in values[:2]:
            fake.add("pdq", value)
        fake.settle()
        assert exchanges.fetch("sn").added == 2
        for value in values[2:]:  # a second batch, into a bank keys list already
            fake.add("pdq", value)
        fake.settle()
        assert exchanges.fetch("sn").added == 2
        assert further_sources(store) == []
        assert sources(store) == {(f"pdq:{value}", value) for value in values}
        assert Banks(store).source_keys("sn") == {f"pdq:{value}" for value in values}
        fake.delete("pdq", PDQ_A)
        fake.settle()
        assert exchanges.fetch("sn").withdrawn == 1
        assert active(store, "sn") == {PDQ_B, PDQ_C, PDQ_D}
        row = Banks(store).find("sn", "image", PDQ_A)
        assert row is not None
        assert row.source_ref == f"pdq:{PDQ_A}"


def test_a_hash_deleted_and_shared_anew_holds_its_key_in_its_entry_again(store: Store) -> None:
    """StopNCII's key is made of the hash: deleted and listed again, the entry's own key is
    its flag again, not a row (else every re-listing would cost a row, as before 0015)."""
    with fake_exchange("stopncii") as fake:
        exchanges = Exchanges(store, environ={"S": fake.credentials})
        exchanges.add("sn", "stopncii", credentials_env="S", url=fake.url)
        fake.add("pdq", PDQ_A)
        fake.settle()
        exchanges.fetch("sn")
        for _ in range(2):
            fake.delete("pdq", PDQ_A)
            fake.settle()
            assert exchanges.fetch("sn").withdrawn == 1
            assert active(store, "sn") == set()
            fake.add("pdq", PDQ_A)
            fake.settle()
            exchanges.fetch("sn")
            assert active(store, "sn") == {PDQ_A}
            assert further_sources(store) == []
            assert sources(store) == {(f"pdq:{PDQ_A}", PDQ_A)}


def test_an_entry_imported_by_hand_under_an_exchanges_key_is_not_its(store: Store) -> None:
    """A hand import whose reference happens to be an exchange's key stays the moderator's:
    the exchange listing it neither claims it nor withdraws it."""
    banks = Banks(store)
    with fake_exchange("stopncii") as fake:
        exchanges = Exchanges(store, environ={"S": fake.credentials})
        exchanges.add("sn", "stopncii", credentials_env="S", url=fake.url)
        banks.import_records(
            "sn",
            [Record(1, PDQ_B, source_ref=f"pdq:{PDQ_B}")],
            origin="by hand",
            fmt=HashListFormat.PYTX,
        )
        fake.add("pdq", PDQ_B)
        fake.settle()
        exchanges.fetch("sn")
        assert banks.source_keys("sn") == set()
        fake.delete("pdq", PDQ_B)
        fake.settle()
        assert exchanges.fetch("sn").withdrawn == 0
        assert active(store, "sn") == {PDQ_B}


def test_a_full_fetch_into_an_existing_bank_leaves_what_was_imported_by_hand(
    store: Store, tmp_path: Path
) -> None:
    banks = Banks(store)
    banks.create("existing", source="stopncii")
    pytx = tmp_path / "by-hand.txt"
    # A list imported by hand, keyed as StopNCII keys its records: not the exchange's.
    pytx.write_text(f"pdq {PDQ_C}\npdq {PDQ_D}\n", encoding="utf-8")
    with pytx.open("rb") as stream:
        banks.import_list("existing", stream, origin=pytx.name, fmt=HashListFormat.PYTX)
    banks.add("existing", PDQ_B, source_ref=f"pdq:{PDQ_B}")
    with fake_exchange("stopncii") as fake:
        exchanges = Exchanges(store, environ={"S": fake.credentials})
        exchanges.add("sn", "stopncii", credentials_env="S", url=fake.url, bank="existing")
        fake.add("pdq", PDQ_A)
        fake.add("pdq", PDQ_C)  # also listed by hand: the exchange does not claim it
        fake.settle()
        exchanges.fetch("sn")
        # What an earlier fetch brought under a record the exchange dropped since.
        gone = "f0" * 32
        with store.write() as connection:
            banks.import_sources(
                "existing",
                {f"pdq:{gone}": [Record(1, gone)]},
                origin="exchange sn",
                fmt=HashListFormat.PYTX,
                reason=AT_SOURCE,
                connection=connection,
            )
        assert gone in active(store, "existing")
        report = exchanges.fetch("sn", full=True)
        assert report.withdrawn == 1
        assert active(store, "existing") == {PDQ_A, PDQ_B, PDQ_C, PDQ_D}
        fake.delete("pdq", PDQ_C)
        fake.settle()
        assert exchanges.fetch("sn").withdrawn == 0  # the hand import still lists it
        assert PDQ_C in active(store, "existing")


@pytest.mark.parametrize("kind", ["stopncii", "ncmec", "threatexchange", "tat"])
def test_a_fetch_that_brings_nothing_records_no_import(store: Store, kind: str) -> None:
    with fake_exchange(kind) as fake:
        exchanges = Exchanges(store, environ={"C": fake.credentials})
        exchanges.add("feed", kind, credentials_env="C", url=fake.url, options=fake.options)
        fake.add("pdq", PDQ_A)
        fake.settle()
        exchanges.fetch("feed")
        imports = Banks(store).stats("feed").imports
        assert imports == 1
        for _ in range(3):
            fake.settle()
            report = exchanges.fetch("feed")
            assert (report.fetched, report.added) == (0, 0)
        assert Banks(store).stats("feed").imports == imports
        fake.add("pdq", PDQ_B)
        fake.settle()
        assert exchanges.fetch("feed").added == 1
        assert Banks(store).stats("feed").imports == imports + 1


def test_a_deletion_changes_nothing_when_its_batch_fails(store: Store) -> None:
    """The sources, the import and the withdrawals of a batch commit together."""
    banks = Banks(store)
    banks.create("b", source="ncmec")
    listed = {"1-1": [Record(1, PDQ_A)], "2-2": [Record(2, PDQ_A), Record(3, PDQ_B)]}
    banks.import_sources(
        "b", listed, origin="exchange x", fmt=HashListFormat.PYTX, reason=AT_SOURCE
    )
    before = sources(store)

    def failing_page() -> None:
        with store.write() as connection:
            withdrawn = banks.withdraw_sources(
                "b", ["2-2"], reason=AT_SOURCE, connection=connection
            )
            assert withdrawn == 1
            raise RuntimeError("the page failed")

    with pytest.raises(RuntimeError):
        failing_page()
    assert sources(store) == before
    assert active(store, "b") == {PDQ_A, PDQ_B}
    assert banks.withdraw_sources("b", ["1-1", "no-such-key"], reason=AT_SOURCE) == 0
    assert banks.withdraw_sources("b", ["2-2"], reason=AT_SOURCE) == 2
    assert banks.source_keys("b") == set()

    # Listed again: reinstated; a moderator's withdrawal is not undone by a listing.
    def listing(key: str, *hashes: str) -> int:
        records = [Record(n, value) for n, value in enumerate(hashes, 1)]
        report = banks.import_sources(
            "b", {key: records}, origin="exchange x", fmt=HashListFormat.PYTX, reason=AT_SOURCE
        )
        return report.reinstated

    assert listing("3-3", PDQ_A) == 1
    assert active(store, "b") == {PDQ_A}
    assert listing("4-4", PDQ_C) == 0
    banks.withdraw("b", hashes=[PDQ_C], reason="moderator")
    assert listing("5-5", PDQ_C) == 0
    assert active(store, "b") == {PDQ_A}
    assert banks.reinstate_hashes("b", [PDQ_C], reason=AT_SOURCE) == 0
    assert banks.reinstate_hashes("b", [PDQ_C.upper(), PDQ_B]) == 2
    assert active(store, "b") == {PDQ_A, PDQ_B, PDQ_C}


def old_database(
    request: pytest.FixtureRequest, tmp_path: Path, store: Store, revision: str
) -> tuple[str, Config]:
    """A database of its own (SQLite, or one on the PostgreSQL server) migrated up to
    ``revision``, holding an NCMEC exchange's bank as an earlier Rempart wrote it: entries 1
    to 5 (see ``OLD_ENTRIES``); its URL and the alembic config that migrates it."""
    from alembic import command
    from alembic.config import Config

    if store.engine.dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        name = f"rempart_sources_{revision}"
        server = request.getfixturevalue("postgres_url")
        engine = create_engine(server, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        database = make_url(server).set(database=name)
        url = database.render_as_string(hide_password=False)
    old = Store.open(url, migrate=False)
    config = Config()
    config.set_main_option(
        "script_location", str(Path(rempart.store.__file__).parent / "migrations")
    )
    with old.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0013")
    now = "2026-12-01 00:00:00"
    with old.write() as connection:
        connection.execute(
            text(
                "INSERT INTO banks (id, name, description, source, threshold, enabled, "
                "created_at, updated_at) VALUES (1, 'nc', '', 'ncmec', 31, true, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO exchanges (id, name, type, bank_id, options, checkpoint, enabled, "
                "created_at) VALUES (1, 'nc', 'ncmec', 1, '{}', :checkpoint, true, :now)"
            ),
            {"now": now, "checkpoint": json.dumps({"start_timestamp": 1, "is_backfill": False})},
        )
        for import_id, origin in ((1, "exchange nc"), (2, "by-hand.txt")):
            connection.execute(
                text(
                    "INSERT INTO bank_imports (id, bank_id, started_at, origin, format, added, "
                    "already_present, withdrawn) VALUES (:id, 1, :now, :origin, 'pytx', 0, 0, 0)"
                ),
                {"id": import_id, "origin": origin, "now": now},
            )
        for entry_id, value, import_id, ref, reason in OLD_ENTRIES:
            connection.execute(
                text(
                    "INSERT INTO bank_entries (id, bank_id, hash, added_at, import_id, "
                    "source_ref, withdrawn_at, withdrawn_reason, kind) VALUES (:id, 1, :hash, "
                    ":now, :import_id, :ref, :at, :reason, 'image')"
                ),
                {
                    "id": entry_id,
                    "hash": value,
                    "now": now,
                    "import_id": import_id,
                    "ref": ref,
                    "at": now if reason else None,
                    "reason": reason,
                },
            )
        if connection.dialect.name == "postgresql":  # the ids given above taken
            for table in ("bank_imports", "bank_entries"):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)")
                )
        if revision != "0013":
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    old.close()
    return url, config


OLD_ENTRIES = [
    (1, PDQ_A, 1, "1-1", None),  # brought by the exchange
    (2, PDQ_B, 1, "1-2", AT_SOURCE),  # deleted at source since
    (3, PDQ_C, 1, "1-3", "moderator"),  # a moderator withdrew it; 1-3 lists it
    (4, PDQ_D, 2, "pdq:x", None),  # imported by hand
    (5, MD5, 1, None, None),
]


def further_sources(store: Store) -> list[tuple[str, int, int]]:
    """The rows of ``bank_entry_sources``: (key, entry id, bank id)."""
    with store.read() as connection:
        found = connection.execute(
            select(
                bank_entry_sources.c.source_ref,
                bank_entry_sources.c.entry_id,
                bank_entry_sources.c.bank_id,
            )
        ).all()
    return sorted(tuple(row) for row in found)


def test_the_migration_records_the_keys_exchanges_brought(
    request: pytest.FixtureRequest, tmp_path: Path, store: Store
) -> None:
    from alembic import command

    url, config = old_database(request, tmp_path, store, "0013")
    migrated = Store.open(url, migrate=False)
    try:
        with migrated.write() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0014")
        assert further_sources(migrated) == [("1-1", 1, 1), ("1-3", 3, 1)]
        # The exchange's next fetch is full, to record the keys a hash held already had.
        (exchange,) = Exchanges(migrated, environ={}).list()
        assert exchange.checkpoint == {"rempart": "full fetch unfinished"}
        # Downgraded, the table goes; upgraded again, it is filled again.
        with migrated.write() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0013")
        with migrated.write() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        assert Banks(migrated).source_keys("nc") == {"1-1", "1-3"}
    finally:
        migrated.close()


def test_the_first_keys_move_back_into_the_entries(
    request: pytest.FixtureRequest, tmp_path: Path, store: Store
) -> None:
    """0015: a row naming its entry's own ``source_ref`` becomes the entry's flag, the others
    stay rows, and the keys still withdraw what they list as before."""
    from alembic import command

    url, config = old_database(request, tmp_path, store, "0014")
    at_0014 = Store.open(url, migrate=False)
    with at_0014.write() as connection:
        # PDQ_A also listed by 2-2; 1-3 no longer lists PDQ_C, 3-3 does (1-3 stays its
        # source_ref, for display).
        connection.execute(
            text(
                "INSERT INTO bank_entry_sources (entry_id, source_ref, bank_id) VALUES "
                "(1, '2-2', 1), (3, '3-3', 1)"
            )
        )
        connection.execute(
            text("DELETE FROM bank_entry_sources WHERE entry_id = 3 AND source_ref = '1-3'")
        )
        rows_0014 = sorted(
            tuple(row)
            for row in connection.execute(
                text("SELECT source_ref, entry_id, bank_id FROM bank_entry_sources")
            )
        )
    at_0014.close()
    assert rows_0014 == [("1-1", 1, 1), ("2-2", 1, 1), ("3-3", 3, 1)]
    migrated = Store.open(url)  # to head
    banks = Banks(migrated)
    try:
        assert further_sources(migrated) == [("2-2", 1, 1), ("3-3", 3, 1)]
        with migrated.read() as connection:
            flagged = connection.execute(
                select(bank_entries.c.id).where(bank_entries.c.source_listed)
            ).scalars()
            assert sorted(flagged) == [1]
        assert sources(migrated) == {("1-1", PDQ_A), ("2-2", PDQ_A), ("3-3", PDQ_C)}
        assert banks.source_keys("nc") == {"1-1", "2-2", "3-3"}

        # Downgraded, the rows are as 0014 wrote them; upgraded again, as above.
        with migrated.write() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0014")
        with migrated.read() as connection:
            rows = connection.execute(
                text("SELECT source_ref, entry_id, bank_id FROM bank_entry_sources")
            )
            assert sorted(tuple(row) for row in rows) == rows_0014
        with migrated.write() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        assert further_sources(migrated) == [("2-2", 1, 1), ("3-3", 3, 1)]

        # PDQ_A's first key goes: 2-2 still lists it. Then 2-2 goes too: withdrawn.
        assert banks.withdraw_sources("nc", ["1-1"], reason=AT_SOURCE) == 0
        assert PDQ_A in active(migrated)
        assert banks.withdraw_sources("nc", ["2-2"], reason=AT_SOURCE) == 1
        assert PDQ_A not in active(migrated)
        row = banks.find("nc", "image", PDQ_A)
        assert row is not None
        assert row.source_ref == "1-1"  # the first key, for display
        assert banks.source_keys("nc") == {"3-3"}
        # Listed again, by 4-4: reinstated, the key held as a row (its first key is 1-1's).
        report = banks.import_sources(
            "nc",
            {"4-4": [Record(1, PDQ_A)]},
            origin="exchange nc",
            fmt=HashListFormat.PYTX,
            reason=AT_SOURCE,
        )
        assert (report.reinstated, report.withdrawn) == (1, 0)
        assert PDQ_A in active(migrated)
        assert sources(migrated) == {("4-4", PDQ_A), ("3-3", PDQ_C)}
        assert banks.withdraw_sources("nc", ["4-4"], reason=AT_SOURCE) == 1
    finally:
        migrated.close()


@pytest.mark.parametrize("kind", ["tat", "threatexchange"])
def test_two_keys_of_one_digest_withdraw_it_when_both_go(store: Store, kind: str) -> None:
    """Keyed by the value as sent, an MD5 sent in capitals and in lower case is two records
    and one entry: it matches until both are deleted."""
    with fake_exchange(kind) as fake:
        md5_types = [t for t in fake.signal_types if t.endswith("md5")]
        if not md5_types:
            pytest.skip(f"the {kind} fake serves no MD5")
        exchanges = Exchanges(store, environ={"C": fake.credentials})
        exchanges.add("feed", kind, credentials_env="C", url=fake.url, options=fake.options)
        fake.add(md5_types[0], MD5.upper())
        fake.add(md5_types[0], MD5)
        fake.settle()
        assert exchanges.fetch("feed").added == 1
        assert len(Banks(store).source_keys("feed")) == 2
        matcher = BankMatcher(store, refresh_interval=None)
        fake.delete(md5_types[0], MD5.upper())
        fake.settle()
        assert exchanges.fetch("feed").withdrawn == 0
        matcher.refresh()
        assert [m.hash for m in matcher.match_digest("md5", MD5)] == [MD5]
        fake.delete(md5_types[0], MD5)
        fake.settle()
        assert exchanges.fetch("feed").withdrawn == 1
        matcher.refresh()
        assert matcher.match_digest("md5", MD5) == []


def bank_sources(store: Store, bank: str) -> set[tuple[str, str]]:
    """``sources`` of one bank's entries."""
    entries = {row.hash for row in Banks(store).entries(bank, include_withdrawn=True)}
    return {(key, value) for key, value in sources(store) if value in entries}


@pytest.mark.parametrize("seed", range(4))
def test_keys_made_of_their_hash_are_looked_up_only_when_that_could_find_them(
    store: Store, seed: int
) -> None:
    """``keys_name_hashes`` (StopNCII's, ThreatExchange's and TAT's ``type:value`` keys) skips
    the lookup of what the keys listed before only where it would find nothing: the same
    listings, deletions and hand imports, applied to two banks, leave the same keys and
    active entries whether the keys are looked up or not."""
    rng = random.Random(seed)
    banks = Banks(store)
    pool = [f"{n:02x}" * 32 for n in rng.sample(range(256), 6)]
    for name in ("named", "looked-up"):
        banks.create(name, source="stopncii")
    # Keyed by the value as sent: an upper-case key is a record of its own, and keys past
    # MAX_SOURCE_REF (blanks before the hash) are cut to one key for every hash.
    sent = (str, str.upper, lambda h: " " * 600 + h)
    for _ in range(14):
        hashes = rng.sample(pool, rng.randint(1, 4))
        keys = {f"pdq:{rng.choice(sent)(h)}": h for h in hashes}
        gone = [key for key in keys if rng.random() < 0.3]
        listed = {key: [Record(1, h)] for key, h in keys.items() if key not in gone}
        by_hand = rng.choice(pool) if rng.random() < 0.15 else None
        for name, named in (("named", True), ("looked-up", False)):
            if by_hand is not None and banks.find(name, "image", by_hand) is None:
                banks.add(name, by_hand)
            with store.write() as connection:
                banks.import_sources(
                    name,
                    listed,
                    origin="exchange x",
                    fmt=HashListFormat.PYTX,
                    reason=AT_SOURCE,
                    keys_name_hashes=named,
                    connection=connection,
                )
                banks.withdraw_sources(name, gone, reason=AT_SOURCE, connection=connection)
        assert bank_sources(store, "named") == bank_sources(store, "looked-up")
        assert active(store, "named") == active(store, "looked-up")
    assert bank_sources(store, "named")  # the sequence listed something


def test_keys_made_of_new_hashes_are_not_looked_up(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[list[str]] = []
    lookup = bank_module._sources_of_keys

    def counted(connection: Any, bank_id: int, keys: list[str], **options: Any) -> Any:
        looked_up.append(keys)
        return lookup(connection, bank_id, keys, **options)

    monkeypatch.setattr(bank_module, "_sources_of_keys", counted)
    banks = Banks(store)
    banks.create("b", source="stopncii")

    def list_keys(listed: dict[str, list[Record]]) -> None:
        banks.import_sources(
            "b",
            listed,
            origin="exchange x",
            fmt=HashListFormat.PYTX,
            reason=AT_SOURCE,
            keys_name_hashes=True,
        )

    def own_keys(*hashes: str) -> dict[str, list[Record]]:
        return {f"pdq:{h}": [Record(1, h)] for h in hashes}

    list_keys(own_keys(PDQ_A, PDQ_B))
    assert looked_up == []
    list_keys(own_keys(PDQ_C, PDQ_A))  # PDQ_A's key may list it already: all are looked up
    assert looked_up == [[f"pdq:{PDQ_C}", f"pdq:{PDQ_A}"]]
    assert sources(store) == {(f"pdq:{h}", h) for h in (PDQ_A, PDQ_B, PDQ_C)}

    # Keys past MAX_SOURCE_REF (blanks before the hash) are cut to one key for any hash:
    # looked up, so that the second withdraws what the first listed, as one key's update
    # does. Two new hashes under one key: looked up too.
    fresh = ["1" * 64, "2" * 64, "3" * 64, "4" * 64]
    for listed in (
        {f"pdq:{' ' * 600}{fresh[0]}": [Record(1, fresh[0])]},
        {f"pdq:{' ' * 600}{fresh[1]}": [Record(1, fresh[1])]},
        {"pdq:both": [Record(1, fresh[2]), Record(2, fresh[3])]},
    ):
        looked_up.clear()
        list_keys(listed)
        assert len(looked_up) == 1
    assert active(store, "b") == {PDQ_A, PDQ_B, PDQ_C, *fresh[1:]}
