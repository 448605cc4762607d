"""Fuzz target ``warc``: bytes read as a capture's WARC file (``read_warc``) and as a page whose
embedded images a capture would fetch (``embedded_images``). Only ``EvidenceRefusedError`` may
escape ``read_warc``; ``embedded_images`` never raises and returns absolute http(s) URLs."""

from __future__ import annotations

from rempart.desk.warc import embedded_images, read_warc
from rempart.errors import EvidenceRefusedError

BASE = "https://example.com/p/1"


def _check_images(page: bytes) -> None:
    urls = embedded_images(page, BASE, limit=20)
    assert len(urls) <= 20
    assert len(set(urls)) == len(urls)
    assert all(url.startswith(("http://", "https://")) and "#" not in url for url in urls)


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as a WARC file, and as a page (with each response's body, if it is one)."""
    _check_images(data)
    records, refusal = [], "is not a WARC file"
    try:
        records = read_warc(data)
    except EvidenceRefusedError as error:
        refusal = str(error)
    assert "is not a WARC file" in refusal  # a refusal always says what the data is not
    for record in records:
        if record.type == "response":
            _check_images(record.payload)
