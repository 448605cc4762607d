"""Rendering results: JSON Lines for machines, CSV for spreadsheets, a table for people.

JSON Lines and CSV stream one record at a time as results arrive; the table is drawn once
all are in. Progress goes to standard error, and only when it is a terminal.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

if TYPE_CHECKING:
    from rempart.scan import ScanSummary

__all__ = ["OutputFormat", "print_summary", "progress", "write_records"]

T = TypeVar("T")
Row = dict[str, str]


class OutputFormat(StrEnum):
    """How a command prints its results."""

    JSONL = "jsonl"
    CSV = "csv"
    TABLE = "table"


def write_records(
    records: Iterable[dict[str, Any]],
    output_format: OutputFormat,
    *,
    columns: Sequence[str],
    table_columns: Sequence[str],
    flatten: Callable[[dict[str, Any]], Row],
    stream: TextIO | None = None,
) -> None:
    """Write ``records`` in ``output_format``.

    ``flatten`` maps a record to cells; CSV has every one of ``columns``, the table only the
    ``table_columns`` a person reads at a glance.
    """
    from rempart.walk import json_line, printable

    out = stream or sys.stdout
    if output_format is OutputFormat.JSONL:
        for record in records:
            out.write(json_line(record))
    elif output_format is OutputFormat.CSV:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for record in records:
            # A cell never breaks its row: a name with a newline is written escaped.
            writer.writerow({key: printable(cell) for key, cell in flatten(record).items()})
    else:
        from rempart.cli.tables import print_table

        rows = [
            {column: printable(cell) for column, cell in flatten(record).items()}
            for record in records
        ]
        print_table(rows, table_columns, out)
    out.flush()


def _passthrough(items: Iterable[T]) -> Iterator[T]:
    yield from items


def _no_terminal() -> bool:
    """Standard error is surely no terminal, as rich would judge it (``TTY_COMPATIBLE``,
    ``FORCE_COLOR``): then no bar is drawn, and rich need not even be loaded."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):
        return True


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[Iterable[T]], Iterator[T]]]:
    """Give a wrapper that counts items through a progress bar on standard error."""
    if _no_terminal():
        yield _passthrough
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Files per second, over the last few seconds."""

        def render(self, task: Task) -> Text:
            """``12.3 files/s``, or nothing before the first file."""
            speed = task.speed
            text = "" if speed is None else f"{speed:.1f} files/s"
            return Text(text, style="progress.data.speed")

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task(description, total=total)

    def track(items: Iterable[T]) -> Iterator[T]:
        for item in items:
            yield item
            bar.advance(task)

    with bar:
        yield track


def print_summary(summary: ScanSummary, *, title: str, skipped: int, not_read: str) -> None:
    """A scan's or an audit's counts by action, category and error, its speed, what the walk
    left out and, for a sample, each rate with its 95% interval, on standard error."""
    from rich.console import Console
    from rich.table import Table

    from rempart.policy import Action

    subject = summary.subject.value
    table = Table(title=title, header_style="bold", show_header=True)
    table.add_column("")
    table.add_column(subject, justify="right")
    for action in Action:
        table.add_row(action.value, str(summary.actions[action.value]))
    for name in summary.category_names():
        table.add_row(f"  {name}", str(summary.categories[name]))
    for code, count in summary.errors.items():
        table.add_row(f"error: {code}", str(count))
    console = Console(stderr=True)
    console.print(table)
    console.print(
        f"{summary.new} files in {summary.elapsed:.1f} s ({summary.rate:.1f} {subject}/s)"
        + (f", {skipped} already in the output" if skipped else "")
        + f"; policy {summary.policy.name} {summary.policy.version}",
        highlight=False,
    )
    if not_read:
        console.print(not_read, highlight=False, markup=False)
    if summary.sampled:
        for item in summary.prevalence():
            console.print(
                f"  {item.name}: {item.rate:.2%} (95% CI {item.low:.2%} to {item.high:.2%})",
                highlight=False,
            )
