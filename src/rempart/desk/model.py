"""What a case is made of, as values: its branch, the actors, the items as reported and as
stored, events, the mandate, the desk's banks; and the checks every reported value passes before
anything is written (``check_items``: URLs http(s) only, no credentials; hashes 64 hex digits
with a quality of at least ``MIN_QUALITY``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from rempart.access.keys import ApiKey
from rempart.access.roles import Role
from rempart.desk.states import CaseState, ItemState
from rempart.errors import CaseInvalidError, HashLowQualityError
from rempart.hashing.pdq import MIN_QUALITY
from rempart.matching.formats import BankCategory

__all__ = [
    "CONFIRMED_BANKS",
    "DESK_BANKS",
    "DESK_SOURCE",
    "MAX_ITEMS",
    "MAX_TEXT",
    "MAX_URL",
    "MINOR_TEXT",
    "SYSTEM",
    "VICTIM",
    "Actor",
    "AgeAnswer",
    "Branch",
    "Case",
    "DeskBank",
    "Event",
    "Item",
    "ItemInput",
    "Mandate",
    "NewCase",
    "SealedField",
    "branch_for",
    "check_items",
    "check_language",
    "check_mandate",
    "check_text",
    "desk_bank",
    "event_row",
    "source_ref",
    "staff",
]

MAX_ITEMS: Final = 100
"""Items one report (or one addition) may hold."""
MAX_URL: Final = 2048
MAX_TEXT: Final = 10_000
"""Characters of a victim's words or a note."""
MAX_MANDATE_TEXT: Final = 2000
DESK_SOURCE: Final = "desk"
"""The ``source`` of the desk's banks (how the watch finds them)."""
_PDQ: Final = re.compile(r"[0-9a-fA-F]{64}")
_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,4})?")


class Branch(StrEnum):
    """Whose image a case is about; asked first, and decides what the case may keep."""

    ADULT = "adult"
    MINOR = "minor"


class AgeAnswer(StrEnum):
    """The first question: how old was the person when the image was made?"""

    UNDER_18 = "under-18"
    ADULT = "adult"
    UNSURE = "unsure"


def branch_for(answer: AgeAnswer) -> Branch:
    """The branch an answer puts a case in: unsure counts as a minor, to be safe."""
    return Branch.ADULT if answer == AgeAnswer.ADULT else Branch.MINOR


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something to a case: the victim (signed in with the case's secret), a staff
    member's API key (with its role), or the system (the watch)."""

    kind: Literal["victim", "staff", "system"]
    key_id: str | None = None
    role: Role | None = None

    def __post_init__(self) -> None:
        if (self.kind == "staff") != (self.key_id is not None and self.role is not None):
            raise ValueError("a staff actor, and only one, has a key id and a role")

    @property
    def label(self) -> str:
        """What the events record: ``victim``, the key id, or ``system``; never an address."""
        return self.key_id if self.key_id is not None else self.kind


VICTIM: Final = Actor("victim")
SYSTEM: Final = Actor("system")


def staff(key: ApiKey) -> Actor:
    """The actor for a staff member's API key."""
    return Actor("staff", key.key_id, key.role)


@dataclass(frozen=True, slots=True)
class ItemInput:
    """An item as reported: a URL, a PDQ hash (64 hex digits) with its quality, or both.
    ``Desk`` checks it."""

    url: str | None = None
    pdq: str | None = None
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class Mandate:
    """A flagger's authority to act for a victim: the association's reference for the signed
    mandate (the paper stays with the association), what it covers, and when. Sealed."""

    reference: str
    scope: str
    starts: date
    ends: date | None = None

    def to_json(self) -> dict[str, Any]:
        """The mandate as a JSON-ready dict (what its sealed field holds)."""
        return {
            "reference": self.reference,
            "scope": self.scope,
            "starts": self.starts.isoformat(),
            "ends": self.ends.isoformat() if self.ends else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mandate:
        """The mandate ``to_json`` gave."""
        ends = data.get("ends")
        return cls(
            data["reference"],
            data["scope"],
            date.fromisoformat(data["starts"]),
            date.fromisoformat(ends) if ends else None,
        )


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a case. ``confirmed``: a reviewer confirmed its hash, which now blocks."""

    id: int
    url: str | None
    pdq: str | None
    quality: int | None
    state: ItemState
    confirmed: bool
    sightings: int
    last_sighted_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The item as a JSON-ready dict."""
        return {
            "id": self.id,
            "url": self.url,
            "pdq": self.pdq,
            "quality": self.quality,
            "state": self.state.value,
            "confirmed": self.confirmed,
            "sightings": self.sightings,
            "last_sighted_at": _iso(self.last_sighted_at),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to a case (or one of its items), by whom, when."""

    at: datetime
    actor: str
    kind: str
    item_id: int | None
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "item_id": self.item_id,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Case:
    """A case as its victim and staff see it: never its sealed fields or its secret's hash."""

    id: int
    number: str
    branch: Branch
    state: CaseState
    authority: str | None
    flagger_key_id: str | None
    language: str
    created_at: datetime
    updated_at: datetime
    items: tuple[Item, ...]

    def to_json(self) -> dict[str, Any]:
        """The case as a JSON-ready dict."""
        return {
            "number": self.number,
            "branch": self.branch.value,
            "state": self.state.value,
            "authority": self.authority,
            "flagger_key_id": self.flagger_key_id,
            "language": self.language,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "items": [item.to_json() for item in self.items],
        }


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case just reported, with its secret: shown once, never stored."""

    case: Case
    secret: str


@dataclass(frozen=True, slots=True)
class SealedField:
    """A sealed field opened: ``field`` is ``words``, ``note`` or ``mandate`` (its text the
    mandate's JSON); ``author`` the actor who wrote it."""

    field: str
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeskBank:
    """A bank the desk fills: each branch has a review bank (its matches send to review) and
    a confirmed one (its matches block)."""

    name: str
    branch: Branch
    confirmed: bool

    @property
    def category(self) -> BankCategory:
        """What the bank's images are."""
        return BankCategory.NCII if self.branch == Branch.ADULT else BankCategory.CHILD_SEXUAL_ABUSE

    @property
    def review(self) -> bool:
        """Whether its matches send to review instead of blocking."""
        return not self.confirmed

    @property
    def description(self) -> str:
        """What ``rempart bank list`` says of it."""
        status = "confirmed by a reviewer" if self.confirmed else "not yet confirmed"
        return f"hashes reported at the desk ({self.branch.value} branch), {status}"


DESK_BANKS: Final = (
    DeskBank("desk-adult", Branch.ADULT, confirmed=False),
    DeskBank("desk-minor", Branch.MINOR, confirmed=False),
    DeskBank("desk-adult-confirmed", Branch.ADULT, confirmed=True),
    DeskBank("desk-minor-confirmed", Branch.MINOR, confirmed=True),
)
"""The desk's banks, created on first use inside the transaction that first needs them."""
CONFIRMED_BANKS: Final = tuple(bank.name for bank in DESK_BANKS if bank.confirmed)


def event_row(
    case_id: int,
    actor: Actor,
    kind: str,
    at: datetime,
    *,
    item_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``desk_events`` row: who (the actor's label, never an address), what, when; its
    detail as JSON, which never holds sealed text."""
    return {
        "case_id": case_id,
        "item_id": item_id,
        "at": at,
        "actor": actor.label,
        "kind": kind,
        "from_state": None if from_state is None else str(from_state),
        "to_state": None if to_state is None else str(to_state),
        "detail": json.dumps(detail, sort_keys=True) if detail else None,
    }


def source_ref(item_id: int) -> str:
    """What a bank entry records as its source: the item, nothing about the case or person."""
    return f"desk-item:{item_id}"


def desk_bank(branch: Branch, *, confirmed: bool) -> DeskBank:
    """The branch's review bank, or its confirmed one."""
    return next(b for b in DESK_BANKS if b.branch == branch and b.confirmed == confirmed)


MINOR_TEXT: Final = "a minor's case keeps hashes, URLs and metadata only: no words and no notes"
"""Why words and notes are refused on a minor's case."""


def check_items(items: Sequence[ItemInput]) -> list[ItemInput]:
    """The items, checked and normalised (hashes lowercase); the first invalid one raises,
    before anything is written."""
    if not items:
        raise CaseInvalidError("a case needs at least one item: a URL or a hash")
    if len(items) > MAX_ITEMS:
        raise CaseInvalidError(f"at most {MAX_ITEMS} items at once, got {len(items)}")
    return [_check_item(item, number) for number, item in enumerate(items, 1)]


def _check_item(item: ItemInput, number: int) -> ItemInput:
    url = (item.url or "").strip() or None
    if url is None and item.pdq is None:
        raise CaseInvalidError(f"item {number}: give a URL, a hash, or both")
    if url is not None:
        _check_url(url, number)
    pdq = None
    if item.pdq is not None:
        if not _PDQ.fullmatch(item.pdq):
            raise CaseInvalidError(f"item {number}: a PDQ hash is 64 hexadecimal digits")
        pdq = item.pdq.lower()
        quality = item.quality
        if not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
            raise CaseInvalidError(f"item {number}: a hash needs its quality, 0 to 100")
        if quality < MIN_QUALITY:
            raise HashLowQualityError(
                f"item {number}: the photo's hash has quality {quality}, under {MIN_QUALITY}: "
                "it is too plain to be matched; give its URL instead"
            )
    elif item.quality is not None:
        raise CaseInvalidError(f"item {number}: a quality without a hash")
    return ItemInput(url, pdq, item.quality)


def _check_url(url: str, number: int) -> None:
    def refuse(reason: str) -> CaseInvalidError:
        return CaseInvalidError(f"item {number}: {reason}")

    if len(url) > MAX_URL:
        raise refuse(f"a URL is at most {MAX_URL} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise refuse("a URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number
    except ValueError:
        raise refuse("not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise refuse("a URL starts with http:// or https:// and names a host")
    if parts.username is not None or parts.password is not None:
        raise refuse("a URL carries no user name or password")


def check_language(language: str) -> str:
    """A language tag such as ``en`` or ``fr-CA``, as a case records it."""
    if not _LANGUAGE.fullmatch(language) or len(language) > 8:
        raise CaseInvalidError(f"invalid language {language[:16]!r}: a tag such as en or fr")
    return language


def check_text(what: str, text: str | None) -> str | None:
    """The text with its ends stripped (None when empty); refused when too long or not text
    the database can hold."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise CaseInvalidError(f"the {what} may be at most {MAX_TEXT} characters, got {len(text)}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CaseInvalidError(f"the {what} must be valid text") from None
    return text


def check_mandate(mandate: Mandate, today: date) -> None:
    """A mandate with a reference and a scope, in force ``today``."""
    for what, text in (("reference", mandate.reference), ("scope", mandate.scope)):
        if not text.strip() or len(text) > MAX_MANDATE_TEXT:
            raise CaseInvalidError(f"a mandate's {what} is 1 to {MAX_MANDATE_TEXT} characters")
    if mandate.starts > today:
        raise CaseInvalidError(f"the mandate starts on {mandate.starts}, after today")
    if mandate.ends is not None and mandate.ends < today:
        raise CaseInvalidError(f"the mandate ended on {mandate.ends}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
