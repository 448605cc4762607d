"""python-threatexchange's StopNCII client, with each page's records made without dacite where
that gives the same records.

pytx's ``StopNCIIAPI.fetch_hashes`` builds each record with ``dacite.from_dict``, whose walk of
the dataclass's type hints takes some 40-70 µs a record: a fetch of a million hashes spent more
time there than in HTTP, JSON and the bank's writes together. ``plain_record`` builds the same
``StopNCIIHashRecord`` directly (about 1 µs) when a record holds exactly what dacite would accept
without a cast it does not make here; a page with any other record (a missing field, a wrong
type, an unknown status) goes through pytx's own parse unchanged, with its skipping and logging.
Everything else (the request, its keys, retries and paging) stays pytx's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from threatexchange.exchanges.clients.stopncii import api as pytx

__all__ = ["StopNCIIClient", "plain_record", "plain_records"]

_SIGNAL_TYPES: Final = {member.value: member for member in pytx.StopNCIISignalType}
_STATUSES: Final = {member.value: member for member in pytx.StopNCIICaseStatus}
_FEEDBACKS: Final = {member.value: member for member in pytx.StopNCIICSPFeedbackValue}


class StopNCIIClient(pytx.StopNCIIAPI):
    """pytx's ``StopNCIIAPI``; a FetchHashes page whose every record is plain (``plain_record``)
    has its records made directly, and any other page is parsed by pytx as it is. Unlike
    pytx's, a client holds a page between its request and its parse: one thread at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._records: list[pytx.StopNCIIHashRecord] | None = None

    def _get(self, endpoint: pytx.StopNCIIEndpoint, **params: Any) -> Any:
        self._records = None
        payload = super()._get(endpoint, **params)
        if endpoint is pytx.StopNCIIEndpoint.FetchHashes:
            self._records = plain_records(payload)
            if self._records is not None:
                # pytx parses the rest of the page (count, token, checkpoint) as it would
                payload = {**payload, "hashRecords": []}
        return payload

    def fetch_hashes(self, **kwargs: Any) -> pytx.FetchHashesResponse:
        try:
            response = super().fetch_hashes(**kwargs)
            if self._records is not None:
                response.hashRecords = self._records
            return response
        finally:
            self._records = None


def plain_records(page: object) -> list[pytx.StopNCIIHashRecord] | None:
    """The records of a FetchHashes page (a JSON object) when it lists some and every one is
    plain (``plain_record``); None otherwise."""
    raw = page.get("hashRecords") if isinstance(page, dict) else None
    if not isinstance(raw, list) or not raw:
        return None
    records = []
    for item in raw:
        record = plain_record(item)
        if record is None:
            return None
        records.append(record)
    return records


def plain_record(raw: object) -> pytx.StopNCIIHashRecord | None:
    """The record pytx's dacite parse makes of ``raw`` (a JSON object), when ``raw`` is plain:
    every field of the type dacite checks for, each enum a value the enum has, and each
    collection the JSON type dacite casts from; None otherwise (pytx then decides)."""
    if not isinstance(raw, dict):
        return None
    stamp, value = raw.get("lastModtimestamp"), raw.get("hashValue")
    signal_type = _member(_SIGNAL_TYPES, raw.get("signalType"))
    status = _member(_STATUSES, raw.get("hashStatus"))
    if type(stamp) is not int or type(value) is not str or signal_type is None or status is None:
        return None
    cases = _cases(raw.get("caseNumbers"))
    feedbacks = _feedbacks(raw.get("CSPFeedbacks", _NONE))
    if cases is None or feedbacks is None:
        return None
    return pytx.StopNCIIHashRecord(stamp, signal_type, value, status, cases, feedbacks)


_NONE: Final[list[Any]] = []  # what a record without feedbacks reads as (never changed)


def _member(members: Mapping[str, Any], value: object) -> Any:
    return members.get(value) if type(value) is str else None


def _cases(raw: object) -> dict[str, pytx.StopNCIICaseStatus] | None:
    if type(raw) is dict:
        cases = {key: _member(_STATUSES, status) for key, status in raw.items()} if raw else {}
        return cases if None not in cases.values() else None
    # pytx reads an empty list as an empty object (a serialisation StopNCII has been seen to use)
    return {} if raw == [] else None


def _feedbacks(raw: object) -> list[pytx.StopNCIICSPFeedback] | None:
    if type(raw) is not list:
        return None
    if not raw:
        return []
    feedbacks = [_feedback(item) for item in raw]
    return feedbacks if None not in feedbacks else None  # type: ignore[return-value]


def _feedback(raw: object) -> pytx.StopNCIICSPFeedback | None:
    if not isinstance(raw, dict):
        return None
    value = _member(_FEEDBACKS, raw.get("feedbackValue"))
    tags, source = raw.get("tags", _NONE), raw.get("source", "")
    if (
        value is None
        or type(tags) is not list
        or not all(type(tag) is str for tag in tags)
        or type(source) is not str
    ):
        return None
    return pytx.StopNCIICSPFeedback(value, set(tags), source)
