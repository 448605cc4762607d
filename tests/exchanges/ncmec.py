"""A fake of NCMEC's hash sharing API (v2): ``GET {environment}/v2/entries``, XML, as pytx's
NCMECHashAPI calls it.

Shapes from pytx's clients/ncmec/hash_api.py (``GetEntriesResponse.from_xml``,
``NCMECEntryUpdate.from_xml``, ``GetEntriesNextInfo``) and NCMEC's v2 documentation it cites:
``from`` and ``to`` bound the entries' timestamps (from inclusive); a page holds ``<images>``
and ``<videos>`` (each with ``maxTimestamp``) of ``<image>``/``<video>`` entries and their
``<deletedImage>``/``<deletedVideo>`` tombstones; ``<paging><next>`` is a path
(``/v2/entries?...&start=&size=&max=``) the client appends to its base URL. HTTP Basic auth.
"""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from tests.exchanges.fakes import FakeExchange, Response
from tests.exchanges.log import Event

USER = "fake-esp"
PASSWORD = "fake-password"
MEMBER_ID = 42
PAGE_SIZE = 1000  # what NCMEC serves (pytx's NCMECHashAPI.ENTRIES_PER_FETCH)
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"

# pytx signal type name -> (entry element, fingerprint element)
_TYPES = {"pdq": ("image", "pdq"), "photo_md5": ("image", "md5"), "video_md5": ("video", "md5")}


class FakeNCMEC(FakeExchange):
    """NCMEC's entries: those stamped within ``[from, to)``, 1,000 a page."""

    kind: ClassVar[str] = "ncmec"
    signal_types: ClassVar[tuple[str, ...]] = tuple(_TYPES)
    malformed_error: ClassVar[tuple[type[BaseException], ...]] = (ET.ParseError,)

    @property
    def credentials(self) -> str:
        return f"{USER}:{PASSWORD}"

    @property
    def options(self) -> dict[str, str]:
        return {"environment": "NGO"}

    def base_url(self, address: str) -> str:
        return f"{address}/hashsharing"

    steps: ClassVar[bool] = False

    def clock(self, last: int, count: int) -> int:
        """Five seconds back: pytx fetches ``[from, to)`` with ``to`` five whole seconds before
        now (NCMEC's entries are not in time order), so a change stamped now would wait five
        seconds; stamped five back, it is in the first fetch started in a later second."""
        self._changed_at = time.time()
        return max(int(self._changed_at) - 5, last)

    def settle(self) -> None:
        """Wait for the second after the last change (see ``clock``)."""
        wait = int(getattr(self, "_changed_at", 0)) + 1 - time.time()
        if wait > 0:
            time.sleep(wait + 0.01)

    def key(self, signal_type: str, value: str) -> str:
        return f"{MEMBER_ID}-{self.log.first_id(signal_type, value)}"

    def respond(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Response:
        if method != "GET" or path != "/hashsharing/v2/entries":
            return 404, "text/plain", b"not found"
        expected = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.expired or headers.get("Authorization") != f"Basic {expected}":
            return 401, "text/plain", b"Unauthorized"
        if self.take_broken():
            return 200, "application/xml", b"<queryResult><images count='1'><image><id>"
        try:
            start_time = _parse_time(query["from"][0])
            end_time = _parse_time(query["to"][0])
        except (KeyError, ValueError):
            return 400, "text/plain", b"from and to are required (yyyy-MM-ddTHH:mm:ssZ)"
        low = self.log.from_time(start_time)
        high = self.log.from_time(end_time)  # [from, to): a change in one window only
        position = int(query.get("start", [str(low)])[0])
        size = int(query.get("size", [str(self.page_size or PAGE_SIZE)])[0])
        stop = int(query.get("max", [str(high)])[0])  # the snapshot the first page saw
        end = min(position + size, stop)
        page = _page(self, self.page_events(position, end))
        if end < stop:
            paging = ET.SubElement(page, "paging")
            nxt = {"from": query["from"][0], "to": query["to"][0]}
            nxt |= {"start": str(end), "size": str(size), "max": str(stop)}
            ET.SubElement(paging, "next").text = f"/v2/entries?{urlencode(nxt)}"
        return 200, "application/xml", ET.tostring(page, encoding="utf-8")


def _parse_time(text: str) -> int:
    # pytx writes from/to with datetime.fromtimestamp (local time) and a "Z": read them back
    # the same way, so the fake and the client agree on any machine's time zone.
    return int(datetime.strptime(text, _FORMAT).timestamp())


def _page(fake: FakeNCMEC, events: list[Event]) -> ET.Element:
    root = ET.Element("queryResult", xmlns=_NAMESPACE)
    containers: dict[str, ET.Element] = {}
    newest: dict[str, int] = {}
    for event in events:
        kind, fingerprint = _TYPES[event.signal_type]
        container = containers.get(kind)
        if container is None:
            container = containers[kind] = ET.SubElement(root, f"{kind}s")
        newest[kind] = max(newest.get(kind, 0), event.time)
        entry_id = fake.log.first_id(event.signal_type, event.value) if event.deleted else event.seq
        tag = f"deleted{kind.capitalize()}" if event.deleted else kind
        entry = ET.SubElement(container, tag)
        ET.SubElement(entry, "id").text = str(entry_id)
        ET.SubElement(entry, "member", id=str(MEMBER_ID)).text = "Fake ESP"
        ET.SubElement(entry, "timestamp").text = _format_time(event.time)
        if not event.deleted:
            ET.SubElement(entry, "classification").text = "A1"
            ET.SubElement(ET.SubElement(entry, "fingerprints"), fingerprint).text = event.value
    for kind, container in containers.items():
        container.set("count", str(len(container)))
        container.set("maxTimestamp", _format_time(newest[kind]))
    return root


def _format_time(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime(_FORMAT)
