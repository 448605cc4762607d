"""Statements of reasons (DSA Art. 17) for the decisions the deployment takes on content it
hosts: a notice to a platform marked ``own`` whose decision (``Notices.reply``) removed or
restricted an item gives one statement per item, in the DSA Transparency Database's field
names and values, stored with a ``puid`` that is never reused, and checked before export.
A refusal restricts nothing and makes no statement.

The rules follow the Transparency Database's public source, github.com/digital-services-act/
transparency-database: ``app/Models/Statement.php`` (the allowed values) and
``app/Http/Requests/StatementStoreRequest.php`` (required, conditional, lengths, dates), as read
at commit 006d22e9ab07d245f81ea70495d9f8bdb8e2292b (the one stored version we could reach; the
issue names 69e80a0b, June 2026). That version predates the 2024 API changes, so where it differs
(the STATEMENT_CATEGORY_* and KEYWORD_* lists, ``content_date``, ``category_specification``,
``source_identity``, ``decision_visibility`` as a list, the AUTOMATED_DECISION_* values, the
newer DECISION_VISIBILITY_* and SOURCE_TYPE_OTHER_NOTIFICATION values) the API documentation's
field list is followed instead. Keywords are checked by form (``KEYWORD_`` and capitals), not
against a list, so that one the database adds is not refused here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import insert, select, update

from rempart.desk.notice_model import Decision, Nature, ReplyKind
from rempart.desk.notices import notice_id as number_of
from rempart.desk.notices import reference
from rempart.errors import SorInvalidError
from rempart.store.schema import desk_notices, desk_statements

if TYPE_CHECKING:
    from rempart.desk.model import Actor
    from rempart.desk.notices import Notices

__all__ = [
    "BATCH_LIMIT",
    "Statements",
    "StoredStatement",
    "check",
    "check_batch",
    "new_puid",
    "parse",
]

BATCH_LIMIT: Final = 100
"""The most statements in one ``{"statements": [...]}`` batch."""

DECISION_VISIBILITIES: Final = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARIES: Final = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISIONS: Final = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNTS: Final = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPES: Final = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUNDS: Final = frozenset(
    {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
)
CONTENT_TYPES: Final = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
CATEGORIES: Final = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
        "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
        "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)
SOURCE_TYPES: Final = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
AUTOMATED_DETECTIONS: Final = frozenset({"Yes", "No"})
AUTOMATED_DECISIONS: Final = frozenset(
    {
        "AUTOMATED_DECISION_FULLY",
        "AUTOMATED_DECISION_PARTIALLY",
        "AUTOMATED_DECISION_NOT_AUTOMATED",
    }
)
_RESTRICTIONS: Final = ("decision_visibility", "decision_monetary", "decision_provision")
_ALL_RESTRICTIONS: Final = (*_RESTRICTIONS, "decision_account")
_KEYWORD: Final = re.compile(r"KEYWORD_[A-Z0-9_]+")
_PUID: Final = re.compile(r"[a-zA-Z0-9_-]+")
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL: Final = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_PHONE: Final = re.compile(r"\+?\d(?:[\s.()-]*\d){8,}")
_CASE: Final = re.compile(r"\bR-[A-Z0-9]{10}\b", re.IGNORECASE)
_FREE_TEXT: Final = (
    "decision_facts",
    "illegal_content_legal_ground",
    "illegal_content_explanation",
    "incompatible_content_ground",
    "incompatible_content_explanation",
    "decision_visibility_other",
    "decision_monetary_other",
    "content_type_other",
    "category_specification_other",
    "source_identity",
)
_LIMITS: Final = {
    "decision_facts": 5000,
    "illegal_content_explanation": 2000,
    "incompatible_content_explanation": 2000,
    "illegal_content_legal_ground": 500,
    "incompatible_content_ground": 500,
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "content_type_other": 500,
    "category_specification_other": 500,
    "source_identity": 500,
    "url": 500,
}

_FACTS: Final = {
    Nature.NCII: "An intimate image of an adult, hosted on this service, was reported as shared "
    "without the consent of the person it shows.",
    Nature.DEEPFAKE: "A sexual image generated or altered to show a real adult, hosted on this "
    "service, was reported as made and shared without their consent.",
    Nature.CSAM: "Sexualised imagery of a minor, hosted on this service, was reported.",
    Nature.CSAM_DEEPFAKE: "Sexualised imagery of a minor, generated or altered by an algorithm "
    "and hosted on this service, was reported.",
}
_ACTIONS: Final = {
    Decision.REMOVED: ("DECISION_VISIBILITY_CONTENT_REMOVED", "The service removed it."),
    Decision.RESTRICTED: (
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "The service disabled access to it.",
    ),
}


def new_puid() -> str:
    """A fresh platform unique identifier, ``rempart-`` and 32 hex digits."""
    return f"rempart-{uuid.uuid4().hex}"


# --- checking -------------------------------------------------------------------------------


def check(statement: Any, *, forbidden: Iterable[str] = ()) -> None:
    """Refuse (``SorInvalidError`` naming the field) a statement the Transparency Database
    would refuse, or one whose free text holds an e-mail address, a phone number, a case number
    or any of ``forbidden`` (the sealed values of the case it comes from)."""
    if not isinstance(statement, Mapping):
        raise SorInvalidError("statement", "a statement is a JSON object")
    s: Mapping[str, Any] = statement
    _restrictions(s)
    _one_of(s, "decision_ground", DECISION_GROUNDS)
    ground = s["decision_ground"]
    if ground == "DECISION_GROUND_ILLEGAL_CONTENT":
        _text(s, "illegal_content_legal_ground")
        _text(s, "illegal_content_explanation")
    else:
        _text(s, "incompatible_content_ground")
        _text(s, "incompatible_content_explanation")
    types = _list_of(s, "content_type", CONTENT_TYPES)
    if "CONTENT_TYPE_OTHER" in types:
        _text(s, "content_type_other")
    _one_of(s, "category", CATEGORIES)
    keywords = s.get("category_specification")
    if keywords is not None:
        if not isinstance(keywords, list) or not all(
            isinstance(k, str) and _KEYWORD.fullmatch(k) for k in keywords
        ):
            raise SorInvalidError(
                "category_specification", "a list of KEYWORD_ values of the category"
            )
        if "KEYWORD_OTHER" in keywords:
            _text(s, "category_specification_other")
    _day(s, "content_date", date(2000, 1, 1))
    _day(s, "application_date", date(2020, 1, 1))
    _text(s, "decision_facts")
    _one_of(s, "source_type", SOURCE_TYPES)
    if s.get("source_identity") not in (None, "") and s["source_type"] != "SOURCE_TRUSTED_FLAGGER":
        raise SorInvalidError(
            "source_identity",
            "only a trusted flagger is named (source_type SOURCE_TRUSTED_FLAGGER)",
        )
    _one_of(s, "automated_detection", AUTOMATED_DETECTIONS)
    _one_of(s, "automated_decision", AUTOMATED_DECISIONS)
    if s.get("account_type") is not None:
        _one_of(s, "account_type", ACCOUNT_TYPES)
    puid = s.get("puid")
    if not isinstance(puid, str) or not puid:
        raise SorInvalidError("puid", "is required")
    if len(puid) > 500 or not _PUID.fullmatch(puid):
        raise SorInvalidError("puid", "at most 500 letters, digits, '-' and '_'")
    for name, limit in _LIMITS.items():
        value = s.get(name)
        if value is not None and not isinstance(value, str):
            raise SorInvalidError(name, "is text")
        if isinstance(value, str) and len(value) > limit:
            raise SorInvalidError(name, f"at most {limit} characters, not {len(value)}")
    _no_personal_data(s, [value for value in forbidden if value])


def check_batch(statements: Sequence[Any], *, forbidden: Iterable[str] = ()) -> None:
    """Check each statement (the field named ``statements[N].field``), their puids distinct,
    and at most ``BATCH_LIMIT`` of them."""
    if len(statements) > BATCH_LIMIT:
        raise SorInvalidError(
            "statements", f"at most {BATCH_LIMIT} in one batch, not {len(statements)}"
        )
    words = list(forbidden)
    seen: set[str] = set()
    for index, statement in enumerate(statements):
        try:
            check(statement, forbidden=words)
        except SorInvalidError as error:
            raise SorInvalidError(
                f"statements[{index}].{error.field}", str(error).split(": ", 1)[-1]
            ) from None
        puid = statement["puid"]
        if puid in seen:
            raise SorInvalidError(f"statements[{index}].puid", f"{puid!r} is used twice")
        seen.add(puid)


def parse(text: str | bytes) -> list[Any]:
    """The statements of a JSON document: one statement, or ``{"statements": [...]}``;
    ``SorInvalidError`` when it is neither."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SorInvalidError("statements", f"not JSON: {error}") from None
    if isinstance(data, dict) and "statements" in data:
        statements = data["statements"]
        if not isinstance(statements, list):
            raise SorInvalidError("statements", "a list of statements")
        return statements
    if not isinstance(data, dict):
        raise SorInvalidError("statements", 'one statement, or {"statements": [...]}')
    return [data]


def _restrictions(s: Mapping[str, Any]) -> None:
    if all(s.get(name) in (None, "", []) for name in _ALL_RESTRICTIONS):
        raise SorInvalidError(
            "decision_visibility",
            "one of decision_visibility, decision_monetary, decision_provision or "
            "decision_account is required",
        )
    if s.get("decision_visibility") not in (None, "", []):
        visibility = _list_of(s, "decision_visibility", DECISION_VISIBILITIES)
        if "DECISION_VISIBILITY_OTHER" in visibility:
            _text(s, "decision_visibility_other")
    if s.get("decision_monetary") not in (None, ""):
        _one_of(s, "decision_monetary", DECISION_MONETARIES)
        if s["decision_monetary"] == "DECISION_MONETARY_OTHER":
            _text(s, "decision_monetary_other")
    if s.get("decision_provision") not in (None, ""):
        _one_of(s, "decision_provision", DECISION_PROVISIONS)
    if s.get("decision_account") not in (None, ""):
        _one_of(s, "decision_account", DECISION_ACCOUNTS)


def _one_of(s: Mapping[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = s.get(name)
    if value in (None, ""):
        raise SorInvalidError(name, "is required")
    if not isinstance(value, str) or value not in allowed:
        raise SorInvalidError(name, f"{value!r} is not one of {', '.join(sorted(allowed))}")
    return value


def _list_of(s: Mapping[str, Any], name: str, allowed: frozenset[str]) -> list[str]:
    value = s.get(name)
    if isinstance(value, str):
        value = [value]
    if not value:
        raise SorInvalidError(name, "is required")
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        raise SorInvalidError(name, f"a list of {', '.join(sorted(allowed))}")
    return value


def _text(s: Mapping[str, Any], name: str) -> None:
    value = s.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SorInvalidError(name, "is required")


def _day(s: Mapping[str, Any], name: str, earliest: date) -> None:
    value = s.get(name)
    if not isinstance(value, str) or not value:
        raise SorInvalidError(name, "is required")
    try:
        if not _DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise SorInvalidError(name, f"{value!r} is not a YYYY-MM-DD date") from None
    if day < earliest:
        raise SorInvalidError(name, f"{value} is before {earliest.isoformat()}")


def _no_personal_data(s: Mapping[str, Any], forbidden: list[str]) -> None:
    for name in _FREE_TEXT:
        value = s.get(name)
        if not isinstance(value, str):
            continue
        if _EMAIL.search(value):
            raise SorInvalidError(name, "holds an e-mail address: no personal data")
        if _PHONE.search(value):
            raise SorInvalidError(name, "holds a phone number: no personal data")
        if _CASE.search(value):
            raise SorInvalidError(name, "holds a case number: no personal data")
        folded = value.casefold()
        if any(word.casefold() in folded for word in forbidden):
            raise SorInvalidError(name, "holds a value sealed at the desk: no personal data")


# --- making and storing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredStatement:
    """A statement as stored: its notice and item, when it was made and exported."""

    id: int
    notice_id: int
    item_id: int
    puid: str
    statement: dict[str, Any]
    created_at: datetime
    exported_at: datetime | None


class Statements:
    """Make, keep and export the deployment's statements of reasons."""

    def __init__(self, notices: Notices, *, puids: Callable[[], str] = new_puid) -> None:
        self.notices = notices
        self.desk = notices.desk
        self.puids = puids

    def make(self, reference: str, actor: Actor) -> list[StoredStatement]:
        """The statements for the notice's decisions that removed or restricted an item, made
        (once per item) where a platform marked ``own`` decided; none for another platform's
        notice or for a refusal. Each is checked before it is stored."""
        notice = self.notices.get(reference, actor)
        platform = self.notices.book.platform(notice.platform)
        if not platform.own:
            return []
        record = self.notices.record(reference, actor)
        forbidden = [notice.case]
        if record.victim is not None:
            forbidden += [record.victim.name, record.victim.contact]
        decisions = [r for r in notice.replies if r.kind == ReplyKind.DECISION]
        made: list[StoredStatement] = []
        notice_id = number_of(reference)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            done = set(
                connection.execute(
                    select(desk_statements.c.item_id).where(
                        desk_statements.c.notice_id == notice_id
                    )
                ).scalars()
            )
            for clock in notice.clocks:
                if clock.outcome not in _ACTIONS or clock.item_id in done:
                    continue
                replies = [r for r in decisions if r.item_id in (None, clock.item_id)]
                if not replies:
                    continue
                reply = replies[-1]
                visibility, action = _ACTIONS[Decision(clock.outcome)]
                category = record.sor.category
                keywords = list(record.sor.category_specification)
                statement: dict[str, Any] = {
                    "decision_visibility": [visibility],
                    "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                    "illegal_content_legal_ground": record.legal_ground,
                    "illegal_content_explanation": record.explanation,
                    "content_type": list(record.sor.content_type),
                    "category": category,
                    "category_specification": keywords,
                    # When the content was posted is not known at the desk: the day the notice
                    # was drafted, when it was online, bounds it.
                    "content_date": record.drafted_at.date().isoformat(),
                    "application_date": reply.at.date().isoformat(),
                    "decision_facts": f"{_FACTS[record.nature]} {action}",
                    "source_type": record.sor.source_type,
                    "automated_detection": "No",
                    "automated_decision": "AUTOMATED_DECISION_FULLY"
                    if reply.automated
                    else "AUTOMATED_DECISION_NOT_AUTOMATED",
                    "puid": self.puids(),
                }
                flagger = record.notifier.trusted_flagger
                if record.sor.source_type == "SOURCE_TRUSTED_FLAGGER" and flagger:
                    statement["source_identity"] = record.notifier.name
                check(statement, forbidden=forbidden)
                self._check_unused(connection, statement["puid"])
                row_id = connection.execute(
                    insert(desk_statements)
                    .values(
                        notice_id=notice_id,
                        item_id=clock.item_id,
                        puid=statement["puid"],
                        statement=json.dumps(statement, sort_keys=True),
                        created_at=now,
                    )
                    .returning(desk_statements.c.id)
                ).scalar_one()
                made.append(
                    StoredStatement(
                        row_id, notice_id, clock.item_id, statement["puid"], statement, now, None
                    )
                )
        return made

    def make_all(self, actor: Actor) -> list[StoredStatement]:
        """``make`` for every notice to a platform marked ``own``."""
        own = [name for name, platform in self.notices.book.platforms.items() if platform.own]
        if not own:
            return []
        with self.desk.store.read() as connection:
            ids = list(
                connection.execute(
                    select(desk_notices.c.id)
                    .where(desk_notices.c.platform.in_(own))
                    .order_by(desk_notices.c.id)
                ).scalars()
            )
        made: list[StoredStatement] = []
        for notice_id in ids:
            made += self.make(reference(notice_id), actor)
        return made

    def stored(self, *, since: date | None = None) -> list[StoredStatement]:
        """The stored statements, oldest first; with ``since``, those made on or after it."""
        query = select(desk_statements).order_by(desk_statements.c.id)
        with self.desk.store.read() as connection:
            rows = connection.execute(query).all()
        out = [
            StoredStatement(
                row.id,
                row.notice_id,
                row.item_id,
                row.puid,
                json.loads(row.statement),
                row.created_at,
                row.exported_at,
            )
            for row in rows
        ]
        if since is not None:
            out = [s for s in out if _day_of(s.created_at) >= since]
        return out

    def mark_exported(self, ids: Sequence[int]) -> None:
        """Record that these statements were exported, now."""
        if not ids:
            return
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            connection.execute(
                update(desk_statements)
                .where(desk_statements.c.id.in_(list(ids)))
                .values(exported_at=now)
            )

    @staticmethod
    def _check_unused(connection: Any, puid: str) -> None:
        used = connection.execute(
            select(desk_statements.c.id).where(desk_statements.c.puid == puid)
        ).first()
        if used is not None:
            raise SorInvalidError("puid", f"{puid!r} is already used: a puid is never reused")


def _day_of(moment: datetime) -> date:
    return moment.date()
