"""Cases: a victim's (or a flagger's) report, its items, their bank entries and its history.

A case is asked its branch first: ``minor`` when the person was under 18 when the image was
made, or is unsure; a minor's case keeps hashes, URLs and metadata only, ever (no words, no
notes), and is flagged for the deployment's authority channel. Its items are URLs, PDQ hashes
made on the victim's device, or both. A hash matches at once: it goes into the branch's review
bank (``desk-adult``, ``desk-minor``), whose matches send to review, not block, until a
reviewer confirms it into the confirmed bank (``desk-*-confirmed``), whose matches block.

Every operation is one transaction (``Store.write()``): the case, its items, the bank entries
they claim (``Banks`` with the same connection), sealed fields and events commit together or
not at all. An item claims the entries of its hash (``desk_item_entries``): two cases reporting
one hash share its entry, which a withdrawal takes out of matching only once no active item
claims it; a new report of a withdrawn hash reinstates its entry. A bank entry's ``source_ref``
names the item only (``desk-item:<id>``), never the case or the person.

A reviewer may move a case to the other branch (``move_branch``, with a reason): to the minor
branch, in the same transaction, its captures are purged, its words, notes, consent and news
address erased and its hashes moved to the minor banks. A case's ``closed_at`` is set when it
closes and cleared when it reopens: its evidence's retention counts from it.

Events are append-only (the database refuses to change them); their actor is a staff key id,
``victim`` or ``system``, never an address, and their detail never holds sealed text.

Don't: accept words or notes on a minor's case; let a victim's report block anything before a
reviewer confirms it; write a bank entry but through ``Banks``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Row, case, delete, exists, insert, select, update

from rempart.access.roles import Role
from rempart.config import Settings
from rempart.desk.access import (
    SignInThrottle,
    hash_secret,
    new_case_number,
    new_secret,
    normalise_case_number,
    secret_matches,
    tag_matches,
)
from rempart.desk.clock import Clock, SystemClock
from rempart.desk.evidence_model import PurgeReason
from rempart.desk.model import (
    CONFIRMED_BANKS,
    DESK_BANKS,
    DESK_SOURCE,
    MINOR_TEXT,
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    Case,
    DeskBank,
    Event,
    Item,
    ItemInput,
    Mandate,
    NewCase,
    SealedField,
    branch_for,
    check_items,
    check_language,
    check_mandate,
    check_text,
    desk_bank,
    source_ref,
)
from rempart.desk.notice_model import Nature, NoticeState
from rempart.desk.rows import (
    DESK_ROLES,
    REVIEW_ROLES,
    add_event,
    check_owner,
    check_reason,
    check_role,
    check_staff,
    find_case,
    purge_captures,
    seal_field,
    set_item_state,
    touch,
)
from rempart.desk.sealed import DeskKeys, seal, unseal
from rempart.desk.states import (
    OPEN_CASE_STATES,
    CaseState,
    ItemState,
    check_case_move,
    check_item_move,
)
from rempart.errors import (
    BankError,
    CaseInvalidError,
    CaseNotFoundError,
    CaseStateConflictError,
    RateLimitedError,
)
from rempart.matching.banks import Banks
from rempart.store import Store, as_utc
from rempart.store.schema import (
    bank_entries,
    banks,
    desk_cases,
    desk_events,
    desk_item_entries,
    desk_items,
    desk_notice_items,
    desk_notices,
    desk_reset_tokens,
    desk_sealed,
)

__all__ = ["Desk"]

_NOT_FOUND: Final = "no case with this number and secret"
_MANDATE: Final = "mandate"
# What an unknown number's secret is compared with, so that it costs what a wrong secret does.
_NO_SECRET: Final = hash_secret("")


class Desk:
    """Report, follow and act on cases. Who may call what (a victim signed in to the case, a
    key's permission) is the interface's to check; ``Desk`` checks what an actor may do to a
    case: staff only for reviews and sealed fields, a flagger only on its own cases, a
    reviewer to confirm."""

    def __init__(
        self,
        store: Store,
        *,
        keys: DeskKeys,
        clock: Clock | None = None,
        authority: str | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.clock = clock or SystemClock()
        self.authority = authority or None
        self.banks = Banks(store)
        self.throttle = SignInThrottle(clock=self.clock)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store, *, clock: Clock | None = None) -> Desk:
        """The desk as the settings configure it; ``DeskKeyError`` without a key file."""
        keys = DeskKeys.load(settings.desk_key_file)
        return cls(store, keys=keys, clock=clock, authority=settings.desk_authority or None)

    # --- victims ----------------------------------------------------------------------------

    def report(
        self,
        answer: AgeAnswer | Branch,
        items: Sequence[ItemInput],
        *,
        words: str | None = None,
        language: str = "en",
        actor: Actor = VICTIM,
        mandate: Mandate | None = None,
    ) -> NewCase:
        """Open a case with its items; its hashes match (for review) once this returns. A
        flagger (a staff actor) reports under a mandate, and its key holds the case."""
        branch = answer if isinstance(answer, Branch) else branch_for(answer)
        checked = check_items(items)
        words = check_text("words", words)
        if words and branch == Branch.MINOR:
            raise CaseInvalidError(MINOR_TEXT)
        language = check_language(language)
        now = self.clock.now()
        if actor.kind == "staff":
            check_role(actor, DESK_ROLES, "report a case")
            if mandate is None:
                raise CaseInvalidError("a flagger reports under a mandate: give its reference")
            check_mandate(mandate, now.date())
        elif actor.kind != "victim" or mandate is not None:
            raise CaseInvalidError("only a victim, or a flagger under a mandate, reports a case")
        secret = new_secret()
        with self.store.write() as connection:
            keys = self.wrapping_keys()
            number = _fresh_number(connection)
            case_id = connection.execute(
                insert(desk_cases)
                .values(
                    number=number,
                    branch=branch.value,
                    state=CaseState.RECEIVED.value,
                    secret_hash=hash_secret(secret),
                    flagger_key_id=actor.key_id,
                    authority=self.authority if branch == Branch.MINOR else None,
                    language=language,
                    created_at=now,
                    updated_at=now,
                )
                .returning(desk_cases.c.id)
            ).scalar_one()
            data_key, wrapped, kid = keys.new_data_key(case_id=case_id)
            connection.execute(
                update(desk_cases)
                .where(desk_cases.c.id == case_id)
                .values(wrapped_key=wrapped, wrapping_key_id=kid)
            )
            add_event(
                connection,
                case_id,
                actor,
                "reported",
                now,
                to_state=CaseState.RECEIVED,
                detail={"branch": branch.value, "items": len(checked)},
            )
            self._insert_items(connection, case_id, branch, checked, actor, now)
            if words:
                seal_field(connection, case_id, data_key, "words", words, actor, now)
            if mandate is not None:
                if branch is Branch.MINOR:  # its reference and dates only: no free text, ever
                    mandate = replace(mandate, scope="")
                text = json.dumps(mandate.to_json(), sort_keys=True)
                seal_field(connection, case_id, data_key, _MANDATE, text, actor, now)
            return NewCase(_load_one(connection, number), secret)

    def sign_in(self, number: str, secret: str) -> Case:
        """The case, for whoever holds its number and secret; ``CaseNotFoundError`` (one
        message for an unknown number and a wrong secret) or ``RateLimitedError``."""
        if not self.throttle.allow(number):
            raise RateLimitedError(
                "too many sign-in attempts for this case; try again in a minute", retry_after=60
            )
        normal = normalise_case_number(number)
        with self.store.read() as connection:
            stored = None
            if normal is not None:
                stored = connection.execute(
                    select(desk_cases.c.secret_hash).where(desk_cases.c.number == normal)
                ).scalar()
            if not secret_matches(secret, stored or _NO_SECRET) or stored is None:
                raise CaseNotFoundError(_NOT_FOUND)
            return _load_one(connection, normal or "")

    def victim_case(self, number: str, tag: str) -> Case:
        """The case a victim's session is signed in to, while the case's secret is still the
        one it signed in with (``secret_tag``); ``CaseNotFoundError`` once a new secret
        replaced it: reissuing a secret ends the sessions of whoever held the old one."""
        with self.store.read() as connection:
            row = find_case(connection, number)
            if not tag_matches(tag, row.secret_hash):
                raise CaseNotFoundError(_NOT_FOUND)
            return _load(connection, [row])[0]

    def get(self, number: str, actor: Actor | None = None) -> Case:
        """The case with this number; ``CaseNotFoundError`` when there is none, or when
        ``actor`` is a flagger that does not hold it (word for word the same: a flagger's key
        cannot tell which numbers are taken)."""
        with self.store.read() as connection:
            row = find_case(connection, number)
            if actor is not None:
                check_owner(actor, row)
            return _load(connection, [row])[0]

    def events(self, number: str) -> list[Event]:
        """The case's history, oldest first."""
        with self.store.read() as connection:
            row = find_case(connection, number)
            rows = connection.execute(
                select(desk_events)
                .where(desk_events.c.case_id == row.id)
                .order_by(desk_events.c.id)
            ).mappings()
            return [
                Event(
                    at=as_utc(r["at"]),
                    actor=r["actor"],
                    kind=r["kind"],
                    item_id=r["item_id"],
                    from_state=r["from_state"],
                    to_state=r["to_state"],
                    detail=json.loads(r["detail"]) if r["detail"] else {},
                )
                for r in rows
            ]

    def queue(self, *, flagger_key_id: str | None = None, limit: int = 100) -> list[Case]:
        """Open cases, most urgent first: minors' cases, then cases with an item of a sent
        notice overdue (unanswered past its due time, by the desk's clock), then cases with an
        item sighted or reappeared, then the oldest; only one flagger's when
        ``flagger_key_id`` is given."""
        overdue = exists().where(
            desk_notices.c.case_id == desk_cases.c.id,
            desk_notices.c.state == NoticeState.SENT.value,
            desk_notice_items.c.notice_id == desk_notices.c.id,
            desk_notice_items.c.answered_at.is_(None),
            desk_notice_items.c.due_at <= self.clock.now(),
        )
        sighted = exists().where(
            desk_items.c.case_id == desk_cases.c.id,
            desk_items.c.state.in_([ItemState.SIGHTED.value, ItemState.REAPPEARED.value]),
        )
        query = (
            select(desk_cases)
            .where(desk_cases.c.state.in_([s.value for s in OPEN_CASE_STATES]))
            .order_by(
                case((desk_cases.c.branch == Branch.MINOR.value, 0), else_=1),
                case((overdue, 0), else_=1),
                case((sighted, 0), else_=1),
                desk_cases.c.created_at,
                desk_cases.c.id,
            )
            .limit(max(0, limit))
        )
        if flagger_key_id is not None:
            query = query.where(desk_cases.c.flagger_key_id == flagger_key_id)
        with self.store.read() as connection:
            return _load(connection, connection.execute(query).all())

    def add_items(self, number: str, items: Sequence[ItemInput], actor: Actor) -> Case:
        """Add items to a case; a closed case is reopened (back in review)."""
        checked = check_items(items)
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_owner(actor, row)
            state = CaseState(row.state)
            if state == CaseState.WITHDRAWN:
                raise CaseStateConflictError(f"case {row.number} is withdrawn")
            self._insert_items(connection, row.id, Branch(row.branch), checked, actor, now)
            if state == CaseState.CLOSED:
                _set_case_state(connection, row, CaseState.IN_REVIEW, actor, now)
            touch(connection, row.id, now)
            return _load_one(connection, row.number)

    def move_branch(self, number: str, to: Branch, actor: Actor, *, reason: str) -> Case:
        """A reviewer moves a case to the other branch (what the person's age was, learnt
        later), recorded with the reason. To the minor branch, at once and in the same
        transaction: its captures purged, its sealed words, notes, consent and news address
        erased (a flagger's mandate kept, without its free text, as a minor's case keeps it),
        its hashes moved to the minor banks, the authority channel flagged. Back to the adult
        branch: its hashes moved back, the authority cleared. Drafted notices take the new
        branch's nature (``csam`` for ``ncii``, ``csam-deepfake`` for ``deepfake``, and back);
        a notice being sent makes the move wait (``CaseStateConflictError``)."""
        to = Branch(to)
        check_role(actor, REVIEW_ROLES, "move a case to the other branch")
        reason = check_reason(reason)
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            if row.state == CaseState.WITHDRAWN:
                raise CaseStateConflictError(f"case {row.number} is withdrawn")
            if row.branch == to:
                raise CaseStateConflictError(f"case {row.number} is of the {to} branch already")
            notices = connection.execute(
                select(desk_notices.c.id, desk_notices.c.state, desk_notices.c.nature).where(
                    desk_notices.c.case_id == row.id,
                    desk_notices.c.state != NoticeState.SENT.value,
                )
            ).all()
            if any(notice.state == NoticeState.SENDING for notice in notices):
                raise CaseStateConflictError(
                    f"a notice of case {row.number} is being sent: move the case once it is"
                )
            purged: list[int] = []
            if to == Branch.MINOR:
                purged = purge_captures(connection, row.id, PurgeReason.MINOR_BRANCH, actor, now)
                self._keep_no_words(connection, row)
            moved = self._move_entries(connection, row.id, to)
            for notice in notices:
                connection.execute(
                    update(desk_notices)
                    .where(desk_notices.c.id == notice.id)
                    .values(nature=_BRANCH_NATURES[notice.nature], updated_at=now)
                )
            connection.execute(
                update(desk_cases)
                .where(desk_cases.c.id == row.id)
                .values(
                    branch=to.value,
                    authority=self.authority if to == Branch.MINOR else None,
                    updated_at=now,
                )
            )
            detail = {
                "from": row.branch,
                "to": to.value,
                "reason": reason,
                "entries": moved,
                "captures": len(purged),
                "drafts": len(notices),
            }
            add_event(connection, row.id, actor, "branch-moved", now, detail=detail)
            return _load_one(connection, row.number)

    def withdraw(self, number: str, actor: Actor) -> Case:
        """Withdraw a case, in one transaction: every item withdrawn; the bank entries its
        items claim, or whose ``source_ref`` names one of them (in any bank), withdrawn unless
        another active item claims them; its captures purged; its sealed fields, its notices'
        sealed records and its data key erased (the notices' digests stay); its reset links
        spent."""
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            _check_holder(actor, row, "withdraw it", victim=True)
            if row.state == CaseState.WITHDRAWN:
                raise CaseStateConflictError(f"case {row.number} is withdrawn already")
            items = connection.execute(
                select(desk_items).where(desk_items.c.case_id == row.id)
            ).all()
            for item in items:
                if item.state != ItemState.WITHDRAWN:
                    set_item_state(connection, row.id, item, ItemState.WITHDRAWN, actor, now)
            withdrawn = self._release_entries(connection, row.id, [item.id for item in items])
            purge_captures(connection, row.id, PurgeReason.WITHDRAWN, actor, now)
            connection.execute(delete(desk_sealed).where(desk_sealed.c.case_id == row.id))
            connection.execute(
                update(desk_notices).where(desk_notices.c.case_id == row.id).values(sealed=None)
            )
            # A reset link mailed before must not open a withdrawn case, whatever reads it.
            connection.execute(
                update(desk_reset_tokens)
                .where(desk_reset_tokens.c.case_id == row.id, desk_reset_tokens.c.used_at.is_(None))
                .values(used_at=now)
            )
            connection.execute(
                update(desk_cases)
                .where(desk_cases.c.id == row.id)
                .values(
                    state=CaseState.WITHDRAWN.value,
                    wrapped_key=None,
                    wrapping_key_id=None,
                    updated_at=now,
                )
            )
            add_event(
                connection,
                row.id,
                actor,
                "withdrawn",
                now,
                from_state=row.state,
                to_state=CaseState.WITHDRAWN,
                detail={"entries_withdrawn": withdrawn},
            )
            return _load_one(connection, row.number)

    # --- staff ------------------------------------------------------------------------------

    def move(self, number: str, to: CaseState, actor: Actor, *, note: str | None = None) -> Case:
        """Move a case to another state (``CASE_MOVES``), with an optional sealed note."""
        to = CaseState(to)
        note = check_text("note", note)
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            check_case_move(CaseState(row.state), to)
            if note:
                self._add_note(connection, row, note, actor, now)
            _set_case_state(connection, row, to, actor, now, detail={"note": bool(note)})
            return _load_one(connection, row.number)

    def move_item(self, number: str, item_id: int, to: ItemState, actor: Actor) -> Case:
        """Move one item to another state (``ITEM_MOVES``): back to watching only with a
        hash, back to received only without."""
        to = ItemState(to)
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            item = _item_row(connection, row, item_id)
            check_item_move(ItemState(item.state), to)
            if to in (ItemState.WATCHING, ItemState.RECEIVED) and to != _first_state(item.pdq):
                raise CaseInvalidError(
                    f"item {item_id} {'has' if item.pdq else 'has no'} hash: it cannot be {to}"
                )
            set_item_state(connection, row.id, item, to, actor, now)
            touch(connection, row.id, now)
            return _load_one(connection, row.number)

    def confirm(self, number: str, item_id: int, actor: Actor) -> Case:
        """A reviewer confirms an item's hash: it goes into the branch's confirmed bank, and
        from then on its matches block."""
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            check_role(actor, REVIEW_ROLES, "confirm a hash")
            item = _item_row(connection, row, item_id)
            if item.pdq is None:
                raise CaseInvalidError(f"item {item_id} has no hash to confirm")
            if item.state == ItemState.WITHDRAWN:
                raise CaseStateConflictError(f"item {item_id} is withdrawn")
            if item_id in _confirmed(connection, [item_id]):
                raise CaseStateConflictError(f"item {item_id} is confirmed already")
            bank = desk_bank(Branch(row.branch), confirmed=True)
            self._claim(connection, item_id, bank, item.pdq, item.quality)
            add_event(connection, row.id, actor, "confirmed", now, item_id=item_id)
            touch(connection, row.id, now)
            return _load_one(connection, row.number)

    def add_note(self, number: str, text: str, actor: Actor) -> None:
        """Add a sealed note to a case (not to a minor's)."""
        note = check_text("note", text)
        if not note:
            raise CaseInvalidError("a note needs some text")
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            self._add_note(connection, row, note, actor, now)
            touch(connection, row.id, now)

    def sealed(self, number: str, actor: Actor) -> list[SealedField]:
        """The case's sealed fields, opened, oldest first; staff only, and each reading is
        an event. Empty for a withdrawn case: they were erased."""
        now = self.clock.now()
        with self.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            if row.wrapped_key is None:
                return []
            data_key = self.data_key(row)
            rows = connection.execute(
                select(desk_sealed)
                .where(desk_sealed.c.case_id == row.id)
                .order_by(desk_sealed.c.id)
            ).mappings()
            fields = [
                SealedField(
                    r["field"],
                    r["author"],
                    unseal(data_key, r["sealed"], case_id=row.id, field=r["field"]),
                    as_utc(r["created_at"]),
                )
                for r in rows
            ]
            add_event(connection, row.id, actor, "sealed-read", now, detail={"fields": len(fields)})
            return fields

    def new_secret(self, number: str, actor: Actor) -> str:
        """A new secret for the case (the old one stops working), for the flagger whose key
        holds the case's mandate, or an admin."""
        now = self.clock.now()
        secret = new_secret()
        with self.store.write() as connection:
            row = find_case(connection, number)
            _check_holder(actor, row, "issue a new secret", victim=False)
            connection.execute(
                update(desk_cases)
                .where(desk_cases.c.id == row.id)
                .values(secret_hash=hash_secret(secret), updated_at=now)
            )
            add_event(connection, row.id, actor, "secret-reissued", now)
        return secret

    # --- inside a transaction ---------------------------------------------------------------

    def wrapping_keys(self) -> DeskKeys:
        """The key file's keys as they are now: read inside the write transaction, which a
        rekey's waits for, so that no data key is wrapped by a key a rekey is dropping."""
        self.keys = self.keys.current()
        return self.keys

    def data_key(self, row: Row[Any]) -> bytes:
        """The case's data key, unwrapped (for the desk's services, inside a transaction)."""
        return self.wrapping_keys().unwrap(row.wrapped_key, row.wrapping_key_id, case_id=row.id)

    def _add_note(
        self, connection: Connection, row: Row[Any], note: str, actor: Actor, now: datetime
    ) -> None:
        if row.branch == Branch.MINOR:
            raise CaseInvalidError(MINOR_TEXT)
        if row.wrapped_key is None:
            raise CaseStateConflictError(f"case {row.number} is withdrawn")
        seal_field(connection, row.id, self.data_key(row), "note", note, actor, now)
        add_event(connection, row.id, actor, "note-added", now)

    def _insert_items(
        self,
        connection: Connection,
        case_id: int,
        branch: Branch,
        items: Sequence[ItemInput],
        actor: Actor,
        now: datetime,
    ) -> None:
        """Each item's row, its hash's entry in the branch's review bank, and its event."""
        review = desk_bank(branch, confirmed=False)
        for item in items:
            state = _first_state(item.pdq)
            item_id = connection.execute(
                insert(desk_items)
                .values(
                    case_id=case_id,
                    url=item.url,
                    pdq=item.pdq,
                    quality=item.quality,
                    state=state.value,
                    sightings=0,
                    created_at=now,
                    updated_at=now,
                )
                .returning(desk_items.c.id)
            ).scalar_one()
            if item.pdq is not None:
                self._claim(connection, item_id, review, item.pdq, item.quality)
            add_event(
                connection,
                case_id,
                actor,
                "item-added",
                now,
                item_id=item_id,
                to_state=state,
                detail={"url": item.url is not None, "hash": item.pdq is not None},
            )

    def _claim(
        self,
        connection: Connection,
        item_id: int,
        desk_bank: DeskBank,
        pdq: str,
        quality: int | None,
    ) -> None:
        """Make the hash an active entry of ``desk_bank`` (added, reinstated, or there
        already) and record that the item claims it."""
        bank_id = self._bank_id(connection, desk_bank)
        entry = connection.execute(
            select(bank_entries.c.id, bank_entries.c.withdrawn_at).where(
                bank_entries.c.bank_id == bank_id, bank_entries.c.hash == pdq
            )
        ).first()
        if entry is None:
            self.banks.add(
                desk_bank.name,
                pdq,
                quality=quality,
                source_ref=source_ref(item_id),
                connection=connection,
            )
            entry_id = connection.execute(
                select(bank_entries.c.id).where(
                    bank_entries.c.bank_id == bank_id, bank_entries.c.hash == pdq
                )
            ).scalar_one()
        else:
            entry_id = entry.id
            if entry.withdrawn_at is not None:
                self.banks.reinstate(desk_bank.name, [entry_id], connection=connection)
        connection.execute(
            insert(desk_item_entries).values(item_id=item_id, entry_id=entry_id, bank_id=bank_id)
        )

    def _bank_id(self, connection: Connection, desk_bank: DeskBank) -> int:
        """The desk bank's id, creating the bank on first use."""
        found = connection.execute(
            select(banks.c.id, banks.c.source, banks.c.review).where(banks.c.name == desk_bank.name)
        ).first()
        if found is None:
            created = self.banks.create(
                desk_bank.name,
                description=desk_bank.description,
                source=DESK_SOURCE,
                category=desk_bank.category,
                review=desk_bank.review,
                connection=connection,
            )
            return created.id
        if found.source != DESK_SOURCE or bool(found.review) != desk_bank.review:
            # A bank of the desk's name that would block unconfirmed reports, or that is not
            # the desk's to withdraw from: refuse rather than use it.
            raise BankError(
                f"bank {desk_bank.name!r} exists but is not the desk's (source {found.source!r}, "
                f"review {bool(found.review)}); rename it: the desk needs this name"
            )
        return int(found.id)

    def _keep_no_words(self, connection: Connection, row: Row[Any]) -> None:
        """Erase what a minor's case may not keep: every sealed field but the mandate, whose
        free text (its scope) goes too, as ``report`` keeps a minor's mandate."""
        mandates = connection.execute(
            select(desk_sealed.c.id, desk_sealed.c.sealed).where(
                desk_sealed.c.case_id == row.id, desk_sealed.c.field == _MANDATE
            )
        ).all()
        connection.execute(
            delete(desk_sealed).where(
                desk_sealed.c.case_id == row.id, desk_sealed.c.field != _MANDATE
            )
        )
        data_key = self.data_key(row) if mandates else b""
        for mandate in mandates:
            text = unseal(data_key, mandate.sealed, case_id=row.id, field=_MANDATE)
            kept = replace(Mandate.from_json(json.loads(text)), scope="")
            sealed = seal(
                data_key, json.dumps(kept.to_json(), sort_keys=True), case_id=row.id, field=_MANDATE
            )
            connection.execute(
                update(desk_sealed).where(desk_sealed.c.id == mandate.id).values(sealed=sealed)
            )

    def _move_entries(self, connection: Connection, case_id: int, to: Branch) -> int:
        """Move the case's items' hashes from the other branch's banks to ``to``'s: each item
        claims the review bank's entry, and the confirmed bank's if it was confirmed; the
        entries it claimed there are withdrawn unless another case's active item claims them.
        Returns how many items moved."""
        items = connection.execute(
            select(desk_items.c.id, desk_items.c.pdq, desk_items.c.quality).where(
                desk_items.c.case_id == case_id,
                desk_items.c.pdq.is_not(None),
                desk_items.c.state != ItemState.WITHDRAWN.value,
            )
        ).all()
        ids = [item.id for item in items]
        if not ids:
            return 0
        confirmed = _confirmed(connection, ids)
        old = [bank.name for bank in DESK_BANKS if bank.branch != to]
        self._release_entries(
            connection, case_id, ids, banks_named=old, why=f"desk case moved to the {to} branch"
        )
        old_ids = select(banks.c.id).where(banks.c.name.in_(old))
        connection.execute(
            delete(desk_item_entries).where(
                desk_item_entries.c.item_id.in_(ids), desk_item_entries.c.bank_id.in_(old_ids)
            )
        )
        for item in items:
            self._claim(connection, item.id, desk_bank(to, confirmed=False), item.pdq, item.quality)
            if item.id in confirmed:
                self._claim(
                    connection, item.id, desk_bank(to, confirmed=True), item.pdq, item.quality
                )
        return len(items)

    def _release_entries(
        self,
        connection: Connection,
        case_id: int,
        item_ids: list[int],
        *,
        banks_named: Sequence[str] | None = None,
        why: str = "desk case withdrawn",
    ) -> int:
        """Withdraw the entries the items claim or name (only in ``banks_named`` when given),
        but those another case's active item claims; returns how many were withdrawn."""
        if not item_ids:
            return 0
        claimed = select(desk_item_entries.c.entry_id).where(
            desk_item_entries.c.item_id.in_(item_ids)
        )
        named = select(bank_entries.c.id).where(
            bank_entries.c.source_ref.in_([source_ref(i) for i in item_ids])
        )
        still_claimed = (
            select(desk_item_entries.c.entry_id)
            .join(desk_items, desk_items.c.id == desk_item_entries.c.item_id)
            .where(
                desk_items.c.case_id != case_id,
                desk_items.c.state != ItemState.WITHDRAWN.value,
            )
        )
        query = (
            select(bank_entries.c.id, banks.c.name)
            .join(banks, banks.c.id == bank_entries.c.bank_id)
            .where(
                bank_entries.c.id.in_(claimed.union(named)),
                bank_entries.c.id.not_in(still_claimed),
                bank_entries.c.withdrawn_at.is_(None),
            )
        )
        if banks_named is not None:
            query = query.where(banks.c.name.in_(list(banks_named)))
        by_bank: defaultdict[str, list[int]] = defaultdict(list)
        for entry_id, name in connection.execute(query).all():
            by_bank[name].append(entry_id)
        return sum(
            self.banks.withdraw(name, entry_ids=ids, reason=why, connection=connection).withdrawn
            for name, ids in sorted(by_bank.items())
        )


def _check_holder(actor: Actor, row: Row[Any], what: str, *, victim: bool) -> None:
    """The victim (where ``victim``), the flagger whose key holds the case, or an admin."""
    if (victim and actor.kind == "victim") or actor.role == Role.ADMIN:
        return
    if actor.kind == "staff" and actor.key_id == row.flagger_key_id:
        return
    check_owner(actor, row)  # a flagger is not told of others' cases
    holders = "the victim, the flagger holding the case" if victim else "the flagger holding it"
    raise CaseInvalidError(f"only {holders} or an admin may {what}")


def _fresh_number(connection: Connection) -> str:
    while True:  # 50 random bits: a second draw is already unlikely
        number = new_case_number()
        taken = connection.execute(
            select(desk_cases.c.id).where(desk_cases.c.number == number)
        ).first()
        if taken is None:
            return number


def _first_state(pdq: str | None) -> ItemState:
    """An item with a hash is watched from the start; a URL alone waits to be acted on."""
    return ItemState.WATCHING if pdq is not None else ItemState.RECEIVED


def _item_row(connection: Connection, case_row: Row[Any], item_id: int) -> Row[Any]:
    row = connection.execute(
        select(desk_items).where(desk_items.c.id == item_id, desk_items.c.case_id == case_row.id)
    ).first()
    if row is None:
        raise CaseNotFoundError(f"case {case_row.number} has no item {item_id}")
    return row


def _set_case_state(
    connection: Connection,
    row: Row[Any],
    to: CaseState,
    actor: Actor,
    now: datetime,
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    # closed_at starts the evidence's retention; a case that leaves closed stops it.
    closed_at = now if to == CaseState.CLOSED else None
    connection.execute(
        update(desk_cases)
        .where(desk_cases.c.id == row.id)
        .values(state=to.value, updated_at=now, closed_at=closed_at)
    )
    add_event(
        connection, row.id, actor, "moved", now, from_state=row.state, to_state=to, detail=detail
    )


_BRANCH_NATURES: Final = {
    Nature.NCII: Nature.CSAM,
    Nature.DEEPFAKE: Nature.CSAM_DEEPFAKE,
    Nature.CSAM: Nature.NCII,
    Nature.CSAM_DEEPFAKE: Nature.DEEPFAKE,
}
"""A drafted notice's nature when its case moves to the other branch."""


def _load_one(connection: Connection, number: str) -> Case:
    return _load(connection, [find_case(connection, number)])[0]


def _load(connection: Connection, rows: Sequence[Row[Any]]) -> list[Case]:
    """The cases, with their items, in the order of ``rows``."""
    if not rows:
        return []
    item_rows = connection.execute(
        select(desk_items)
        .where(desk_items.c.case_id.in_([row.id for row in rows]))
        .order_by(desk_items.c.id)
    ).all()
    confirmed = _confirmed(connection, [item.id for item in item_rows])
    items: defaultdict[int, list[Item]] = defaultdict(list)
    for item in item_rows:
        items[item.case_id].append(
            Item(
                id=item.id,
                url=item.url,
                pdq=item.pdq,
                quality=item.quality,
                state=ItemState(item.state),
                confirmed=item.id in confirmed,
                sightings=item.sightings,
                last_sighted_at=as_utc(item.last_sighted_at) if item.last_sighted_at else None,
                created_at=as_utc(item.created_at),
                updated_at=as_utc(item.updated_at),
            )
        )
    return [
        Case(
            id=row.id,
            number=row.number,
            branch=Branch(row.branch),
            state=CaseState(row.state),
            authority=row.authority,
            flagger_key_id=row.flagger_key_id,
            language=row.language,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            items=tuple(items[row.id]),
        )
        for row in rows
    ]


def _confirmed(connection: Connection, item_ids: Iterable[int]) -> set[int]:
    """Those of the items that claim an active entry of a confirmed desk bank."""
    ids = list(item_ids)
    if not ids:
        return set()
    return set(
        connection.execute(
            select(desk_item_entries.c.item_id)
            .join(bank_entries, bank_entries.c.id == desk_item_entries.c.entry_id)
            .join(banks, banks.c.id == bank_entries.c.bank_id)
            .where(
                desk_item_entries.c.item_id.in_(ids),
                banks.c.name.in_(CONFIRMED_BANKS),
                bank_entries.c.withdrawn_at.is_(None),
            )
        ).scalars()
    )
