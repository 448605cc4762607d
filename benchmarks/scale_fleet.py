"""Change propagation across a fleet: three ``rempart serve`` on one PostgreSQL (a temporary
server, as the tests start one), and 100 changes (a hash added, then withdrawn, in turn),
each posted to the next server. For each change, the delay from the write's response to the
moment every server's ``/readyz`` shows the change applied (its ``position``): p50, p99 and
max. Rempart as shipped (PostgreSQL's notifications wake every server) against the peer, the
same servers with notifications off (``REMPART_FOLLOW_NOTIFY=0``: each polls every second,
as before). Target: p99 under 250 ms.

Run: ``python benchmarks/scale_fleet.py [--quick]`` (needs Debian's postgresql package).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
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
CHANGES, QUICK_CHANGES = 100, 10
TARGET_MS = 250.0
DEADLINE = 30.0  # a change not shown by then is a failure, not a measure


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def start_fleet(database: str, folder: Path, *, notify: bool) -> list[RunningServer]:
    """``SERVERS`` servers on ``database``, started together."""
    env = {"REMPART_FOLLOW_NOTIFY": "1" if notify else "0", "REMPART_API_RATE_LIMIT": "100000"}
    servers = []
    for number in range(SERVERS):
        data_dir = folder / f"{'notify' if notify else 'poll'}-{number}"
        data_dir.mkdir()
        servers.append(RunningServer(data_dir, database, extra_env=env))
    failures: list[BaseException] = []

    def start(server: RunningServer) -> None:
        try:
            server.start(timeout=120)
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
    return servers


def delays(servers: list[RunningServer], database: str, count: int) -> list[float]:
    """Milliseconds from each change's response to every server showing it applied."""
    store = Store.open(database)
    admin = ApiKeys(store).create(Role.ADMIN, name="bench").secret
    store.close()
    engine = create_engine(database)
    clients = [server.client(admin) for server in servers]
    bank = f"fleet-{secrets.token_hex(3)}"
    measured: list[float] = []
    try:
        clients[0].post("/v1/banks", json={"name": bank}).raise_for_status()
        pending = ""
        for number in range(count):
            writer = clients[number % len(clients)]
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
            waiting = set(range(len(clients)))
            while waiting:
                for index in sorted(waiting):
                    position = clients[index].get("/readyz").json()["position"]["banks"]
                    if position >= wanted:
                        waiting.discard(index)
                if time.perf_counter() - written > DEADLINE:
                    raise RuntimeError(f"change {number} not shown in {DEADLINE} s")
            measured.append((time.perf_counter() - written) * 1000)
    finally:
        for client in clients:
            client.close()
        engine.dispose()
    return measured


def measure(server_url: str, folder: Path, *, notify: bool, count: int) -> list[float]:
    database = new_postgres_database(server_url)
    servers = start_fleet(database, folder, notify=notify)
    try:
        return delays(servers, database, count)
    finally:
        for server in servers:
            server.stop()


def run(console: Console, quick: bool = False) -> list[tuple[str, str]]:
    """p50, p99 and max of the propagation delay with notifications, against polling."""
    count = QUICK_CHANGES if quick else CHANGES
    with temporary_server() as server_url, TemporaryDirectory() as folder:
        console.print(f"[dim]fleet: {SERVERS} servers, {count} changes, with notifications")
        notified = measure(server_url, Path(folder), notify=True, count=count)
        console.print(f"[dim]fleet: {SERVERS} servers, {count} changes, polling (the peer)")
        polled = measure(server_url, Path(folder), notify=False, count=count)
    rows = []
    for name, pick in (
        ("p50", lambda v: statistics.median(v)),
        ("p99", lambda v: percentile(v, 0.99)),
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
