"""What a notice is made of, as values: the canonical record every rendering (text, HTML,
PDF) is made from, the statements it quotes word for word (versioned), the suggested
statement of reasons, and what a platform answers.

A notice names one platform and several items of one case. Its record is built from the case,
the platform's profile and the deployment's settings, checked element by element before it
is sent (``rempart.desk.notices``), and frozen when sent: what was sent is what is shown
afterwards, whatever changed since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

__all__ = [
    "BONA_FIDE",
    "ESCALATION_LADDER",
    "GOOD_FAITH",
    "MINOR_LADDER",
    "RECORD_VERSION",
    "STATEMENTS",
    "ChannelKind",
    "ClockStatus",
    "Decision",
    "Delivery",
    "DueItem",
    "Escalation",
    "EscalationStep",
    "Identity",
    "Nature",
    "Notice",
    "NoticeClock",
    "NoticeItem",
    "NoticeRecord",
    "NoticeState",
    "Notifier",
    "Reply",
    "ReplyKind",
    "Signature",
    "Statement",
    "StatementOfReasons",
]

RECORD_VERSION: Final = 1
"""The canonical record's format; a change of fields is a new version."""


class Nature(StrEnum):
    """What the items are, which sets the legal ground and the suggested DSA category: a
    minor's case is always ``csam`` or ``csam-deepfake``."""

    NCII = "ncii"
    """Intimate images of an adult shared without consent (C. pén. art. 226-2-1)."""
    DEEPFAKE = "deepfake"
    """A sexual deepfake of an adult (C. pén. art. 226-8-1)."""
    CSAM = "csam"
    """Sexualised imagery of a minor (C. pén. art. 227-23)."""
    CSAM_DEEPFAKE = "csam-deepfake"
    """Sexualised imagery of a minor generated or altered by an algorithm (C. pén. art.
    227-23, as ``csam``)."""


MINOR_NATURES: Final = frozenset({Nature.CSAM, Nature.CSAM_DEEPFAKE})
"""The natures of a minor's case (and only of one)."""


class NoticeState(StrEnum):
    """Where a notice stands. ``sending`` while a channel has it: a second send waits for the
    first's outcome instead of sending twice."""

    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"


class ChannelKind(StrEnum):
    """How a platform takes notices: an e-mail address (sent by SMTP), a web form a reviewer
    fills by hand, or another way a reviewer records."""

    EMAIL = "email"
    FORM = "form"
    MANUAL = "manual"


class ReplyKind(StrEnum):
    """A platform's answer: a receipt (DSA Art. 16(4)) or a decision."""

    RECEIPT = "receipt"
    DECISION = "decision"


class Decision(StrEnum):
    """What a platform decided on an item."""

    REMOVED = "removed"
    RESTRICTED = "restricted"
    REFUSED = "refused"


class ClockStatus(StrEnum):
    """Where an item's clock stands when read: not sent yet, running, past half time (a
    reminder is due), past its deadline, or answered by a decision (the clock stopped)."""

    NOT_SENT = "not-sent"
    RUNNING = "running"
    REMINDER = "reminder"
    OVERDUE = "overdue"
    ANSWERED = "answered"


class EscalationStep(StrEnum):
    """A step up the ladder when a platform is silent or refuses."""

    PLATFORM_AGAIN = "platform-again"
    HOST = "host"
    SEARCH_DELISTING = "search-delisting"
    REGULATOR = "regulator"
    AUTHORITY = "authority"


ESCALATION_LADDER: Final = tuple(EscalationStep)
"""The steps for an adult's item, in order."""
MINOR_LADDER: Final = (EscalationStep.AUTHORITY,)
"""A minor's item goes straight to the authority channel."""


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement a notice quotes word for word: its id (with its version) and its text in
    each language the desk speaks."""

    id: str
    law: str
    texts: Mapping[str, str]

    def text(self, language: str) -> str:
        """The text in ``language``, else in English."""
        return self.texts.get(language.split("-")[0], self.texts["en"])


BONA_FIDE: Final = Statement(
    "dsa-16-2-d/1",
    "Regulation (EU) 2022/2065 (DSA), Art. 16(2)(d)",
    {
        "en": "I confirm my bona fide belief that the information and allegations contained "
        "in this notice are accurate and complete.",
        "fr": "Je confirme croire de bonne foi que les informations et allégations contenues "
        "dans la présente notification sont exactes et complètes.",
    },
)
GOOD_FAITH: Final = Statement(
    "tida-3-a-1-b-iii/1",
    "TAKE IT DOWN Act, § 3(a)(1)(B)(iii)",
    {
        "en": "The identifiable individual has a good faith belief that each intimate visual "
        "depiction identified in this notice is not consensual: it was published without "
        "their consent.",
        "fr": "La personne identifiable croit de bonne foi que chaque représentation visuelle "
        "intime identifiée dans la présente notification n'est pas consentie : elle a été "
        "publiée sans son consentement.",
    },
)
STATEMENTS: Final = {statement.id: statement for statement in (BONA_FIDE, GOOD_FAITH)}


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """One item a notice names: the desk's item id and its exact URL."""

    item_id: int
    url: str


@dataclass(frozen=True, slots=True)
class Notifier:
    """Who sends the notice: the association (a flagger, under the victim's mandate) or the
    deployment, in its own name; ``trusted_flagger`` the Digital Services Coordinator that
    awarded it the status, when it has it. ``name`` and ``email`` are None only where the
    minor branch lets them be left out (DSA Art. 16(2)(c))."""

    kind: Literal["association", "deployment"]
    name: str | None
    email: str | None
    trusted_flagger: str | None = None
    mandate_reference: str | None = None
    signatory: str | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """The victim's name and contact, opened from their sealed field: in a record only where
    a jurisdiction needs them, with the victim's consent; never in an association's notice,
    never on a minor's case."""

    name: str
    contact: str


@dataclass(frozen=True, slots=True)
class Signature:
    """A typed (electronic) signature: the victim's, with their consent, or the authorized
    person's (an association's signatory, under a mandate)."""

    name: str
    by: Literal["victim", "authorized"]
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class StatementOfReasons:
    """What the notice suggests for the platform's own Art. 17 statement, in the DSA
    Transparency Database's field names and values."""

    decision_ground: str
    illegal_content_legal_ground: str
    illegal_content_explanation: str
    category: str
    category_specification: tuple[str, ...]
    content_type: tuple[str, ...]
    source_type: str


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """The canonical notice: everything a rendering shows, nothing it does not. ``to_json``
    gives the form that is sealed, digested and attached to the PDF."""

    reference: str
    """``N-<id>`` of the notice. Not the case's number: half the victim's credential, it stays
    at the desk."""
    language: str
    platform: str
    platform_title: str
    jurisdictions: tuple[str, ...]
    nature: Nature
    legal_ground: str
    explanation: str
    items: tuple[NoticeItem, ...]
    notifier: Notifier
    statements: tuple[str, ...]
    """Ids of ``STATEMENTS`` the notice quotes (the bona fide one always)."""
    sor: StatementOfReasons
    drafted_at: datetime
    sent_at: datetime | None = None
    victim: Identity | None = None
    signature: Signature | None = None
    version: int = RECORD_VERSION
    extra: Mapping[str, str] = field(default_factory=dict)
    """Free lines a jurisdiction's template needs (none in version 1)."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (times ISO 8601, enums their values)."""
        return _json_ready(self)

    def canonical(self) -> bytes:
        """The record's canonical bytes: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> str:
        """SHA-256 of ``canonical()``, hex."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NoticeRecord:
        """The record ``to_json`` gave."""
        signature = data.get("signature")
        victim = data.get("victim")
        sent_at = data.get("sent_at")
        sor = dict(data["sor"])
        sor["category_specification"] = tuple(sor["category_specification"])
        sor["content_type"] = tuple(sor["content_type"])
        return cls(
            reference=data["reference"],
            language=data["language"],
            platform=data["platform"],
            platform_title=data["platform_title"],
            jurisdictions=tuple(data["jurisdictions"]),
            nature=Nature(data["nature"]),
            legal_ground=data["legal_ground"],
            explanation=data["explanation"],
            items=tuple(NoticeItem(i["item_id"], i["url"]) for i in data["items"]),
            notifier=Notifier(**data["notifier"]),
            statements=tuple(data["statements"]),
            sor=StatementOfReasons(**sor),
            drafted_at=datetime.fromisoformat(data["drafted_at"]),
            sent_at=datetime.fromisoformat(sent_at) if sent_at else None,
            victim=Identity(**victim) if victim else None,
            signature=Signature(
                signature["name"], signature["by"], datetime.fromisoformat(signature["signed_at"])
            )
            if signature
            else None,
            version=int(data.get("version", RECORD_VERSION)),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver a notice: by a channel (its Message-ID) or recorded by hand
    (when, how, the platform's ticket number); ``error`` when it failed."""

    notice: str
    channel: ChannelKind
    at: datetime
    actor: str
    ok: bool
    message_id: str | None = None
    ticket: str | None = None
    how: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The delivery as a JSON-ready dict."""
        return _json_ready(self)


@dataclass(frozen=True, slots=True)
class Reply:
    """A platform's answer, for one item (``item_id``) or all of the notice's (None)."""

    notice: str
    kind: ReplyKind
    at: datetime
    actor: str
    item_id: int | None = None
    decision: Decision | None = None
    automated: bool | None = None
    redress: str | None = None
    reference: str | None = None
    puid: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The reply as a JSON-ready dict."""
        return _json_ready(self)


@dataclass(frozen=True, slots=True)
class Escalation:
    """An escalation step taken for a notice's item (None: all of them), toward ``target``."""

    notice: str
    step: EscalationStep
    at: datetime
    actor: str
    item_id: int | None = None
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The escalation as a JSON-ready dict."""
        return _json_ready(self)


@dataclass(frozen=True, slots=True)
class NoticeClock:
    """One item's clock on a notice, as read at ``now``: its due and reminder times, the
    jurisdiction whose deadline is the strictest (and whether that one is provisional), its
    status, and the escalation steps suggested next (empty unless overdue or refused)."""

    item_id: int
    url: str | None
    status: ClockStatus
    due_at: datetime | None
    reminder_at: datetime | None
    jurisdiction: str | None
    provisional: bool
    outcome: Decision | None
    suggested: tuple[EscalationStep, ...]

    def to_json(self) -> dict[str, Any]:
        """The clock as a JSON-ready dict."""
        return _json_ready(self)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice as staff see it: its state, platform, items' clocks, deliveries, replies and
    escalations. Never its record's sealed parts: ``Notices.record`` opens those."""

    reference: str
    case: str
    platform: str
    language: str
    nature: Nature
    state: NoticeState
    channel: ChannelKind
    created_by: str
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    digest: str | None
    message_id: str | None
    last_error: str | None
    attempts: int
    order_at: datetime | None
    order_ref: str | None
    clocks: tuple[NoticeClock, ...]
    deliveries: tuple[Delivery, ...]
    replies: tuple[Reply, ...]
    escalations: tuple[Escalation, ...]

    def to_json(self) -> dict[str, Any]:
        """The notice as a JSON-ready dict."""
        return _json_ready(self)


@dataclass(frozen=True, slots=True)
class DueItem:
    """A notified item whose clock runs, for the due list and the queue: its case (and
    branch), notice, platform and clock."""

    case: str
    branch: str
    notice: str
    platform: str
    clock: NoticeClock

    def to_json(self) -> dict[str, Any]:
        """The due item as a JSON-ready dict."""
        return _json_ready(self)


def _json_ready(value: Any) -> dict[str, Any]:
    """A dataclass as JSON-ready data: times ISO 8601, enums their values, tuples lists."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(value), default=_jsonable))
    return data


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | frozenset):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
