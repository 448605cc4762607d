"""python-threatexchange's own exchange clients, made from a credential string and a URL.

Rempart does not speak the exchanges' APIs itself: ``make_api`` builds the library's
``SignalExchangeAPI`` for StopNCII, NCMEC, Meta's ThreatExchange or Tech Against Terrorism, and
``signal_records`` turns each ``FetchDelta`` it yields into plain ``FetchedSignal`` values.

What ``api.fetch_iter(...)`` raises (the caller wraps every one of them; see
``fetch_error_text`` for a message that carries no secret):

- ``requests.HTTPError``: the exchange answered 4xx (401/403: the credential is wrong or expired)
  or, with no retry left, 5xx.
- ``requests.exceptions.RetryError``: 429 or 5xx on every retry (StopNCII, NCMEC and TAT retry
  GETs four times, about 3 s in all); ``requests.ConnectionError`` / ``requests.Timeout``.
- ``ValueError`` (``requests.JSONDecodeError`` is one): a JSON page that does not parse.
- ``xml.etree.ElementTree.ParseError``: an NCMEC page that is not XML; ``Exception`` (bare, from
  pytx's NCMEC client): an XML page that is not an entries page.
- ``dacite.DaciteError``, ``KeyError``, ``TypeError``: a page missing what the client reads.
- ``AssertionError``: pytx's own sanity checks (an empty ThreatExchange page, an NCMEC resume).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias, overload
from urllib.parse import urlsplit

import dacite
import requests
from threatexchange.exchanges import fetch_state
from threatexchange.exchanges.clients.fb_threatexchange.api import (
    ThreatExchangeAPI,
    _CursoredResponse,
    is_valid_app_token,
)
from threatexchange.exchanges.clients.ncmec import hash_api as ncmec_client
from threatexchange.exchanges.clients.stopncii import api as stopncii_client
from threatexchange.exchanges.clients.techagainstterrorism import api as tat_client
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.fb_threatexchange_api import (
    FBThreatExchangeCollabConfig,
    FBThreatExchangeSignalExchangeAPI,
)
from threatexchange.exchanges.impl.ncmec_api import (
    NCMECCollabConfig,
    NCMECSignalExchangeAPI,
)
from threatexchange.exchanges.impl.stop_ncii_api import (
    StopNCIICheckpoint,
    StopNCIISignalExchangeAPI,
    StopNCIISignalMetadata,
)
from threatexchange.exchanges.impl.stop_ncii_api import (
    _type_mapping as _stopncii_type_names,
)
from threatexchange.exchanges.impl.techagainstterrorism_api import (
    TATCheckpoint,
    TATSignalExchangeAPI,
)
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPI

from rempart.errors import ExchangeConfigError
from rempart.exchanges.stopncii import StopNCIIClient
from rempart.matching.formats import BankCategory

__all__ = [
    "ACCESS_TOKEN",
    "EXCHANGE_TYPES",
    "NCMEC_DEFAULT_ENVIRONMENT",
    "ExchangeAPI",
    "ExchangeType",
    "FetchedSignal",
    "blank_secrets",
    "check_config",
    "checkpoint_from_json",
    "checkpoint_to_json",
    "credential_parts",
    "fetch_error_text",
    "make_api",
    "signal_records",
]


ExchangeAPI: TypeAlias = SignalExchangeAPI[Any, Any, Any, Any, Any]
"""python-threatexchange's exchange API, as ``make_api`` makes it (``fetch_iter``, ...)."""


@dataclass(frozen=True)
class ExchangeType:
    """One exchange Rempart fetches from, and what configuring it takes."""

    name: str
    """The stable name (``rempart exchange add --type``)."""
    title: str
    """The exchange's own name, for people."""
    category: BankCategory
    """The category of the bank its hashes go to."""
    credential_help: str
    """The credential string's format (python-threatexchange's own)."""
    options: tuple[str, ...]
    """The options ``make_api`` takes for it (``--option KEY=VALUE``)."""
    keys_name_hashes: bool = False
    """Each record's key is made of its one value as the exchange sent it (``type:value``,
    see ``signal_records``), so that a key names its hash; NCMEC's are its entries' ids."""


EXCHANGE_TYPES: Final[Mapping[str, ExchangeType]] = MappingProxyType(
    {
        "stopncii": ExchangeType(
            "stopncii",
            "StopNCII.org",
            BankCategory.NCII,
            "FETCH_FUNCTION_KEY,SUBSCRIPTION_KEY[,BASE_URL] (the FetchHashes function key, the "
            "Ocp-Apim-Subscription-Key, and optionally another API base URL)",
            (),
            keys_name_hashes=True,
        ),
        "ncmec": ExchangeType(
            "ncmec",
            "NCMEC hash sharing",
            BankCategory.CHILD_SEXUAL_ABUSE,
            "USER:PASSWORD (the hash sharing API's account)",
            ("environment",),
        ),
        "threatexchange": ExchangeType(
            "threatexchange",
            "Meta ThreatExchange",
            BankCategory.OTHER,
            "APP_ID|APP_SECRET (a ThreatExchange app's access token)",
            ("privacy_group",),
            keys_name_hashes=True,
        ),
        "tat": ExchangeType(
            "tat",
            "Tech Against Terrorism hash list",
            BankCategory.OTHER,
            "USER:PASSWORD (the TCAP hash list account)",
            (),
            keys_name_hashes=True,
        ),
    }
)
"""Every exchange ``make_api`` builds a client for, by name."""

NCMEC_DEFAULT_ENVIRONMENT: Final = "Industry"
"""The NCMEC database fetched when no ``environment`` option is given (pytx's enum name)."""


@dataclass(frozen=True, slots=True)
class FetchedSignal:
    """One hash an exchange added, changed or withdrew, in python-threatexchange's names."""

    key: str
    """A stable string for the exchange's record: a later deletion names the same key."""
    signal_type: str
    """pytx's signal type name (``pdq``, ``video_md5``, ...); ``""`` with a bare deletion."""
    value: str
    """The hash as the exchange sent it; ``""`` with a bare deletion."""
    withdrawn: bool
    """True when the exchange deleted the record or its opinion now says it is not a match."""


def make_api(
    exchange_type: str,
    credentials: str,
    *,
    url: str | None = None,
    options: Mapping[str, str] = MappingProxyType({}),
) -> ExchangeAPI:
    """python-threatexchange's exchange API for ``exchange_type``, signed in with
    ``credentials`` (the library's own string format), at ``url`` when given (a fake, a proxy).

    Raises ``ExchangeConfigError`` for what ``check_config`` refuses or a credential string
    that is not of the type's format.
    """
    kind = check_config(exchange_type, url=url, options=options)
    base = url.rstrip("/") if url else None
    return _BUILDERS[kind.name](credentials.strip(), base, options)


def check_config(
    exchange_type: str, *, url: str | None, options: Mapping[str, str]
) -> ExchangeType:
    """The exchange type, once its URL and options are known good: what ``make_api`` checks at
    each fetch and ``Exchanges.add`` before storing them (one set of rules for both).

    Raises ``ExchangeConfigError`` for an unknown type, an unknown option or an invalid value,
    or a URL that is not ``http(s)://host...`` or that carries a user or password (it would be
    stored and shown in clear; the credential has its own file or variable).
    """
    kind = EXCHANGE_TYPES.get(exchange_type)
    if kind is None:
        known = ", ".join(EXCHANGE_TYPES)
        raise ExchangeConfigError(f"unknown exchange type {exchange_type!r} (one of: {known})")
    unknown = sorted(set(options) - set(kind.options))
    if unknown:
        allowed = ", ".join(kind.options) or "none"
        raise ExchangeConfigError(
            f"unknown option(s) {', '.join(unknown)} for {kind.name} (allowed: {allowed})"
        )
    _OPTION_CHECKS[kind.name](options)
    if url is not None:
        _check_url(url)
    return kind


def _check_url(url: str) -> None:
    shown = repr(url[:100]) if "@" not in url else "that"  # userinfo: never echo it
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok, parts = False, None
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or len(url) > 1000
        or re.search(r"\s", url)
    ):
        raise ExchangeConfigError(f"the exchange URL must be http(s)://HOST[/PATH], not {shown}")
    if "@" in parts.netloc:
        raise ExchangeConfigError(
            "the exchange URL must not hold a user or password (user:password@host): it is "
            "stored and shown in clear; the credential goes in its file or variable"
        )


def _no_options(options: Mapping[str, str]) -> None:
    """StopNCII and TAT take no option."""


def _ncmec_environment(options: Mapping[str, str]) -> Any:
    """The NCMEC environment (pytx's enum) the ``environment`` option names."""
    name = options.get("environment", NCMEC_DEFAULT_ENVIRONMENT)
    try:
        return ncmec_client.NCMECEnvironment[name]
    except KeyError:
        known = ", ".join(e.name for e in ncmec_client.NCMECEnvironment)
        raise ExchangeConfigError(
            f"unknown NCMEC environment {name[:80]!r} (one of: {known})"
        ) from None


def _privacy_group(options: Mapping[str, str]) -> int:
    """The ThreatExchange privacy group the ``privacy_group`` option names."""
    group = options.get("privacy_group", "")
    if not (group.isascii() and group.isdigit() and len(group) <= 20):
        raise ExchangeConfigError("ThreatExchange needs --option privacy_group=ID (a number)")
    return int(group)


_OPTION_CHECKS: Final[Mapping[str, Callable[[Mapping[str, str]], object]]] = MappingProxyType(
    {
        "stopncii": _no_options,
        "ncmec": _ncmec_environment,
        "threatexchange": _privacy_group,
        "tat": _no_options,
    }
)


def _stopncii(credentials: str, url: str | None, options: Mapping[str, str]) -> ExchangeAPI:
    parts = credentials.split(",")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ExchangeConfigError(
            "a StopNCII credential is FETCH_FUNCTION_KEY,SUBSCRIPTION_KEY[,BASE_URL]"
        )
    # pytx's StopNCIIAPI takes the base URL (base_url_override) for exactly this purpose.
    client = StopNCIIClient(
        parts[1], parts[0], base_url_override=url or (parts[2] if len(parts) == 3 else None)
    )
    return _StopNCIIExchange(CollaborationConfigBase("stopncii", "stopncii", True), client)


def _ncmec(credentials: str, url: str | None, options: Mapping[str, str]) -> ExchangeAPI:
    user, _, password = credentials.partition(":")
    if not (user and password):
        raise ExchangeConfigError("an NCMEC credential is USER:PASSWORD")
    collab = NCMECCollabConfig(name="ncmec", environment=_ncmec_environment(options))
    if url is None:
        return NCMECSignalExchangeAPI(collab, user, password)
    return _NCMECAt(collab, user, password, url=url)


def _threatexchange(credentials: str, url: str | None, options: Mapping[str, str]) -> ExchangeAPI:
    if not is_valid_app_token(credentials):
        raise ExchangeConfigError("a ThreatExchange credential is an access token APP_ID|SECRET")
    group = _privacy_group(options)
    # ThreatExchangeAPI takes the Graph API base URL (endpoint_override), and the exchange API
    # takes a ready client.
    client = _ThreatExchangeClient(credentials, endpoint_override=url)
    collab = FBThreatExchangeCollabConfig(name="threatexchange", privacy_group=group)
    return FBThreatExchangeSignalExchangeAPI(client, collab)


def _tat(credentials: str, url: str | None, options: Mapping[str, str]) -> ExchangeAPI:
    user, _, password = credentials.partition(":")
    if not (user and password):
        raise ExchangeConfigError("a TAT credential is USER:PASSWORD")
    if url is None:
        return _TATExchange(user, password)
    return _TATAt(user, password, url=url)


_BUILDERS: Final[Mapping[str, Callable[[str, str | None, Mapping[str, str]], ExchangeAPI]]] = (
    MappingProxyType(
        {"stopncii": _stopncii, "ncmec": _ncmec, "threatexchange": _threatexchange, "tat": _tat}
    )
)


class _StopNCIIExchange(StopNCIISignalExchangeAPI):
    """pytx's StopNCII exchange, with withdrawn and deleted hashes reported as deletions.

    pytx 1.2 compares the record's hash value (not its ``hashStatus``) with the Withdrawn and
    Deleted statuses, so a withdrawal arrives as an ordinary record; this repeats its
    ``fetch_iter`` with the status read where the API puts it. A record of a type pytx does
    not name (``VideoTMK``, ``Unknown``) comes under the type's own name, to be counted as
    skipped rather than lost without a word.
    """

    def fetch_iter(
        self, _supported_signal_types: Any, checkpoint: StopNCIICheckpoint | None
    ) -> Iterator[fetch_state.FetchDelta[Any, Any, Any]]:
        gone = (
            stopncii_client.StopNCIICaseStatus.Withdrawn,
            stopncii_client.StopNCIICaseStatus.Deleted,
        )
        names = _stopncii_type_names()  # pytx's signal type names, by StopNCII's type
        start = stopncii_client.StopNCIIAPI.DEFAULT_START_TIME
        if checkpoint is not None:
            start = checkpoint.update_time
        for page in self.api.fetch_hashes_iter(start_timestamp=start):
            updates: dict[tuple[str, str], StopNCIISignalMetadata | None] = {}
            for record in page.hashRecords:
                name = names.get(record.signalType) or str(record.signalType.value).lower()
                updates[name, record.hashValue] = (
                    None
                    if record.hashStatus in gone
                    else StopNCIISignalMetadata(record.CSPFeedbacks)
                )
            yield fetch_state.FetchDelta(updates, StopNCIICheckpoint.from_stopncii_fetch(page))


class _NonEmptyPages(_CursoredResponse):
    """Graph API pages, less the empty ones."""

    def __iter__(self) -> Iterator[list[Any]]:
        for page in super().__iter__():  # type: ignore[no-untyped-call]
            if page:
                yield page


class _ThreatExchangeClient(ThreatExchangeAPI):
    """pytx's ThreatExchange client whose threat_updates cursor skips empty pages.

    Graph answers a range with no update with ``{"data": []}``, and pytx 1.2's ``fetch_iter``
    asserts every page is non-empty, so a fetch with nothing new would fail; with no page, it
    yields no delta and the checkpoint stays.
    """

    def get_threat_updates(self, privacy_group: int, **kwargs: Any) -> _CursoredResponse:
        cursor = super().get_threat_updates(privacy_group, **kwargs)
        cursor.__class__ = _NonEmptyPages
        return cursor


class _NCMECAt(NCMECSignalExchangeAPI):
    """pytx's NCMEC exchange at another base URL.

    The environment (an enum of NCMEC's hosts) is the only URL pytx's NCMEC client takes; the
    exchange builds its client in ``get_client``, so that is the one place to point it elsewhere.
    """

    def __init__(self, collab: NCMECCollabConfig, user: str, password: str, *, url: str) -> None:
        super().__init__(collab, user, password)
        self._url = url

    def get_client(self, environment: Any) -> ncmec_client.NCMECHashAPI:
        client = super().get_client(environment)
        client._base_url = self._url
        return client


class _TATExchange(TATSignalExchangeAPI):
    """pytx's TAT exchange, with every hash TAT lists: pytx 1.2 keeps PDQs and the MD5s of
    videos only, dropping SHA-256s and the MD5s of images; this repeats its ``fetch_iter``
    with ``_tat_type``'s names, and an algorithm none names is counted as skipped."""

    def fetch_iter(
        self, _supported_signal_types: Any, checkpoint: TATCheckpoint | None
    ) -> Iterator[fetch_state.FetchDelta[Any, Any, Any]]:
        after = "" if checkpoint is None else checkpoint.checkpoint
        for page in self.get_client().fetch_hashes_iter(after):
            updates = {
                (_tat_type(record), record.hash_digest): (
                    None if record.deleted else fetch_state.FetchedSignalMetadata()
                )
                for record in page.results
            }
            yield fetch_state.FetchDelta(
                updates, TATCheckpoint(page.checkpoint) if page.checkpoint else checkpoint
            )


# TAT's file types of videos (pytx's techagainstterrorism_api.py); others are images.
_TAT_VIDEO_FILES: Final = frozenset({"mov", "m4v", "mp4", "webm"})
_TAT_ALGORITHMS: Final[Mapping[str, str]] = MappingProxyType(
    {"MD5": "md5", "SHA256": "sha256", "SHA-256": "sha256"}
)


def _tat_type(record: tat_client.TATHashListEntry) -> str:
    """A TAT record's pytx signal type name: ``pdq``, ``video_md5``/``photo_md5``,
    ``video_sha256``/``photo_sha256``, or the algorithm's own name in lower case."""
    algorithm = str(record.algorithm).upper()
    if algorithm == "PDQ":
        return "pdq"
    digest = _TAT_ALGORITHMS.get(algorithm)
    if digest is None:
        return algorithm.lower()
    media = "video" if str(record.file_type).lower() in _TAT_VIDEO_FILES else "photo"
    return f"{media}_{digest}"


class _TATClientAt(tat_client.TATHashListAPI):
    """pytx's TAT client at another base URL: it reads only its ``BASE_URL`` class variable."""

    def __init__(self, username: str, password: str, *, url: str) -> None:
        super().__init__(username, password)
        # pytx reads self.BASE_URL, and joins it and the endpoint path without a slash
        self.BASE_URL = url + "/"  # type: ignore[misc]


class _TATAt(_TATExchange):
    """``_TATExchange`` whose client is ``_TATClientAt``."""

    def __init__(self, username: str, password: str, *, url: str) -> None:
        super().__init__(username, password)
        self._url = url

    def get_client(self) -> tat_client.TATHashListAPI:
        return _TATClientAt(self.username, self.password, url=self._url)


# ThreatExchange indicator types -> pytx signal type names. pytx's own table
# (signal_type/md5.py, sha256.py, pdq/signal.py INDICATOR_TYPE) reads tags too; the plain MD5
# and SHA-256 types name file digests, which Rempart's exact banks take as md5/sha256.
_TE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "HASH_PDQ": "pdq",
        "HASH_VIDEO_MD5": "video_md5",
        "HASH_VIDEO_SHA256": "video_sha256",
        "HASH_MD5": "md5",
        "HASH_SHA256": "sha256",
    }
)

# NCMEC (entry type, fingerprint element) -> pytx signal type names (pytx's ncmec_api.py
# _get_conversion: video md5, image pdq, image pdna); an image's MD5 is a photo's digest.
_NCMEC_TYPES: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("video", "md5"): "video_md5",
        ("image", "md5"): "photo_md5",
        ("image", "pdq"): "pdq",
        ("image", "pdna"): "photodna",
    }
)


def signal_records(api: ExchangeAPI, updates: Mapping[Any, Any]) -> Iterator[FetchedSignal]:
    """The signals in one ``FetchDelta.updates`` of ``api`` (from ``make_api``).

    NCMEC's updates are whole entries keyed ``MEMBER-ID``: each fingerprint is one signal, and a
    deleted entry one bare deletion (``FetchedSignal(key, "", "", True)``). The others are keyed
    by (type, hash): the value None is a deletion, and an opinion whose aggregate is a false
    positive (ThreatExchange's NON_MALICIOUS) withdraws too.
    """
    if isinstance(api, NCMECSignalExchangeAPI):
        yield from _ncmec_signals(updates)
        return
    rename = _TE_TYPES if isinstance(api, FBThreatExchangeSignalExchangeAPI) else None
    for (type_name, value), metadata in updates.items():
        key = f"{type_name}:{value}"
        signal_type = type_name if rename is None else rename.get(type_name, type_name.lower())
        yield FetchedSignal(key, signal_type, value, _withdrawn(metadata))


def _withdrawn(metadata: fetch_state.FetchedSignalMetadata | None) -> bool:
    if metadata is None:
        return True
    if type(metadata) is fetch_state.FetchedSignalMetadata:  # TAT's: no opinions at all
        return False
    if type(metadata) is StopNCIISignalMetadata and not metadata.feedbacks:
        return False  # its one opinion, a user's case (INVESTIGATION_SEED): no withdrawal
    aggregate = metadata.get_as_aggregate_opinion().category
    return bool(aggregate == fetch_state.AggregateSignalOpinionCategory.NEGATIVE_CLASS)


def _ncmec_signals(updates: Mapping[str, Any]) -> Iterator[FetchedSignal]:
    for key, entry in updates.items():
        if entry is None or entry.deleted:
            yield FetchedSignal(key, "", "", True)
            continue
        for element, value in entry.fingerprints.items():
            fingerprint = element.lower()
            signal_type = _NCMEC_TYPES.get((entry.entry_type.value, fingerprint), fingerprint)
            yield FetchedSignal(key, signal_type, value, False)


@overload
def checkpoint_to_json(checkpoint: fetch_state.FetchCheckpointBase) -> dict[str, Any]: ...
@overload
def checkpoint_to_json(checkpoint: None) -> None: ...
def checkpoint_to_json(
    checkpoint: fetch_state.FetchCheckpointBase | None,
) -> dict[str, Any] | None:
    """A pytx checkpoint (a dataclass) as JSON-ready values, to store without pickle; None for
    none (pytx's TAT client has none after an empty page when it started from none)."""
    return None if checkpoint is None else dataclasses.asdict(checkpoint)


def checkpoint_from_json(api: ExchangeAPI, data: Mapping[str, Any]) -> Any:
    """The checkpoint ``checkpoint_to_json`` stored, as ``api``'s checkpoint class again.

    Raises ``ExchangeConfigError`` when ``data`` is not one (another exchange's, a pytx upgrade).
    """
    try:
        return dacite.from_dict(api.get_checkpoint_cls(), dict(data))
    except (dacite.DaciteError, TypeError, ValueError) as exc:
        raise ExchangeConfigError(f"the stored checkpoint is not this exchange's: {exc}") from exc


ACCESS_TOKEN: Final = re.compile(r"(access_token=)[^&\s\"']+")
"""A token in a URL's query (ThreatExchange's), up to the next parameter, space or quote."""


def credential_parts(credentials: str, exchange_type: str | None = None) -> Iterator[str]:
    """What to blank out of a text that may quote ``credentials``: the whole of it, its secret
    fields whatever their length and its names (a user, an app id) of 4 characters or more,
    split as ``exchange_type``'s pytx credential class parses it (every type's way when None);
    and its pieces between ``,``, ``:`` and ``|`` of 4 characters or more, which a library may
    quote after splitting it another way. (Shorter names and pieces would blank common text
    out of every log line while a fetch runs.)"""
    credentials = credentials.strip()
    if not credentials:
        return
    yield credentials
    for kind in EXCHANGE_TYPES:
        if exchange_type in (None, kind):
            names, secrets = _credential_fields(kind, credentials)
            yield from (secret for secret in secrets if secret)
            yield from (name for name in names if len(name) >= _MIN_PART)
    yield from (part for part in re.split(r"[,:|]", credentials) if len(part) >= _MIN_PART)


_MIN_PART: Final = 4


def _credential_fields(exchange_type: str, credentials: str) -> tuple[list[str], list[str]]:
    """``credentials`` as ``exchange_type``'s pytx credential class splits it (StopNCIICredentials,
    NCMECCredentials, FBThreatExchangeCredentials' APP_ID|SECRET token, TATCredentials): its
    names and its secrets."""
    if exchange_type == "stopncii":
        return [], credentials.split(",")[:2]  # two keys; the third is the API's base URL
    name, _, secret = credentials.partition("|" if exchange_type == "threatexchange" else ":")
    return [name], [secret]


def blank_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with any ``access_token`` in a URL and each of ``secrets`` (longest first, so
    that a part never leaves the rest of a longer one) replaced by ``***``."""
    text = ACCESS_TOKEN.sub(r"\1***", text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def fetch_error_text(exc: BaseException, credentials: str, exchange_type: str | None = None) -> str:
    """A one-line reason for a failed fetch that names no secret (for status and logs).

    HTTP errors say the status and the URL's host and path only (ThreatExchange puts its token
    in the query string); any other message has the credential and its fields blanked out
    (``credential_parts``).
    """
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        where = urlsplit(exc.response.url or "")
        reason = exc.response.reason or ""
        text = f"HTTP {exc.response.status_code} {reason} from {where.netloc}{where.path}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = blank_secrets(text, credential_parts(credentials, exchange_type))
    return " ".join(text.split())[:500]
