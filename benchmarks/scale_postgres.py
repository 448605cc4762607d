"""What PostgreSQL holds per bank entry, per change-log entry and per audited request, measured
on a real server, for docs/scaling.md's sizes at 100M hashes and 1 billion requests a day.

A throwaway PostgreSQL (as the tests start one) gets a bank filled through Rempart's own
import (``Banks.import_list``, hex lines, one transaction per import of ``--hashes``), then
audit rows shaped like a ``POST /v1/match`` request's, written as the server's audit writer
writes them (``write_entries``, batches of 500). Measured: ``pg_total_relation_size`` of each
table (heap, TOAST and indexes) after ``VACUUM ANALYZE``, divided by its rows; and the import's
rate against the peer measured in the same run, a bare ``COPY`` of the same hashes into a
table of one ``char(64)`` column with no index (what any import could not beat).

Run: ``python benchmarks/scale_postgres.py`` (``--quick`` for 20,000 hashes).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rempart.access.audit import AuditEntry, write_entries  # noqa: E402
from rempart.matching.banks import Banks  # noqa: E402
from rempart.matching.formats import HashListFormat  # noqa: E402
from rempart.store import Store  # noqa: E402
from tests.postgres import temporary_server  # noqa: E402

TABLES = ("bank_entries", "bank_changes", "audit_log")


def _sizes(store: Store) -> dict[str, tuple[int, int]]:
    """Each table's (rows, bytes with its indexes)."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        return {
            table: (
                int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()),
                int(
                    connection.execute(
                        text("SELECT pg_total_relation_size(:t)"), {"t": table}
                    ).scalar_one()
                ),
            )
            for table in TABLES
        }


def run(console: Console, quick: bool = False, *, hashes: int = 200_000) -> list[tuple[str, str]]:
    """Measure; rows of (measure, result)."""
    count = 20_000 if quick else hashes
    audited = count
    lines = "".join(f"{os.urandom(32).hex()}\n" for _ in range(count))
    rows: list[tuple[str, str]] = []
    with temporary_server() as url:
        store = Store.open(url)
        try:
            banks = Banks(store)
            banks.create("measured")
            started = time.perf_counter()
            banks.import_list(
                "measured", io.StringIO(lines), origin="benchmark", fmt=HashListFormat.HEX
            )
            ours = time.perf_counter() - started
            # The peer: COPY of the same hashes into a bare table, no index, one transaction.
            with (
                psycopg.connect(
                    make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
                ) as raw,
                raw.cursor() as cursor,
            ):
                cursor.execute("CREATE TABLE bare (hash char(64))")
                started = time.perf_counter()
                with cursor.copy("COPY bare (hash) FROM STDIN") as copy:
                    copy.write(lines)
                raw.commit()
                peer = time.perf_counter() - started
            entries = [
                AuditEntry(
                    method="POST",
                    route="/v1/match",
                    status=200,
                    duration_ms=2,
                    key_id="k3x9v2mf8q1a",
                    role="platform",
                    outcome="allow",
                    client="10.0.3.17",
                )
                for _ in range(500)
            ]
            started = time.perf_counter()
            for _ in range(audited // 500):
                write_entries(store, entries)
            audit_s = time.perf_counter() - started
            sizes = _sizes(store)
        finally:
            store.close()
    for table in TABLES:
        count_rows, size = sizes[table]
        rows.append(
            (
                f"{table}: bytes a row, indexes included",
                f"{size / count_rows:,.0f} ({count_rows:,} rows, {size / 2**20:,.1f} MiB)",
            )
        )
    rows.append(
        (
            f"import of {count:,} hashes (entries + change log), hashes/s",
            f"{count / ours:,.0f}; peer bare COPY {count / peer:,.0f}/s; "
            f"ours/peer {peer / ours:.2f}",
        )
    )
    rows.append(
        (
            "audit rows written in batches of 500, rows/s",
            f"{audited // 500 * 500 / audit_s:,.0f} (one connection, no peer)",
        )
    )
    shown = Table(title="PostgreSQL: bytes a row and write rates")
    shown.add_column("measure")
    shown.add_column("result")
    for measure, result in rows:
        shown.add_row(measure, result)
    console.print(shown)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 hashes")
    parser.add_argument("--hashes", type=int, default=200_000, metavar="N")
    arguments = parser.parse_args()
    run(Console(), arguments.quick, hashes=arguments.hashes)


if __name__ == "__main__":
    main()
