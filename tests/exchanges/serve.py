"""Serve a fake exchange from its own process, for a benchmark (the fake then takes no time
from the fetching process):

    python -m tests.exchanges.serve stopncii --count 1000000 [--page-size N]

prints one JSON line (``kind``, ``url``, ``credentials``, ``options``) once it listens, then
serves until its standard input closes (or SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.exchanges.fakes import fake_exchange
from tests.exchanges.log import GeneratedHashes


def main(argv: list[str] | None = None) -> int:
    """Start the fake, say where it is, wait for standard input to close."""
    parser = argparse.ArgumentParser(prog="python -m tests.exchanges.serve")
    parser.add_argument("kind", choices=["stopncii", "ncmec", "threatexchange", "tat"])
    parser.add_argument("--count", type=int, default=0, help="generated PDQ hashes to serve")
    parser.add_argument("--page-size", type=int, default=None)
    args = parser.parse_args(argv)
    with fake_exchange(args.kind, page_size=args.page_size) as fake:
        if args.count:
            fake.add_many("pdq", GeneratedHashes(args.count))
        fake.settle()
        where = {"kind": fake.kind, "url": fake.url, "credentials": fake.credentials}
        print(json.dumps(where | {"options": dict(fake.options)}), flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
