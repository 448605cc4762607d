"""Hash banks: named lists of PDQ hashes with their provenance, stored in ``rempart.store``.

Every write is one transaction that also appends to the change log (``bank_changes``), which
is how a matcher in another process follows a bank without reloading it. Entries are never
deleted: a withdrawal stamps ``withdrawn_at`` and takes the hash out of matching at once, and
the record of what was withdrawn, when and why stays; a reinstatement clears it and logs an
``add``, so that followers index the entry again. An entry an exchange brought records the keys
of the exchange's records that list it: the first as its ``source_ref`` (``source_listed``), any
further one (a hash two records share) in ``bank_entry_sources``; it is withdrawn when the last
of them goes, not with the first.

The writes take an optional ``connection``: given one (from ``Store.write()``), they join the
caller's transaction, so that an app (the desk) writes its own rows and the bank entries they
claim all or nothing; else each opens its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from itertools import islice
from typing import IO, Any, Final, TextIO

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from rempart.errors import BankError, BankExistsError, UnknownBankError
from rempart.hashing.hash256 import from_hex
from rempart.hashing.pdq import MATCH_THRESHOLD
from rempart.hashing.vpdq import (
    DISTANCE_THRESHOLD,
    QUALITY_THRESHOLD,
    QUERY_MATCH_PERCENT,
    STORED_MATCH_PERCENT,
    VpdqFeature,
    format_features,
    parse_features,
)
from rempart.matching.banks.formats import (
    DIGEST_KINDS,
    IMAGE,
    MD5,
    SHA256,
    VIDEO,
    ExportRow,
    HashListFormat,
    Record,
    Skipped,
    check_digest,
    check_video,
    read_records,
    sniff_format,
    video_key,
)
from rempart.matching.formats import BankCategory, category_for_source, stored_category
from rempart.store import STATEMENT_BATCH, Store, as_utc, batches, utc_now
from rempart.store.schema import (
    bank_changes,
    bank_entries,
    bank_entry_sources,
    bank_imports,
    banks,
)

__all__ = [
    "DIGEST_KINDS",
    "IMAGE",
    "MD5",
    "SHA256",
    "VIDEO",
    "Bank",
    "BankError",
    "BankStats",
    "Banks",
    "ImportReport",
    "SourcesReport",
    "VideoThresholds",
    "WithdrawReport",
    "check_digest",
    "last_change",
]

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_THRESHOLD: Final = 63
MAX_SOURCE: Final = 32
MAX_SOURCE_REF: Final = 512
"""The longest ``source_ref`` (an exchange record's key) kept; longer ones are cut."""


@dataclass(frozen=True, slots=True)
class VideoThresholds:
    """How a bank's videos match (``rempart.hashing.vpdq.match``), the reference's defaults:
    frames of quality under ``quality`` left out, frames within ``distance`` bits matching,
    and a video when ``query_percent`` of the query's frames and ``stored_percent`` of the
    stored video's match."""

    quality: int = QUALITY_THRESHOLD
    distance: int = DISTANCE_THRESHOLD
    query_percent: float = QUERY_MATCH_PERCENT
    stored_percent: float = STORED_MATCH_PERCENT

    def check(self) -> VideoThresholds:
        """Itself, or ``BankError`` saying which value is out of range. The query's share is
        above 0: a match needs a frame in common, which is how candidates are found."""
        if not 0 <= self.quality <= 100:
            raise BankError(f"the video quality threshold is 0 to 100, got {self.quality}")
        if not 0 <= self.distance <= MAX_THRESHOLD:
            raise BankError(f"the video distance is 0 to {MAX_THRESHOLD}, got {self.distance}")
        if not 0 < self.query_percent <= 100:
            raise BankError(f"the query's share is over 0 to 100 %, got {self.query_percent}")
        if not 0 <= self.stored_percent <= 100:
            raise BankError(f"the stored share is 0 to 100 %, got {self.stored_percent}")
        return self

    def columns(self) -> dict[str, float]:
        """The ``banks`` columns that hold them."""
        return {f"video_{f.name}": getattr(self, f.name) for f in fields(self)}

    def to_json(self) -> dict[str, float]:
        """``{"quality", "distance", "query_percent", "stored_percent"}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Bank:
    """A named hash list and how it matches."""

    id: int
    name: str
    description: str
    source: str
    threshold: int
    enabled: bool
    created_at: datetime
    updated_at: datetime
    category: BankCategory = BankCategory.NCII
    review: bool = False
    """Its matches send to review (``bank.reported``) instead of blocking: a victim's report
    that no reviewer has confirmed yet."""
    video: VideoThresholds = VideoThresholds()
    images: int | None = None
    videos: int | None = None
    digests: int | None = None
    """How many active image, video and exact (MD5, SHA-256) entries it holds, where read
    (``Banks.list``)."""

    def to_json(self) -> dict[str, Any]:
        """The bank as a JSON-ready dict, with its ``images``, ``videos`` and ``digests``
        counts when read."""
        record: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "category": self.category.value,
            "threshold": self.threshold,
            "video_thresholds": self.video.to_json(),
            "enabled": self.enabled,
            "review": self.review,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        if self.images is not None:
            record.update(images=self.images, videos=self.videos, digests=self.digests)
        return record


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did. ``already_present`` counts hashes the bank (or the file) held
    already; ``already_withdrawn`` those withdrawn earlier, which an import never restores."""

    bank: str
    import_id: int
    added: int
    already_present: int
    already_withdrawn: int
    withdrawn: int
    skipped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "bank": self.bank,
            "import_id": self.import_id,
            "added": self.added,
            "already_present": self.already_present,
            "already_withdrawn": self.already_withdrawn,
            "withdrawn": self.withdrawn,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class SourcesReport:
    """What ``Banks.import_sources`` did: the import (None when no key listed a hash), the
    entries withdrawn because no key lists them any more, and those reinstated because a key
    lists them again."""

    imported: ImportReport | None
    withdrawn: int
    reinstated: int


@dataclass(frozen=True, slots=True)
class WithdrawReport:
    """What a withdrawal did; ``not_found`` lists hashes or ids the bank never held."""

    bank: str
    withdrawn: int
    already_withdrawn: int
    not_found: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "bank": self.bank,
            "withdrawn": self.withdrawn,
            "already_withdrawn": self.already_withdrawn,
            "not_found": list(self.not_found),
        }


@dataclass(frozen=True, slots=True)
class BankStats:
    """How many entries a bank holds and when it last changed."""

    bank: Bank
    active: int
    withdrawn: int
    imports: int
    last_added_at: datetime | None
    last_withdrawn_at: datetime | None
    videos: int = 0
    """Of the ``active`` entries, how many are videos."""
    md5: int = 0
    sha256: int = 0
    """Of the ``active`` entries, how many are exact MD5 and SHA-256 digests (the others
    are images)."""

    def to_json(self) -> dict[str, Any]:
        """The statistics as a JSON-ready dict."""
        return {
            "name": self.bank.name,
            "category": self.bank.category.value,
            "enabled": self.bank.enabled,
            "threshold": self.bank.threshold,
            "active": self.active,
            "images": self.active - self.videos - self.md5 - self.sha256,
            "videos": self.videos,
            "digests": self.md5 + self.sha256,
            "md5": self.md5,
            "sha256": self.sha256,
            "withdrawn": self.withdrawn,
            "imports": self.imports,
            "last_added_at": _iso(self.last_added_at),
            "last_withdrawn_at": _iso(self.last_withdrawn_at),
        }


class Banks:
    """Create, fill, withdraw from and read hash banks."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        name: str,
        *,
        description: str = "",
        source: str = "local",
        category: BankCategory | str | None = None,
        threshold: int = MATCH_THRESHOLD,
        enabled: bool = True,
        review: bool = False,
        video: VideoThresholds | None = None,
        connection: Connection | None = None,
    ) -> Bank:
        """Create a bank; its name must be new. Its ``category`` defaults from its ``source``
        (``category_for_source``: a child-protection list's is ``child_sexual_abuse``); a
        ``review`` bank's matches send to review instead of blocking; its videos match with
        ``video`` (the reference's thresholds by default)."""
        _check_name(name)
        video_columns = (video or VideoThresholds()).check().columns()
        _check_threshold(threshold)
        _check_text("description", description)
        _check_source(source)
        kind = category_for_source(source) if category is None else _category(category)
        now = utc_now()
        try:
            with self._writing(connection) as connection:
                bank_id = connection.execute(
                    insert(banks)
                    .values(
                        name=name,
                        description=description,
                        source=source,
                        category=kind.value,
                        threshold=threshold,
                        enabled=enabled,
                        review=review,
                        created_at=now,
                        updated_at=now,
                        **video_columns,
                    )
                    .returning(banks.c.id)
                ).scalar_one()
                _log(connection, bank_id, None, "bank", now)
                return _bank(connection, name)
        except IntegrityError:
            raise BankExistsError(f"a bank named {name!r} exists already") from None

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        threshold: int | None = None,
        enabled: bool | None = None,
        category: BankCategory | str | None = None,
        video: VideoThresholds | None = None,
    ) -> Bank:
        """Change a bank's description, threshold, enabled flag, category or video
        thresholds."""
        values: dict[str, Any] = {} if video is None else video.check().columns()
        if description is not None:
            _check_text("description", description)
            values["description"] = description
        if category is not None:
            values["category"] = _category(category).value
        if threshold is not None:
            _check_threshold(threshold)
            values["threshold"] = threshold
        if enabled is not None:
            values["enabled"] = enabled
        now = utc_now()
        with self.store.write() as connection:
            bank = _bank(connection, name)
            if values:
                connection.execute(
                    update(banks).where(banks.c.id == bank.id).values(updated_at=now, **values)
                )
                _log(connection, bank.id, None, "bank", now)
        return self.get(name)

    def list(self) -> list[Bank]:
        """Every bank, by name, with how many active images, videos and digests it holds."""
        with self.store.read() as connection:
            rows = connection.execute(select(banks).order_by(banks.c.name)).mappings().all()
            counts = connection.execute(
                select(bank_entries.c.bank_id, bank_entries.c.kind, func.count())
                .where(bank_entries.c.withdrawn_at.is_(None))
                .group_by(bank_entries.c.bank_id, bank_entries.c.kind)
            ).all()
        held = {(bank_id, kind): count for bank_id, kind, count in counts}
        return [
            replace(
                _to_bank(row),
                images=held.get((row["id"], IMAGE), 0),
                videos=held.get((row["id"], VIDEO), 0),
                digests=sum(held.get((row["id"], kind), 0) for kind in DIGEST_KINDS),
            )
            for row in rows
        ]

    def get(self, name: str) -> Bank:
        """The bank called ``name``; ``BankError`` when there is none."""
        with self.store.read() as connection:
            return _bank(connection, name)

    def import_list(
        self,
        name: str,
        stream: IO[bytes] | TextIO,
        *,
        origin: str,
        fmt: HashListFormat | None = None,
        filename: str = "",
    ) -> ImportReport:
        """Import a hash list from a stream, all or nothing: in ``fmt``, or else in the format
        its ``filename`` and first line say (``sniff_format``; the stream must then be
        seekable). A binary stream gives errors exact lines and byte offsets."""
        fmt = fmt or sniff_format(stream, filename)
        return self.import_records(name, read_records(stream, fmt), origin=origin, fmt=fmt)

    def import_records(
        self,
        name: str,
        records: Iterable[Record | Skipped],
        *,
        origin: str,
        fmt: HashListFormat,
        connection: Connection | None = None,
    ) -> ImportReport:
        """Add (and, for records marked withdrawn, withdraw) hashes, all or nothing.

        An invalid record raises before the transaction commits, so nothing of the file is
        kept. A hash the bank holds already is counted, not added twice. A record of kind
        ``md5`` or ``sha256`` is an exact digest (checked, lowercased here: callers such as an
        exchange's fetch build records themselves); a withdrawal names its kind and hash.
        """
        with self._writing(connection) as connection:
            return _import(connection, _bank(connection, name), records, origin=origin, fmt=fmt)

    def add(
        self,
        name: str,
        hash_hex: str,
        *,
        quality: int | None = None,
        source_ref: str | None = None,
        note: str | None = None,
        connection: Connection | None = None,
    ) -> ImportReport:
        """Add one hash (a victim's submission, a moderator's decision)."""
        try:
            value = from_hex(hash_hex).hex()
        except ValueError as exc:
            raise BankError(f"invalid PDQ hash: {exc}") from None
        for what, text in (("source_ref", source_ref), ("note", note)):
            _check_text(what, text or "")
        record = Record(1, value, quality=quality, source_ref=source_ref, note=note)
        return self.import_records(
            name, [record], origin="add", fmt=HashListFormat.HEX, connection=connection
        )

    def add_video(
        self,
        name: str,
        features: Sequence[VpdqFeature],
        *,
        md5: str | None = None,
        sha256: str | None = None,
        source_ref: str | None = None,
        note: str | None = None,
        connection: Connection | None = None,
    ) -> ImportReport:
        """Add one video by its vPDQ features, with its file's digests when known; the
        report's ``added`` is 0 when the bank holds the same features already."""
        try:
            check_video(features)
        except ValueError as exc:
            raise BankError(f"this video cannot be banked: {exc}") from None
        for what, text in (("source_ref", source_ref), ("note", note)):
            _check_text(what, text or "")
        record = Record(
            1,
            video_key(features),
            source_ref=source_ref,
            note=note,
            features=tuple(features),
            md5=md5,
            sha256=sha256,
        )
        return self.import_records(
            name, [record], origin="add", fmt=HashListFormat.VPDQ, connection=connection
        )

    def add_digest(
        self,
        name: str,
        algorithm: str,
        digest: str,
        *,
        source_ref: str | None = None,
        note: str | None = None,
        connection: Connection | None = None,
    ) -> ImportReport:
        """Add one exact entry: a file's ``md5`` or ``sha256`` (``algorithm``) hex digest,
        matched by a set lookup of an upload's own digest (NCMEC's and StopNCII's video
        lists are MD5s). ``BankError`` for another algorithm or a digest not of its length."""
        value = check_digest(algorithm, digest)
        for what, text in (("source_ref", source_ref), ("note", note)):
            _check_text(what, text or "")
        record = Record(1, value, source_ref=source_ref, note=note, kind=algorithm.lower())
        return self.import_records(
            name, [record], origin="add", fmt=HashListFormat.PYTX, connection=connection
        )

    def withdraw(
        self,
        name: str,
        *,
        hashes: Sequence[str] = (),
        entry_ids: Sequence[int] = (),
        digests: Sequence[tuple[str, str]] = (),
        reason: str = "",
        connection: Connection | None = None,
    ) -> WithdrawReport:
        """Withdraw entries by hash (a video's: its key, ``video_key``), by exact digest
        (``(algorithm, hex digest)`` pairs, ``md5`` or ``sha256``) or id: they stop matching
        at once and stay on record."""
        try:
            wanted = sorted({from_hex(h).hex() for h in hashes})
        except ValueError as exc:
            raise BankError(f"invalid PDQ hash: {exc}") from None
        exact = sorted({(a.lower(), check_digest(a, d)) for a, d in digests})
        ids = sorted(set(entry_ids))
        _check_text("reason", reason)
        now = utc_now()
        found: set[object] = set()
        was_withdrawn = withdrawn = 0
        with self._writing(connection) as connection:
            bank = _bank(connection, name)
            for column, values in ((bank_entries.c.hash, wanted), (bank_entries.c.id, ids)):
                for part in batches(values):
                    rows = connection.execute(
                        select(column, bank_entries.c.withdrawn_at).where(
                            bank_entries.c.bank_id == bank.id, column.in_(part)
                        )
                    ).all()
                    found.update(row[0] for row in rows)
                    was_withdrawn += sum(row.withdrawn_at is not None for row in rows)
                    withdrawn += _withdraw(connection, bank.id, column.in_(part), reason, now)
            for algorithm in DIGEST_KINDS:
                chosen = [d for a, d in exact if a == algorithm]
                for part in batches(chosen):
                    which = and_(bank_entries.c.kind == algorithm, bank_entries.c.hash.in_(part))
                    rows = connection.execute(
                        select(bank_entries.c.hash, bank_entries.c.withdrawn_at).where(
                            bank_entries.c.bank_id == bank.id, which
                        )
                    ).all()
                    found.update((algorithm, row[0]) for row in rows)
                    was_withdrawn += sum(row.withdrawn_at is not None for row in rows)
                    withdrawn += _withdraw(connection, bank.id, which, reason, now)
        missing = [str(value) for value in [*wanted, *ids] if value not in found]
        missing += [f"{a}:{d}" for a, d in exact if (a, d) not in found]
        return WithdrawReport(bank.name, withdrawn, was_withdrawn, tuple(missing))

    def reinstate(
        self, name: str, entry_ids: Sequence[int], *, connection: Connection | None = None
    ) -> int:
        """Make withdrawn entries match again (a victim reports anew a hash withdrawn
        earlier), each logged as an ``add``; returns how many were withdrawn and now are not.
        Entries that are active, or not the bank's, are left as they are."""
        ids = sorted(set(entry_ids))
        now = utc_now()
        reinstated = 0
        with self._writing(connection) as connection:
            bank = _bank(connection, name)
            for part in batches(ids):
                found = (
                    connection.execute(
                        select(bank_entries.c.id).where(
                            bank_entries.c.bank_id == bank.id,
                            bank_entries.c.id.in_(part),
                            bank_entries.c.withdrawn_at.is_not(None),
                        )
                    )
                    .scalars()
                    .all()
                )
                if not found:
                    continue
                connection.execute(
                    update(bank_entries)
                    .where(bank_entries.c.id.in_(found))
                    .values(withdrawn_at=None, withdrawn_reason=None)
                )
                connection.execute(
                    insert(bank_changes),
                    [{"bank_id": bank.id, "entry_id": i, "op": "add", "at": now} for i in found],
                )
                reinstated += len(found)
        return reinstated

    def reinstate_hashes(
        self,
        name: str,
        hashes: Sequence[str],
        *,
        reason: str | None = None,
        connection: Connection | None = None,
    ) -> int:
        """Make the bank's withdrawn entries of ``hashes`` (as stored: lowercase hex, a
        video's key) match again, each logged as an ``add``; with ``reason``, only those
        withdrawn for it (an exchange lists again what it deleted, not what a moderator
        withdrew). Returns how many were reinstated."""
        wanted = sorted({value.lower() for value in hashes})
        with self._writing(connection) as connection:
            bank = _bank(connection, name)
            ids: list[int] = []
            for part in batches(wanted):
                which = [
                    bank_entries.c.bank_id == bank.id,
                    bank_entries.c.hash.in_(part),
                    bank_entries.c.withdrawn_at.is_not(None),
                ]
                if reason is not None:
                    which.append(bank_entries.c.withdrawn_reason == reason)
                ids += connection.execute(select(bank_entries.c.id).where(*which)).scalars()
            return self.reinstate(name, ids, connection=connection) if ids else 0

    def import_sources(
        self,
        name: str,
        listed: Mapping[str, Sequence[Record]],
        *,
        origin: str,
        fmt: HashListFormat,
        reason: str,
        keys_name_hashes: bool = False,
        connection: Connection | None = None,
    ) -> SourcesReport:
        """Import what an exchange's records list now, all or nothing: ``listed`` maps each
        record's key to its whole current set of hashes (an update replaces the record).

        Each key is recorded against the entries it lists, replacing what it listed before;
        an entry no key lists any more is withdrawn for ``reason``, and a listed entry
        withdrawn for ``reason`` earlier (a deletion at source) is reinstated. An entry the
        bank held before any key listed it (imported by hand) is not claimed, so no
        exchange withdraws it. An entry added here has the key that listed it as its
        ``source_ref``. No import is recorded when no key lists a hash.

        ``keys_name_hashes``: each key is made of the one value it lists, as the exchange
        sent it (StopNCII's, ThreatExchange's and TAT's ``type:value``), so a key held whole
        (not cut to ``MAX_SOURCE_REF``) whose hash is new to the bank listed nothing before:
        when every key is such a key, no key is looked up."""
        now = utc_now()
        with self._writing(connection) as connection:
            bank = _bank(connection, name)
            keys, records = _keyed(listed)
            imported = None
            if records:
                # In hash order, the (bank_id, hash) index (and a key made of the hash, as
                # StopNCII's) is written leaf by leaf, not at random: a quarter less time in
                # SQLite for a million. Equal hashes keep their order: the first key wins.
                records.sort(key=_by_hash)
                imported = _import(connection, bank, records, origin=origin, fmt=fmt, keyed=True)
            import_id = None if imported is None else imported.import_id
            pairs = sum(len(held) for held in keys.values())
            all_new = imported is not None and imported.added == pairs
            # What the keys listed before this import (its own entries left out). A million
            # keys looked up took a fifth of a first fetch's writes.
            known: dict[tuple[str, int], bool] = {}
            if not (keys_name_hashes and all_new and _one_hash_each(listed, keys)):
                known = _sources_of_keys(connection, bank.id, list(keys), besides=import_id)
            wanted: set[tuple[str, int]] = set()
            entries: dict[str, _Claimed] = {}
            # When every listed hash is new and holds its one key, only what the keys listed
            # before is left to forget; otherwise, which entries may be claimed.
            if not all_new:
                entries = _claimable(connection, bank.id, keys, import_id, reason)
                known.update(
                    dict.fromkeys(
                        ((c.key, c.id) for c in entries.values() if c.added and c.key), True
                    )
                )
                wanted = {
                    (key, entries[h].id) for key, held in keys.items() for h in held if h in entries
                }
            gone = {pair: flag for pair, flag in known.items() if pair not in wanted}
            _drop_sources(connection, gone)
            # A key listing again the entry it brought first (a StopNCII hash deleted, then
            # shared anew) is its flag again, not a row.
            refs = {c.id: c.key for c in entries.values()}
            new = wanted - known.keys()
            own = {pair for pair in new if refs.get(pair[1]) == pair[0]}
            _set_first_listed(connection, (entry for _, entry in own), True)
            _add_sources(connection, bank.id, new - own)
            withdrawn = _withdraw_keyless(
                connection, bank.id, {entry for _, entry in gone}, reason, now
            )
            reinstated = 0
            if imported is not None and imported.already_withdrawn:
                reinstated = self.reinstate_hashes(
                    name, sorted(entries), reason=reason, connection=connection
                )
        return SourcesReport(imported, withdrawn, reinstated)

    def withdraw_sources(
        self,
        name: str,
        keys: Sequence[str],
        *,
        reason: str,
        connection: Connection | None = None,
    ) -> int:
        """An exchange deleted the records ``keys``: forget what they list, and withdraw (for
        ``reason``) the entries no other key lists. Entries no key ever listed are left as
        they are. Returns how many were withdrawn."""
        refs = sorted({key[:MAX_SOURCE_REF] for key in keys})
        if not refs:
            return 0
        with self._writing(connection) as connection:
            bank = _bank(connection, name)
            known = _sources_of_keys(connection, bank.id, refs)
            _drop_sources(connection, known)
            entries = {entry for _, entry in known}
            return _withdraw_keyless(connection, bank.id, entries, reason, utc_now())

    def source_keys(self, name: str, *, connection: Connection | None = None) -> set[str]:
        """The keys of every exchange record that lists one of the bank's entries (what a full
        fetch compares with what the exchange lists now)."""
        with self._writing(connection) if connection is not None else self.store.read() as c:
            bank = _bank(c, name)
            further = select(bank_entry_sources.c.source_ref).where(
                bank_entry_sources.c.bank_id == bank.id
            )
            first = select(bank_entries.c.source_ref).where(
                bank_entries.c.bank_id == bank.id, bank_entries.c.source_listed
            )
            return set(c.execute(further.distinct()).scalars()) | set(
                c.execute(first.distinct()).scalars()
            )

    @contextmanager
    def _writing(self, connection: Connection | None) -> Iterator[Connection]:
        """The caller's write transaction, or a new one."""
        if connection is None:
            with self.store.write() as connection:
                yield connection
            return
        if not connection.get_execution_options().get("rempart_write"):
            # Outside Store.write() the change log could be seen out of order by followers.
            raise RuntimeError("a bank write needs a connection from Store.write()")
        yield connection

    def entries(self, name: str, *, include_withdrawn: bool = False) -> Iterator[ExportRow]:
        """A bank's entries, oldest first, streamed."""
        with self.store.read() as connection:
            bank = _bank(connection, name)
            query = (
                select(bank_entries)
                .where(bank_entries.c.bank_id == bank.id)
                .order_by(bank_entries.c.id)
            )
            if not include_withdrawn:
                query = query.where(bank_entries.c.withdrawn_at.is_(None))
            result = connection.execution_options(yield_per=10_000).execute(query).mappings()
            with result:  # closes the server-side cursor even when the caller stops early
                yield from (_export_row(row) for row in result)

    def entry(self, name: str, entry_id: int) -> ExportRow | None:
        """The bank's entry ``entry_id``, active or withdrawn; None when the bank holds no
        entry of that id (an API that names entries by id: HMA's content ids)."""
        return self._entry_where(name, bank_entries.c.id == entry_id)

    def find(self, name: str, kind: str, value: str) -> ExportRow | None:
        """The bank's entry of ``kind`` (``image``, ``video``, ``md5``, ``sha256``) whose
        ``hash`` is ``value`` (lower-case hex), active or withdrawn; None when there is none."""
        return self._entry_where(
            name, bank_entries.c.kind == kind, bank_entries.c.hash == value.lower()
        )

    def _entry_where(self, name: str, *conditions: Any) -> ExportRow | None:
        with self.store.read() as connection:
            bank = _bank(connection, name)
            row = (
                connection.execute(
                    select(bank_entries).where(bank_entries.c.bank_id == bank.id, *conditions)
                )
                .mappings()
                .first()
            )
        return None if row is None else _export_row(row)

    def stats(self, name: str) -> BankStats:
        """How many active and withdrawn entries a bank holds, and when it last changed."""
        with self.store.read() as connection:
            bank = _bank(connection, name)
            counts = connection.execute(
                select(
                    func.count().filter(bank_entries.c.withdrawn_at.is_(None)),
                    func.count(bank_entries.c.withdrawn_at),
                    func.max(bank_entries.c.added_at),
                    func.max(bank_entries.c.withdrawn_at),
                    *(
                        func.count().filter(
                            bank_entries.c.withdrawn_at.is_(None), bank_entries.c.kind == kind
                        )
                        for kind in (VIDEO, MD5, SHA256)
                    ),
                ).where(bank_entries.c.bank_id == bank.id)
            ).one()
            imports = connection.execute(
                select(func.count()).where(bank_imports.c.bank_id == bank.id)
            ).scalar_one()
        return BankStats(
            bank,
            active=counts[0],
            withdrawn=counts[1],
            imports=imports,
            last_added_at=as_utc(counts[2]) if counts[2] else None,
            last_withdrawn_at=as_utc(counts[3]) if counts[3] else None,
            videos=counts[4],
            md5=counts[5],
            sha256=counts[6],
        )

    def active_counts(self) -> dict[str, int]:
        """How many active entries all banks hold together, by kind (``image``, ``video``,
        ``md5``, ``sha256``, each present): one query, whatever the number of banks."""
        with self.store.read() as connection:
            rows = connection.execute(
                select(bank_entries.c.kind, func.count())
                .where(bank_entries.c.withdrawn_at.is_(None))
                .group_by(bank_entries.c.kind)
            ).all()
        counts = dict.fromkeys((IMAGE, VIDEO, *DIGEST_KINDS), 0)
        counts.update((kind, count) for kind, count in rows)
        return counts

    def changes(self) -> int:
        """The newest entry of the bank change log (0 before any): what a matcher compares
        with ``BankMatcher.seq`` to know how far behind it is. One look-up of the log's key."""
        with self.store.read() as connection:
            return last_change(connection)


def last_change(connection: Connection) -> int:
    """The newest entry of the bank change log as ``connection`` sees it (0 before any): where
    a follower of the log starts, or what it compares its position with."""
    return int(connection.scalar(select(func.max(bank_changes.c.seq))) or 0)


def _export_row(row: Any) -> ExportRow:
    return ExportRow(
        features=stored_features(row),
        md5=row["md5"],
        sha256=row["sha256"],
        kind=row["kind"],
        entry_id=row["id"],
        hash=row["hash"],
        quality=row["quality"],
        added_at=as_utc(row["added_at"]),
        import_id=row["import_id"],
        source_ref=row["source_ref"],
        note=row["note"],
        withdrawn_at=as_utc(row["withdrawn_at"]) if row["withdrawn_at"] else None,
    )


def stored_features(row: Any) -> tuple[VpdqFeature, ...] | None:
    """A video entry's features as its row holds them; None for an image's."""
    if row["kind"] != VIDEO:
        return None
    return tuple(parse_features(row["features"] or ""))


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise BankError(
            f"invalid bank name {name!r}: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def _check_threshold(threshold: int) -> None:
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise BankError(f"threshold must be 0 to {MAX_THRESHOLD}, got {threshold}")


def _check_text(field: str, text: str) -> None:
    """Refuse what UTF-8, and so the database, cannot hold: lone surrogates (a command-line
    argument that was not UTF-8, a JSON escape of half a pair)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BankError(f"the {field} is not valid Unicode text") from None


def _check_source(source: str) -> None:
    _check_text("source", source)
    if not 0 < len(source) <= MAX_SOURCE:
        raise BankError(f"a bank's source is 1 to {MAX_SOURCE} characters, got {len(source)}")


def _category(value: BankCategory | str) -> BankCategory:
    try:
        return BankCategory(value)
    except ValueError:
        choices = ", ".join(category.value for category in BankCategory)
        raise BankError(f"unknown bank category {value!r}; choose one of {choices}") from None


def _bank(connection: Connection, name: str) -> Bank:
    row = connection.execute(select(banks).where(banks.c.name == name)).mappings().first()
    if row is None:
        known = connection.execute(select(banks.c.name).order_by(banks.c.name)).scalars().all()
        listing = ", ".join(known) if known else "none yet; create one with 'rempart bank create'"
        raise UnknownBankError(f"no bank named {name!r} (banks: {listing})")
    return _to_bank(row)


def _to_bank(row: Any) -> Bank:
    return Bank(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        source=row["source"],
        category=stored_category(row["category"]),
        threshold=row["threshold"],
        enabled=bool(row["enabled"]),
        review=bool(row["review"]),
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        video=video_thresholds(row),
    )


def video_thresholds(row: Any) -> VideoThresholds:
    """A bank's video thresholds as its ``banks`` row holds them."""
    return VideoThresholds(
        row["video_quality"],
        row["video_distance"],
        row["video_query_percent"],
        row["video_stored_percent"],
    )


def _import(
    connection: Connection,
    bank: Bank,
    records: Iterable[Record | Skipped],
    *,
    origin: str,
    fmt: HashListFormat,
    keyed: bool = False,
) -> ImportReport:
    """``Banks.import_records`` in ``connection``'s transaction; ``keyed``: each record's
    ``source_ref`` is the key of the exchange record that lists it (``import_sources``), so
    that an entry added here holds that key as its first (``source_listed``)."""
    now = utc_now()
    skipped: Counter[str] = Counter()
    import_id = connection.execute(
        insert(bank_imports)
        .values(
            bank_id=bank.id,
            started_at=now,
            origin=_printable(origin)[:512],
            format=fmt.value,
            added=0,
            already_present=0,
            withdrawn=0,
        )
        .returning(bank_imports.c.id)
    ).scalar_one()
    active_lines = withdrawn = already_withdrawn = 0
    stream = iter(records)
    while batch := list(islice(stream, STATEMENT_BATCH)):
        held = [_checked(r) for r in batch if isinstance(r, Record)]
        adds = [r for r in held if not r.withdrawn]
        removals: dict[str, list[str]] = {}
        for r in held:
            if r.withdrawn:
                removals.setdefault(_entry_kind(r), []).append(r.hash)
        skipped.update(r.reason for r in batch if isinstance(r, Skipped))
        active_lines += len(adds)
        inserted = _insert_entries(connection, bank.id, import_id, adds, now, keyed)
        if inserted != len(adds):  # some held already: are any withdrawn?
            already_withdrawn += _count_withdrawn(connection, bank.id, [r.hash for r in adds])
        for kind, hashes in removals.items():
            which = and_(bank_entries.c.hash.in_(hashes), bank_entries.c.kind == kind)
            withdrawn += _withdraw(connection, bank.id, which, "withdrawn at source", now)
    added = connection.execute(
        select(func.count()).where(bank_entries.c.import_id == import_id)
    ).scalar_one()
    connection.execute(
        insert(bank_changes).from_select(
            ["bank_id", "entry_id", "op", "at"],
            select(
                bank_entries.c.bank_id,
                bank_entries.c.id,
                literal("add"),
                literal(now),
            )
            .where(bank_entries.c.import_id == import_id)
            .order_by(bank_entries.c.id),
        )
    )
    present = active_lines - added - already_withdrawn
    connection.execute(
        update(bank_imports)
        .where(bank_imports.c.id == import_id)
        .values(added=added, already_present=present, withdrawn=withdrawn)
    )
    return ImportReport(
        bank.name, import_id, added, present, already_withdrawn, withdrawn, dict(skipped)
    )


def _insert_entries(
    connection: Connection,
    bank_id: int,
    import_id: int,
    records: list[Record],
    now: datetime,
    keyed: bool,
) -> int:
    """Insert ``records`` the bank does not hold yet (``keyed``: their ``source_ref`` a key
    that lists them); how many were."""
    if not records:
        return 0
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(bank_entries).on_conflict_do_nothing(
        index_elements=["bank_id", "hash"]
    )
    count = len(records)
    return _insert_many(
        connection,
        statement,
        {
            "bank_id": (bank_id,) * count,
            "hash": [r.hash for r in records],
            "quality": [r.quality for r in records],
            "added_at": (now,) * count,
            "import_id": (import_id,) * count,
            "source_ref": [r.source_ref for r in records],
            "source_listed": (keyed,) * count,
            "note": [r.note for r in records],
            "kind": [_entry_kind(r) for r in records],
            "features": [
                None if r.features is None else format_features(r.features) for r in records
            ],
            "md5": [r.md5 for r in records],
            "sha256": [r.sha256 for r in records],
        },
    )


def _insert_many(
    connection: Connection, statement: Any, columns: Mapping[str, Sequence[Any]]
) -> int:
    """``statement`` (an insert into a table) executed for each row of ``columns`` (each
    column's values, all of one length) by the driver's executemany: compiled once, each
    value converted only where the column's type needs it (SQLAlchemy's own executemany
    processes every parameter of every row, which made an import of a million entries twice
    as slow), and a column no row gives a value left out where that leaves it NULL (no
    default): sqlite3 looks up an adapter for each None it binds (half of an exchange's fetch's
    binding time). Returns the rows inserted (sqlite3's and psycopg's executemany both sum
    them)."""
    dialect = connection.dialect
    table = statement.table
    given = {
        key: _bound(table.c[key], dialect, values)
        for key, values in columns.items()
        if values.count(None) != len(values) or not _null_by_default(table.c[key])
    }
    compiled = statement.compile(dialect=dialect, column_keys=list(given))
    if compiled.positional:
        order = compiled.positiontup or []
        rows: Any = list(zip(*(given[key] for key in order), strict=True))
    else:
        rows = [dict(zip(given, row, strict=True)) for row in zip(*given.values(), strict=True)]
    return int(connection.exec_driver_sql(compiled.string, rows).rowcount)


def _bound(column: Any, dialect: Any, values: Sequence[Any]) -> Sequence[Any]:
    """``values`` as ``column``'s type binds them: converted once each (most rows share
    their values: the import's time, its bank)."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return values
    done: dict[Any, Any] = {None: None}
    for value in values:
        if value not in done:
            done[value] = processor(value)
    return list(map(done.__getitem__, values))


def _null_by_default(column: Any) -> bool:
    """Whether ``column`` left out of an insert is NULL."""
    return column.nullable and column.default is None and column.server_default is None


def _entry_kind(record: Record) -> str:
    """The ``bank_entries.kind`` a record is stored as: a video's by its features."""
    return VIDEO if record.features is not None else record.kind


def _checked(record: Record) -> Record:
    """``record`` with its exact digest checked and lowercased; ``BankError`` for a kind
    no entry has."""
    if record.kind in DIGEST_KINDS:
        return replace(record, hash=check_digest(record.kind, record.hash))
    if record.kind != IMAGE and not (record.kind == VIDEO and record.features is not None):
        raise BankError(f"line {record.line}: unknown entry kind {record.kind!r}")
    return record


def _count_withdrawn(connection: Connection, bank_id: int, hashes: list[str]) -> int:
    if not hashes:
        return 0
    return int(
        connection.execute(
            select(func.count()).where(
                bank_entries.c.bank_id == bank_id,
                bank_entries.c.hash.in_(hashes),
                bank_entries.c.withdrawn_at.is_not(None),
            )
        ).scalar_one()
    )


def _by_hash(record: Record) -> str:
    return record.hash


def _keyed(listed: Mapping[str, Sequence[Record]]) -> tuple[dict[str, set[str]], list[Record]]:
    """The hashes each key (cut to ``MAX_SOURCE_REF``) lists, and the records to import, each
    listed one with its key as its ``source_ref``."""
    keys: dict[str, set[str]] = {}
    records: list[Record] = []
    for key, group in listed.items():
        ref = key[:MAX_SOURCE_REF]
        held = keys.setdefault(ref, set())
        for record in group:
            if not record.withdrawn:
                record = _checked(record)
                held.add(record.hash)
                if record.source_ref != ref:
                    record = replace(record, source_ref=ref)
            records.append(record)
    return keys, records


def _one_hash_each(listed: Mapping[str, Sequence[Record]], keys: Mapping[str, set[str]]) -> bool:
    """Whether each key of ``listed`` lists one hash and is held whole: a key cut to
    ``MAX_SOURCE_REF`` may be another key's too, and no longer names its value."""
    return all(len(key) <= MAX_SOURCE_REF for key in listed) and all(
        len(held) == 1 for held in keys.values()
    )


@dataclass(frozen=True, slots=True)
class _Claimed:
    """An entry an exchange's key may claim: its id, the key it holds (``source_ref``), and
    whether this import added it."""

    id: int
    key: str | None
    added: bool


def _claimable(
    connection: Connection,
    bank_id: int,
    keys: Mapping[str, set[str]],
    import_id: int | None,
    reason: str,
) -> dict[str, _Claimed]:
    """Of the hashes ``keys`` list, those an exchange's key may claim, by hash: entries this
    import added (each holds the key that brought it), entries a key lists already, and
    entries a deletion at source (``reason``) withdrew; not an entry imported by hand."""
    wanted = set().union(*keys.values()) if keys else set()
    columns = (
        bank_entries.c.id,
        bank_entries.c.hash,
        bank_entries.c.import_id,
        bank_entries.c.source_ref,
        bank_entries.c.source_listed,
        bank_entries.c.withdrawn_reason,
    )
    # This import's entries by its id (an index range, where a long list's new hashes looked
    # up one by one took as long as inserting them), then the others by hash.
    rows: list[Any] = []
    if import_id is not None:
        rows += connection.execute(
            select(*columns).where(bank_entries.c.import_id == import_id)
        ).all()
    others = sorted(wanted - {row.hash for row in rows})
    for part in batches(others):
        rows += connection.execute(
            select(*columns).where(bank_entries.c.bank_id == bank_id, bank_entries.c.hash.in_(part))
        ).all()
    listed = _further_listed(
        connection, [row.id for row in rows if row.import_id != import_id and not row.source_listed]
    )
    return {
        row.hash: _Claimed(row.id, row.source_ref, row.import_id == import_id)
        for row in rows
        if row.hash in wanted
        and (
            row.import_id == import_id
            or row.source_listed
            or row.id in listed
            or row.withdrawn_reason == reason
        )
    }


def _listed(connection: Connection, entry_ids: Sequence[int]) -> set[int]:
    """Which of ``entry_ids`` some key lists (its first, or a further one)."""
    found: set[int] = set()
    for part in batches(sorted(set(entry_ids))):
        found.update(
            connection.execute(
                select(bank_entries.c.id).where(
                    bank_entries.c.id.in_(part), bank_entries.c.source_listed
                )
            ).scalars()
        )
    return found | _further_listed(connection, [i for i in entry_ids if i not in found])


def _further_listed(connection: Connection, entry_ids: Sequence[int]) -> set[int]:
    """Which of ``entry_ids`` a key of ``bank_entry_sources`` lists."""
    found: set[int] = set()
    for part in batches(sorted(set(entry_ids))):
        found.update(
            connection.execute(
                select(bank_entry_sources.c.entry_id)
                .where(bank_entry_sources.c.entry_id.in_(part))
                .distinct()
            ).scalars()
        )
    return found


def _sources_of_keys(
    connection: Connection, bank_id: int, keys: Sequence[str], *, besides: int | None = None
) -> dict[tuple[str, int], bool]:
    """The (key, entry id) pairs the bank holds for ``keys``: True for an entry's first key
    (``source_listed``), False for a row of ``bank_entry_sources``; the entries of import
    ``besides`` left out (what the keys listed before it)."""
    found: dict[tuple[str, int], bool] = {}
    further = _exists(bank_entry_sources.c.bank_id == bank_id, connection=connection)
    columns = (
        bank_entries.c.source_ref,
        bank_entries.c.id,
        bank_entries.c.bank_id,
        bank_entries.c.import_id,
    )
    for part in batches(sorted(keys)):
        # By ``source_ref``'s own index, the bank told apart here: on (bank_id, source_ref)
        # SQLite's planner took the (bank_id, hash) index and read the whole bank each time.
        found.update(
            ((row.source_ref, row.id), True)
            for row in connection.execute(
                select(*columns).where(
                    bank_entries.c.source_ref.in_(part), bank_entries.c.source_listed
                )
            )
            if row.bank_id == bank_id and (besides is None or row.import_id != besides)
        )
        if further:
            found.update(
                ((row.source_ref, row.entry_id), False)
                for row in connection.execute(
                    select(bank_entry_sources.c.source_ref, bank_entry_sources.c.entry_id).where(
                        bank_entry_sources.c.bank_id == bank_id,
                        bank_entry_sources.c.source_ref.in_(part),
                    )
                )
            )
    return found


def _add_sources(connection: Connection, bank_id: int, pairs: Iterable[tuple[str, int]]) -> None:
    """Record further keys (``bank_entry_sources`` rows) of entries."""
    held = list(pairs)
    if held:
        columns: dict[str, Sequence[Any]] = {
            "entry_id": [e for _, e in held],
            "source_ref": [k for k, _ in held],
            "bank_id": (bank_id,) * len(held),
        }
        _insert_many(connection, insert(bank_entry_sources), columns)


def _exists(*where: Any, connection: Connection) -> bool:
    """Whether a row of the table ``where`` names matches it."""
    return connection.execute(select(exists().where(*where))).scalar() is True


def _set_first_listed(connection: Connection, entry_ids: Iterable[int], listed: bool) -> None:
    """Whether the entries' first key (their ``source_ref``) lists them (``source_listed``)."""
    for ids in batches(sorted(entry_ids)):
        connection.execute(
            update(bank_entries).where(bank_entries.c.id.in_(ids)).values(source_listed=listed)
        )


def _drop_sources(connection: Connection, pairs: Mapping[tuple[str, int], bool]) -> None:
    """Forget the (key, entry id) pairs: an entry's first key (True) by its flag, a further
    one by its row."""
    _set_first_listed(connection, (e for (_, e), first in pairs.items() if first), False)
    rows = [{"e": e, "k": k} for (k, e), first in sorted(pairs.items()) if not first]
    statement = delete(bank_entry_sources).where(
        bank_entry_sources.c.entry_id == bindparam("e"),
        bank_entry_sources.c.source_ref == bindparam("k"),
    )
    for part in batches(rows):
        connection.execute(statement, list(part))


def _withdraw_keyless(
    connection: Connection, bank_id: int, entry_ids: Iterable[int], reason: str, now: datetime
) -> int:
    """Withdraw those of ``entry_ids`` (entries some key listed) that no key lists now."""
    candidates = sorted(set(entry_ids))
    keyless = sorted(set(candidates) - _listed(connection, candidates))
    return sum(
        _withdraw(connection, bank_id, bank_entries.c.id.in_(part), reason, now)
        for part in batches(keyless)
    )


def _withdraw(connection: Connection, bank_id: int, which: Any, reason: str, now: datetime) -> int:
    """Withdraw the bank's active entries that ``which`` selects, logging each."""
    ids = (
        connection.execute(
            select(bank_entries.c.id).where(
                bank_entries.c.bank_id == bank_id, which, bank_entries.c.withdrawn_at.is_(None)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0
    connection.execute(
        update(bank_entries)
        .where(bank_entries.c.id.in_(ids))
        .values(withdrawn_at=now, withdrawn_reason=reason or None)
    )
    connection.execute(
        insert(bank_changes),
        [{"bank_id": bank_id, "entry_id": i, "op": "withdraw", "at": now} for i in ids],
    )
    return len(ids)


def _log(
    connection: Connection, bank_id: int, entry_id: int | None, op: str, now: datetime
) -> None:
    connection.execute(
        insert(bank_changes).values(bank_id=bank_id, entry_id=entry_id, op=op, at=now)
    )


def _printable(text: str) -> str:
    """``text`` as UTF-8 can store it: the lone surrogates of a file name that was not UTF-8
    become ``\\udc..`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
