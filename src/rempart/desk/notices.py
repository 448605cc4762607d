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

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from rempart.config import Settings
from rempart.desk.cases import Desk
from rempart.desk.channels import Channel
from rempart.desk.model import Actor
from rempart.desk.notice_model import (
    ChannelKind,
    Decision,
    DueItem,
    EscalationStep,
    Nature,
    Notice,
    NoticeClock,
    NoticeRecord,
    ReplyKind,
)
from rempart.desk.platforms import PlatformBook

__all__ = ["Notices"]


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
        raise NotImplementedError

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        desk: Desk,
        *,
        on_news: Callable[[str], None] | None = None,
    ) -> Notices:
        """The notices as the settings configure them (platforms, notifier, SMTP)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def record(self, reference: str, actor: Actor) -> NoticeRecord:
        """The notice's canonical record: as sent (opened from its seal), or for a draft as
        it would be sent now."""
        raise NotImplementedError

    def missing(self, reference: str, actor: Actor) -> list[tuple[str, str]]:
        """The elements the draft lacks, each as ``(element, why)``: what ``send`` would
        refuse; empty when it may be sent."""
        raise NotImplementedError

    def render(
        self, reference: str, actor: Actor, form: Literal["text", "html", "pdf"]
    ) -> str | bytes:
        """The notice rendered (text and HTML as ``str``, PDF as ``bytes``)."""
        raise NotImplementedError

    # --- sending --------------------------------------------------------------------------

    def send(self, reference: str, actor: Actor, *, again: bool = False) -> Notice:
        """Check every element, then send through the platform's channel and start the
        clocks. A sent notice is sent again only with ``again`` (a reviewer or an admin).
        ``NoticeInvalidError`` (the first missing element, or ``channel`` for a platform
        whose notices go by hand: record the delivery instead), ``DeliveryFailedError`` (the
        notice stays drafted with the error)."""
        raise NotImplementedError

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
        recorded as sent at ``at`` (not in the future), which starts the clocks."""
        raise NotImplementedError

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
        raise NotImplementedError

    def order(self, reference: str, actor: Actor, *, at: datetime, order_ref: str) -> Notice:
        """Record an authority's removal order, which starts the clock of a jurisdiction that
        counts from one (``fr-authority``: 24 hours)."""
        raise NotImplementedError

    def escalate(
        self,
        reference: str,
        actor: Actor,
        step: EscalationStep,
        *,
        item_id: int | None = None,
        target: str | None = None,
    ) -> Notice:
        """Record an escalation step taken for an item (or all of the notice's)."""
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------------

    def get(self, reference: str, actor: Actor) -> Notice:
        """The notice; ``NoticeNotFoundError`` when there is none or the actor may not see
        it (one message for both)."""
        raise NotImplementedError

    def for_case(self, number: str, actor: Actor) -> list[Notice]:
        """The case's notices, oldest first (a victim signed in to the case may read them)."""
        raise NotImplementedError

    def due(self, actor: Actor, *, limit: int = 1000) -> list[DueItem]:
        """Every sent item whose clock runs, most urgent first: minors' items, then overdue,
        then by due time (a flagger: its own cases only)."""
        raise NotImplementedError

    def case_clocks(self, numbers: Sequence[str]) -> dict[str, NoticeClock]:
        """For each case that has one, its most urgent running clock (the queue's column)."""
        raise NotImplementedError

    # --- the victim -----------------------------------------------------------------------

    def consent(
        self, number: str, actor: Actor, *, name: str, contact: str, signature: str
    ) -> None:
        """The victim's consent for their name and contact to travel in notices that need
        them, with their typed signature (sealed; an adult's case only)."""
        raise NotImplementedError

    def withdraw_consent(self, number: str, actor: Actor) -> None:
        """Withdraw that consent: the sealed identity is erased; notices already sent stay."""
        raise NotImplementedError

    def has_consent(self, number: str) -> bool:
        """Whether the case's victim has consented (and signed)."""
        raise NotImplementedError
