"""What the desk's services (cases, notices, evidence) do inside a transaction: find a case's
row, check what an actor may do to it and the reason they give, move an item, write an event or
a sealed field, purge captures. One place, so that a notice's checks and events are a case's,
word for word, and a capture is purged one way whatever the cause."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, Row, delete, insert, select, update

from rempart.access.roles import Role
from rempart.desk.access import normalise_case_number
from rempart.desk.evidence_model import PurgeReason
from rempart.desk.model import Actor, event_row
from rempart.desk.sealed import seal
from rempart.desk.states import ItemState
from rempart.errors import CaseInvalidError, CaseNotFoundError, RempartError
from rempart.store.schema import (
    desk_cases,
    desk_events,
    desk_evidence,
    desk_evidence_blobs,
    desk_items,
    desk_sealed,
)

__all__ = [
    "DESK_ROLES",
    "REVIEW_ROLES",
    "add_event",
    "check_owner",
    "check_reason",
    "check_role",
    "check_staff",
    "find_case",
    "no_case",
    "purge_captures",
    "seal_field",
    "set_item_state",
    "touch",
]

DESK_ROLES: Final = frozenset({Role.ADMIN, Role.REVIEWER, Role.FLAGGER})
"""Roles that work at the desk (a platform's key does not)."""
REVIEW_ROLES: Final = frozenset({Role.ADMIN, Role.REVIEWER})
"""Roles that review: confirm a hash, send a notice again, capture and purge evidence, move a
case to the other branch."""
MAX_REASON: Final = 500
"""Characters of the reason a reviewer gives for a capture, a reading, a hold, a purge."""


def check_role(actor: Actor, roles: frozenset[Role], what: str) -> None:
    """Nothing when the actor's role is one of ``roles``, else an error saying who may."""
    if actor.role not in roles:
        allowed = " or ".join(sorted(role.value for role in roles))
        raise CaseInvalidError(f"only a key of role {allowed} may {what}")


def check_reason(reason: str, error: type[RempartError] = CaseInvalidError) -> str:
    """The reason, its ends stripped: one line of 1 to ``MAX_REASON`` characters, no control
    characters; else ``error`` naming the reason. Recorded in events, never sealed: it is the
    reviewer's word about the proceeding, never the victim's."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise error(f"a reason is required: one line of 1 to {MAX_REASON} characters")
    if any(unicodedata.category(char)[0] == "C" or char in "\u2028\u2029" for char in reason):
        raise error("the reason is one line, without control characters")
    return reason


def check_staff(actor: Actor, row: Row[Any]) -> None:
    """Staff only; a flagger only on the cases it holds (others it is not told exist)."""
    if actor.kind != "staff":
        raise CaseInvalidError("only staff may do this")
    check_owner(actor, row)


def check_owner(actor: Actor, row: Row[Any]) -> None:
    """A victim (the interface checked they signed in to this case) or a key that works at
    the desk; a flagger only on its own cases."""
    if actor.kind == "system":
        raise CaseInvalidError("the system does not act on cases this way")
    if actor.kind == "staff":
        check_role(actor, DESK_ROLES, "work at the desk")
    if actor.role == Role.FLAGGER and actor.key_id != row.flagger_key_id:
        raise no_case(row.number)  # as for a number that does not exist


def find_case(connection: Connection, number: str) -> Row[Any]:
    """The case's row; ``CaseNotFoundError`` when there is none."""
    normal = normalise_case_number(number)
    row = None
    if normal is not None:
        row = connection.execute(select(desk_cases).where(desk_cases.c.number == normal)).first()
    if row is None:
        raise no_case(number)
    return row


def no_case(number: str) -> CaseNotFoundError:
    """One message for a number that does not exist and for a case a flagger does not hold,
    so that a flagger's key cannot tell which numbers are taken."""
    return CaseNotFoundError(f"no case {number[:32]!r}")


def set_item_state(
    connection: Connection,
    case_id: int,
    item: Row[Any],
    to: ItemState,
    actor: Actor,
    now: datetime,
) -> None:
    """Move the item and record the move."""
    connection.execute(
        update(desk_items).where(desk_items.c.id == item.id).values(state=to.value, updated_at=now)
    )
    add_event(
        connection,
        case_id,
        actor,
        "item-moved",
        now,
        item_id=item.id,
        from_state=item.state,
        to_state=to,
    )


def touch(connection: Connection, case_id: int, now: datetime) -> None:
    """The case changed now."""
    connection.execute(update(desk_cases).where(desk_cases.c.id == case_id).values(updated_at=now))


def add_event(
    connection: Connection,
    case_id: int,
    actor: Actor,
    kind: str,
    now: datetime,
    *,
    item_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an event to the case's history (its detail never sealed text)."""
    row = event_row(
        case_id,
        actor,
        kind,
        now,
        item_id=item_id,
        from_state=from_state,
        to_state=to_state,
        detail=detail,
    )
    connection.execute(insert(desk_events).values(**row))


def seal_field(
    connection: Connection,
    case_id: int,
    data_key: bytes,
    field: str,
    text: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Seal ``text`` with the case's data key as a new field of the case."""
    connection.execute(
        insert(desk_sealed).values(
            case_id=case_id,
            field=field,
            author=actor.label,
            sealed=seal(data_key, text, case_id=case_id, field=field),
            created_at=now,
        )
    )


def purge_captures(
    connection: Connection,
    case_id: int,
    why: PurgeReason,
    actor: Actor,
    now: datetime,
    *,
    capture_ids: Sequence[int] | None = None,
    reason: str | None = None,
) -> list[int]:
    """Purge the case's captures not purged yet (only ``capture_ids`` when given): each one's
    sealed WARC deleted, its wrapped data key erased, when and why set, an ``evidence-purged``
    event recorded; its SHA-256, size and manifest stay. Returns the ids purged."""
    query = select(desk_evidence.c.id, desk_evidence.c.item_id).where(
        desk_evidence.c.case_id == case_id, desk_evidence.c.purged_at.is_(None)
    )
    if capture_ids is not None:
        query = query.where(desk_evidence.c.id.in_(list(capture_ids)))
    rows = connection.execute(query.order_by(desk_evidence.c.id)).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    connection.execute(
        delete(desk_evidence_blobs).where(desk_evidence_blobs.c.evidence_id.in_(ids))
    )
    connection.execute(
        update(desk_evidence)
        .where(desk_evidence.c.id.in_(ids))
        .values(wrapped_key=None, wrapping_key_id=None, purged_at=now, purge_reason=why.value)
    )
    detail: dict[str, Any] = {"why": why.value}
    if reason is not None:
        detail["reason"] = reason
    for row in rows:
        add_event(
            connection,
            case_id,
            actor,
            "evidence-purged",
            now,
            item_id=row.item_id,
            detail={"capture": row.id, **detail},
        )
    touch(connection, case_id, now)
    return ids
