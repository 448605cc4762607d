"""A fake of Meta ThreatExchange's Graph API ``GET /{privacy_group}/threat_updates/``, as pytx's
ThreatExchangeAPI.get_threat_updates calls it.

Shapes from pytx's clients/fb_threatexchange (``_CursoredResponse``, ``ThreatUpdateJSON``) and
impl/fb_threatexchange_api.py (``from_threatexchange_json``), after Meta's threat_updates
reference: ``access_token``, ``start_time`` (the checkpoint: updates after it), ``limit`` (pytx
asks 100) and ``fields`` as parameters; ``{"data": [...], "paging": {"cursors": ..., "next":
URL}}`` back, the next URL carrying every parameter again. A bad token is Graph's 400
``OAuthException`` (code 190).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode

import requests

from tests.exchanges.fakes import FakeExchange, Response, json_response, malformed_json
from tests.exchanges.log import Event

APP_ID = "1234567890"
TOKEN = f"{APP_ID}|fake_app_secret_0123456789abcdef"
PRIVACY_GROUP = "303636684709969"
OWNER_APP_ID = "9876543210"  # another member of the group shared the hashes
PAGE_SIZE = 100  # pytx's fetch_iter asks for 100 a page

# pytx signal type name -> ThreatExchange indicator type (pytx's INDICATOR_TYPE)
_TYPES = {"pdq": "HASH_PDQ", "video_md5": "HASH_VIDEO_MD5"}


class FakeThreatExchange(FakeExchange):
    """One privacy group's threat updates after ``start_time``, paged by a cursor."""

    kind: ClassVar[str] = "threatexchange"
    signal_types: ClassVar[tuple[str, ...]] = tuple(_TYPES)
    malformed_error: ClassVar[tuple[type[BaseException], ...]] = (requests.JSONDecodeError,)
    expired_status: ClassVar[int] = 400

    def __init__(self, *, page_size: int | None = None) -> None:
        super().__init__(page_size=page_size)
        self.non_malicious: set[tuple[str, str]] = set()

    @property
    def credentials(self) -> str:
        return TOKEN

    def mark_non_malicious(self, signal_type: str, value: str) -> str:
        """Serve an update of ``value`` whose descriptor now says NON_MALICIOUS (a false
        positive); returns its key."""
        self.non_malicious.add((signal_type, value))
        self.log.append(signal_type, [value])
        return self.key(signal_type, value)

    @property
    def options(self) -> dict[str, str]:
        return {"privacy_group": PRIVACY_GROUP}

    def base_url(self, address: str) -> str:
        return f"{address}/v26.0"

    def key(self, signal_type: str, value: str) -> str:
        return f"{_TYPES[signal_type]}:{value}"

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        if method != "GET" or path != f"/v26.0/{PRIVACY_GROUP}/threat_updates/":
            return _graph_error(100, "Unsupported get request", 400)
        token = query.get("access_token", [""])[0]
        if self.expired or token != TOKEN:
            return _graph_error(190, "Error validating access token: Session has expired", 400)
        if self.take_broken():
            return malformed_json()
        size = self.capped(int(query.get("limit", [""])[0] or PAGE_SIZE))
        cursor = query.get("after", [""])[0]
        if cursor:  # "position.stop": stop fixes the snapshot the first page saw
            position, stop = (int(part) for part in cursor.split("."))
        else:
            start_time = query.get("start_time", [""])[0]
            position = self.log.after_time(int(start_time)) if start_time else 0
            stop = self.log.size
        end = min(position + size, stop)
        page: dict[str, Any] = {
            "data": [self._update(event) for event in self.page_events(position, end)]
        }
        if end < stop:
            again = {"access_token": token, "limit": str(size), "after": f"{end}.{stop}"}
            if "fields" in query:
                again["fields"] = query["fields"][0]
            page["paging"] = {
                "cursors": {"before": f"{position}.{stop}", "after": f"{end}.{stop}"},
                "next": f"{self.url}/{PRIVACY_GROUP}/threat_updates/?{urlencode(again)}",
            }
        return json_response(page)

    def _update(self, event: Event) -> dict[str, Any]:
        update: dict[str, Any] = {
            "id": str(event.seq),
            "indicator": event.value,
            "type": _TYPES[event.signal_type],
            "last_updated": event.time,
            "should_delete": event.deleted,
        }
        if not event.deleted:
            flagged = (event.signal_type, event.value) in self.non_malicious
            descriptor = {
                "id": str(10**9 + event.seq),
                "owner": {"id": OWNER_APP_ID},
                "status": "NON_MALICIOUS" if flagged else "MALICIOUS",
                "tags": ["fake_exchange"],
                "reactions": [],
            }
            update["descriptors"] = {"data": [descriptor]}
        return update


def _graph_error(code: int, message: str, status: int) -> Response:
    return json_response(
        {"error": {"message": message, "type": "OAuthException", "code": code}}, status
    )
