"""RFC 3161 timestamps of a capture's SHA-256, from the authority ``REMPART_DESK_TSA_URL``.

SKELETON: the interface is fixed; helper W implements it.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["request_timestamp", "timestamp_time"]


def request_timestamp(url: str, digest: bytes, *, timeout: float = 20.0) -> bytes:
    """Ask the authority at ``url`` to timestamp ``digest`` (a SHA-256): the DER
    ``TimeStampToken`` it returned, checked to be for this digest and this request's nonce;
    ``FetchError`` when it fails or answers with something else."""
    raise NotImplementedError


def timestamp_time(token: bytes, digest: bytes) -> datetime:
    """The time a token says ``digest`` existed; ``EvidenceRefusedError`` when the token is
    not one for this digest."""
    raise NotImplementedError
