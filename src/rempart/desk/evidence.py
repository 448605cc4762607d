"""Evidence: captures of what an adult case's URL served, kept sealed, then purged.

A reviewer captures an item's URL, with a reason: the page through the ``Fetcher`` (GET), and,
for an HTML page, the images it embeds (at most ``max_images``, each within the fetcher's size
limit, all bodies together within ``max_total``: four times the fetcher's limit, so that a page
of many large images cannot fill the database; what is left out is listed in the manifest). They
become one WARC 1.1 file (``desk.warc``), optionally timestamped by an RFC 3161 authority
(``desk.tsa``; when it fails the capture is still kept, the manifest says why it has no token).

The WARC is stored sealed: a fresh data key per capture, AES-256-GCM with the capture's id and
SHA-256 as associated data, the data key wrapped by the deployment's key file under the
capture's label (``desk.sealed``). The capture's row keeps the plain WARC's SHA-256 and size
and its manifest, in the clear and for good; purging it (retention, withdrawal, a move to the
minor branch, a reviewer) deletes the sealed WARC and the wrapped key (``rows.purge_captures``).

Retention: ``days`` after the case closed (``desk_cases.closed_at``), unless a reviewer holds
the capture for proceedings. Every capture, reading, export, hold, release and purge is an
event of the case: who, when, why.

Don't: capture an item of a minor's case (the service refuses before any request, the database
refuses the row); fetch anything before the key file is read; put the WARC or its key in an
event or a log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Row, Select, insert, select, update

from rempart import __version__
from rempart.config import DEFAULT_FETCH_MAX_BYTES
from rempart.desk.cases import Desk
from rempart.desk.evidence_model import Capture, PurgeReason, PurgeReport
from rempart.desk.fetch import Fetched, Fetcher, HttpFetcher
from rempart.desk.model import SYSTEM, Actor, Branch
from rempart.desk.rows import (
    REVIEW_ROLES,
    add_event,
    check_reason,
    check_role,
    find_case,
    purge_captures,
    touch,
)
from rempart.desk.sealed import (
    DeskKeys,
    capture_aad,
    capture_key_label,
    seal_bytes,
    unseal_bytes,
)
from rempart.desk.states import CaseState, ItemState
from rempart.desk.warc import WarcFile, embedded_images, write_warc
from rempart.errors import (
    CaseNotFoundError,
    CaseStateConflictError,
    EvidenceNotFoundError,
    EvidenceRefusedError,
    FetchError,
)
from rempart.store import as_utc
from rempart.store.schema import desk_cases, desk_evidence, desk_evidence_blobs, desk_items

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["MAX_IMAGES", "TOTAL_FACTOR", "Evidence"]

MAX_IMAGES: Final = 50
"""Most images of a page one capture fetches."""
TOTAL_FACTOR: Final = 4
"""A capture's bodies together (the page and its images) are at most this many times the
fetcher's limit on one body."""
MINOR_REFUSED: Final = (
    "a case of the minor branch is never captured: its items are hashes, URLs and metadata only"
)
_HTML: Final = frozenset({"text/html", "application/xhtml+xml"})


class Evidence:
    """Capture an adult case's item through the ``Fetcher``, seal it, read it back (recorded),
    hold it for proceedings, purge it. Reviewers only (admin or reviewer keys); never an item
    of a minor's case."""

    def __init__(
        self,
        desk: Desk,
        fetcher: Fetcher,
        *,
        days: int = 365,
        tsa_url: str | None = None,
        max_images: int = MAX_IMAGES,
        max_total: int = TOTAL_FACTOR * DEFAULT_FETCH_MAX_BYTES,
    ) -> None:
        self.desk = desk
        self.fetcher = fetcher
        self.days = days
        self.tsa_url = tsa_url or None
        self.max_images = max_images
        self.max_total = max_total

    @classmethod
    def from_settings(
        cls, settings: Settings, desk: Desk, *, fetcher: Fetcher | None = None
    ) -> Evidence:
        """The evidence service as the settings configure it (an ``HttpFetcher`` unless one
        is given)."""
        return cls(
            desk,
            fetcher
            or HttpFetcher.from_settings(settings, clock=desk.clock, purpose="evidence capture"),
            days=settings.desk_evidence_days,
            tsa_url=settings.desk_tsa_url or None,
            max_total=TOTAL_FACTOR * settings.desk_fetch_max_bytes,
        )

    # --- capturing --------------------------------------------------------------------------

    def capture(self, item_id: int, actor: Actor, *, reason: str) -> Capture:
        """Fetch the item's URL and the images its page embeds, write them as one WARC 1.1,
        seal it, store it; ``EvidenceRefusedError`` for a minor's case (no request made)."""
        check_role(actor, REVIEW_ROLES, "capture evidence")
        reason = check_reason(reason, EvidenceRefusedError)
        with self.desk.store.read() as connection:
            item, case_row = _item_and_case(connection, item_id)
            _check_capturable(item, case_row)
        if self.desk.keys.path is not None:  # the file as it is now: none, nothing is fetched
            DeskKeys.load(self.desk.keys.path)
        page = self.fetcher.fetch(item.url, method="GET")  # its FetchError: no capture
        images, skipped = self._images(page)
        now = self.desk.clock.now()
        warc = write_warc(page, images, captured_at=now, version=__version__, skipped=skipped)
        token, stamp = self._timestamp(warc)
        manifest = dict(warc.manifest) | {"sha256": warc.sha256, "size": len(warc.data)} | stamp
        with self.desk.store.write() as connection:
            item, case_row = _item_and_case(connection, item_id)
            _check_capturable(item, case_row)  # again: the case may have moved meanwhile
            capture_id = connection.execute(
                insert(desk_evidence)
                .values(
                    case_id=case_row.id,
                    item_id=item.id,
                    url=item.url,
                    requested_by=actor.label,
                    captured_at=now,
                    sha256=warc.sha256,
                    size=len(warc.data),
                    manifest=json.dumps(manifest, sort_keys=True),
                    timestamp_token=token,
                )
                .returning(desk_evidence.c.id)
            ).scalar_one()
            keys = self.desk.wrapping_keys()
            data_key, wrapped, kid = keys.new_data_key_for(capture_key_label(capture_id))
            connection.execute(
                update(desk_evidence)
                .where(desk_evidence.c.id == capture_id)
                .values(wrapped_key=wrapped, wrapping_key_id=kid)
            )
            sealed = seal_bytes(data_key, warc.data, capture_aad(capture_id, warc.sha256))
            connection.execute(
                insert(desk_evidence_blobs).values(evidence_id=capture_id, sealed=sealed)
            )
            detail = {
                "capture": capture_id,
                "sha256": warc.sha256,
                "size": len(warc.data),
                "reason": reason,
            }
            add_event(
                connection,
                case_row.id,
                actor,
                "evidence-captured",
                now,
                item_id=item.id,
                detail=detail,
            )
            touch(connection, case_row.id, now)
            return self._one(connection, capture_id)

    def _images(self, page: Fetched) -> tuple[list[Fetched], list[tuple[str, str]]]:
        """The images an HTML page embeds, fetched within the capture's limits, and those left
        out with why."""
        if page.content_type not in _HTML or not page.body:
            return [], []
        budget = self.max_total - len(page.body)
        images: list[Fetched] = []
        skipped: list[tuple[str, str]] = []
        for url in embedded_images(page.body, page.final_url, limit=self.max_images):
            if budget <= 0:
                skipped.append((url, f"over {self.max_total} bytes in all"))
                continue
            try:
                image = self.fetcher.fetch(url, method="GET", max_bytes=budget)
            except FetchError as exc:
                skipped.append((url, str(exc)))
                continue
            if not 200 <= image.status < 300:
                skipped.append((url, f"status {image.status}"))
                continue
            images.append(image)
            budget -= len(image.body)
        return images, skipped

    def _timestamp(self, warc: WarcFile) -> tuple[bytes | None, dict[str, Any]]:
        """An RFC 3161 token for the WARC's SHA-256 and what the manifest says of it (its time,
        or why there is none)."""
        if self.tsa_url is None:
            return None, {"timestamp": None}
        # Imported here: desk.tsa needs cryptography at import, which rempart.desk does not.
        from rempart.desk.tsa import request_timestamp, timestamp_time

        digest = bytes.fromhex(warc.sha256)
        try:
            token = request_timestamp(self.tsa_url, digest)
            at = timestamp_time(token, digest)
        except FetchError as exc:
            # Why, without the authority's address (it may hold a user name and password).
            why = str(exc).removeprefix(f"{exc.url[:200]}: ").replace(self.tsa_url, "<TSA>")
            return None, {"timestamp": None, "timestamp_error": why}
        except EvidenceRefusedError as exc:
            return None, {"timestamp": None, "timestamp_error": str(exc)}
        return token, {"timestamp": at.isoformat()}

    # --- reading ----------------------------------------------------------------------------

    def captures(self, number: str, actor: Actor) -> list[Capture]:
        """The case's captures, newest first, purged ones included (their SHA-256 stays)."""
        check_role(actor, REVIEW_ROLES, "see evidence")
        with self.desk.store.read() as connection:
            row = find_case(connection, number)
            rows = connection.execute(
                _query()
                .where(desk_evidence.c.case_id == row.id)
                .order_by(desk_evidence.c.captured_at.desc(), desk_evidence.c.id.desc())
            ).all()
            return [self._capture(r) for r in rows]

    def get(self, capture_id: int, actor: Actor) -> Capture:
        """One capture; ``EvidenceNotFoundError`` when there is none (or the actor may not)."""
        if actor.role not in REVIEW_ROLES:
            raise _not_found(capture_id)
        with self.desk.store.read() as connection:
            return self._one(connection, capture_id)

    def open(self, capture_id: int, actor: Actor, *, reason: str) -> bytes:
        """The capture's WARC, unsealed; recorded as viewed (who, when, why)."""
        check_role(actor, REVIEW_ROLES, "open evidence")
        reason = check_reason(reason, EvidenceRefusedError)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = _row(connection, capture_id)
            data = self._unsealed(connection, row)
            _record(connection, row, actor, "evidence-viewed", now, reason)
            return data

    def export(self, number: str, actor: Actor, *, reason: str) -> list[tuple[Capture, bytes]]:
        """Every unpurged capture of the case with its WARC, unsealed; each recorded as
        exported (who, when, why), and the export as one ``dossier-exported``. For the
        dossier."""
        check_role(actor, REVIEW_ROLES, "export evidence")
        reason = check_reason(reason, EvidenceRefusedError)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            case_row = find_case(connection, number)
            rows = connection.execute(
                _query()
                .where(desk_evidence.c.case_id == case_row.id, desk_evidence.c.purged_at.is_(None))
                .order_by(desk_evidence.c.id)
            ).all()
            exported = []
            for row in rows:
                exported.append((self._capture(row), self._unsealed(connection, row)))
                _record(connection, row, actor, "evidence-exported", now, reason)
            detail = {"captures": [row.id for row in rows], "reason": reason}
            add_event(connection, case_row.id, actor, "dossier-exported", now, detail=detail)
            return exported

    def _unsealed(self, connection: Connection, row: Row[Any]) -> bytes:
        """The capture's WARC, opened; ``EvidenceRefusedError`` once purged, ``DeskKeyError``
        when its key or its bytes do not open (another key file, an altered byte)."""
        if row.purged_at is not None:
            raise EvidenceRefusedError(
                f"capture {row.id} was purged on {as_utc(row.purged_at).date()} "
                f"({row.purge_reason}): its WARC is gone, its SHA-256 {row.sha256} stays"
            )
        sealed = connection.execute(
            select(desk_evidence_blobs.c.sealed).where(desk_evidence_blobs.c.evidence_id == row.id)
        ).scalar_one()
        label = capture_key_label(row.id)
        data_key = self.desk.wrapping_keys().unwrap_for(
            row.wrapped_key, row.wrapping_key_id, label, owner=f"capture {row.id}"
        )
        return unseal_bytes(
            data_key, sealed, capture_aad(row.id, row.sha256), what=f"capture {row.id}'s WARC"
        )

    # --- keeping and purging ----------------------------------------------------------------

    def hold(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """Keep the capture past retention, for proceedings; the reason is recorded."""
        return self._hold(capture_id, actor, reason, hold=True)

    def release(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """End a hold: retention applies again."""
        return self._hold(capture_id, actor, reason, hold=False)

    def _hold(self, capture_id: int, actor: Actor, reason: str, *, hold: bool) -> Capture:
        check_role(actor, REVIEW_ROLES, "hold evidence" if hold else "release evidence")
        reason = check_reason(reason, EvidenceRefusedError)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = _row(connection, capture_id)
            if row.purged_at is not None:
                raise EvidenceRefusedError(f"capture {capture_id} was purged: nothing to keep")
            if (row.held_at is not None) == hold:
                state = "held already" if hold else "not held"
                raise CaseStateConflictError(f"capture {capture_id} is {state}")
            values = (
                {"held_at": now, "held_by": actor.label, "hold_reason": reason}
                if hold
                else {"held_at": None, "held_by": None, "hold_reason": None}
            )
            connection.execute(
                update(desk_evidence).where(desk_evidence.c.id == capture_id).values(**values)
            )
            kind = "evidence-held" if hold else "evidence-released"
            _record(connection, row, actor, kind, now, reason)
            touch(connection, row.case_id, now)
            return self._one(connection, capture_id)

    def purge(self, capture_id: int, actor: Actor, *, reason: str) -> Capture:
        """Delete the capture's WARC and data key now (a reviewer's decision, recorded); its
        SHA-256 and manifest stay. A held capture is released first."""
        check_role(actor, REVIEW_ROLES, "purge evidence")
        reason = check_reason(reason, EvidenceRefusedError)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = _row(connection, capture_id)
            if row.purged_at is not None:
                raise EvidenceRefusedError(f"capture {capture_id} was purged already")
            if row.held_at is not None:
                raise CaseStateConflictError(
                    f"capture {capture_id} is held for proceedings: release it first"
                )
            purge_captures(
                connection,
                row.case_id,
                PurgeReason.REVIEWER,
                actor,
                now,
                capture_ids=[capture_id],
                reason=reason,
            )
            return self._one(connection, capture_id)

    def purge_due(self, *, actor: Actor = SYSTEM, limit: int = 1000) -> PurgeReport:
        """Purge every capture past retention (its case closed more than ``days`` ago) and not
        held; each purge recorded."""
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            rows = connection.execute(
                _past_retention(now - timedelta(days=self.days))
                .where(desk_evidence.c.held_at.is_(None))
                .order_by(desk_evidence.c.id)
                .limit(max(0, limit))
            ).all()
            by_case: dict[int, list[int]] = {}
            for row in rows:
                by_case.setdefault(row.case_id, []).append(row.id)
            purged = [
                capture
                for case_id, ids in by_case.items()
                for capture in purge_captures(
                    connection, case_id, PurgeReason.RETENTION, actor, now, capture_ids=ids
                )
            ]
            held = connection.execute(
                _past_retention(now - timedelta(days=self.days)).where(
                    desk_evidence.c.held_at.is_not(None)
                )
            ).all()
            return PurgeReport(tuple(sorted(purged)), len(held))

    def due(self, numbers: Sequence[str] | None = None) -> list[Capture]:
        """Captures past retention and not held (what ``purge_due`` would purge)."""
        cutoff = self.desk.clock.now() - timedelta(days=self.days)
        query = _past_retention(cutoff).where(desk_evidence.c.held_at.is_(None))
        if numbers is not None:
            query = query.where(desk_cases.c.number.in_(list(numbers)))
        with self.desk.store.read() as connection:
            rows = connection.execute(query.order_by(desk_evidence.c.id)).all()
            return [self._capture(row) for row in rows]

    # --- rows -------------------------------------------------------------------------------

    def _one(self, connection: Connection, capture_id: int) -> Capture:
        return self._capture(_row(connection, capture_id))

    def _capture(self, row: Row[Any]) -> Capture:
        """The capture as the desk lists it; ``purge_due`` from its case's ``closed_at``."""
        due = None
        if (
            row.purged_at is None
            and row.held_at is None
            and row.case_state == CaseState.CLOSED
            and row.closed_at is not None
        ):
            due = as_utc(row.closed_at) + timedelta(days=self.days)
        return Capture(
            id=row.id,
            case=row.number,
            item_id=row.item_id,
            url=row.url,
            captured_at=as_utc(row.captured_at),
            requested_by=row.requested_by,
            sha256=row.sha256,
            size=row.size,
            manifest=json.loads(row.manifest),
            timestamp_token=bytes(row.timestamp_token) if row.timestamp_token else None,
            held_at=_when(row.held_at),
            held_by=row.held_by,
            hold_reason=row.hold_reason,
            purged_at=_when(row.purged_at),
            purge_reason=PurgeReason(row.purge_reason) if row.purge_reason else None,
            purge_due=due,
        )


def _query() -> Select[Any]:
    """Captures with their case's number, state and closing time."""
    return select(
        desk_evidence,
        desk_cases.c.number,
        desk_cases.c.state.label("case_state"),
        desk_cases.c.closed_at,
    ).join(desk_cases, desk_cases.c.id == desk_evidence.c.case_id)


def _past_retention(cutoff: datetime) -> Select[Any]:
    """Unpurged captures whose case closed before ``cutoff`` (now less the retention days): a
    capture is kept until its ``purge_due``, that instant included."""
    return _query().where(
        desk_evidence.c.purged_at.is_(None),
        desk_cases.c.state == CaseState.CLOSED.value,
        desk_cases.c.closed_at < cutoff,
    )


def _row(connection: Connection, capture_id: int) -> Row[Any]:
    row = connection.execute(_query().where(desk_evidence.c.id == capture_id)).first()
    if row is None:
        raise _not_found(capture_id)
    return row


def _not_found(capture_id: int) -> EvidenceNotFoundError:
    return EvidenceNotFoundError(f"no capture {capture_id}")


def _item_and_case(connection: Connection, item_id: int) -> tuple[Row[Any], Row[Any]]:
    item = connection.execute(select(desk_items).where(desk_items.c.id == item_id)).first()
    if item is None:
        raise CaseNotFoundError(f"no item {item_id}")
    case_row = connection.execute(select(desk_cases).where(desk_cases.c.id == item.case_id)).one()
    return item, case_row


def _check_capturable(item: Row[Any], case_row: Row[Any]) -> None:
    """Nothing when the item may be captured: an adult's case, not withdrawn, an item with a
    URL; else ``EvidenceRefusedError`` saying why (before any request)."""
    if case_row.branch == Branch.MINOR:
        raise EvidenceRefusedError(MINOR_REFUSED)
    if case_row.state == CaseState.WITHDRAWN or item.state == ItemState.WITHDRAWN:
        raise EvidenceRefusedError(f"case {case_row.number} is withdrawn: nothing is captured")
    if item.url is None:
        raise EvidenceRefusedError(f"item {item.id} has no URL to capture")


def _record(
    connection: Connection, row: Row[Any], actor: Actor, kind: str, now: datetime, reason: str
) -> None:
    """An event of the capture's case about it, with the reviewer's reason."""
    detail = {"capture": row.id, "reason": reason}
    add_event(connection, row.case_id, actor, kind, now, item_id=row.item_id, detail=detail)


def _when(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None
