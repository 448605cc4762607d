"""A fake of StopNCII.org's hash API: ``GET /v1/FetchHashes``, as pytx's StopNCIIAPI calls it.

Shapes from pytx's clients/stopncii/api.py (``FetchHashesResponse``, ``StopNCIIHashRecord``):
the client sends ``startTimestamp`` (the checkpoint), ``pageSize`` (800) and, after the first
page, ``nextPageToken``; it pages while ``hasMoreRecords`` and keeps ``nextSetTimestamp`` as its
checkpoint. Both keys come as headers (``x-functions-key``, ``Ocp-Apim-Subscription-Key``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from tests.exchanges.fakes import FakeExchange, Response, json_response, malformed_json

FUNCTION_KEY = "fake-function-key"
SUBSCRIPTION_KEY = "fake-subscription-key"

# pytx signal type name -> StopNCII's signalType
_TYPES = {"pdq": "ImagePDQ", "video_md5": "VideoMD5", "videotmk": "VideoTMK"}


class FakeStopNCII(FakeExchange):
    """StopNCII's FetchHashes: records after ``startTimestamp``, paged by an opaque token."""

    kind: ClassVar[str] = "stopncii"
    signal_types: ClassVar[tuple[str, ...]] = tuple(_TYPES)
    malformed_error: ClassVar[tuple[type[BaseException], ...]] = (requests.JSONDecodeError,)

    def __init__(self, *, page_size: int | None = None) -> None:
        super().__init__(page_size=page_size)
        self.raw_records: Any = []
        """Served as they are at the end of the next page (then not again): records of any
        shape, as a real exchange's newer or broken serialiser may send; not a list: served
        as the page's ``hashRecords`` in place of its records."""

    @property
    def credentials(self) -> str:
        return f"{FUNCTION_KEY},{SUBSCRIPTION_KEY}"

    def base_url(self, address: str) -> str:
        return f"{address}/v1"

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        if method != "GET" or path != "/v1/FetchHashes":
            return json_response({"message": "Resource not found"}, 404)
        if (
            self.expired
            or headers.get("x-functions-key") != FUNCTION_KEY
            or headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY
        ):
            return json_response({"statusCode": 401, "message": "Access denied"}, 401)
        if self.take_broken():
            return malformed_json()
        start_time = int(query.get("startTimestamp", ["0"])[0])
        size = self.capped(int(query.get("pageSize", ["800"])[0]))
        token = query.get("nextPageToken", [""])[0]
        if token:  # "position.stop": stop fixes the snapshot the first page saw
            position, stop = (int(part) for part in token.split("."))
        else:
            position, stop = self.log.after_time(start_time), self.log.size
        end = min(position + size, stop)
        more = end < stop
        raw, self.raw_records = self.raw_records, []
        return json_response(
            {
                "count": end - position,
                "nextPageToken": f"{end}.{stop}" if more else None,
                # the page's last change: a fetch resumed from any page misses nothing
                "nextSetTimestamp": self.log.last_time(end) if end > position else start_time,
                "hasMoreRecords": more,
                "hashRecords": [_record(event) for event in self.page_events(position, end)] + raw
                if isinstance(raw, list)
                else raw,
            }
        )


def _record(event: Any) -> dict[str, Any]:
    status = "Withdrawn" if event.deleted else "Active"
    return {
        "lastModtimestamp": event.time,
        "signalType": _TYPES[event.signal_type],
        "hashValue": event.value,
        "hashStatus": status,
        # no case numbers and no feedback (the defaults): a real record's lists cost pytx's
        # dacite a third more per record, and nothing here reads them
        "caseNumbers": {},
    }
