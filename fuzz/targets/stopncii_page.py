"""Fuzz target ``stopncii_page``: a StopNCII FetchHashes page (JSON) as ``plain_records``
takes it (Rempart's parse, in place of dacite's) and each of its records as ``plain_record``
does: where they make records, the dacite parse python-threatexchange's client runs (same
config) must make the same ones, a page taken must list records, and neither may raise."""

from __future__ import annotations

import enum
import json

import dacite
from threatexchange.exchanges.clients.stopncii.api import StopNCIIHashRecord

from rempart.exchanges.stopncii import plain_record, plain_records

# StopNCIIAPI.fetch_hashes's config (python-threatexchange 1.2)
_PYTX_CONFIG = dacite.Config(cast=[enum.Enum, set])


def fuzz_one(data: bytes) -> None:
    """Parse ``data`` as a page and check each record ``plain_record`` makes."""
    try:
        page = json.loads(data)
    except (ValueError, RecursionError):
        return
    records = page.get("hashRecords") if isinstance(page, dict) else None
    taken = plain_records(page)
    if taken is not None:
        assert isinstance(records, list)
        assert len(taken) == len(records) > 0
    for raw in records if isinstance(records, list) else [page]:
        made = plain_record(raw)
        if made is not None:
            expected = dict(raw)
            if expected.get("caseNumbers") == []:  # as pytx's client does first
                expected["caseNumbers"] = {}
            assert made == dacite.from_dict(StopNCIIHashRecord, expected, config=_PYTX_CONFIG)
        elif taken is not None:
            raise AssertionError("a page with a record not plain was taken")
