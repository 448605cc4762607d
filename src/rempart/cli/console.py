"""What the desk's commands share (``rempart case``, ``rempart notice``): the desk on the local
database, acted on as an admin at this machine's console, and their records printed.

Their events name the actor ``cli`` (an API key's id is 12 letters and digits, so no key is
ever named so).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any, Final

from rempart.cli.options import current_settings
from rempart.cli.output import OutputFormat, write_records

if TYPE_CHECKING:
    from rempart.desk import Actor, Desk

__all__ = ["CLI_LABEL", "cells", "console_actor", "local_desk", "print_records"]

CLI_LABEL: Final = "cli"


@contextmanager
def local_desk() -> Iterator[Desk]:
    """The desk on the local database (``REMPART_DATABASE_URL``), with the key file."""
    from rempart.desk import Desk
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        yield Desk.from_settings(settings, store)


def console_actor() -> Actor:
    """The actor the desk's commands act as: an admin at this machine's console."""
    from rempart.access.roles import Role
    from rempart.desk import Actor

    return Actor(kind="staff", key_id=CLI_LABEL, role=Role.ADMIN)


def print_records(records: list[dict[str, Any]], fmt: OutputFormat, columns: Sequence[str]) -> None:
    """``records`` in ``fmt``: a table of ``columns``, or every field as JSON Lines."""
    write_records(records, fmt, columns=columns, table_columns=columns, flatten=cells)


def cells(record: dict[str, Any]) -> dict[str, str]:
    """A record's cells: a list (a case's items) by its length, nothing for None."""
    return {
        name: str(len(value)) if isinstance(value, list) else "" if value is None else str(value)
        for name, value in record.items()
    }
