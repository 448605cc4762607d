"""Tables for people: identifiers (hashes, key ids, codes, times) are never broken across
lines, since a broken hash cannot be copied or compared; prose and paths wrap. When the
identifiers alone do not fit the terminal, each record is printed as a block of lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["print_table"]

_PROSE_MIN_WIDTH = 12  # below this a wrapped column reads one word a line
_FOLDABLE = frozenset({"path"})  # long single tokens a person reads, never copies in parts


def print_table(rows: Sequence[Mapping[str, str]], columns: Sequence[str], out: TextIO) -> None:
    """Print ``rows`` as a table of ``columns`` (those empty in every row left out), or as
    blocks of ``column  value`` lines when the table would break an identifier."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)
    shown = [column for column in columns if any(row.get(column) for row in rows)]
    if not _fits(rows, shown, console.width):
        _print_blocks(rows, shown, console)
        return
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, header_style="bold")
    for column in shown:
        prose = _is_prose(rows, column)
        table.add_column(column, no_wrap=not prose, overflow="fold")
    for row in rows:
        # Text, not a string: a name with [brackets] is no rich markup.
        table.add_row(*(Text(row.get(column, "")) for column in shown))
    console.print(table)


def _is_prose(rows: Sequence[Mapping[str, str]], column: str) -> bool:
    """Whether a column may wrap: it holds words (a cell with a space), or paths."""
    return column in _FOLDABLE or any(" " in row.get(column, "") for row in rows)


def _fits(rows: Sequence[Mapping[str, str]], columns: Sequence[str], width: int) -> bool:
    """Whether every identifier fits unbroken beside the prose at a readable width."""
    needed = 0
    for column in columns:
        widest = max(len(column), *(len(row.get(column, "")) for row in rows))
        needed += min(widest, _PROSE_MIN_WIDTH) if _is_prose(rows, column) else widest
    padding = 2 * max(len(columns) - 1, 0)  # two spaces between columns, none at the edges
    return needed + padding <= width


def _print_blocks(
    rows: Sequence[Mapping[str, str]], columns: Sequence[str], console: Console
) -> None:
    """One block a record: ``column  value`` for each value it has, a blank line between."""
    from rich.text import Text

    label_width = max((len(column) for column in columns), default=0)
    for index, row in enumerate(rows):
        if index:
            console.print()
        for column in columns:
            value = row.get(column, "")
            if value:
                line = Text(column.ljust(label_width), style="bold")
                line.append("  " + value)
                console.print(line, soft_wrap=True)
