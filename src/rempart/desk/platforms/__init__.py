"""Platforms and jurisdictions as data: the built-in jurisdictions and example platform
(``*.yaml`` beside this file) and the deployment's own profiles (``REMPART_DESK_PLATFORMS``),
checked like policies, each error naming its file and line.

A platform profile says where its content lives (``domains``: an item's host is equal to or
under one), which laws bind it (``jurisdictions``), how it takes notices (``channel``), in
which language, whether it is a DSA online platform, and whether it is the deployment's own
service (``own``). A jurisdiction says how many hours a platform has, counted from what
(the notice sent, or an authority's order), whether that figure is provisional, and which
elements a notice under it must carry.

A file holds ``version: 1`` and either or both of ``jurisdictions`` and ``platforms``, each a
mapping from names to entries::

    version: 1
    platforms:
      pics:
        title: Pics
        domains: [pics.example.net]
        jurisdictions: [eu-dsa]
        channel:
          email: abuse@pics.example.net
        language: en
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from rempart.desk.model import check_language
from rempart.desk.notice_model import ChannelKind
from rempart.desk.platforms.files import Node, parse, read_folder
from rempart.errors import CaseInvalidError, PlatformUnknownError

__all__ = [
    "BUILTIN_FILES",
    "DEPLOYMENT_HOURS",
    "ELEMENTS",
    "Channel",
    "Jurisdiction",
    "Platform",
    "PlatformBook",
    "normalise_host",
]

DEPLOYMENT_HOURS: Final = "deployment"
"""A jurisdiction's ``hours`` when the deployment sets them (the DSA's "without undue
delay": ``Settings.dsa_hours``)."""
ELEMENTS: Final = (
    "explanation",
    "url",
    "notifier",
    "bona-fide",
    "signature",
    "identification",
    "good-faith",
    "contact",
    "mandate",
)
"""The elements a jurisdiction may require of a notice (``rempart.desk.notices`` checks each)."""
BUILTIN_FILES: Final = ("jurisdictions.yaml", "example.yaml")
MAX_ENTRIES: Final = 10_000
"""Platforms and jurisdictions all files together may define."""
MAX_HOURS: Final = 24 * 366
_NAME: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_EMAIL_LOCAL: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_FILE_KEYS: Final = {"version": True, "jurisdictions": False, "platforms": False}
_JURISDICTION_KEYS: Final = {
    "title": True,
    "law": True,
    "hours": True,
    "starts": False,
    "provisional": False,
    "elements": True,
}
_PLATFORM_KEYS: Final = {
    "title": False,
    "domains": True,
    "jurisdictions": True,
    "dsa_online_platform": False,
    "channel": True,
    "language": False,
    "own": False,
    "example": False,
}


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """A law a platform answers to: its deadline in hours (None: the deployment's own,
    ``DEPLOYMENT_HOURS`` in the file), counted from ``starts`` (``sent``: the notice's
    sending; ``order``: an authority's removal order), whether the figure is provisional, and
    the elements a notice under it must carry."""

    name: str
    title: str
    law: str
    hours: int | None
    starts: Literal["sent", "order"]
    provisional: bool
    elements: tuple[str, ...]
    source: str
    """``file:line`` it was read from."""

    def to_json(self) -> dict[str, Any]:
        """The jurisdiction as a JSON-ready dict (``hours`` None: the deployment's)."""
        return {**asdict(self), "elements": list(self.elements)}


@dataclass(frozen=True, slots=True)
class Channel:
    """How a platform takes notices: ``email`` (``address`` an e-mail address), ``form``
    (``address`` the form's https URL, filled by hand) or ``manual`` (``address`` says how)."""

    kind: ChannelKind
    address: str


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform's profile."""

    name: str
    title: str
    domains: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    dsa_online_platform: bool
    channel: Channel
    language: str
    own: bool
    example: bool
    """The shipped example: listed, matched, but never sent to by SMTP."""
    source: str
    """``file:line`` it was read from."""

    def to_json(self) -> dict[str, Any]:
        """The profile as a JSON-ready dict."""
        return {
            **asdict(self),
            "domains": list(self.domains),
            "jurisdictions": list(self.jurisdictions),
            "channel": {"kind": self.channel.kind.value, "address": self.channel.address},
        }

    def covers(self, host: str) -> bool:
        """Whether ``host`` (lowercase, IDNA) is one of its domains or under one."""
        key = normalise_host(host)
        return key is not None and any(_under(key, domain) for domain in self.domains)


@dataclass(frozen=True, slots=True)
class PlatformBook:
    """Every jurisdiction and platform the desk knows: the built-in ones and the
    deployment's."""

    jurisdictions: Mapping[str, Jurisdiction]
    platforms: Mapping[str, Platform]
    _by_domain: Mapping[str, Platform] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_domain = {d: p for p in self.platforms.values() for d in p.domains}
        object.__setattr__(self, "_by_domain", by_domain)

    @classmethod
    def load(cls, folder: Path | None = None) -> PlatformBook:
        """The built-in files and, when given, every ``*.yaml`` of ``folder`` (sorted);
        ``PlatformFileError`` naming the file and line of the first error."""
        here = resources.files(__name__)
        files = [parse(f"built-in/{name}", (here / name).read_bytes()) for name in BUILTIN_FILES]
        if folder is not None:
            files += read_folder(folder)
        return _Builder().book(files)

    def platform(self, name: str) -> Platform:
        """The platform of this name; ``PlatformUnknownError`` naming the known ones."""
        found = self.platforms.get(name.strip().lower())
        if found is None:
            known = ", ".join(sorted(self.platforms)) or "none"
            raise PlatformUnknownError(f"no platform {name!r}; known: {known}")
        return found

    def for_url(self, url: str) -> Platform | None:
        """The platform whose domains cover the URL's host (the longest matching domain
        wins); None when no profile names it."""
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError:
            return None
        key = normalise_host(host or "")
        while key:
            if key in self._by_domain:
                return self._by_domain[key]
            key = key.partition(".")[2]
        return None


def normalise_host(host: str) -> str | None:
    """``host`` as domains are kept: lowercase, ASCII (IDNA), without a trailing dot; None
    when it is no host name (an address, a wildcard, a label too long)."""
    host = host.strip().rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return None
    return host if all(_LABEL.fullmatch(label) for label in labels) else None


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


class _Builder:
    """Reads the files' entries into jurisdictions and platforms, checking each."""

    def __init__(self) -> None:
        self.jurisdictions: dict[str, Jurisdiction] = {}
        self.platforms: dict[str, Platform] = {}
        self.domains: dict[str, str] = {}
        """Each domain's platform name and ``file:line``."""

    def book(self, files: Sequence[Node]) -> PlatformBook:
        """Every file's jurisdictions first (a platform may name one another file defines),
        then their platforms."""
        entries = [entry for root in files for entry in _entries(root)]
        if len(entries) > MAX_ENTRIES:
            entries[MAX_ENTRIES][1].fail(f"more than {MAX_ENTRIES} entries in all the files")
        for section, key, value in entries:
            if section == "jurisdictions":
                self._jurisdiction(key, value)
        for section, key, value in entries:
            if section == "platforms":
                self._platform(key, value)
        return PlatformBook(self.jurisdictions, self.platforms)

    def _jurisdiction(self, key: Node, value: Node) -> None:
        name = _name(key, "jurisdiction")
        if name in self.jurisdictions:
            first = self.jurisdictions[name].source
            key.fail(
                f"jurisdiction {name!r} is defined at {first} already; give yours another name"
            )
        where = f"jurisdiction {name!r}"
        fields = value.fields(where, _JURISDICTION_KEYS)
        elements = fields["elements"].items(f"{where}: elements")
        for element in elements:
            element.choice("an element", ELEMENTS)
        starts = fields["starts"].choice("starts", ("sent", "order")) if "starts" in fields else ""
        self.jurisdictions[name] = Jurisdiction(
            name=name,
            title=fields["title"].text("title"),
            law=fields["law"].text("law"),
            hours=_hours(fields["hours"]),
            starts="order" if starts == "order" else "sent",
            provisional=_flag(fields, "provisional"),
            elements=tuple(element.text("an element") for element in elements),
            source=key.source,
        )

    def _platform(self, key: Node, value: Node) -> None:
        name = _name(key, "platform")
        if name in self.platforms:
            key.fail(f"platform {name!r} is defined at {self.platforms[name].source} already")
        where = f"platform {name!r}"
        fields = value.fields(where, _PLATFORM_KEYS)
        domains = []
        for node in fields["domains"].items(f"{where}: domains"):
            domain = _domain(node)
            if domain in self.domains:
                node.fail(f"domain {domain!r} is platform {self.domains[domain]}")
            self.domains[domain] = f"{name!r}'s ({node.source})"
            domains.append(domain)
        laws = fields["jurisdictions"].items(f"{where}: jurisdictions")
        for law in laws:
            law.choice("a jurisdiction", tuple(self.jurisdictions))
        self.platforms[name] = Platform(
            name=name,
            title=fields["title"].text("title") if "title" in fields else name,
            domains=tuple(domains),
            jurisdictions=tuple(law.text("a jurisdiction") for law in laws),
            dsa_online_platform=_flag(fields, "dsa_online_platform"),
            channel=_channel(fields["channel"]),
            language=_language(fields["language"]) if "language" in fields else "en",
            own=_flag(fields, "own"),
            example=_flag(fields, "example"),
            source=key.source,
        )


def _entries(root: Node) -> Iterator[tuple[str, Node, Node]]:
    """A file's entries: ``(section, name's node, entry's node)``."""
    top = root.fields("the file", _FILE_KEYS)
    version = top["version"].integer("version")
    if version != 1:
        top["version"].fail(f"version {version} is not one this Rempart reads: write 1")
    for section in ("jurisdictions", "platforms"):
        if section in top:
            for key, value in top[section].pairs(section):
                yield section, key, value


def _name(key: Node, what: str) -> str:
    name = key.text(f"a {what}'s name")
    if not _NAME.fullmatch(name):
        key.fail(f"{what} {name!r}: a name is lowercase letters, digits and dashes (pics-1)")
    return name


def _hours(node: Node) -> int | None:
    """A jurisdiction's hours: a number, or None for ``deployment``."""
    if node.is_text():
        node.choice("hours", (DEPLOYMENT_HOURS,))
        return None
    hours = node.integer(f"hours ({DEPLOYMENT_HOURS} or a number)")
    if not 0 < hours <= MAX_HOURS:
        node.fail(f"hours must be from 1 to {MAX_HOURS}")
    return hours


def _domain(node: Node) -> str:
    text = node.text("a domain")
    domain = normalise_host(text)
    if domain is None:
        node.fail(
            f"{text!r} is not a host name such as example.com (no scheme, path, port or "
            "wildcard, at least one dot)"
        )
    return domain


def _channel(node: Node) -> Channel:
    """``email: ADDRESS``, ``form: HTTPS-URL`` or ``manual: HOW``."""
    pairs = node.pairs("channel")
    if len(pairs) != 1:
        node.fail("channel must be one of email: ADDRESS, form: URL, manual: HOW")
    key, value = pairs[0]
    kind = ChannelKind(key.choice("channel", tuple(ChannelKind)))
    address = value.text(f"channel {kind}")
    if kind is ChannelKind.EMAIL and not _is_email(address):
        value.fail(f"{address!r} is not an e-mail address such as abuse@example.com")
    if kind is ChannelKind.FORM and not _is_form(address):
        value.fail(f"{address!r} is not an https:// URL of a form")
    return Channel(kind, address)


def _is_email(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and _EMAIL_LOCAL.fullmatch(local) and normalise_host(domain) == domain.lower())


def _is_form(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and normalise_host(parts.hostname or "") is not None
        and not any(char.isspace() for char in url)
    )


def _language(node: Node) -> str:
    """A language tag such as ``en`` or ``fr-CA``, as ``rempart.desk.model.check_language``."""
    language = node.text("language")
    try:
        return check_language(language)
    except CaseInvalidError as exc:
        node.fail(str(exc))


def _flag(fields: Mapping[str, Node], key: str) -> bool:
    return fields[key].flag(key) if key in fields else False
