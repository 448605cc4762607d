"""A fake of Tech Against Terrorism's hash list API (v2), as pytx's TATHashListAPI calls it:
``POST /token-auth/tcap/`` for a token, then ``GET /api/hash-list/v2/all`` with it.

Shapes from pytx's clients/techagainstterrorism/api.py (``TATHashListResponse``,
``TATHashListEntry``, ``fetch_hashes_iter``): ``after`` is the checkpoint (``updated_on,id`` of
the last record seen) and stays the same for every page of a fetch; ``next`` is a URL with
``limit`` and ``offset``, which pytx appends after a ``?`` to the list's URL, so the fake reads
any parameter whose name ends in ``limit`` or ``offset``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

import requests

from tests.exchanges.fakes import FakeExchange, Response, json_response, malformed_json
from tests.exchanges.log import Event

USER = "fake-tcap-user"
PASSWORD = "fake-tcap-password"
PAGE_SIZE = 1000

# pytx signal type name -> (algorithm, file type); "tmk": an algorithm Rempart does not bank
_TYPES = {
    "pdq": ("PDQ", "jpg"),
    "video_md5": ("MD5", "mp4"),
    "photo_md5": ("MD5", "jpg"),
    "video_sha256": ("SHA256", "webm"),
    "photo_sha256": ("SHA256", "png"),
    "tmk": ("TMK", "mp4"),
}


class FakeTAT(FakeExchange):
    """TAT's hash list: records after the ``after`` checkpoint, in (updated_on, id) order."""

    kind: ClassVar[str] = "tat"
    signal_types: ClassVar[tuple[str, ...]] = tuple(_TYPES)
    malformed_error: ClassVar[tuple[type[BaseException], ...]] = (requests.JSONDecodeError,)

    def __init__(self, *, page_size: int | None = None) -> None:
        super().__init__(page_size=page_size)
        self.tokens: set[str] = set()

    @property
    def credentials(self) -> str:
        return f"{USER}:{PASSWORD}"

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        if method == "POST" and path == "/token-auth/tcap/":
            return self._token(body)
        if method != "GET" or path != "/api/hash-list/v2/all":
            return json_response({"detail": "Not found."}, 404)
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        if self.expired or token not in self.tokens:
            return json_response({"detail": "Given token not valid for any token type"}, 401)
        if self.take_broken():
            return malformed_json()
        after = query.get("after", [""])[0]
        first = int(after.partition(",")[2]) + 1 if after else 0
        size = _ending(query, "limit") or self.page_size or PAGE_SIZE
        position = first + (_ending(query, "offset") or 0)
        stop = self.log.size
        end = min(position + size, stop)
        nxt = None
        if end < stop:
            nxt = f"{self.url}/api/hash-list/v2/all?limit={size}&offset={end - first}"
        return json_response(
            {
                "count": stop - first,
                "next": nxt,
                "previous": None,
                # the last record's "updated_on,id"; none when the page is empty
                "checkpoint": self._checkpoint(end - 1) if end > position else "",
                "results": [_entry(event) for event in self.page_events(position, end)],
            }
        )

    def _token(self, body: bytes) -> Response:
        form = parse_qs(body.decode())
        user, password = form.get("username", [""])[0], form.get("password", [""])[0]
        if self.expired or (user, password) != (USER, PASSWORD):
            return json_response(
                {"detail": "No active account found with the given credentials"}, 401
            )
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return json_response({"user": {"username": USER}, "token": token})

    def _checkpoint(self, seq: int) -> str:
        event = self.log.event(seq)
        return f"{event.time},{event.seq}"


def _ending(query: dict[str, list[str]], name: str) -> int | None:
    for key, values in query.items():
        if key.endswith(name) and values[0].isdigit():
            return int(values[0])
    return None


def _entry(event: Event) -> dict[str, Any]:
    algorithm, file_type = _TYPES[event.signal_type]
    return {
        "hash_digest": event.value,
        "algorithm": algorithm,
        "ideology": "far-right",
        "file_type": file_type,
        "deleted": event.deleted,
        "updated_on": float(event.time),
        "created_on": datetime.fromtimestamp(event.time, UTC).isoformat(),
        "id": event.seq,
    }
