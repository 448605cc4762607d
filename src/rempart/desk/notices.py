"""Notices to platforms: drafted for one platform and several items of a case, checked element
by element against the platform's jurisdictions before they are sent (a missing element is
refused by name: ``NoticeInvalidError.element``), sent once through the platform's channel
(again only when a reviewer asks), their clocks started, their replies and escalations recorded.

Every operation is one transaction with the case's events (``Store.write()``), as in
``rempart.desk.cases``. The record a notice was sent with is sealed with the case's data key
and its SHA-256 kept; a draft's record is built afresh from the case each time it is read.

Who may do what: a reviewer or an admin, on every case; a flagger, on the cases it holds
(an association sends in its own name); a victim (signed in) reads its case's notices and gives
or withdraws consent with a typed signature, never drafts or sends.

Don't: put a victim's name or contact in a notice without their consent, in an association's
notice, or on a minor's case; send a notice twice unless a reviewer asks again.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, Table, delete, exists, insert, select, update

from rempart.access.roles import Role
from rempart.config import Settings
from rempart.desk import clocks, render
from rempart.desk.cases import Desk
from rempart.desk.channels import Channel, Outgoing, SmtpChannel, manual_delivery
from rempart.desk.model import Actor, Branch, Mandate, check_language
from rempart.desk.notice_model import (
    BONA_FIDE,
    GOOD_FAITH,
    MINOR_LADDER,
    MINOR_NATURES,
    ChannelKind,
    ClockStatus,
    Decision,
    Delivery,
    DueItem,
    Escalation,
    EscalationStep,
    Identity,
    Nature,
    Notice,
    NoticeClock,
    NoticeItem,
    NoticeRecord,
    NoticeState,
    Notifier,
    Reply,
    ReplyKind,
    Signature,
    StatementOfReasons,
)
from rempart.desk.platforms import Platform, PlatformBook
from rempart.desk.rows import (
    DESK_ROLES,
    REVIEW_ROLES,
    add_event,
    check_owner,
    check_role,
    check_staff,
    find_case,
    seal_field,
    set_item_state,
    touch,
)
from rempart.desk.sealed import seal, unseal
from rempart.desk.states import ItemState, check_item_move
from rempart.errors import (
    CaseInvalidError,
    CaseNotFoundError,
    CaseStateConflictError,
    DeliveryFailedError,
    NoticeInvalidError,
    NoticeNotFoundError,
)
from rempart.policy.verdict import CATEGORIES
from rempart.store import as_utc
from rempart.store.schema import (
    api_keys,
    desk_cases,
    desk_deliveries,
    desk_escalations,
    desk_items,
    desk_notice_items,
    desk_notices,
    desk_replies,
    desk_sealed,
)

__all__ = ["Notices", "notice_id", "reference"]

log = logging.getLogger(__name__)

_REFERENCE: Final = re.compile(r"[Nn]-([0-9]{1,18})")
_IDENTITY: Final = "identity"
"""The sealed field of the victim's consent: JSON ``{name, contact, signature, signed_at}``."""
_MANDATE: Final = "mandate"
# Items a notice no longer asks about: the default selection skips them.
_DONE_ITEMS: Final = frozenset({ItemState.WITHDRAWN, ItemState.REMOVED, ItemState.CLOSED})
_LEGAL_GROUNDS: Final = {
    Nature.NCII: "Code pénal, art. 226-2-1",
    Nature.DEEPFAKE: "Code pénal, art. 226-8-1",
    Nature.CSAM: "Code pénal, art. 227-23",
    Nature.CSAM_DEEPFAKE: "Code pénal, art. 227-23",
}
_CATEGORIES: Final = {
    Nature.NCII: CATEGORIES["non_consensual_intimate_imagery"],
    Nature.DEEPFAKE: CATEGORIES["sexual_deepfake"],
    Nature.CSAM: CATEGORIES["child_sexual_abuse"],
    Nature.CSAM_DEEPFAKE: CATEGORIES["child_sexual_abuse_deepfake"],
}
_EXPLANATIONS: Final[Mapping[str, Mapping[Nature, str]]] = {
    "en": {
        Nature.NCII: "Each item listed is an intimate image of a real, identifiable adult, made "
        "public without their consent. Its publication is an offence under French law ({ground}) "
        "and it is illegal content; we ask you to remove it or disable access to it.",
        Nature.DEEPFAKE: "Each item listed is a sexual image of a real, identifiable adult "
        "generated or altered by an algorithm (a deepfake), made public without their consent. "
        "Its publication is an offence under French law ({ground}) and it is illegal content; "
        "we ask you to remove it or disable access to it.",
        Nature.CSAM: "Each item listed is sexualised imagery of a minor. Its publication is an "
        "offence under French law ({ground}) and it is illegal content; we ask you to remove "
        "it at once.",
        Nature.CSAM_DEEPFAKE: "Each item listed is sexualised imagery of a minor generated or "
        "altered by an algorithm. Its publication is an offence under French law ({ground}) and "
        "it is illegal content; we ask you to remove it at once.",
    },
    "fr": {
        Nature.NCII: "Chaque contenu listé est une image intime d'une personne majeure réelle et "
        "identifiable, rendue publique sans son consentement. Sa publication est une infraction "
        "en droit français ({ground}) et un contenu illicite ; nous vous demandons de le retirer "
        "ou d'en rendre l'accès impossible.",
        Nature.DEEPFAKE: "Chaque contenu listé est une image à caractère sexuel d'une personne "
        "majeure réelle et identifiable, générée ou modifiée par un traitement algorithmique "
        "(hypertrucage), rendue publique sans son consentement. Sa publication est une infraction "
        "en droit français ({ground}) et un contenu illicite ; nous vous demandons de le retirer "
        "ou d'en rendre l'accès impossible.",
        Nature.CSAM: "Chaque contenu listé est une image sexualisée d'une personne mineure. Sa "
        "publication est une infraction en droit français ({ground}) et un contenu illicite ; "
        "nous vous demandons de le retirer sans délai.",
        Nature.CSAM_DEEPFAKE: "Chaque contenu listé est une image sexualisée d'une personne "
        "mineure, générée ou modifiée par un traitement algorithmique. Sa publication est une "
        "infraction en droit français ({ground}) et un contenu illicite ; nous vous demandons de "
        "le retirer sans délai.",
    },
}
_SEARCH_ENGINES: Final = "search engines"
_RUNNING: Final = frozenset({ClockStatus.RUNNING, ClockStatus.REMINDER, ClockStatus.OVERDUE})
_MAX_LINE: Final = 200
_MAX_TEXT: Final = 2000


def reference(notice_id: int) -> str:
    """A notice's reference, ``N-<id>``."""
    return f"N-{notice_id}"


def notice_id(ref: str) -> int:
    """The id in a reference (``N-12``, any case); ``NoticeNotFoundError`` for anything else."""
    match = _REFERENCE.fullmatch(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise NoticeNotFoundError(f"no notice {str(ref)[:32]!r}")
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A notice's row and its case's, read inside a transaction."""

    row: Row[Any]
    case: Row[Any]


class Notices:
    """Draft, check, send and follow notices."""

    def __init__(
        self,
        desk: Desk,
        book: PlatformBook,
        *,
        notifier_name: str = "",
        notifier_email: str = "",
        trusted_flagger: str = "",
        dsa_hours: int = 72,
        regulator: str = "Arcom",
        channels: Mapping[ChannelKind, Channel] | None = None,
        on_news: Callable[[str], None] | None = None,
    ) -> None:
        """``channels``: the channel for each kind that sends by itself (e-mail: SMTP);
        ``on_news``: called with a case's number after a notice of it is sent or answered
        (the victim's news mail), outside the transaction, its failures logged, not raised."""
        self.desk = desk
        self.book = book
        self.notifier_name = notifier_name.strip()
        self.notifier_email = notifier_email.strip()
        self.trusted_flagger = trusted_flagger.strip()
        self.dsa_hours = dsa_hours
        self.regulator = regulator
        self.channels = dict(channels or {})
        self.on_news = on_news

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        desk: Desk,
        *,
        on_news: Callable[[str], None] | None = None,
    ) -> Notices:
        """The notices as the settings configure them (platforms, notifier, SMTP)."""
        smtp = SmtpChannel.from_settings(settings)
        return cls(
            desk,
            PlatformBook.load(settings.desk_platforms),
            notifier_name=settings.desk_notifier_name,
            notifier_email=settings.desk_notifier_email,
            trusted_flagger=settings.desk_trusted_flagger,
            dsa_hours=settings.dsa_hours,
            regulator=settings.desk_regulator,
            channels={ChannelKind.EMAIL: smtp} if smtp is not None else None,
            on_news=on_news,
        )

    # --- drafting -------------------------------------------------------------------------

    def draft(
        self,
        number: str,
        platform: str,
        actor: Actor,
        *,
        item_ids: Sequence[int] | None = None,
        nature: Nature | None = None,
        signatory: str | None = None,
        language: str | None = None,
    ) -> Notice:
        """A new draft to ``platform`` for the case's items (``item_ids``; default: every
        item with a URL whose host the platform covers and that no other open notice names).
        ``nature`` defaults to ``ncii`` (a minor's case: always ``csam``); ``language`` to the
        platform's. ``PlatformUnknownError``, or ``NoticeInvalidError`` (element ``url``) for
        an item without a URL or on another platform's host."""
        profile = self.book.platform(platform)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = find_case(connection, number)
            check_staff(actor, row)
            if row.wrapped_key is None:
                raise CaseStateConflictError(f"case {row.number} is withdrawn")
            branch = Branch(row.branch)
            nature = _nature(branch, nature)
            signatory = _line("signatory", signatory, required=False)
            if signatory is not None and row.flagger_key_id is None:
                raise NoticeInvalidError(
                    "signatory",
                    "only an association's notice has a signatory; this case is the victim's own",
                )
            language = profile.language if language is None else _checked_language(language.strip())
            chosen = self._items(connection, row, profile, item_ids)
            new_id = connection.execute(
                insert(desk_notices)
                .values(
                    case_id=row.id,
                    platform=profile.name,
                    language=language,
                    nature=nature.value,
                    state=NoticeState.DRAFT.value,
                    channel=profile.channel.kind.value,
                    options=json.dumps({"signatory": signatory}, sort_keys=True),
                    attempts=0,
                    created_by=actor.label,
                    created_at=now,
                    updated_at=now,
                )
                .returning(desk_notices.c.id)
            ).scalar_one()
            connection.execute(
                insert(desk_notice_items),
                [{"notice_id": new_id, "item_id": item_id} for item_id in chosen],
            )
            add_event(
                connection,
                row.id,
                actor,
                "notice-drafted",
                now,
                detail={
                    "reference": reference(new_id),
                    "platform": profile.name,
                    "items": len(chosen),
                },
            )
            touch(connection, row.id, now)
            return self._notice(connection, self._notice_row(connection, new_id), row, now)

    def record(self, reference: str, actor: Actor, *, case: str | None = None) -> NoticeRecord:
        """The notice's canonical record: as sent (opened from its seal), or for a draft as
        it would be sent now. ``case``: as for ``get``."""
        with self.desk.store.read() as connection:
            loaded = self._load(connection, reference, actor, case=case)
            return self._record(connection, loaded, self.desk.clock.now())

    def missing(self, reference: str, actor: Actor) -> list[tuple[str, str]]:
        """The elements the draft lacks, each as ``(element, why)``: what ``send`` would
        refuse (with ``channel`` when a platform that takes e-mail cannot be sent to from
        here); empty when it may be sent. A sent notice lacks nothing."""
        with self.desk.store.read() as connection:
            loaded = self._load(connection, reference, actor)
            if loaded.row.state == NoticeState.SENT:
                return []
            record = self._record(connection, loaded, self.desk.clock.now())
        found = self._missing(record, Branch(loaded.case.branch))
        problem = self._channel_problem(self.book.platform(record.platform))
        return found + ([problem] if problem else [])

    def render(
        self,
        reference: str,
        actor: Actor,
        form: Literal["text", "html", "pdf"],
        *,
        case: str | None = None,
    ) -> str | bytes:
        """The notice rendered (text and HTML as ``str``, PDF as ``bytes``); ``case``: as
        for ``get``."""
        record = self.record(reference, actor, case=case)
        if form == "text":
            return render.render_text(record)
        if form == "html":
            return render.render_html(record)
        if form == "pdf":
            return render.render_pdf(record)
        raise NoticeInvalidError("format", f"no rendering {form!r}: text, html or pdf")

    # --- sending --------------------------------------------------------------------------

    def send(self, reference: str, actor: Actor, *, again: bool = False) -> Notice:
        """Check every element, then send through the platform's channel and start the
        clocks. A sent notice is sent again only with ``again`` (a reviewer or an admin).
        ``NoticeInvalidError`` (the first missing element, or ``channel`` for a platform
        whose notices go by hand: record the delivery instead), ``DeliveryFailedError`` (the
        notice stays drafted with the error)."""
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            row = loaded.row
            previous = NoticeState(row.state)
            # A failed attempt leaves the notice where it was: sent (sent again), else a draft
            # (a reviewer may take over one left ``sending`` by a crash, with ``again``).
            restore = NoticeState.SENT if previous == NoticeState.SENT else NoticeState.DRAFT
            if again:
                check_role(actor, REVIEW_ROLES, "send a notice again")
            if previous != NoticeState.DRAFT and not again:
                raise _state_error(row)
            platform = self.book.platform(row.platform)
            if previous == NoticeState.SENT:
                record = self._record(connection, loaded, now)
            else:
                record = self._fresh_record(connection, loaded, now, sent_at=now)
                self._check(record, Branch(loaded.case.branch))
            if platform.channel.kind != ChannelKind.EMAIL:
                raise NoticeInvalidError(
                    "channel",
                    f"{platform.name} takes notices by {platform.channel.kind.value} "
                    f"({platform.channel.address}): send it that way, then record the delivery",
                )
            problem = self._channel_problem(platform)
            if problem is not None:
                raise NoticeInvalidError(*problem)
            connection.execute(
                update(desk_notices)
                .where(desk_notices.c.id == row.id)
                .values(state=NoticeState.SENDING.value, attempts=row.attempts + 1, updated_at=now)
            )
        channel = self.channels[ChannelKind.EMAIL]
        try:  # rendering too: a PDF that fails must not leave the notice ``sending``
            outgoing = Outgoing(
                render.render(record), to=platform.channel.address, reply_to=record.notifier.email
            )
            delivery = channel.send(outgoing, at=now, actor=actor.label)
        except Exception as exc:
            error = str(exc) if isinstance(exc, DeliveryFailedError) else type(exc).__name__
            self._failed(row.id, restore, actor, now, error[:_MAX_TEXT])
            raise
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            if previous == NoticeState.SENT:
                self._resent(connection, loaded, delivery, actor, now)
            else:
                self._mark_sent(connection, loaded, record, delivery, actor, now)
            notice = self._notice(
                connection, self._notice_row(connection, row.id), loaded.case, now
            )
        self._news(notice.case)
        return notice

    def record_delivery(
        self,
        reference: str,
        actor: Actor,
        *,
        at: datetime,
        how: str,
        ticket: str | None = None,
    ) -> Notice:
        """A delivery made by hand (a web form, a letter): checked as ``send`` checks, then
        recorded as sent at ``at`` (not in the future), which starts the clocks. Not for a
        platform that takes e-mail (``channel``): ``send`` does that."""
        now = self.desk.clock.now()
        at = _past("at", at, now)
        how_text = _line("how", how, limit=_MAX_TEXT)
        ticket = _line("ticket", ticket, limit=128, required=False)
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            row = loaded.row
            if row.state != NoticeState.DRAFT:
                raise _state_error(row)
            if at < as_utc(row.created_at):
                raise NoticeInvalidError("at", f"{reference} was drafted after {at.isoformat()}")
            platform = self.book.platform(row.platform)
            if platform.channel.kind == ChannelKind.EMAIL:
                raise NoticeInvalidError(
                    "channel", f"{platform.name} takes notices by e-mail: send it instead"
                )
            record = self._fresh_record(connection, loaded, now, sent_at=at)
            self._check(record, Branch(loaded.case.branch))
            delivery = manual_delivery(
                record.reference,
                platform.channel.kind,
                at=at,
                actor=actor.label,
                how=how_text or "",
                ticket=ticket,
            )
            self._mark_sent(connection, loaded, record, delivery, actor, now, kind="delivered")
            notice = self._notice(
                connection, self._notice_row(connection, row.id), loaded.case, now
            )
        self._news(notice.case)
        return notice

    # --- answers --------------------------------------------------------------------------

    def reply(
        self,
        reference: str,
        actor: Actor,
        *,
        kind: ReplyKind,
        at: datetime | None = None,
        item_id: int | None = None,
        decision: Decision | None = None,
        automated: bool | None = None,
        redress: str | None = None,
        platform_reference: str | None = None,
        puid: str | None = None,
    ) -> Notice:
        """Record a platform's receipt or decision (on one item, or all of the notice's); a
        decision stops the item's clock and moves the item (removed, or refused; restricted
        stays where it is)."""
        now = self.desk.clock.now()
        at = _past("at", at or now, now)
        kind = ReplyKind(kind)
        if (kind == ReplyKind.DECISION) != (decision is not None):
            raise NoticeInvalidError(
                "decision",
                "a decision says what was decided (removed, restricted, refused); "
                "a receipt does not",
            )
        decision = Decision(decision) if decision is not None else None
        redress = _line("redress", redress, limit=_MAX_TEXT, required=False)
        platform_reference = _line("reference", platform_reference, limit=128, required=False)
        puid = _line("puid", puid, limit=500, required=False)
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            row, case_row = loaded.row, loaded.case
            self._check_sent(row, at)
            items = self._targets(connection, row, item_id)
            connection.execute(
                insert(desk_replies).values(
                    notice_id=row.id,
                    item_id=item_id,
                    kind=kind.value,
                    decision=decision.value if decision else None,
                    automated=automated,
                    redress=redress,
                    reference=platform_reference,
                    puid=puid,
                    at=at,
                    recorded_at=now,
                    actor=actor.label,
                )
            )
            if decision is not None:
                connection.execute(
                    update(desk_notice_items)
                    .where(
                        desk_notice_items.c.notice_id == row.id,
                        desk_notice_items.c.item_id.in_(items),
                    )
                    .values(answered_at=at, outcome=decision.value)
                )
                self._move_items(connection, case_row, items, decision, actor, now)
            add_event(
                connection,
                case_row.id,
                actor,
                "notice-reply",
                now,
                item_id=item_id,
                detail={
                    "reference": _reference_of(row),
                    "kind": kind.value,
                    "decision": decision.value if decision else None,
                },
            )
            touch(connection, case_row.id, now)
            notice = self._notice(connection, self._notice_row(connection, row.id), case_row, now)
        self._news(notice.case)
        return notice

    def order(self, reference: str, actor: Actor, *, at: datetime, order_ref: str) -> Notice:
        """Record an authority's removal order, which starts the clock of a jurisdiction that
        counts from one (``fr-authority``: 24 hours): each unanswered item's deadline becomes
        the stricter of the one it had and the order's."""
        now = self.desk.clock.now()
        at = _past("at", at, now)
        order_text = _line("order", order_ref, limit=128) or ""
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            row = loaded.row
            if row.order_at is not None:
                raise NoticeInvalidError(
                    "order",
                    f"{_reference_of(row)} has an order already ({row.order_ref}, "
                    f"{as_utc(row.order_at).isoformat()})",
                )
            rules = self._rules(row)
            if not any(rule.starts == "order" for rule in rules):
                raise NoticeInvalidError(
                    "order",
                    f"{row.platform} answers to no jurisdiction whose clock an order starts",
                )
            connection.execute(
                update(desk_notices)
                .where(desk_notices.c.id == row.id)
                .values(order_at=at, order_ref=order_text, updated_at=now)
            )
            if row.state == NoticeState.SENT:
                due = clocks.deadline(rules, sent_at=as_utc(row.sent_at), order_at=at)
                self._restart_clocks(connection, row.id, due)
            add_event(
                connection,
                loaded.case.id,
                actor,
                "notice-order",
                now,
                detail={"reference": _reference_of(row), "platform": row.platform},
            )
            touch(connection, loaded.case.id, now)
            return self._notice(connection, self._notice_row(connection, row.id), loaded.case, now)

    def escalate(
        self,
        reference: str,
        actor: Actor,
        step: EscalationStep,
        *,
        item_id: int | None = None,
        target: str | None = None,
    ) -> Notice:
        """Record an escalation step taken for an item (or all of the notice's): a minor's
        item goes to the authority only. ``target`` defaults to the step's usual one (the
        platform, the item's host, search engines, the regulator, the authority)."""
        now = self.desk.clock.now()
        try:
            step = EscalationStep(step)
        except ValueError:
            steps = ", ".join(s.value for s in EscalationStep)
            raise NoticeInvalidError("step", f"no escalation step {step!r}: {steps}") from None
        target = _line("target", target, limit=255, required=False)
        with self.desk.store.write() as connection:
            loaded = self._load(connection, reference, actor, staff=True, lock=True)
            row, case_row = loaded.row, loaded.case
            self._check_sent(row, now)
            if case_row.branch == Branch.MINOR and step not in MINOR_LADDER:
                raise NoticeInvalidError(
                    "step", "a minor's item goes straight to the authority: step authority"
                )
            items = self._targets(connection, row, item_id)
            if target is None:
                target = self._default_target(connection, row, items, step)
            connection.execute(
                insert(desk_escalations).values(
                    notice_id=row.id,
                    item_id=item_id,
                    step=step.value,
                    target=target[:255],
                    at=now,
                    actor=actor.label,
                )
            )
            add_event(
                connection,
                case_row.id,
                actor,
                "escalated",
                now,
                item_id=item_id,
                detail={"reference": _reference_of(row), "step": step.value},
            )
            touch(connection, case_row.id, now)
            return self._notice(connection, self._notice_row(connection, row.id), case_row, now)

    # --- reading --------------------------------------------------------------------------

    def get(self, reference: str, actor: Actor, *, case: str | None = None) -> Notice:
        """The notice; ``NoticeNotFoundError`` when there is none, it is not of ``case``
        (when given), or the actor may not see it (one message for all). A victim gives
        ``case``, the case they signed in to: a victim's actor does not say which."""
        with self.desk.store.read() as connection:
            loaded = self._load(connection, reference, actor, case=case)
            return self._notice(connection, loaded.row, loaded.case, self.desk.clock.now())

    def for_case(self, number: str, actor: Actor) -> list[Notice]:
        """The case's notices, oldest first (a victim signed in to the case may read them)."""
        now = self.desk.clock.now()
        with self.desk.store.read() as connection:
            case_row = find_case(connection, number)
            check_owner(actor, case_row)
            rows = connection.execute(
                select(desk_notices)
                .where(desk_notices.c.case_id == case_row.id)
                .order_by(desk_notices.c.id)
            ).all()
            return [self._notice(connection, row, case_row, now) for row in rows]

    def due(self, actor: Actor, *, limit: int = 1000) -> list[DueItem]:
        """Every sent item whose clock runs, most urgent first: minors' items, then overdue,
        then by due time (a flagger: its own cases only)."""
        if actor.kind != "staff":
            raise CaseInvalidError("only staff may do this")
        check_role(actor, DESK_ROLES, "see clocks")
        flagger = actor.key_id if actor.role == Role.FLAGGER else None
        found = self._running(numbers=None, flagger_key_id=flagger)
        return found[: max(0, limit)]

    def case_clocks(self, numbers: Sequence[str]) -> dict[str, NoticeClock]:
        """For each case that has one, its most urgent running clock (the queue's column)."""
        clocks_by_case: dict[str, NoticeClock] = {}
        for item in self._running(numbers=list(numbers), flagger_key_id=None):
            clocks_by_case.setdefault(item.case, item.clock)  # most urgent first
        return clocks_by_case

    # --- the victim -----------------------------------------------------------------------

    def consent(
        self, number: str, actor: Actor, *, name: str, contact: str, signature: str
    ) -> None:
        """The victim's consent for their name and contact to travel in notices that need
        them, with their typed signature (sealed; an adult's own case only: not one an
        association holds). A new consent replaces the one before."""
        identity = {
            "name": _line("name", name),
            "contact": _line("contact", contact, limit=320),
            "signature": _line("signature", signature),
        }
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = self._victim_case(connection, number, actor)
            if row.flagger_key_id is not None:
                raise CaseInvalidError(
                    "an association acts for you on this case: its notices go in its own name, "
                    "never with yours"
                )
            identity["signed_at"] = now.isoformat()
            connection.execute(
                delete(desk_sealed).where(
                    desk_sealed.c.case_id == row.id, desk_sealed.c.field == _IDENTITY
                )
            )
            text = json.dumps(identity, sort_keys=True)
            seal_field(connection, row.id, self.desk.data_key(row), _IDENTITY, text, actor, now)
            add_event(connection, row.id, actor, "consent-given", now)
            touch(connection, row.id, now)

    def withdraw_consent(self, number: str, actor: Actor) -> None:
        """Withdraw that consent: the sealed identity is erased; notices already sent stay."""
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = self._victim_case(connection, number, actor)
            erased = connection.execute(
                delete(desk_sealed).where(
                    desk_sealed.c.case_id == row.id, desk_sealed.c.field == _IDENTITY
                )
            ).rowcount
            if not erased:
                raise CaseStateConflictError(f"case {row.number} has no consent to withdraw")
            add_event(connection, row.id, actor, "consent-withdrawn", now)
            touch(connection, row.id, now)

    def has_consent(self, number: str) -> bool:
        """Whether the case's victim has consented (and signed)."""
        with self.desk.store.read() as connection:
            row = find_case(connection, number)
            found = connection.execute(
                select(
                    exists().where(
                        desk_sealed.c.case_id == row.id, desk_sealed.c.field == _IDENTITY
                    )
                )
            ).scalar_one()
            return bool(found)

    # --- inside a transaction -------------------------------------------------------------

    def _load(
        self,
        connection: Connection,
        ref: str,
        actor: Actor,
        *,
        staff: bool = False,
        lock: bool = False,
        case: str | None = None,
    ) -> _Loaded:
        """The notice and its case, for an actor who may see it (``staff``: act on it; a
        victim: a notice of ``case``, the case they signed in to); ``NoticeNotFoundError``
        alike for a notice that does not exist, one of another case, and one a flagger does
        not hold."""
        if staff and actor.kind != "staff":
            raise CaseInvalidError("only staff may do this")
        if actor.kind == "victim" and case is None:
            raise CaseInvalidError("a victim reads the notices of the case they signed in to")
        found = self._notice_row(connection, notice_id(ref), lock=lock)
        if found is None:
            raise NoticeNotFoundError(f"no notice {ref[:32]!r}")
        case_row = connection.execute(
            select(desk_cases).where(desk_cases.c.id == found.case_id)
        ).one()
        try:
            check_owner(actor, case_row)
            if case is not None and find_case(connection, case).id != case_row.id:
                raise CaseNotFoundError(case)
        except CaseNotFoundError:  # not told which notices exist
            raise NoticeNotFoundError(f"no notice {ref[:32]!r}") from None
        return _Loaded(found, case_row)

    def _notice_row(self, connection: Connection, notice: int, *, lock: bool = False) -> Any:
        query = select(desk_notices).where(desk_notices.c.id == notice)
        if lock:
            query = query.with_for_update()
        return connection.execute(query).first()

    def _victim_case(self, connection: Connection, number: str, actor: Actor) -> Row[Any]:
        """The case, for its victim (signed in: the interface checked), of the adult branch,
        not withdrawn."""
        row = find_case(connection, number)
        if actor.kind != "victim":
            raise CaseInvalidError("only the victim gives or withdraws their consent")
        if row.branch == Branch.MINOR:
            raise CaseInvalidError("a minor's case carries no name or contact in its notices")
        if row.wrapped_key is None:
            raise CaseStateConflictError(f"case {row.number} is withdrawn")
        return row

    def _items(
        self,
        connection: Connection,
        case_row: Row[Any],
        platform: Platform,
        item_ids: Sequence[int] | None,
    ) -> list[int]:
        """The items a draft names: those asked for, each checked, or the default choice."""
        rows = {
            row.id: row
            for row in connection.execute(
                select(desk_items).where(desk_items.c.case_id == case_row.id)
            ).all()
        }
        if item_ids is not None:
            chosen = list(dict.fromkeys(item_ids))
            if not chosen:
                raise NoticeInvalidError("items", "a notice names at least one item")
            for item_id in chosen:
                item = rows.get(item_id)
                if item is None:
                    raise NoticeInvalidError(
                        "items", f"case {case_row.number} has no item {item_id}"
                    )
                if item.state == ItemState.WITHDRAWN:
                    raise NoticeInvalidError("items", f"item {item_id} is withdrawn")
                self._check_host(item, platform)
            return chosen
        named = set(
            connection.execute(
                select(desk_notice_items.c.item_id)
                .join(desk_notices, desk_notices.c.id == desk_notice_items.c.notice_id)
                .where(
                    desk_notices.c.case_id == case_row.id,
                    desk_notices.c.platform == platform.name,
                    desk_notice_items.c.answered_at.is_(None),
                )
            ).scalars()
        )
        chosen = [
            item.id
            for item in rows.values()
            if item.url is not None
            and item.state not in _DONE_ITEMS
            and item.id not in named
            and self._platform_of(item.url) == platform.name
        ]
        if not chosen:
            raise NoticeInvalidError(
                "items",
                f"case {case_row.number} has no item for {platform.name}: none with a URL on "
                f"{', '.join(platform.domains)} that another open notice does not name "
                "already; name the items to notify",
            )
        return sorted(chosen)

    def _platform_of(self, url: str) -> str | None:
        found = self.book.for_url(url)
        return found.name if found is not None else None

    def _check_host(self, item: Row[Any], platform: Platform) -> None:
        if item.url is None:
            raise NoticeInvalidError(
                "url", f"item {item.id} has no URL: a notice names each item's exact URL"
            )
        owner = self._platform_of(item.url)
        if owner != platform.name:
            host = urlsplit(item.url).hostname or "?"
            whose = f"{owner}'s" if owner else "no known platform's"
            raise NoticeInvalidError(
                "url",
                f"item {item.id} is on {host}, {whose} host, not {platform.name}'s "
                f"({', '.join(platform.domains)})",
            )

    def _record(self, connection: Connection, loaded: _Loaded, now: datetime) -> NoticeRecord:
        """As sent (opened from its seal), or as a draft would be sent now."""
        row = loaded.row
        if row.state != NoticeState.SENT:
            return self._fresh_record(connection, loaded, now, sent_at=None)
        if row.sealed is None or loaded.case.wrapped_key is None:
            raise CaseStateConflictError(
                f"case {loaded.case.number} is withdrawn: the record of {_reference_of(row)} "
                f"was erased (its digest {row.digest} stays)"
            )
        text = unseal(
            self.desk.data_key(loaded.case),
            row.sealed,
            case_id=loaded.case.id,
            field=_record_field(row.id),
        )
        return NoticeRecord.from_json(json.loads(text))

    def _fresh_record(
        self, connection: Connection, loaded: _Loaded, now: datetime, *, sent_at: datetime | None
    ) -> NoticeRecord:
        """The record built from the case, the platform and the settings, as of ``now``."""
        row, case_row = loaded.row, loaded.case
        if case_row.wrapped_key is None:
            raise CaseStateConflictError(f"case {case_row.number} is withdrawn")
        platform = self.book.platform(row.platform)
        jurisdictions = [self.book.jurisdictions[name] for name in platform.jurisdictions]
        elements = {element for j in jurisdictions for element in j.elements}
        nature = Nature(row.nature)
        language = row.language
        ground = _LEGAL_GROUNDS[nature]
        texts = _EXPLANATIONS.get(language.split("-")[0], _EXPLANATIONS["en"])
        explanation = texts[nature].format(ground=ground)
        branch = Branch(case_row.branch)
        sealed = self._sealed(case_row)
        options = json.loads(row.options)
        signed_at = sent_at or now
        notifier: Notifier
        victim: Identity | None = None
        signature: Signature | None = None
        if case_row.flagger_key_id is not None:
            key_name = connection.execute(
                select(api_keys.c.name).where(api_keys.c.key_id == case_row.flagger_key_id)
            ).scalar()
            mandate_text = sealed(connection, _MANDATE)
            mandate = Mandate.from_json(json.loads(mandate_text)) if mandate_text else None
            signatory = options.get("signatory")
            notifier = Notifier(
                "association",
                (key_name or "").strip() or self.notifier_name or None,
                self.notifier_email or None,
                self.trusted_flagger or None,
                mandate.reference if mandate else None,
                signatory,
            )
            if signatory:
                signature = Signature(signatory, "authorized", signed_at)
        else:
            notifier = Notifier(
                "deployment",
                self.notifier_name or None,
                self.notifier_email or None,
                self.trusted_flagger or None,
            )
            if "signature" in elements and branch == Branch.ADULT:
                identity_text = sealed(connection, _IDENTITY)
                if identity_text:
                    identity = json.loads(identity_text)
                    victim = Identity(identity["name"], identity["contact"])
                    signature = Signature(
                        identity["signature"],
                        "victim",
                        datetime.fromisoformat(identity["signed_at"]),
                    )
        statements = [BONA_FIDE.id] + ([GOOD_FAITH.id] if "good-faith" in elements else [])
        category = _CATEGORIES[nature]
        items = connection.execute(
            select(desk_items.c.id, desk_items.c.url)
            .join(desk_notice_items, desk_notice_items.c.item_id == desk_items.c.id)
            .where(desk_notice_items.c.notice_id == row.id)
            .order_by(desk_items.c.id)
        ).all()
        content_type: tuple[str, ...] = ("CONTENT_TYPE_IMAGE",)
        if nature in (Nature.DEEPFAKE, Nature.CSAM_DEEPFAKE):
            content_type += ("CONTENT_TYPE_SYNTHETIC_MEDIA",)
        return NoticeRecord(
            reference=_reference_of(row),
            language=language,
            platform=platform.name,
            platform_title=platform.title,
            jurisdictions=tuple(platform.jurisdictions),
            nature=nature,
            legal_ground=ground,
            explanation=explanation,
            items=tuple(NoticeItem(item.id, item.url or "") for item in items),
            notifier=notifier,
            statements=tuple(statements),
            sor=StatementOfReasons(
                decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
                illegal_content_legal_ground=ground,
                illegal_content_explanation=explanation,
                category=category.dsa_category or "",
                category_specification=category.dsa_keywords,
                content_type=content_type,
                source_type="SOURCE_TRUSTED_FLAGGER"
                if self.trusted_flagger
                else "SOURCE_ARTICLE_16",
            ),
            drafted_at=as_utc(row.created_at),
            sent_at=sent_at,
            victim=victim,
            signature=signature,
        )

    def _sealed(self, case_row: Row[Any]) -> Callable[[Connection, str], str | None]:
        """A reader of the case's latest sealed field of a name (its data key opened once)."""
        data_key: list[bytes] = []

        def read(connection: Connection, field: str) -> str | None:
            found = connection.execute(
                select(desk_sealed.c.sealed)
                .where(desk_sealed.c.case_id == case_row.id, desk_sealed.c.field == field)
                .order_by(desk_sealed.c.id.desc())
                .limit(1)
            ).scalar()
            if found is None:
                return None
            if not data_key:
                data_key.append(self.desk.data_key(case_row))
            return unseal(data_key[0], found, case_id=case_row.id, field=field)

        return read

    def _missing(self, record: NoticeRecord, branch: Branch) -> list[tuple[str, str]]:
        """Each element the platform's jurisdictions require that the record lacks, in the
        order the jurisdictions list them."""
        found: dict[str, str] = {}
        if not record.items:
            found["items"] = "the notice names no item"
        for name in record.jurisdictions:
            jurisdiction = self.book.jurisdictions[name]
            for element in jurisdiction.elements:
                why = _lacks(element, record, branch, jurisdiction.law)
                if why is not None and element not in found:
                    found[element] = why
        if record.notifier.kind == "association" and record.notifier.mandate_reference is None:
            found.setdefault(
                "mandate", "the association's mandate has no reference: the case lost it"
            )
        return list(found.items())

    def _check(self, record: NoticeRecord, branch: Branch) -> None:
        missing = self._missing(record, branch)
        if missing:
            raise NoticeInvalidError(*missing[0])

    def _channel_problem(self, platform: Platform) -> tuple[str, str] | None:
        """Why a notice to a platform that takes e-mail cannot be sent from here, if it
        cannot."""
        if platform.channel.kind != ChannelKind.EMAIL:
            return None
        if platform.example:
            return (
                "channel",
                "the example platform is not a real one; add your own profiles in "
                "REMPART_DESK_PLATFORMS",
            )
        if ChannelKind.EMAIL not in self.channels:
            return ("channel", "no mail server to send notices: set REMPART_SMTP_HOST")
        return None

    def _rules(self, row: Row[Any]) -> tuple[clocks.Rule, ...]:
        """The notice's deadline rules: fixed when sent, else its platform's as they are."""
        if row.rules is not None:
            return tuple(clocks.Rule.from_json(rule) for rule in json.loads(row.rules))
        platform = self.book.platform(row.platform)
        return clocks.rules_for(platform, self.book, dsa_hours=self.dsa_hours)

    def _mark_sent(
        self,
        connection: Connection,
        loaded: _Loaded,
        record: NoticeRecord,
        delivery: Delivery,
        actor: Actor,
        now: datetime,
        *,
        kind: Literal["sent", "delivered"] = "sent",
    ) -> None:
        """The notice sent at ``record.sent_at``: its record sealed and digested, its rules
        fixed, its items' clocks started, the delivery and the event written."""
        row, case_row = loaded.row, loaded.case
        sent_at = record.sent_at or now
        rules = self._rules(row)
        text = record.canonical().decode()
        connection.execute(
            update(desk_notices)
            .where(desk_notices.c.id == row.id)
            .values(
                state=NoticeState.SENT.value,
                sent_at=sent_at,
                message_id=delivery.message_id,
                digest=record.digest(),
                sealed=_seal_record(self.desk.data_key(case_row), text, case_row.id, row.id),
                rules=json.dumps([rule.to_json() for rule in rules], sort_keys=True),
                last_error=None,
                updated_at=now,
            )
        )
        order_at = as_utc(row.order_at) if row.order_at is not None else None
        self._restart_clocks(
            connection, row.id, clocks.deadline(rules, sent_at=sent_at, order_at=order_at)
        )
        _delivery_row(connection, row.id, delivery)
        add_event(
            connection,
            case_row.id,
            actor,
            f"notice-{kind}",
            now,
            detail={"reference": record.reference, "platform": record.platform},
        )
        touch(connection, case_row.id, now)

    def _resent(
        self,
        connection: Connection,
        loaded: _Loaded,
        delivery: Delivery,
        actor: Actor,
        now: datetime,
    ) -> None:
        """A sent notice sent again: a delivery more, its Message-ID the latest; its clocks
        go on as they were."""
        row = loaded.row
        connection.execute(
            update(desk_notices)
            .where(desk_notices.c.id == row.id)
            .values(
                state=NoticeState.SENT.value,
                message_id=delivery.message_id,
                last_error=None,
                updated_at=now,
            )
        )
        _delivery_row(connection, row.id, delivery)
        add_event(
            connection,
            loaded.case.id,
            actor,
            "notice-sent",
            now,
            detail={"reference": _reference_of(row), "platform": row.platform, "again": True},
        )
        touch(connection, loaded.case.id, now)

    def _failed(
        self, notice: int, state: NoticeState, actor: Actor, now: datetime, error: str
    ) -> None:
        """A send that failed: the notice back in ``state``, with the error; a failed
        delivery and an event (without the error, which may name the mail server)."""
        with self.desk.store.write() as connection:
            row = self._notice_row(connection, notice, lock=True)
            connection.execute(
                update(desk_notices)
                .where(desk_notices.c.id == notice)
                .values(state=state.value, last_error=error, updated_at=now)
            )
            _delivery_row(
                connection,
                notice,
                Delivery(
                    reference(notice),
                    ChannelKind(row.channel),
                    now,
                    actor.label,
                    ok=False,
                    error=error,
                ),
            )
            add_event(
                connection,
                row.case_id,
                actor,
                "notice-send-failed",
                now,
                detail={"reference": reference(notice), "platform": row.platform},
            )

    def _restart_clocks(self, connection: Connection, notice: int, due: clocks.Deadline) -> None:
        """Each unanswered item's deadline: ``due``, or the one it has when that is stricter."""
        for item in connection.execute(
            select(desk_notice_items).where(
                desk_notice_items.c.notice_id == notice,
                desk_notice_items.c.answered_at.is_(None),
            )
        ).all():
            due_at, reminder_at = due.due_at, due.reminder_at
            if item.due_at is not None and (due_at is None or as_utc(item.due_at) <= due_at):
                due_at, reminder_at = as_utc(item.due_at), _utc(item.reminder_at)
            connection.execute(
                update(desk_notice_items)
                .where(
                    desk_notice_items.c.notice_id == notice,
                    desk_notice_items.c.item_id == item.item_id,
                )
                .values(due_at=due_at, reminder_at=reminder_at)
            )

    def _check_sent(self, row: Row[Any], at: datetime) -> None:
        if row.state != NoticeState.SENT:
            raise NoticeInvalidError(
                "state", f"{_reference_of(row)} is not sent yet: send it or record its delivery"
            )
        if at < as_utc(row.sent_at):
            raise NoticeInvalidError(
                "at", f"{_reference_of(row)} was sent on {as_utc(row.sent_at).isoformat()}, after"
            )

    def _targets(self, connection: Connection, row: Row[Any], item_id: int | None) -> list[int]:
        """The notice's items an answer or a step is for: one, or all."""
        items = list(
            connection.execute(
                select(desk_notice_items.c.item_id)
                .where(desk_notice_items.c.notice_id == row.id)
                .order_by(desk_notice_items.c.item_id)
            ).scalars()
        )
        if item_id is None:
            return items
        if item_id not in items:
            raise NoticeInvalidError("items", f"{_reference_of(row)} does not name item {item_id}")
        return [item_id]

    def _move_items(
        self,
        connection: Connection,
        case_row: Row[Any],
        items: Sequence[int],
        decision: Decision,
        actor: Actor,
        now: datetime,
    ) -> None:
        """Each item moved as the platform decided, where the item's moves allow it (an item
        the victim withdrew, or removed already, stays as it is)."""
        target = {Decision.REMOVED: ItemState.REMOVED, Decision.REFUSED: ItemState.REFUSED}.get(
            decision
        )
        if target is None:
            return
        for item in connection.execute(select(desk_items).where(desk_items.c.id.in_(items))).all():
            current = ItemState(item.state)
            if current == target:
                continue
            try:
                check_item_move(current, target)
            except CaseStateConflictError:
                continue
            set_item_state(connection, case_row.id, item, target, actor, now)

    def _default_target(
        self, connection: Connection, row: Row[Any], items: Sequence[int], step: EscalationStep
    ) -> str:
        if step == EscalationStep.PLATFORM_AGAIN:
            return str(row.platform)
        if step == EscalationStep.HOST:
            urls = connection.execute(
                select(desk_items.c.url).where(desk_items.c.id.in_(items))
            ).scalars()
            hosts = dict.fromkeys(urlsplit(url).hostname or "?" for url in urls if url)
            return ", ".join(hosts)
        if step == EscalationStep.SEARCH_DELISTING:
            return _SEARCH_ENGINES
        if step == EscalationStep.REGULATOR:
            return self.regulator
        return self.desk.authority or "authority"

    def _notice(
        self, connection: Connection, row: Row[Any], case_row: Row[Any], now: datetime
    ) -> Notice:
        """The notice as staff see it, its clocks read at ``now``."""
        ref = _reference_of(row)
        deliveries = [
            Delivery(
                ref,
                ChannelKind(d.channel),
                as_utc(d.at),
                d.actor,
                bool(d.ok),
                d.message_id,
                d.ticket,
                d.how,
                d.error,
            )
            for d in _notice_rows(connection, desk_deliveries, row.id)
        ]
        replies = [
            Reply(
                ref,
                ReplyKind(r.kind),
                as_utc(r.at),
                r.actor,
                r.item_id,
                Decision(r.decision) if r.decision else None,
                r.automated,
                r.redress,
                r.reference,
                r.puid,
            )
            for r in _notice_rows(connection, desk_replies, row.id)
        ]
        escalations = [
            Escalation(ref, EscalationStep(e.step), as_utc(e.at), e.actor, e.item_id, e.target)
            for e in _notice_rows(connection, desk_escalations, row.id)
        ]
        item_rows = connection.execute(
            select(desk_notice_items, desk_items.c.url)
            .join(desk_items, desk_items.c.id == desk_notice_items.c.item_id)
            .where(desk_notice_items.c.notice_id == row.id)
            .order_by(desk_notice_items.c.item_id)
        ).all()
        clock_list = self._clocks(row, Branch(case_row.branch), item_rows, escalations, now)
        return Notice(
            reference=ref,
            case=case_row.number,
            platform=row.platform,
            language=row.language,
            nature=Nature(row.nature),
            state=NoticeState(row.state),
            channel=ChannelKind(row.channel),
            created_by=row.created_by,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            sent_at=_utc(row.sent_at),
            digest=row.digest,
            message_id=row.message_id,
            last_error=row.last_error,
            attempts=row.attempts,
            order_at=_utc(row.order_at),
            order_ref=row.order_ref,
            clocks=tuple(clock_list),
            deliveries=tuple(deliveries),
            replies=tuple(replies),
            escalations=tuple(escalations),
        )

    def _clocks(
        self,
        row: Row[Any],
        branch: Branch,
        item_rows: Sequence[Row[Any]],
        escalations: Sequence[Escalation],
        now: datetime,
    ) -> list[NoticeClock]:
        """Each item's clock at ``now``: its stored times, the jurisdiction that set them."""
        setter = clocks.Deadline(None, None, None, False)
        if row.state == NoticeState.SENT and row.rules is not None:
            setter = clocks.deadline(
                self._rules(row), sent_at=_utc(row.sent_at), order_at=_utc(row.order_at)
            )
        taken: defaultdict[int | None, set[EscalationStep]] = defaultdict(set)
        for escalation in escalations:
            taken[escalation.item_id].add(escalation.step)
        result = []
        for item in item_rows:
            due = clocks.Deadline(
                _utc(item.due_at), _utc(item.reminder_at), setter.jurisdiction, setter.provisional
            )
            status = clocks.clock_status(due, now, answered=item.answered_at is not None)
            outcome = Decision(item.outcome) if item.outcome else None
            steps = taken[None] | taken[item.item_id]
            result.append(
                NoticeClock(
                    item_id=item.item_id,
                    url=item.url,
                    status=status,
                    due_at=due.due_at,
                    reminder_at=due.reminder_at,
                    jurisdiction=due.jurisdiction,
                    provisional=due.provisional,
                    outcome=outcome,
                    suggested=clocks.suggested(branch, status, outcome, steps),
                )
            )
        return result

    def _running(self, *, numbers: list[str] | None, flagger_key_id: str | None) -> list[DueItem]:
        """Every sent, unanswered item (of these cases, of this flagger's), most urgent
        first: minors', then overdue, then by due time."""
        now = self.desk.clock.now()
        query = (
            select(desk_notices.c.id, desk_cases.c.number)
            .join(desk_cases, desk_cases.c.id == desk_notices.c.case_id)
            .where(
                desk_notices.c.state == NoticeState.SENT.value,
                desk_cases.c.wrapped_key.is_not(None),
                exists().where(
                    desk_notice_items.c.notice_id == desk_notices.c.id,
                    desk_notice_items.c.answered_at.is_(None),
                    desk_notice_items.c.due_at.is_not(None),
                ),
            )
        )
        if numbers is not None:
            if not numbers:
                return []
            query = query.where(desk_cases.c.number.in_(numbers))
        if flagger_key_id is not None:
            query = query.where(desk_cases.c.flagger_key_id == flagger_key_id)
        found: list[DueItem] = []
        with self.desk.store.read() as connection:
            for notice, number in connection.execute(query).all():
                row = self._notice_row(connection, notice)
                case_row = find_case(connection, number)
                shown = self._notice(connection, row, case_row, now)
                found.extend(
                    DueItem(number, case_row.branch, shown.reference, shown.platform, clock)
                    for clock in shown.clocks
                    if clock.status in _RUNNING
                )
        found.sort(key=_urgency)
        return found

    def _news(self, number: str) -> None:
        """Tell the victim's news hook, after the commit; its failure is logged (its kind
        only: its message may hold an address), never raised."""
        if self.on_news is None:
            return
        try:
            self.on_news(number)
        except Exception as exc:
            log.warning("the news of a notice could not be told: %s", type(exc).__name__)


def _notice_rows(connection: Connection, table: Table, notice: int) -> Sequence[Row[Any]]:
    """A notice's rows of an append-only table (deliveries, replies, escalations), oldest
    first."""
    return connection.execute(
        select(table).where(table.c.notice_id == notice).order_by(table.c.id)
    ).all()


def _reference_of(row: Row[Any]) -> str:
    """The reference of a ``desk_notices`` row."""
    return reference(row.id)


def _urgency(item: DueItem) -> tuple[int, int, datetime]:
    due = item.clock.due_at
    assert due is not None  # only running clocks
    return (
        0 if item.branch == Branch.MINOR else 1,
        0 if item.clock.status == ClockStatus.OVERDUE else 1,
        due,
    )


def _lacks(element: str, record: NoticeRecord, branch: Branch, law: str) -> str | None:
    """Why the record lacks ``element``, or None when it carries it."""
    notifier = record.notifier
    if element == "explanation":
        ok = bool(record.explanation and record.legal_ground)
        return None if ok else "the notice needs an explanation and its legal ground"
    if element in ("url", "identification"):
        if record.items and all(item.url for item in record.items):
            return None
        return f"each item needs its exact URL ({law})"
    if element == "notifier":
        if branch == Branch.MINOR:
            return None  # DSA Art. 16(2)(c): may be left out for a minor's images
        if not notifier.name:
            return f"the notifier's name is not set: set REMPART_DESK_NOTIFIER_NAME ({law})"
        if not notifier.email:
            return f"the notifier's e-mail is not set: set REMPART_DESK_NOTIFIER_EMAIL ({law})"
        return None
    if element == "bona-fide":
        return None if BONA_FIDE.id in record.statements else "the bona fide statement is missing"
    if element == "good-faith":
        ok = GOOD_FAITH.id in record.statements
        return None if ok else "the good-faith statement is missing"
    if element == "signature":
        if record.signature is not None:
            return None
        if notifier.kind == "association":
            return f"an association signs under its mandate: give the signatory's name ({law})"
        if branch == Branch.MINOR:
            return (
                f"a minor's case carries no one's signature: send it through an association "
                f"under a mandate, or to the authority ({law})"
            )
        return (
            f"the victim has not consented with a typed signature: they sign on their case's "
            f"page ({law})"
        )
    if element == "contact":
        ok = bool((record.victim is not None and record.victim.contact) or notifier.email)
        return None if ok else f"no contact: the victim's, or REMPART_DESK_NOTIFIER_EMAIL ({law})"
    if element == "mandate":
        ok = notifier.kind != "association" or bool(notifier.mandate_reference)
        return None if ok else "the association's mandate has no reference"
    return f"the desk cannot fill the element {element!r} that {law} requires"


def _nature(branch: Branch, nature: Nature | None) -> Nature:
    if branch == Branch.MINOR:
        if nature is None:
            return Nature.CSAM
        if nature not in MINOR_NATURES:
            raise NoticeInvalidError("nature", "a minor's case is always csam or csam-deepfake")
        return Nature(nature)
    if nature is None:
        return Nature.NCII
    try:
        nature = Nature(nature)
    except ValueError:
        raise NoticeInvalidError("nature", f"no nature {nature!r}: ncii or deepfake") from None
    if nature in MINOR_NATURES:
        raise NoticeInvalidError(
            "nature", f"{nature} is for a minor's case; an adult's is ncii or deepfake"
        )
    return nature


def _checked_language(language: str) -> str:
    try:
        return check_language(language)
    except CaseInvalidError as exc:
        raise NoticeInvalidError("language", str(exc)) from None


def _line(
    element: str, value: str | None, *, limit: int = _MAX_LINE, required: bool = True
) -> str | None:
    """The text stripped (None when empty and not ``required``), refused when too long or
    holding control characters."""
    text = (value or "").strip()
    if not text:
        if required:
            raise NoticeInvalidError(element, f"the {element} is required")
        return None
    if len(text) > limit:
        raise NoticeInvalidError(element, f"the {element} is at most {limit} characters")
    if any(not char.isprintable() for char in text):
        raise NoticeInvalidError(element, f"the {element} holds control characters")
    return text


def _past(element: str, at: datetime, now: datetime) -> datetime:
    """``at`` in UTC, refused (naming ``element``) without an offset, when its UTC falls off
    the calendar (year 1 east of Greenwich), or in the future."""
    if at.tzinfo is None:
        raise NoticeInvalidError(element, f"the time {at.isoformat()} has no time zone")
    try:
        at = at.astimezone(UTC)  # stored as UTC: SQLite keeps no offset
    except OverflowError:
        raise NoticeInvalidError(element, f"{element}: {at.isoformat()} is out of range") from None
    if at > now:
        raise NoticeInvalidError(element, f"{at.isoformat()} is in the future")
    return at


def _state_error(row: Row[Any]) -> NoticeInvalidError:
    ref = _reference_of(row)
    if row.state == NoticeState.SENDING:
        return NoticeInvalidError("state", f"{ref} is being sent; wait for that attempt's outcome")
    sent = as_utc(row.sent_at).isoformat() if row.sent_at else "?"
    return NoticeInvalidError("state", f"{ref} was sent on {sent}; a reviewer may send it again")


def _record_field(notice: int) -> str:
    """The seal's field name of a notice's record (its associated data)."""
    return f"notice-{notice}"


def _seal_record(data_key: bytes, text: str, case_id: int, notice: int) -> bytes:
    return seal(data_key, text, case_id=case_id, field=_record_field(notice))


def _delivery_row(connection: Connection, notice: int, delivery: Delivery) -> None:
    connection.execute(
        insert(desk_deliveries).values(
            notice_id=notice,
            at=delivery.at,
            actor=delivery.actor,
            channel=delivery.channel.value,
            ok=delivery.ok,
            message_id=delivery.message_id,
            ticket=delivery.ticket,
            how=delivery.how,
            error=delivery.error,
        )
    )


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None
