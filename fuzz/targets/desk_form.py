"""Fuzz target ``desk_form``: what the desk does with a posted form before a case changes.

The bytes are parsed as the desk parses every POST body (``parse_form``: URL-encoded, at most
64 KiB, standard library), then read as each form reads its fields: a report's items (hashes
with their qualities, links a line each) checked as ``Desk`` checks them, the victim's words,
a case number and a secret as the sign-in form reads them, and a page language. Only the
desk's own refusals may come out: a ``Problem`` (the 4xx the page shows) or a
``RempartError``.
"""

from __future__ import annotations

from contextlib import suppress

from rempart.desk.access import normalise_case_number, normalise_secret
from rempart.desk.model import check_items, check_language, check_text
from rempart.errors import RempartError
from rempart.server.desk.forms import parse_form
from rempart.server.desk.pages import items_of
from rempart.server.problems import Problem


def fuzz_one(data: bytes) -> None:
    """Read ``data`` as a desk form; only the desk's refusals may escape."""
    try:
        form = parse_form(data)
    except Problem:
        return
    with suppress(Problem, RempartError):
        check_items(items_of(form))
    with suppress(RempartError):
        check_text("words", form.one("words") or None)
    with suppress(RempartError):
        check_language(form.one("lang"))
    normalise_case_number(form.one("number"))
    normalise_secret(form.one("secret"))
