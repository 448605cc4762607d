"""Cases on a real database (each test that takes ``desk`` runs on SQLite and on PostgreSQL):
one transaction per operation, states refused as the tables say, bank entries claimed, shared,
withdrawn and reinstated, sealed fields and secrets never stored in the clear."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from rempart.access.keys import ApiKey
from rempart.access.roles import Role
from rempart.config import load_settings
from rempart.desk import (
    SYSTEM,
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    Case,
    CaseState,
    Desk,
    DeskKeys,
    FixedClock,
    ItemInput,
    ItemState,
    Mandate,
    source_ref,
    staff,
)
from rempart.desk.access import secret_tag
from rempart.desk.model import check_items
from rempart.desk.sealed import rekey
from rempart.errors import (
    BankError,
    CaseInvalidError,
    CaseNotFoundError,
    CaseStateConflictError,
    DeskKeyError,
    HashLowQualityError,
    RateLimitedError,
    StoreError,
)
from rempart.hashing import pack
from rempart.matching.banks import BankMatcher, Banks
from rempart.store import Store
from rempart.store.schema import (
    bank_changes,
    bank_entries,
    bank_imports,
    banks,
    desk_cases,
    desk_events,
    desk_item_entries,
    desk_items,
    desk_sealed,
)
from tests.desk import without_cases

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HASHES = [f"{i:02x}" * 32 for i in range(1, 6)]
REVIEWER = Actor("staff", "reviewer1", Role.REVIEWER)
ADMIN = Actor("staff", "admin1", Role.ADMIN)
FLAGGER = Actor("staff", "flagger1", Role.FLAGGER)
OTHER_FLAGGER = Actor("staff", "flagger2", Role.FLAGGER)
MANDATE = Mandate("ASSOC-2026-001", "report text 2", date(2026, 11, 1), date(2027, 11, 1))
WORDS = "report text 1, words of the victim"
NOTE = "report text 3, a reviewer note"
TABLES = (
    desk_cases,
    desk_items,
    desk_item_entries,
    desk_sealed,
    desk_events,
    banks,
    bank_entries,
    bank_imports,
    bank_changes,
)


def photo(index: int = 0, quality: int = 90) -> ItemInput:
    return ItemInput(pdq=HASHES[index], quality=quality)


def link(path: str = "a") -> ItemInput:
    return ItemInput(url=f"https://host.example/{path}")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def desk(store: Store, tmp_path: Path, clock: FixedClock) -> Desk:
    without_cases(store)
    keys = DeskKeys.create(tmp_path / "desk.key")
    return Desk(store, keys=keys, clock=clock, authority="PHAROS")


def counts(store: Store) -> dict[str, int]:
    with store.read() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in TABLES
        }


def case_row(store: Store, number: str) -> Any:
    with store.read() as connection:
        return connection.execute(select(desk_cases).where(desk_cases.c.number == number)).one()


def entries(store: Store, bank: str) -> list[Any]:
    with store.read() as connection:
        return list(
            connection.execute(
                select(bank_entries)
                .join(banks, banks.c.id == bank_entries.c.bank_id)
                .where(banks.c.name == bank)
                .order_by(bank_entries.c.id)
            ).all()
        )


def last_change(store: Store) -> tuple[int, str]:
    with store.read() as connection:
        row = connection.execute(
            select(bank_changes.c.entry_id, bank_changes.c.op).order_by(bank_changes.c.seq.desc())
        ).first()
    assert row is not None
    return row.entry_id, row.op


def matched_banks(matcher: BankMatcher, value: str) -> set[str]:
    return {match.bank for match in matcher.match(pack([value]))[0]}


# --- reporting ----------------------------------------------------------------------------------


def test_a_report_opens_a_case_whose_hash_matches_at_once(desk: Desk, store: Store) -> None:
    matcher = BankMatcher(store, refresh_interval=0)  # made before the desk's banks exist
    new = desk.report(
        AgeAnswer.ADULT,
        [photo(0), link("a"), ItemInput("http://h.example/b", HASHES[1].upper(), 70)],
        words=WORDS,
        language="fr",
    )
    case = new.case
    assert (case.branch, case.state, case.language) == (Branch.ADULT, CaseState.RECEIVED, "fr")
    assert (case.authority, case.flagger_key_id) == (None, None)
    assert [item.state for item in case.items] == [
        ItemState.WATCHING,
        ItemState.RECEIVED,
        ItemState.WATCHING,
    ]
    assert case.items[2].pdq == HASHES[1]  # stored lowercase
    assert not any(item.confirmed for item in case.items)
    # The hash matches now, for review: its bank is a review bank of the desk.
    assert matched_banks(matcher, HASHES[0]) == {"desk-adult"}
    bank = Banks(store).get("desk-adult")
    assert (bank.review, bank.source, bank.category.value) == (True, "desk", "ncii")
    first = entries(store, "desk-adult")[0]
    assert first.source_ref == source_ref(case.items[0].id) == f"desk-item:{case.items[0].id}"
    assert first.quality == 90
    assert [e.kind for e in desk.events(case.number)] == ["reported", *["item-added"] * 3]
    assert desk.get(case.number.lower()) == case


def test_the_json_of_a_case_has_no_secret_and_no_sealed_field(desk: Desk) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()], words=WORDS)
    document = new.case.to_json()
    assert set(document) == {
        "number",
        "branch",
        "state",
        "authority",
        "flagger_key_id",
        "language",
        "created_at",
        "updated_at",
        "items",
    }
    assert WORDS not in str(document)
    assert hashlib.sha256(new.secret.replace("-", "").encode()).hexdigest() not in str(document)


def test_a_minors_case_keeps_no_words_and_goes_to_the_authority(desk: Desk, store: Store) -> None:
    before = counts(store)
    with pytest.raises(CaseInvalidError, match="a minor's case keeps hashes, URLs and metadata"):
        desk.report(AgeAnswer.UNDER_18, [photo()], words=WORDS)
    assert counts(store) == before
    case = desk.report(AgeAnswer.UNSURE, [photo()]).case  # unsure counts as a minor
    assert (case.branch, case.authority) == (Branch.MINOR, "PHAROS")
    bank = Banks(store).get("desk-minor")
    assert (bank.review, bank.category.value) == (True, "child_sexual_abuse")
    before = counts(store)
    with pytest.raises(CaseInvalidError, match="no words and no notes"):
        desk.add_note(case.number, NOTE, REVIEWER)
    with pytest.raises(CaseInvalidError, match="no words and no notes"):
        desk.move(case.number, CaseState.IN_REVIEW, REVIEWER, note=NOTE)
    assert counts(store) == before
    assert desk.get(case.number).state == CaseState.RECEIVED
    assert desk.sealed(case.number, REVIEWER) == []


def test_a_minors_case_by_a_flagger_keeps_its_mandates_reference_and_dates_only(
    desk: Desk,
) -> None:
    case = desk.report(AgeAnswer.UNDER_18, [photo()], actor=FLAGGER, mandate=MANDATE).case
    [sealed] = desk.sealed(case.number, FLAGGER)
    kept = json.loads(sealed.text)
    assert (kept["reference"], kept["starts"]) == (MANDATE.reference, MANDATE.starts.isoformat())
    assert kept["scope"] == ""  # free text, which a minor's case never keeps
    assert MANDATE.scope not in sealed.text


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (ItemInput(), CaseInvalidError, "item 1: give a URL, a hash, or both"),
        (ItemInput(url="  "), CaseInvalidError, "give a URL, a hash, or both"),
        (ItemInput(url="ftp://host.example/a"), CaseInvalidError, "http:// or https://"),
        (ItemInput(url="javascript:alert(1)"), CaseInvalidError, "http:// or https://"),
        (ItemInput(url="https:///path"), CaseInvalidError, "names a host"),
        (ItemInput(url="https://user:pw@host.example/"), CaseInvalidError, "no user name"),
        (ItemInput(url="https://host.example/a b"), CaseInvalidError, "no spaces"),
        (ItemInput(url="https://host.example:x/"), CaseInvalidError, "not a valid URL"),
        (ItemInput(url="https://h.example/" + "a" * 2048), CaseInvalidError, "at most 2048"),
        (ItemInput(pdq="ab" * 31, quality=90), CaseInvalidError, "64 hexadecimal digits"),
        (ItemInput(pdq="zz" * 32, quality=90), CaseInvalidError, "64 hexadecimal digits"),
        (ItemInput(pdq=HASHES[0]), CaseInvalidError, "needs its quality, 0 to 100"),
        (ItemInput(pdq=HASHES[0], quality=101), CaseInvalidError, "needs its quality"),
        (ItemInput(pdq=HASHES[0], quality=True), CaseInvalidError, "needs its quality"),
        (ItemInput(url="https://h.example/", quality=90), CaseInvalidError, "without a hash"),
        (ItemInput(pdq=HASHES[0], quality=49), HashLowQualityError, "quality 49, under 50"),
    ],
)
def test_invalid_items_are_refused(item: ItemInput, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        check_items([item])


def test_a_report_needs_one_to_a_hundred_items() -> None:
    with pytest.raises(CaseInvalidError, match="at least one item"):
        check_items([])
    with pytest.raises(CaseInvalidError, match="at most 100 items"):
        check_items([link(str(i)) for i in range(101)])
    assert check_items(
        [ItemInput(url=" https://h.example/a ", pdq=HASHES[0].upper(), quality=50)]
    ) == [ItemInput("https://h.example/a", HASHES[0], 50)]


def test_a_report_is_one_transaction(
    desk: Desk, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(store)
    with pytest.raises(CaseInvalidError, match="item 2: "):
        desk.report(AgeAnswer.ADULT, [photo(0), ItemInput(url="ftp://h.example/")], words=WORDS)
    assert counts(store) == before
    # A failure half-way, after the first item's bank entry was written: nothing stays, not
    # the case, its first item, the bank made for it or the entry.
    add = desk.banks.add
    calls = []

    def failing_add(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the disk is full")
        return add(*args, **kwargs)

    monkeypatch.setattr(desk.banks, "add", failing_add)
    with pytest.raises(RuntimeError, match="the disk is full"):
        desk.report(AgeAnswer.ADULT, [photo(0), photo(1)], words=WORDS)
    assert len(calls) == 2
    assert counts(store) == before


def test_who_reports_what(desk: Desk, clock: FixedClock) -> None:
    with pytest.raises(CaseInvalidError, match="under a mandate"):
        desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER)
    with pytest.raises(CaseInvalidError, match="only a victim, or a flagger"):
        desk.report(AgeAnswer.ADULT, [photo()], mandate=MANDATE)
    with pytest.raises(CaseInvalidError, match="only a victim, or a flagger"):
        desk.report(AgeAnswer.ADULT, [photo()], actor=SYSTEM)
    ended = Mandate("ASSOC-1", "report text 2", date(2025, 1, 1), date(2025, 12, 31))
    with pytest.raises(CaseInvalidError, match="the mandate ended on 2025-12-31"):
        desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER, mandate=ended)
    with pytest.raises(CaseInvalidError, match="invalid language"):
        desk.report(AgeAnswer.ADULT, [photo()], language="../../etc")
    case = desk.report(Branch.MINOR, [photo()], actor=FLAGGER, mandate=MANDATE).case
    assert case.flagger_key_id == "flagger1"
    assert desk.events(case.number)[0].actor == "flagger1"
    (mandate,) = desk.sealed(case.number, FLAGGER)  # a minor's case keeps a mandate
    assert (mandate.field, mandate.author) == ("mandate", "flagger1")
    # ... without its scope, free text (see the minor's-case mandate test).
    assert Mandate.from_json(json.loads(mandate.text)) == replace(MANDATE, scope="")


def test_staff_actors() -> None:
    key = ApiKey("abc123def456", "a reviewer", Role.REVIEWER, None, NOW, None, "hash")
    assert staff(key) == Actor("staff", "abc123def456", Role.REVIEWER)
    assert (staff(key).label, VICTIM.label, SYSTEM.label) == ("abc123def456", "victim", "system")
    with pytest.raises(ValueError, match="staff actor"):
        Actor("staff")
    with pytest.raises(ValueError, match="staff actor"):
        Actor("victim", "abc123def456", Role.ADMIN)


# --- signing in ---------------------------------------------------------------------------------


def test_sign_in_with_the_number_and_secret(desk: Desk, store: Store) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()])
    assert desk.sign_in(new.case.number, new.secret) == new.case
    assert desk.sign_in(new.case.number.lower(), new.secret.lower().replace("-", " ")) == new.case
    assert (
        case_row(store, new.case.number).secret_hash
        == hashlib.sha256(new.secret.replace("-", "").encode()).hexdigest()
    )
    wrong = [
        (new.case.number, "AAAAA-AAAAA-AAAAA-AAAAA"),
        ("R-AAAAAAAAAA", new.secret),
        ("not a number", new.secret),
        (new.case.number, ""),
    ]
    for number, secret in wrong:
        with pytest.raises(CaseNotFoundError) as refused:
            desk.sign_in(number, secret)
        assert str(refused.value) == "no case with this number and secret"


def test_a_victims_session_tag_dies_with_its_secret(desk: Desk) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()])
    tag = secret_tag(new.secret)
    assert desk.victim_case(new.case.number, tag) == new.case
    assert secret_tag(new.secret.lower().replace("-", "")) == tag  # as typed at sign-in
    reissued = desk.new_secret(new.case.number, ADMIN)
    with pytest.raises(CaseNotFoundError, match="no case with this number and secret"):
        desk.victim_case(new.case.number, tag)
    assert desk.victim_case(new.case.number, secret_tag(reissued)).number == new.case.number
    with pytest.raises(CaseNotFoundError):
        desk.victim_case(new.case.number, "")


def test_sign_in_is_throttled_per_case(desk: Desk, clock: FixedClock) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()])
    for _ in range(5):
        with pytest.raises(CaseNotFoundError):
            desk.sign_in(new.case.number, "AAAAA-AAAAA-AAAAA-AAAAA")
    with pytest.raises(RateLimitedError, match="try again in a minute") as limited:
        desk.sign_in(new.case.number, new.secret)  # even the right secret, for now
    assert limited.value.problem_headers() == {"Retry-After": "60"}
    other = desk.report(AgeAnswer.ADULT, [photo(1)])
    assert desk.sign_in(other.case.number, other.secret).number == other.case.number
    clock.advance(timedelta(minutes=1))
    assert desk.sign_in(new.case.number, new.secret).number == new.case.number


def test_secrets_and_sealed_fields_are_never_stored_in_the_clear(
    desk: Desk, store: Store, tmp_path: Path
) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()], words=WORDS)
    desk.add_note(new.case.number, NOTE, REVIEWER)
    flagged = desk.report(AgeAnswer.ADULT, [photo(1)], actor=FLAGGER, mandate=MANDATE)
    reissued = desk.new_secret(flagged.case.number, FLAGGER)
    secrets = [
        s
        for secret in (new.secret, flagged.secret, reissued)
        for s in (secret, secret.replace("-", ""))
    ]
    clear = [WORDS, NOTE, MANDATE.reference, MANDATE.scope, *secrets]
    # Every column of every row, as the database returns it...
    with store.read() as connection:
        dump = repr([connection.execute(select(table)).all() for table in TABLES])
    assert "report text" not in dump
    for value in clear:
        assert value not in dump
    # ...and, on SQLite, every byte of its files.
    if store.is_sqlite:
        stored = b"".join(path.read_bytes() for path in tmp_path.glob("rempart.db*"))
        assert b"report text" not in stored
        for value in clear:
            assert value.encode() not in stored
    assert [f.text for f in desk.sealed(new.case.number, REVIEWER)] == [WORDS, NOTE]


def test_events_cannot_be_changed_or_deleted(desk: Desk, store: Store) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo()]).case
    for statement in ("UPDATE desk_events SET kind = 'forged'", "DELETE FROM desk_events"):
        with (
            pytest.raises((IntegrityError, StoreError), match="append-only"),
            store.write() as connection,
        ):
            connection.execute(text(statement))
    assert [e.kind for e in desk.events(case.number)] == ["reported", "item-added"]


# --- staff --------------------------------------------------------------------------------------


def test_a_wrong_move_is_refused_naming_the_allowed_ones(
    desk: Desk, store: Store, clock: FixedClock
) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo()]).case
    clock.advance(timedelta(hours=1))
    before = (counts(store), desk.get(case.number))
    with pytest.raises(CaseStateConflictError) as refused:
        desk.move(case.number, CaseState.ACTING, REVIEWER, note=NOTE)
    assert str(refused.value) == (
        "a case received cannot move to acting: it may move to in_review, on_hold, closed"
    )
    with pytest.raises(CaseStateConflictError, match="cannot move to withdrawn"):
        desk.move(case.number, CaseState.WITHDRAWN, ADMIN)
    assert (counts(store), desk.get(case.number)) == before
    moved = desk.move(case.number, CaseState.IN_REVIEW, REVIEWER, note=NOTE)
    assert (moved.state, moved.updated_at) == (CaseState.IN_REVIEW, NOW + timedelta(hours=1))
    *_, note, event = desk.events(case.number)
    assert (note.kind, event.kind, event.actor) == ("note-added", "moved", "reviewer1")
    assert (event.from_state, event.to_state, event.detail) == (
        "received",
        "in_review",
        {"note": True},
    )
    assert [f.text for f in desk.sealed(case.number, REVIEWER)] == [NOTE]


def test_only_staff_move_and_a_flagger_only_its_own_cases(desk: Desk) -> None:
    own = desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER, mandate=MANDATE).case
    victims = desk.report(AgeAnswer.ADULT, [photo(1)]).case
    with pytest.raises(CaseInvalidError, match="only staff"):
        desk.move(victims.number, CaseState.IN_REVIEW, VICTIM)
    with pytest.raises(CaseNotFoundError) as held_by_none:
        desk.move(victims.number, CaseState.IN_REVIEW, FLAGGER)
    with pytest.raises(CaseNotFoundError) as unknown:
        desk.move("R-AAAAAAAAAA", CaseState.IN_REVIEW, FLAGGER)
    # The same words for a case it does not hold as for a number nobody has: it learns nothing.
    assert str(held_by_none.value).replace(victims.number, "R-AAAAAAAAAA") == str(unknown.value)
    with pytest.raises(CaseNotFoundError):
        desk.sealed(own.number, OTHER_FLAGGER)
    platform = Actor("staff", "platform1", Role.PLATFORM)
    with pytest.raises(CaseInvalidError, match="only a key of role"):
        desk.sealed(own.number, platform)
    with pytest.raises(CaseInvalidError, match="only staff"):
        desk.sealed(own.number, VICTIM)
    assert desk.move(own.number, CaseState.IN_REVIEW, FLAGGER).state == CaseState.IN_REVIEW
    with pytest.raises(CaseNotFoundError, match="no case 'R-AAAAAAAAAA'"):
        desk.move("R-AAAAAAAAAA", CaseState.IN_REVIEW, ADMIN)


def test_get_as_a_flagger_finds_its_own_cases_only(desk: Desk) -> None:
    own = desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER, mandate=MANDATE).case
    victims = desk.report(AgeAnswer.ADULT, [photo(1)]).case
    assert desk.get(own.number, FLAGGER) == own
    assert desk.get(victims.number, REVIEWER) == victims
    with pytest.raises(CaseNotFoundError) as held_by_none:
        desk.get(victims.number, FLAGGER)
    with pytest.raises(CaseNotFoundError) as unknown:
        desk.get("R-AAAAAAAAAA", FLAGGER)
    assert str(held_by_none.value).replace(victims.number, "R-AAAAAAAAAA") == str(unknown.value)


def test_item_moves(desk: Desk, store: Store) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo(), link()]).case
    hashed, url_only = case.items
    other = desk.report(AgeAnswer.ADULT, [link("b")]).case
    moved = desk.move_item(case.number, hashed.id, ItemState.SIGHTED, REVIEWER)
    assert moved.items[0].state == ItemState.SIGHTED
    before = counts(store)
    with pytest.raises(CaseStateConflictError, match="item sighted cannot move to reappeared"):
        desk.move_item(case.number, hashed.id, ItemState.REAPPEARED, REVIEWER)
    with pytest.raises(CaseStateConflictError, match="cannot move to withdrawn"):
        desk.move_item(case.number, hashed.id, ItemState.WITHDRAWN, ADMIN)
    desk.move_item(case.number, url_only.id, ItemState.ON_HOLD, REVIEWER)
    with pytest.raises(CaseInvalidError, match="has no hash: it cannot be watching"):
        desk.move_item(case.number, url_only.id, ItemState.WATCHING, REVIEWER)
    with pytest.raises(CaseNotFoundError, match=f"has no item {other.items[0].id}"):
        desk.move_item(case.number, other.items[0].id, ItemState.REMOVED, REVIEWER)
    with pytest.raises(CaseInvalidError, match="only staff"):
        desk.move_item(case.number, hashed.id, ItemState.REMOVED, VICTIM)
    assert counts(store)["desk_items"] == before["desk_items"]
    assert desk.get(case.number).items[1].state == ItemState.ON_HOLD
    event = desk.events(case.number)[-1]
    assert (event.kind, event.item_id, event.from_state, event.to_state) == (
        "item-moved",
        url_only.id,
        "received",
        "on_hold",
    )


def test_confirm_puts_the_hash_in_the_confirmed_bank(desk: Desk, store: Store) -> None:
    matcher = BankMatcher(store, refresh_interval=0)
    case = desk.report(AgeAnswer.ADULT, [photo(), link()]).case
    hashed, url_only = case.items
    for actor in (VICTIM, FLAGGER):
        with pytest.raises((CaseInvalidError, CaseNotFoundError)):
            desk.confirm(case.number, hashed.id, actor)
    flagged = desk.report(AgeAnswer.ADULT, [photo(1)], actor=FLAGGER, mandate=MANDATE).case
    with pytest.raises(CaseInvalidError, match="only a key of role admin or reviewer"):
        desk.confirm(flagged.number, flagged.items[0].id, FLAGGER)
    with pytest.raises(CaseInvalidError, match="has no hash to confirm"):
        desk.confirm(case.number, url_only.id, REVIEWER)
    confirmed = desk.confirm(case.number, hashed.id, REVIEWER)
    assert [item.confirmed for item in confirmed.items] == [True, False]
    bank = Banks(store).get("desk-adult-confirmed")
    assert (bank.review, bank.source, bank.category.value) == (False, "desk", "ncii")
    (entry,) = entries(store, "desk-adult-confirmed")
    assert entry.source_ref == source_ref(hashed.id)
    assert matched_banks(matcher, HASHES[0]) == {"desk-adult", "desk-adult-confirmed"}
    with pytest.raises(CaseStateConflictError, match="confirmed already"):
        desk.confirm(case.number, hashed.id, REVIEWER)
    assert desk.events(case.number)[-1].kind == "confirmed"
    minor = desk.report(AgeAnswer.UNDER_18, [photo(2)]).case
    desk.confirm(minor.number, minor.items[0].id, ADMIN)
    assert Banks(store).get("desk-minor-confirmed").category.value == "child_sexual_abuse"


def test_a_bank_of_the_desks_name_that_is_not_the_desks_is_refused(
    desk: Desk, store: Store
) -> None:
    Banks(store).create("desk-adult", source="local")  # would block unconfirmed reports
    before = counts(store)
    with pytest.raises(BankError, match="exists but is not the desk's"):
        desk.report(AgeAnswer.ADULT, [photo()])
    assert counts(store) == before


def test_queue_minors_first_then_sightings_then_oldest(desk: Desk, clock: FixedClock) -> None:
    def report(answer: AgeAnswer, **kwargs: Any) -> Case:
        clock.advance(timedelta(minutes=1))
        return desk.report(answer, [link()], **kwargs).case

    oldest = report(AgeAnswer.ADULT)
    older = report(AgeAnswer.ADULT)
    closed = report(AgeAnswer.ADULT)
    desk.move(closed.number, CaseState.CLOSED, REVIEWER)
    withdrawn = report(AgeAnswer.ADULT)
    desk.withdraw(withdrawn.number, VICTIM)
    sighted = report(AgeAnswer.ADULT)
    desk.move_item(sighted.number, sighted.items[0].id, ItemState.REMOVED, REVIEWER)
    flagged = report(AgeAnswer.ADULT, actor=FLAGGER, mandate=MANDATE)
    minor = report(AgeAnswer.UNDER_18)
    assert [c.number for c in desk.queue()] == [
        minor.number,
        oldest.number,
        older.number,
        sighted.number,
        flagged.number,
    ]
    # An item removed and reappearing puts its case ahead of older ones.
    desk.move_item(sighted.number, sighted.items[0].id, ItemState.REAPPEARED, REVIEWER)
    queue = desk.queue()
    assert [c.number for c in queue][:3] == [minor.number, sighted.number, oldest.number]
    assert queue[1].items[0].state == ItemState.REAPPEARED
    assert [c.number for c in desk.queue(limit=2)] == [minor.number, sighted.number]
    assert [c.number for c in desk.queue(flagger_key_id="flagger1")] == [flagged.number]


def test_adding_items(desk: Desk, store: Store) -> None:
    case = desk.report(AgeAnswer.ADULT, [link()]).case
    desk.move(case.number, CaseState.CLOSED, REVIEWER)
    added = desk.add_items(case.number, [photo(), link("b")], VICTIM)
    assert [i.state for i in added.items] == [
        ItemState.RECEIVED,
        ItemState.WATCHING,
        ItemState.RECEIVED,
    ]
    assert added.state == CaseState.IN_REVIEW  # a closed case with new items is looked at again
    assert entries(store, "desk-adult")[0].source_ref == source_ref(added.items[1].id)
    with pytest.raises(CaseNotFoundError):
        desk.add_items(case.number, [link("c")], FLAGGER)
    desk.withdraw(case.number, VICTIM)
    with pytest.raises(CaseStateConflictError, match="is withdrawn"):
        desk.add_items(case.number, [link("c")], VICTIM)


def test_a_new_secret_for_the_flagger_holding_the_mandate(desk: Desk) -> None:
    new = desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER, mandate=MANDATE)
    number = new.case.number
    with pytest.raises(CaseNotFoundError):
        desk.new_secret(number, OTHER_FLAGGER)
    for actor in (REVIEWER, VICTIM):
        with pytest.raises(CaseInvalidError, match="only the flagger holding it or an admin"):
            desk.new_secret(number, actor)
    assert desk.sign_in(number, new.secret)
    secret = desk.new_secret(number, FLAGGER)
    with pytest.raises(CaseNotFoundError):
        desk.sign_in(number, new.secret)  # the old one died
    assert desk.sign_in(number, secret).number == number
    assert desk.sign_in(number, desk.new_secret(number, ADMIN)).number == number
    assert [e.actor for e in desk.events(number) if e.kind == "secret-reissued"] == [
        "flagger1",
        "admin1",
    ]


def test_reading_sealed_fields_is_an_event(desk: Desk) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo()], words=WORDS).case
    (words,) = desk.sealed(case.number, REVIEWER)
    assert (words.field, words.author, words.text, words.created_at) == (
        "words",
        "victim",
        WORDS,
        NOW,
    )
    event = desk.events(case.number)[-1]
    assert (event.kind, event.actor, event.detail) == ("sealed-read", "reviewer1", {"fields": 1})
    assert WORDS not in str([e.to_json() for e in desk.events(case.number)])


# --- withdrawal ---------------------------------------------------------------------------------


def test_withdrawal_keeps_an_entry_another_case_claims(desk: Desk, store: Store) -> None:
    matcher = BankMatcher(store, refresh_interval=0)
    first = desk.report(AgeAnswer.ADULT, [photo(0), photo(1)], words=WORDS)
    second = desk.report(AgeAnswer.ADULT, [photo(0)])
    shared, own = entries(store, "desk-adult")
    assert shared.source_ref == source_ref(first.case.items[0].id)
    desk.confirm(first.case.number, first.case.items[1].id, REVIEWER)
    # A reviewer also put the first item's hash in a bank of its own, naming the item.
    Banks(store).create("elsewhere")
    Banks(store).add("elsewhere", HASHES[0], source_ref=source_ref(first.case.items[0].id))
    Banks(store).add("elsewhere", HASHES[2], source_ref="another-source")

    withdrawn = desk.withdraw(first.case.number, VICTIM)
    assert withdrawn.state == CaseState.WITHDRAWN
    assert {item.state for item in withdrawn.items} == {ItemState.WITHDRAWN}
    assert not any(item.confirmed for item in withdrawn.items)
    shared, own = entries(store, "desk-adult")
    assert shared.withdrawn_at is None  # the second case still claims it
    assert own.withdrawn_at is not None
    assert entries(store, "desk-adult-confirmed")[0].withdrawn_at is not None
    assert [e.withdrawn_at is not None for e in entries(store, "elsewhere")] == [True, False]
    assert matched_banks(matcher, HASHES[0]) == {"desk-adult"}
    assert matched_banks(matcher, HASHES[1]) == set()
    # Its sealed fields and its data key are gone.
    row = case_row(store, first.case.number)
    assert (row.wrapped_key, row.wrapping_key_id) == (None, None)
    assert desk.sealed(first.case.number, REVIEWER) == []
    with store.read() as connection:
        left = connection.execute(
            select(func.count()).where(desk_sealed.c.case_id == first.case.id)
        ).scalar_one()
    assert left == 0
    event = desk.events(first.case.number)[-1]
    assert (event.kind, event.actor, event.detail) == (
        "withdrawn",
        "victim",
        {"entries_withdrawn": 3},
    )
    with pytest.raises(CaseStateConflictError, match="withdrawn already"):
        desk.withdraw(first.case.number, VICTIM)
    with pytest.raises(CaseStateConflictError, match="is withdrawn"):
        desk.add_note(first.case.number, NOTE, REVIEWER)

    # Once the second case withdraws too, the shared entry stops matching.
    desk.withdraw(second.case.number, ADMIN)
    assert entries(store, "desk-adult")[0].withdrawn_at is not None
    assert last_change(store) == (shared.id, "withdraw")
    assert matched_banks(matcher, HASHES[0]) == set()

    # A new report of the hash reinstates the entry: the same one, logged as an add.
    third = desk.report(AgeAnswer.ADULT, [photo(0)])
    assert [e.id for e in entries(store, "desk-adult")] == [shared.id, own.id]
    assert entries(store, "desk-adult")[0].withdrawn_at is None
    assert last_change(store) == (shared.id, "add")
    assert matched_banks(matcher, HASHES[0]) == {"desk-adult"}
    assert desk.get(third.case.number).items[0].state == ItemState.WATCHING


def test_who_may_withdraw(desk: Desk) -> None:
    flagged = desk.report(AgeAnswer.ADULT, [photo()], actor=FLAGGER, mandate=MANDATE).case
    for actor, error in ((REVIEWER, CaseInvalidError), (OTHER_FLAGGER, CaseNotFoundError)):
        with pytest.raises(error):
            desk.withdraw(flagged.number, actor)
    assert desk.withdraw(flagged.number, FLAGGER).state == CaseState.WITHDRAWN


def test_withdrawal_is_one_transaction(
    desk: Desk, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo(0)], words=WORDS).case
    before = counts(store)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the connection dropped")

    monkeypatch.setattr(desk.banks, "withdraw", failing)
    with pytest.raises(RuntimeError):
        desk.withdraw(case.number, VICTIM)
    assert counts(store) == before
    assert desk.get(case.number) == case
    assert [f.text for f in desk.sealed(case.number, REVIEWER)] == [WORDS]


# --- keys ---------------------------------------------------------------------------------------


def test_the_desk_needs_its_key_file(tmp_path: Path, store: Store) -> None:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path), "REMPART_DESK_AUTHORITY": "NCMEC"})
    assert settings.desk_key_file == tmp_path / "desk.key"
    with pytest.raises(DeskKeyError, match="no desk key file; run rempart desk init"):
        Desk.from_settings(settings, store)
    DeskKeys.create(tmp_path / "desk.key")
    desk = Desk.from_settings(settings, store)
    assert desk.authority == "NCMEC"


def test_sealed_fields_survive_a_rekey(desk: Desk, store: Store) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo()], words=WORDS).case
    old = desk.keys.active
    assert desk.keys.path is not None
    report = rekey(store, desk.keys.path)
    assert report.dropped == (old,)
    # The desk holds the keys it loaded; it reads the rotated file when it next needs them.
    assert [f.text for f in desk.sealed(case.number, REVIEWER)] == [WORDS]
    later = desk.report(AgeAnswer.ADULT, [photo(1)], words=NOTE).case
    assert case_row(store, later.number).wrapping_key_id == report.key_id
    assert [f.text for f in desk.sealed(later.number, REVIEWER)] == [NOTE]
