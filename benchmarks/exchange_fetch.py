"""Exchange fetch: a million PDQ hashes from a loopback fake of an exchange into a bank, against
python-threatexchange's own fetch of the same list into its in-memory state.

The fake (``tests/exchanges/fakes.py``, StopNCII's by default) runs in a process of its own, as
a real exchange runs elsewhere, and serves N new hashes. Then, in one run:

- rempart: ``Exchanges.fetch`` from no checkpoint into a new bank in SQLite (each batch of
  pages one transaction: hashes in, checkpoint stored), through Rempart's StopNCII client
  (pytx's, each page's records made without dacite where that gives the same records);
- peer: python-threatexchange's own client (for StopNCII its ``StopNCIISignalExchangeAPI`` over
  ``StopNCIIAPI``, as its CLI makes them) and its ``fetch_iter`` merged with its
  ``naive_fetch_merge`` into a dict, which is how python-threatexchange's CLI builds its local
  state before it writes it out.

Both sides pay the same HTTP; for StopNCII, Rempart makes each record without dacite's walk
(``rempart.exchanges.stopncii``) and writes it into a bank, pytx parses it with dacite and
keeps it in a dict. Target (issue 24): the million in under 60 s on 2 cores.

Run: ``python benchmarks/exchange_fetch.py`` (``--hashes 100000`` for a quick look).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from threatexchange.exchanges.clients.stopncii.api import StopNCIIAPI
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' fakes

from rempart.exchanges import make_api  # noqa: E402 - after the path above
from rempart.exchanges.sync import Exchanges  # noqa: E402
from rempart.store import Store  # noqa: E402

HASHES = 1_000_000
TARGET_S = 60.0
console = Console()


def serve(kind: str, hashes: int, pipe: Connection) -> None:
    """The fake exchange, in its own process: ``hashes`` random PDQ hashes, served until the
    parent says it is done."""
    from tests.exchanges.fakes import fake_exchange

    with fake_exchange(kind) as fake:
        fake.add_many("pdq", [os.urandom(32).hex() for _ in range(hashes)])
        pipe.send((fake.url, fake.credentials, dict(fake.options)))
        pipe.recv()


def rempart_fetch(kind: str, url: str, credentials: str, options: dict[str, str]) -> float:
    """Seconds for ``Exchanges.fetch`` of the whole list into a new bank."""
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{folder}/rempart.db")
        exchanges = Exchanges(store, environ={"BENCH_CREDENTIAL": credentials})
        exchanges.add("bench", kind, credentials_env="BENCH_CREDENTIAL", url=url, options=options)
        started = time.perf_counter()
        report = exchanges.fetch("bench")
        seconds = time.perf_counter() - started
        store.close()
    console.print(
        f"rempart: {report.fetched} signals, {report.added} added, {report.pages} pages, "
        f"{report.entries} entries in the bank"
    )
    return seconds


def pytx_api(kind: str, url: str, credentials: str, options: dict[str, str]) -> Any:
    """python-threatexchange's own exchange API for ``kind`` (``make_api``'s, where Rempart
    changes nothing of its parsing)."""
    if kind != "stopncii":
        return make_api(kind, credentials, url=url, options=options)
    function_key, subscription_key = credentials.split(",")[:2]
    client = StopNCIIAPI(subscription_key, function_key, base_url_override=url)
    return StopNCIISignalExchangeAPI(CollaborationConfigBase("stopncii", "stopncii", True), client)


def peer_fetch(kind: str, url: str, credentials: str, options: dict[str, str]) -> float:
    """Seconds for pytx's ``fetch_iter`` + ``naive_fetch_merge`` into a dict."""
    api = pytx_api(kind, url, credentials, options)
    state: dict[Any, Any] = {}
    started = time.perf_counter()
    for delta in api.fetch_iter([], None):
        api.naive_fetch_merge(state, delta.updates)
    seconds = time.perf_counter() - started
    console.print(f"peer: {len(state)} records in its state")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=HASHES, help="hashes the fake serves")
    parser.add_argument("--exchange", default="stopncii", help="which exchange's fake")
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(
        target=serve, args=(args.exchange, args.hashes, child), daemon=True
    )
    server.start()
    url, credentials, options = parent.recv()
    try:
        ours = rempart_fetch(args.exchange, url, credentials, options)
        peer = peer_fetch(args.exchange, url, credentials, options)
    finally:
        parent.send("done")
        server.join(30)

    table = Table(
        "measure",
        "rempart (into a bank)",
        "pytx naive_fetch_merge (a dict)",
        "ratio",
        title=f"{args.hashes:,} PDQ hashes from the {args.exchange} fake, "
        f"{len(os.sched_getaffinity(0))} cores",
    )
    table.add_row("seconds", f"{ours:.1f}", f"{peer:.1f}", f"{peer / ours:.2f}x")
    table.add_row(
        "hashes/s",
        f"{args.hashes / ours:,.0f}",
        f"{args.hashes / peer:,.0f}",
        f"{peer / ours:.2f}x",
    )
    console.print(table)
    target = TARGET_S * args.hashes / HASHES
    verdict = "met" if ours < target else "missed"
    console.print(f"target: {args.hashes:,} hashes in under {target:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
