"""Fuzz target: a deployment's policy file, as ``--policy FILE`` and ``REMPART_POLICY`` read
it (``parse_policy``), then a decision over a few signals. Only ``RempartError`` may escape."""

from __future__ import annotations

from rempart.errors import RempartError
from rempart.policy import parse_policy
from rempart.signals import Signal

SIGNALS = [
    Signal("nudity.exposed.breast_f", 0.9, detector="fuzz", version="1"),
    Signal("face.minor", 0.8, value=15, detector="fuzz", version="1"),
    Signal("bank.match", 1.0, value="a-bank", detector="fuzz", version="1"),
]


def fuzz_one(data: bytes) -> None:
    """Parse ``data`` as a policy file and, when it is one, decide over ``SIGNALS``."""
    try:
        policy = parse_policy(data, source="fuzz")
    except RempartError:
        return
    policy.decide(SIGNALS)
