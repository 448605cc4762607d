"""Beyond one machine, measured on this one: the Ray engine against the local one, start-up
from an index snapshot against a rebuild, add latency through merges, and how fast a change
reaches three servers on one PostgreSQL; what PostgreSQL stores a hash in, and how fast it
imports them.

Each part lives in its own module (``scale_ray``, ``scale_index``, ``scale_fleet``,
``scale_postgres``), runnable alone; this script runs them in turn and prints their rows in one
table.

Run: ``make bench`` (or ``python benchmarks/scale_bench.py [--quick]
[--only ray index fleet postgres]``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = ("ray", "index", "fleet", "postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    args = parser.parse_args()
    console = Console()
    table = Table("part", "measure", "result", title="Scale: one machine, 2 cores")
    for part in args.only:
        module = importlib.import_module(f"scale_{part}")
        started = time.perf_counter()
        rows = module.run(console, quick=args.quick)
        for measure, result in rows:
            table.add_row(part, measure, result)
        console.print(f"[dim]{part}: {time.perf_counter() - started:.0f} s[/dim]")
    console.print(table)


if __name__ == "__main__":
    main()
