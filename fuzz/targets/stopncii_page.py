"""Fuzz target ``stopncii_page``: a StopNCII FetchHashes page (JSON), each of its records made
by ``plain_record`` (Rempart's parse, in place of dacite's) and, where that makes one, by the
dacite parse python-threatexchange's client runs (same config): the two must be equal, and
``plain_record`` must never raise."""

from __future__ import annotations

import enum
import json

import dacite
from threatexchange.exchanges.clients.stopncii.api import StopNCIIHashRecord

from rempart.exchanges.stopncii import plain_record

# StopNCIIAPI.fetch_hashes's config (python-threatexchange 1.2)
_PYTX_CONFIG = dacite.Config(cast=[enum.Enum, set])


def fuzz_one(data: bytes) -> None:
    """Parse ``data`` as a page and check each record ``plain_record`` makes."""
    try:
        page = json.loads(data)
    except (ValueError, RecursionError):
        return
    records = page.get("hashRecords") if isinstance(page, dict) else None
    for raw in records if isinstance(records, list) else [page]:
        made = plain_record(raw)
        if made is not None:
            expected = dict(raw)
            if expected.get("caseNumbers") == []:  # as pytx's client does first
                expected["caseNumbers"] = {}
            assert made == dacite.from_dict(StopNCIIHashRecord, expected, config=_PYTX_CONFIG)
