"""Fuzz target ``sor``: a statements-of-reasons file as ``rempart sor check`` reads it (one
statement, or ``{"statements": [...]}``), parsed and checked. Only ``SorInvalidError`` may
escape: a bad file is named by its statement and field, never a crash."""

from __future__ import annotations

from rempart.desk.sor import check_batch, parse
from rempart.errors import SorInvalidError


def fuzz_one(data: bytes) -> None:
    """Parse ``data`` and check its statements."""
    field = "none"
    try:
        check_batch(parse(data))
    except SorInvalidError as error:
        field = error.field
    assert field  # a refusal always names its field
