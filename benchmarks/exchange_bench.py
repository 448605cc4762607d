"""Issue 24's benchmark: the exchange fetch (a million hashes from a loopback fake into a bank,
against python-threatexchange's own fetch) and the HMA-compatible lookup (``/m/raw_lookup``
against Rempart's own ``/v1/match``), one after the other, each printing its peer's figures
and the ratio.

Each part is its own script, run here in a process of its own so that neither's server or
fetcher processes outlive it: ``benchmarks/exchange_fetch.py`` and ``benchmarks/hma_lookup.py``
(run either alone for one part, with its own options).

Run: ``python benchmarks/exchange_bench.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PARTS = ("exchange_fetch.py", "hma_lookup.py")


def main() -> int:
    """Run each part; the exit status is the first part's that failed, else 0."""
    here = Path(__file__).resolve().parent
    for part in PARTS:
        print(f"== {part}", flush=True)
        status = subprocess.run([sys.executable, str(here / part)], check=False).returncode
        if status:
            return status
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
