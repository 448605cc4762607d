"""Moving a case to the other branch (SQLite and PostgreSQL): to the minor branch its hashes go
to the minor banks (an entry another adult case claims stays), its words and notes are erased
(a flagger's mandate kept without its free text), its drafted notices take a minor's nature, the
authority is flagged; and back. A reviewer's, with a reason, recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from rempart.access.roles import Role
from rempart.desk import (
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    Desk,
    ItemInput,
    Nature,
    Notices,
)
from rempart.desk.rows import check_reason
from rempart.errors import CaseInvalidError, CaseNotFoundError, CaseStateConflictError
from rempart.store import Store
from rempart.store.schema import bank_entries, banks, desk_cases, desk_notices, desk_sealed
from tests.desk.noticing import (  # noqa: F401
    ADMIN,
    MANDATE,
    OTHER_FLAGGER,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    make_notices_fixture,
)
from tests.desk.smtp import smtp_server_fixture  # noqa: F401

HASHES = [f"{i:02x}" * 32 for i in range(1, 4)]
WHY = "the victim's mother wrote: she was 16 in the picture"
WORDS = "report text 1, words of the victim"
NOTE = "report text 3, a reviewer note"
FLAGGER = Actor("staff", "flagger1", Role.FLAGGER)


def photo(index: int) -> ItemInput:
    return ItemInput(pdq=HASHES[index], quality=90)


def active(store: Store, bank: str) -> set[str]:
    """The hashes a desk bank matches (its active entries)."""
    with store.read() as connection:
        return set(
            connection.execute(
                select(bank_entries.c.hash)
                .join(banks, banks.c.id == bank_entries.c.bank_id)
                .where(banks.c.name == bank, bank_entries.c.withdrawn_at.is_(None))
            ).scalars()
        )


def sealed_fields(store: Store, case_id: int) -> list[str]:
    with store.read() as connection:
        return list(
            connection.execute(
                select(desk_sealed.c.field)
                .where(desk_sealed.c.case_id == case_id)
                .order_by(desk_sealed.c.id)
            ).scalars()
        )


def authority(store: Store, case_id: int) -> Any:
    with store.read() as connection:
        return connection.execute(
            select(desk_cases.c.authority).where(desk_cases.c.id == case_id)
        ).scalar_one()


def test_to_the_minor_branch_and_back(desk: Desk, store: Store) -> None:
    case = desk.report(
        AgeAnswer.ADULT,
        [photo(0), photo(1), ItemInput(url="https://host.example/p/1")],
        words=WORDS,
    ).case
    desk.add_note(case.number, NOTE, REVIEWER)
    desk.confirm(case.number, case.items[1].id, REVIEWER)
    other = desk.report(AgeAnswer.ADULT, [photo(0)]).case  # shares the first hash
    assert authority(store, case.id) is None

    moved = desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=WHY)
    assert moved.branch == Branch.MINOR
    assert moved.authority == "PHAROS"
    assert [item.confirmed for item in moved.items] == [False, True, False]
    assert active(store, "desk-minor") == {HASHES[0], HASHES[1]}
    assert active(store, "desk-minor-confirmed") == {HASHES[1]}
    assert active(store, "desk-adult") == {HASHES[0]}  # the other adult case still claims it
    assert active(store, "desk-adult-confirmed") == set()
    assert sealed_fields(store, case.id) == []  # a minor's case keeps no words, no notes
    assert desk.sealed(case.number, REVIEWER) == []
    [event] = [e for e in desk.events(case.number) if e.kind == "branch-moved"]
    assert event.actor == "reviewer1"
    assert event.detail == {
        "from": "adult",
        "to": "minor",
        "reason": WHY,
        "entries": 2,
        "captures": 0,
        "drafts": 0,
    }
    assert desk.get(other.number).branch == Branch.ADULT

    back = desk.move_branch(case.number, Branch.ADULT, ADMIN, reason="a birth certificate")
    assert back.branch == Branch.ADULT
    assert back.authority is None
    assert [item.confirmed for item in back.items] == [False, True, False]
    assert active(store, "desk-adult") == {HASHES[0], HASHES[1]}
    assert active(store, "desk-adult-confirmed") == {HASHES[1]}
    assert active(store, "desk-minor") == set()
    assert active(store, "desk-minor-confirmed") == set()
    assert sealed_fields(store, case.id) == []  # what was erased stays erased
    kinds = [(e.kind, e.detail.get("to")) for e in desk.events(case.number)]
    assert kinds[-1] == ("branch-moved", "adult")


def test_a_flagger_s_mandate_stays_without_its_free_text(desk: Desk, store: Store) -> None:
    case = desk.report(
        AgeAnswer.ADULT, [photo(0)], words=WORDS, actor=FLAGGER, mandate=MANDATE
    ).case
    assert sealed_fields(store, case.id) == ["words", "mandate"]
    desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=WHY)
    [mandate] = desk.sealed(case.number, FLAGGER)
    assert mandate.field == "mandate"
    assert json.loads(mandate.text) == MANDATE.to_json() | {"scope": ""}


def test_a_draft_takes_the_minor_branch_s_nature(
    desk: Desk, make_notices: Callable[..., Notices]
) -> None:
    notices = make_notices()
    items = [ItemInput(url="https://social.test/p/1"), ItemInput(url="https://dsa.test/p/1")]
    case = desk.report(AgeAnswer.ADULT, items).case
    ncii = notices.draft(case.number, "social", REVIEWER)
    deepfake = notices.draft(case.number, "dsa-only", REVIEWER, nature=Nature.DEEPFAKE)
    desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=WHY)
    assert notices.get(ncii.reference, REVIEWER).nature == Nature.CSAM
    assert notices.get(deepfake.reference, REVIEWER).nature == Nature.CSAM_DEEPFAKE
    desk.move_branch(case.number, Branch.ADULT, REVIEWER, reason="a birth certificate")
    assert notices.get(ncii.reference, REVIEWER).nature == Nature.NCII
    assert notices.get(deepfake.reference, REVIEWER).nature == Nature.DEEPFAKE
    moves = [e.detail for e in desk.events(case.number) if e.kind == "branch-moved"]
    assert [move["drafts"] for move in moves] == [2, 2]
    with desk.store.write() as connection:  # as while a channel has it
        connection.execute(
            update(desk_notices).where(desk_notices.c.case_id == case.id).values(state="sending")
        )
    with pytest.raises(CaseStateConflictError, match="is being sent"):
        desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=WHY)
    assert desk.get(case.number).branch == Branch.ADULT


def test_what_is_refused(desk: Desk, store: Store) -> None:
    case = desk.report(AgeAnswer.ADULT, [photo(0)], words=WORDS).case
    with pytest.raises(CaseStateConflictError, match="of the adult branch already"):
        desk.move_branch(case.number, Branch.ADULT, REVIEWER, reason=WHY)
    for reason in ("", "  ", "two\nlines", "x" * 501):
        with pytest.raises(CaseInvalidError, match="reason"):
            desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=reason)
    for actor in (FLAGGER, OTHER_FLAGGER, VICTIM):
        with pytest.raises(CaseInvalidError, match="only a key of role admin or reviewer may"):
            desk.move_branch(case.number, Branch.MINOR, actor, reason=WHY)
    with pytest.raises(CaseNotFoundError):
        desk.move_branch("R-0000-0000-0000", Branch.MINOR, REVIEWER, reason=WHY)
    assert sealed_fields(store, case.id) == ["words"]  # nothing changed
    assert desk.get(case.number).branch == Branch.ADULT
    desk.withdraw(case.number, VICTIM)
    with pytest.raises(CaseStateConflictError, match="withdrawn"):
        desk.move_branch(case.number, Branch.MINOR, REVIEWER, reason=WHY)


@pytest.mark.parametrize(
    "reason",
    ["one\nline", "bidi \u202e trick", "line\u2028separator", "para\u2029graph", "x" * 501],
)
def test_a_reason_is_one_printable_line(reason: str) -> None:
    with pytest.raises(CaseInvalidError):
        check_reason(reason)
    assert check_reason("  a plain reason ") == "a plain reason"
