"""Removal checks: each notified URL re-checked on a schedule.

A URL in a sent notice is due a check when it was never checked or last checked ``hours``
ago. 404, 410 or 451, or a served image no longer within 31 of the item's PDQ, verifies the
removal: the item moves to removed (when its state allows), the time is kept, and the clocks
of the sent notices still waiting on it stop, answered by the removal. A minor's item is asked
HEAD only, never a body: a page the desk does not need to see is never downloaded, and no
answer to HEAD means a reviewer checks by hand. The fetch happens outside any transaction;
the check is then written with what the item is by then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, and_, exists, insert, or_, select, update

from rempart.desk.cases import Desk
from rempart.desk.evidence_model import Check, CheckOutcome, RecheckReport
from rempart.desk.fetch import Fetched, Fetcher, HttpFetcher, Method
from rempart.desk.model import SYSTEM, Actor, Branch
from rempart.desk.rows import REVIEW_ROLES, add_event, check_role, find_case, set_item_state, touch
from rempart.desk.states import ITEM_MOVES, CaseState, ItemState
from rempart.errors import (
    CaseInvalidError,
    CaseNotFoundError,
    CaseStateConflictError,
    FetchError,
    FetchRefusedError,
    MediaError,
)
from rempart.hashing import hamming, hash_media, pack
from rempart.media import DEFAULT_LIMITS, MediaLimits, load_bytes
from rempart.store import as_utc
from rempart.store.schema import (
    desk_cases,
    desk_checks,
    desk_items,
    desk_notice_items,
    desk_notices,
)

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["REMOVED_STATUSES", "SAME_IMAGE", "Rechecker"]

REMOVED_STATUSES: Final = frozenset({404, 410, 451})
"""Statuses that say the content is gone: not found, gone, unavailable for legal reasons."""
SAME_IMAGE: Final = 31
"""The PDQ distance within which a served image is still the one reported (Meta's)."""
_IMAGE_CHANGED: Final = "the image served is no longer the one reported"
_DETAIL: Final = 300  # desk_checks.detail's length
_NO_ANSWER: Final = "no answer to HEAD"


@dataclass(frozen=True, slots=True)
class _Target:
    """An item to check, as read before the fetch."""

    id: int
    case: str
    url: str
    pdq: str | None
    minor: bool


class Rechecker:
    """Re-checks notified URLs: 404, 410 or 451, or a served image whose PDQ is no longer
    within 31 of the item's, verifies the item's removal. A minor's item is asked HEAD only,
    never a body."""

    def __init__(
        self,
        desk: Desk,
        fetcher: Fetcher,
        *,
        hours: float = 6,
        limits: MediaLimits = DEFAULT_LIMITS,
    ) -> None:
        self.desk = desk
        self.fetcher = fetcher
        self.hours = hours
        self.limits = limits

    @classmethod
    def from_settings(
        cls, settings: Settings, desk: Desk, *, fetcher: Fetcher | None = None
    ) -> Rechecker:
        """The re-checker as the settings configure it (an ``HttpFetcher`` unless given)."""
        return cls(
            desk,
            fetcher or HttpFetcher.from_settings(settings, clock=desk.clock),
            hours=settings.desk_recheck_hours,
            limits=settings.media,
        )

    def due(self, *, limit: int = 1000) -> list[int]:
        """Items whose URL is due a check: in a sent notice, not closed, withdrawn or
        verified removed, never checked or last checked ``hours`` ago."""
        now = self.desk.clock.now()
        notified = exists().where(
            desk_notice_items.c.item_id == desk_items.c.id,
            desk_notices.c.id == desk_notice_items.c.notice_id,
            desk_notices.c.state == "sent",
        )
        query = (
            select(desk_items.c.id)
            .join(desk_cases, desk_cases.c.id == desk_items.c.case_id)
            .where(
                _checkable(),
                notified,
                or_(desk_items.c.next_check_at.is_(None), desk_items.c.next_check_at <= now),
            )
            .order_by(desk_items.c.next_check_at.is_not(None), desk_items.c.next_check_at)
            .order_by(desk_items.c.id)
            .limit(limit)
        )
        with self.desk.store.read() as connection:
            return list(connection.execute(query).scalars())

    def recheck(
        self,
        *,
        number: str | None = None,
        items: Sequence[int] | None = None,
        actor: Actor = SYSTEM,
        limit: int = 1000,
        on_check: Callable[[Check], None] | None = None,
    ) -> RecheckReport:
        """Check the items due (or a case's URL items, or the items given, due or not).
        A person asking (not the schedule) needs the role admin or reviewer."""
        if actor.kind != "system":
            check_role(actor, REVIEW_ROLES, "check whether a URL was removed")
        targets = self._targets(number, items, limit)
        checks: list[Check] = []
        for target in targets:
            check = self._check(target, actor)
            if check is None:
                continue  # the case was withdrawn meanwhile: nothing kept
            checks.append(check)
            if on_check is not None:
                on_check(check)
        return RecheckReport(tuple(checks))

    def checks(self, number: str) -> dict[int, Check]:
        """Each of the case's items' last check, by item id (for the case page)."""
        with self.desk.store.read() as connection:
            case = find_case(connection, number)
            rows = connection.execute(
                select(desk_checks)
                .join(desk_items, desk_items.c.id == desk_checks.c.item_id)
                .where(desk_items.c.case_id == case.id)
                .order_by(desk_checks.c.at, desk_checks.c.id)
            ).all()
        return {row.item_id: _check_of(row, case.number) for row in rows}

    # --- one check ----------------------------------------------------------------------

    def _targets(
        self, number: str | None, items: Sequence[int] | None, limit: int
    ) -> list[_Target]:
        query = (
            select(
                desk_items.c.id,
                desk_items.c.url,
                desk_items.c.pdq,
                desk_cases.c.number,
                desk_cases.c.branch,
            )
            .join(desk_cases, desk_cases.c.id == desk_items.c.case_id)
            .order_by(desk_items.c.id)
        )
        due = self.due(limit=limit) if items is None and number is None else []
        with self.desk.store.read() as connection:
            if items is not None:
                rows: Sequence[Any] = self._given(connection, query, items)
            elif number is not None:
                case = find_case(connection, number)
                if case.state == CaseState.WITHDRAWN:
                    raise CaseStateConflictError(f"case {case.number} is withdrawn")
                where = and_(desk_items.c.case_id == case.id, _checkable())
                rows = connection.execute(query.where(where)).all()
            else:
                rows = connection.execute(query.where(desk_items.c.id.in_(due))).all()
        return [
            _Target(row.id, row.number, row.url, row.pdq, row.branch == Branch.MINOR)
            for row in rows
        ]

    def _given(self, connection: Connection, query: Any, items: Sequence[int]) -> list[Any]:
        """The items asked for by id, each with a URL on a case not withdrawn."""
        wanted = list(dict.fromkeys(items))
        found = {
            row.id: row
            for row in connection.execute(
                query.add_columns(desk_cases.c.state.label("case_state")).where(
                    desk_items.c.id.in_(wanted)
                )
            )
        }
        for item_id in wanted:
            row = found.get(item_id)
            if row is None:
                raise CaseNotFoundError(f"no item {item_id}")
            if row.url is None:
                raise CaseInvalidError(f"item {item_id} has no URL to check")
            if row.case_state == CaseState.WITHDRAWN:
                raise CaseStateConflictError(f"case {row.number} is withdrawn")
        return [found[item_id] for item_id in wanted]

    def _check(self, target: _Target, actor: Actor) -> Check | None:
        # The branch as it is now, not as read before the run's earlier fetches: a case moved
        # to the minor branch meanwhile is asked HEAD only.
        target = replace(target, minor=target.minor or self._minor_now(target.id))
        method: Method = "HEAD" if target.minor else "GET"
        try:
            fetched = self.fetcher.fetch(target.url, method=method)
        except FetchRefusedError:
            fetched, failure = None, "address refused"
        except FetchError as exc:
            # A minor's item: no host name or redirect address from the error either.
            fetched, failure = None, _NO_ANSWER if target.minor else _without_url(exc)
        now = self.desk.clock.now()
        if fetched is None:
            outcome = CheckOutcome.MANUAL if target.minor else CheckOutcome.UNREACHABLE
            check = Check(target.id, target.case, now, method, None, outcome, None, failure)
        elif target.minor:
            check = self._minor(target, fetched, now)
        else:
            check = self._adult(target, fetched, now)
        return self._record(check, actor)

    def _minor_now(self, item_id: int) -> bool:
        with self.desk.store.read() as connection:
            branch = connection.execute(
                select(desk_cases.c.branch)
                .join(desk_items, desk_items.c.case_id == desk_cases.c.id)
                .where(desk_items.c.id == item_id)
            ).scalar()
        return branch == Branch.MINOR

    def _minor(self, target: _Target, fetched: Fetched, now: datetime) -> Check:
        """HEAD's answer: gone, there (2xx, or a redirect not followed), or check by hand."""
        status = fetched.status
        if status in REMOVED_STATUSES:
            outcome = CheckOutcome.REMOVED
        elif 200 <= status < 400:
            outcome = CheckOutcome.PRESENT
        else:
            outcome = CheckOutcome.MANUAL
        detail = None if outcome != CheckOutcome.MANUAL else f"no usable answer to HEAD ({status})"
        return Check(target.id, target.case, now, "HEAD", status, outcome, None, detail)

    def _adult(self, target: _Target, fetched: Fetched, now: datetime) -> Check:
        status = fetched.status
        distance: int | None = None
        detail: str | None = None
        if status in REMOVED_STATUSES:
            outcome = CheckOutcome.REMOVED
        elif not 200 <= status < 300:
            outcome, detail = CheckOutcome.UNREACHABLE, f"HTTP {status}"
        else:
            distance = self._distance(target, fetched)
            changed = distance is not None and distance > SAME_IMAGE
            outcome = CheckOutcome.REMOVED if changed else CheckOutcome.PRESENT
            detail = _IMAGE_CHANGED if changed else None
        return Check(target.id, target.case, now, "GET", status, outcome, distance, detail)

    def _distance(self, target: _Target, fetched: Fetched) -> int | None:
        """The served image's PDQ distance to the item's (the nearest of its rotations and
        flips: a mirrored copy is still the image); None for a page or an item without PDQ."""
        if target.pdq is None or not fetched.body:
            return None
        try:
            media = load_bytes(fetched.body, limits=self.limits)
            hashes = hash_media(media, path="served", dihedral=True)
        except MediaError:
            return None  # not an image (a page), or one that does not decode: still there
        variants = hashes.dihedral or (hashes.pdq,)
        return int(hamming(pack([target.pdq]), pack(variants)).min())

    def _record(self, check: Check, actor: Actor) -> Check | None:
        """Write the check with what the item is now; None (nothing written) when its case
        was withdrawn since."""
        with self.desk.store.write() as connection:
            row = connection.execute(
                select(desk_items, desk_cases.c.state.label("case_state"))
                .join(desk_cases, desk_cases.c.id == desk_items.c.case_id)
                .where(desk_items.c.id == check.item_id)
            ).first()
            if row is None or row.case_state == CaseState.WITHDRAWN:
                return None
            previous = connection.execute(
                select(desk_checks.c.outcome)
                .where(desk_checks.c.item_id == check.item_id)
                .order_by(desk_checks.c.at.desc(), desk_checks.c.id.desc())
                .limit(1)
            ).scalar()
            connection.execute(
                insert(desk_checks).values(
                    item_id=check.item_id,
                    at=check.at,
                    method=check.method,
                    status=check.status,
                    outcome=check.outcome.value,
                    distance=check.distance,
                    detail=check.detail[:_DETAIL] if check.detail else None,
                )
            )
            values: dict[str, Any] = {"next_check_at": check.at + timedelta(hours=self.hours)}
            if check.outcome == CheckOutcome.REMOVED:
                values["removal_verified_at"] = check.at
            connection.execute(update(desk_items).where(desk_items.c.id == row.id).values(**values))
            if check.outcome == CheckOutcome.REMOVED:
                _verified(connection, row, check, actor)
            elif check.outcome == CheckOutcome.MANUAL and previous != CheckOutcome.MANUAL.value:
                add_event(connection, row.case_id, actor, "check-manual", check.at, item_id=row.id)
                touch(connection, row.case_id, check.at)
        return check


def _verified(connection: Connection, item: Any, check: Check, actor: Actor) -> None:
    """The removal verified: the item moves to removed when its state allows it (one on hold
    keeps its state, the time is kept all the same), the notices' clocks on it stop."""
    current = ItemState(item.state)
    to = current
    if current != ItemState.REMOVED and ItemState.REMOVED in ITEM_MOVES[current]:
        set_item_state(connection, item.case_id, item, ItemState.REMOVED, actor, check.at)
        to = ItemState.REMOVED
    add_event(
        connection,
        item.case_id,
        actor,
        "removal-verified",
        check.at,
        item_id=item.id,
        from_state=current,
        to_state=to,
        detail={"method": check.method, "status": check.status, "distance": check.distance},
    )
    sent = select(desk_notices.c.id).where(desk_notices.c.state == "sent")
    connection.execute(
        update(desk_notice_items)
        .where(
            desk_notice_items.c.item_id == item.id,
            desk_notice_items.c.notice_id.in_(sent),
            desk_notice_items.c.answered_at.is_(None),
        )
        .values(answered_at=check.at, outcome=CheckOutcome.REMOVED.value)
    )
    touch(connection, item.case_id, check.at)


def _checkable() -> Any:
    """An item that may be checked: a URL, not closed or withdrawn, not verified removed, on
    a case not withdrawn."""
    return and_(
        desk_items.c.url.is_not(None),
        desk_items.c.state.not_in([ItemState.CLOSED, ItemState.WITHDRAWN]),
        or_(
            desk_items.c.state != ItemState.REMOVED,
            desk_items.c.removal_verified_at.is_(None),
        ),
        desk_cases.c.state != CaseState.WITHDRAWN,
    )


def _check_of(row: Any, case: str) -> Check:
    return Check(
        item_id=row.item_id,
        case=case,
        at=as_utc(row.at),
        method=row.method,
        status=row.status,
        outcome=CheckOutcome(row.outcome),
        distance=row.distance,
        detail=row.detail,
    )


def _without_url(exc: FetchError) -> str:
    """The error's reason without its address (a minor's item's URL is never written out
    of its item)."""
    return str(exc).removeprefix(f"{exc.url[:200]}: ")[:_DETAIL]
