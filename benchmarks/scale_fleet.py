"""Change propagation across a fleet: ``rempart serve`` processes on one PostgreSQL (a
temporary server, as the tests start one), and 100 changes (a hash added, then withdrawn, in
turn), each posted to the next server. For each change, the delay from the write's response
to the moment every server of a group shows the change applied in ``/readyz`` (its
``position``): p50, p99 and max. Rempart as shipped (three servers that PostgreSQL's
notifications wake) against the peer (three servers with ``REMPART_FOLLOW_NOTIFY=0``, polling
every second, as before), all on the same database and measured on the same changes, which
come a random pause of up to a second apart, so that they fall anywhere between two polls.
Target: p99 under 250 ms.

Run: ``python benchmarks/scale_fleet.py [--quick]`` (needs Debian's postgresql package).
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from rempart.access.keys import ApiKeys, Role  # noqa: E402
from rempart.store import Store  # noqa: E402
from tests.postgres import temporary_server  # noqa: E402
from tests.server.conftest import new_postgres_database  # noqa: E402
from tests.server.running import RunningServer  # noqa: E402

SERVERS = 3
CHANGES, QUICK_CHANGES = 100, 5
TARGET_MS = 250.0
DEADLINE = 30.0  # a change not shown by then is a failure, not a measure


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def start_fleet(database: str, folder: Path) -> dict[str, list[RunningServer]]:
    """``SERVERS`` servers with notifications and ``SERVERS`` without, all on ``database``,
    started together."""
    fleet: dict[str, list[RunningServer]] = {}
    for group, notify in (("notify", "1"), ("poll", "0")):
        env = {"REMPART_FOLLOW_NOTIFY": notify, "REMPART_API_RATE_LIMIT": "100000"}
        fleet[group] = []
        for number in range(SERVERS):
            data_dir = folder / f"{group}-{number}"
            data_dir.mkdir()
            fleet[group].append(RunningServer(data_dir, database, extra_env=env))
    servers = [server for group in fleet.values() for server in group]
    failures: list[BaseException] = []

    def start(server: RunningServer) -> None:
        try:
            server.start(timeout=180)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        for server in servers:
            server.kill()
        raise failures[0]
    return fleet


def delays(
    fleet: dict[str, list[RunningServer]], database: str, count: int
) -> dict[str, list[float]]:
    """For each group of servers, the milliseconds from each change's response to every
    server of the group showing it applied. The changes are posted to the servers of the
    "notify" group in turn, each after a random pause of up to a second, so that they fall
    anywhere between two polls, as real changes do."""
    store = Store.open(database)
    admin = ApiKeys(store).create(Role.ADMIN, name="bench").secret
    store.close()
    engine = create_engine(database)
    clients = {
        group: [server.client(admin) for server in servers] for group, servers in fleet.items()
    }
    writers = clients["notify"]
    bank = f"fleet-{secrets.token_hex(3)}"
    pauses = random.Random(22)
    measured: dict[str, list[float]] = {group: [] for group in fleet}
    try:
        writers[0].post("/v1/banks", json={"name": bank}).raise_for_status()
        pending = ""
        for number in range(count):
            time.sleep(pauses.random())
            writer = writers[number % len(writers)]
            if pending:  # withdraw the hash added by the change before
                response = writer.post(f"/v1/banks/{bank}/withdraw", json={"hashes": [pending]})
                pending = ""
            else:
                pending = secrets.token_hex(32)
                response = writer.post(f"/v1/banks/{bank}/hashes", json={"hash": pending})
            written = time.perf_counter()
            response.raise_for_status()
            with engine.connect() as connection:
                wanted = int(connection.scalar(text("SELECT max(seq) FROM bank_changes")))
            waiting = {(group, index) for group in clients for index in range(SERVERS)}
            shown: dict[str, float] = {}
            while waiting:
                for group, index in sorted(waiting):
                    body = clients[group][index].get("/readyz").json()
                    if body["position"]["banks"] >= wanted:
                        waiting.discard((group, index))
                        if not any(g == group for g, _ in waiting):
                            shown[group] = time.perf_counter()
                if time.perf_counter() - written > DEADLINE:
                    raise RuntimeError(f"change {number} not shown in {DEADLINE} s")
            for group, when in shown.items():
                measured[group].append((when - written) * 1000)
    finally:
        for opened in clients.values():
            for client in opened:
                client.close()
        engine.dispose()
    return measured


def run(console: Console, quick: bool = False) -> list[tuple[str, str]]:
    """p50, p99 and max of the propagation delay with notifications, against polling."""
    count = QUICK_CHANGES if quick else CHANGES
    with temporary_server() as server_url, TemporaryDirectory() as folder:
        database = new_postgres_database(server_url)
        console.print(f"[dim]fleet: {SERVERS} servers with notifications, {SERVERS} without")
        fleet = start_fleet(database, Path(folder))
        try:
            console.print(f"[dim]fleet: {count} changes")
            measured = delays(fleet, database, count)
        finally:
            for servers in fleet.values():
                for server in servers:
                    server.stop()
    notified, polled = measured["notify"], measured["poll"]
    rows = []
    for name, pick in (
        ("p50", statistics.median),
        ("p99", lambda values: percentile(values, 0.99)),
        ("max", max),
    ):
        ours, peer = pick(notified), pick(polled)
        verdict = ""
        if name == "p99":
            verdict = f"; target < {TARGET_MS:.0f} ms: {'met' if ours < TARGET_MS else 'MISSED'}"
        rows.append(
            (
                f"change propagation {name}, {SERVERS} servers on PostgreSQL ({count} changes)",
                f"{ours:.1f} ms with NOTIFY; peer (polling every 1 s) {peer:.1f} ms: "
                f"{peer / ours:.0f}x sooner{verdict}",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CHANGES} changes each")
    console = Console()
    rows = run(Console(stderr=True), quick=parser.parse_args().quick)
    table = Table("measure", "result")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
