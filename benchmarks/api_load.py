"""Load on ``/v1/match`` by hash, from a second process on loopback, against a 1M-hash bank.

Two servers answer the same requests in turn, each with the same number of workers:

- Rempart: ``rempart serve`` as deployed, with its key check, rate limit, audit log and
  metrics on every request, on the embedded SQLite database;
- the peer: python-threatexchange's ``PDQIndex`` (faiss ``IndexBinaryMultiHash``, the index
  HMA serves matches from) behind a bare FastAPI endpoint, with no key, audit or metrics.

The load is closed-loop: at each concurrency, that many connections each send a request as
soon as the last one is answered, for a fixed time. One PDQ hash per request, as a platform
checks an upload; half the hashes are near a banked one (8 to 24 bits flipped), half random.
Both servers' answers to the same sample are compared before timing.

Run: ``make bench`` (or ``python benchmarks/api_load.py --concurrency 1 16 64``). The bank is
built once and cached in ``.bench-cache/api``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.server.running import RunningServer, free_port  # noqa: E402

CACHE = ROOT / ".bench-cache" / "api"
BANK = "bench"
QUERIES = 20_000
console = Console(stderr=True)


def hashes_file(size: int) -> Path:
    """``size`` random PDQ hashes as 64 hex digits a line, made once."""
    path = CACHE / f"hashes-{size}.txt"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(7)
        rows = rng.integers(0, 256, (size, 32), dtype=np.uint8)
        partial = path.with_suffix(".partial")
        partial.write_text("".join(bytes(row).hex() + "\n" for row in rows))
        partial.replace(path)
    return path


def queries(stored: Path, count: int) -> list[str]:
    """Half near a stored hash (8 to 24 bits flipped), half random."""
    rng = np.random.default_rng(11)
    lines = stored.read_text().split()
    picked = rng.choice(len(lines), count // 2, replace=False)
    near = []
    for index in picked:
        bits = np.unpackbits(np.frombuffer(bytes.fromhex(lines[index]), dtype=np.uint8))
        flips = rng.choice(256, rng.integers(8, 25), replace=False)
        bits[flips] ^= 1
        near.append(np.packbits(bits).tobytes().hex())
    far = [
        bytes(row).hex() for row in rng.integers(0, 256, (count - len(near), 32), dtype=np.uint8)
    ]
    mixed = near + far
    rng.shuffle(mixed)
    return mixed


def rempart_database(stored: Path, size: int) -> str:
    """An SQLite database holding the bank, imported once through ``rempart.matching.banks``."""
    from rempart.matching.banks import Banks, HashListFormat, read_records
    from rempart.store import Store

    path = CACHE / f"rempart-{size}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        partial = CACHE / f"rempart-{size}.partial.db"
        partial.unlink(missing_ok=True)
        store = Store.open(f"sqlite:///{partial}")
        banks = Banks(store)
        banks.create(BANK, description="api_load benchmark")
        started = time.perf_counter()
        with open(stored, encoding="utf-8") as stream:
            report = banks.import_records(
                BANK,
                read_records(stream, HashListFormat.HEX),
                origin=str(stored),
                fmt=HashListFormat.HEX,
            )
        console.print(f"Imported {report.added:,} hashes in {time.perf_counter() - started:.0f} s")
        store.close()
        partial.replace(path)
    return url


def platform_key(url: str) -> str:
    """A platform key whose rate limit the load cannot reach."""
    from rempart.access.keys import ApiKeys, Role
    from rempart.store import Store

    store = Store.open(url)
    try:
        return ApiKeys(store).create(Role.PLATFORM, name="api_load", rate_limit=10**9).secret
    finally:
        store.close()


# ---- the peer: python-threatexchange's PDQ index behind a bare FastAPI endpoint ----------


class MatchRequest(BaseModel):
    """The peer's request body: the same as Rempart's."""

    hashes: list[str]


def peer_app() -> Any:
    """The peer's app, built in each of its workers from ``API_LOAD_HASHES``."""
    from fastapi import FastAPI
    from starlette.responses import JSONResponse
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    lines = Path(os.environ["API_LOAD_HASHES"]).read_text().split()
    index = PDQIndex([(line, entry) for entry, line in enumerate(lines, start=1)])
    app = FastAPI()

    @app.get("/readyz")
    async def readyz() -> dict[str, int]:
        return {"hashes": len(index)}

    @app.post("/v1/match")
    async def match(body: MatchRequest) -> JSONResponse:
        results = []
        for query in body.hashes:
            found = index.query(query)
            matches = [
                {
                    "entry_id": m.metadata,
                    "hash": lines[m.metadata - 1],
                    "distance": m.similarity_info.distance,
                }
                for m in found
            ]
            results.append({"hash": query, "matches": matches})
        return JSONResponse({"results": results})

    return app


def start_peer(stored: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    # One OpenMP thread per worker: faiss's default, a thread per core in each worker, only
    # contends with the other workers on this machine.
    env = {**os.environ, "API_LOAD_HASHES": str(stored), "OMP_NUM_THREADS": "1"}
    code = (
        "import uvicorn; uvicorn.run('api_load:peer_app', factory=True, host='127.0.0.1', "
        f"port={port}, workers={workers}, access_log=False, log_level='warning', "
        f"app_dir={str(Path(__file__).parent)!r})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, workers)
    return process, url


def wait_ready(url: str, process: subprocess.Popen[bytes], workers: int) -> None:
    """Until enough new connections in a row are answered that every worker has loaded."""
    import httpx

    answered = 0
    deadline = time.monotonic() + 900
    while answered < 16 * workers:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not start ({process.returncode})")
        try:
            answered = answered + 1 if httpx.get(url + "/readyz", timeout=5).is_success else 0
        except httpx.TransportError:
            answered = 0
            time.sleep(0.5)


# ---- the load, from a second process --------------------------------------------------


def request_bytes(port: int, key: str | None, query: str) -> bytes:
    body = json.dumps({"hashes": [query]}).encode()
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST /v1/match HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    port: int, requests: list[bytes], start: int, deadline: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = start
    try:
        while time.perf_counter() < deadline:
            request = requests[index % len(requests)]
            index += 1
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - began)
            if head[9:12] != b"200":
                out["errors"] += 1
    finally:
        writer.close()


async def _load(
    port: int, requests: list[bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    began = time.perf_counter()
    deadline = began + seconds
    step = len(requests) // concurrency
    await asyncio.gather(
        *(_connection(port, requests, i * step, deadline, out) for i in range(concurrency))
    )
    elapsed = time.perf_counter() - began
    latencies = np.array(out["latencies"]) * 1000
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": out["errors"],
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
    }


def load_main(spec_path: str) -> None:
    """The load process: run each concurrency in turn and print the results as JSON."""
    import uvloop

    spec = json.loads(Path(spec_path).read_text())
    requests = [request_bytes(spec["port"], spec["key"], q) for q in spec["queries"]]
    results = []
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_load(spec["port"], requests, 4, 1.0))  # warm-up
        for concurrency in spec["concurrency"]:
            results.append(runner.run(_load(spec["port"], requests, concurrency, spec["seconds"])))
    print(json.dumps(results))


def run_load(
    url: str, key: str | None, sample: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    spec = CACHE / "load-spec.json"
    port = int(url.rsplit(":", 1)[1])
    spec.write_text(
        json.dumps(
            {
                "port": port,
                "key": key,
                "queries": sample,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
            }
        )
    )
    done = subprocess.run(
        [sys.executable, __file__, "--load", str(spec)], capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout))


def answers(url: str, key: str | None, sample: list[str]) -> list[set[str]]:
    """The banked hashes each query matched, to check both servers agree."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        found = client.post("/v1/match", json={"hashes": sample}).raise_for_status().json()
    return [{m["hash"] for m in result["matches"]} for result in found["results"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-peer", action="store_true", help="Measure Rempart only.")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load)
        return
    stored = hashes_file(args.hashes)
    url = rempart_database(stored, args.hashes)
    key = platform_key(url)
    sample = queries(stored, QUERIES)
    data_dir = CACHE / "data"
    data_dir.mkdir(exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    server = RunningServer(data_dir, url, workers=args.workers)
    console.print(f"Starting Rempart ({args.workers} workers, {args.hashes:,} hashes)...")
    started = time.perf_counter()
    server.start(timeout=900)
    console.print(f"Ready in {time.perf_counter() - started:.1f} s")
    try:
        expected = answers(server.url, key, sample[:500])
        results["rempart"] = run_load(server.url, key, sample, args)
    finally:
        server.stop()
    if not args.no_peer:
        console.print("Starting the peer (python-threatexchange PDQIndex in FastAPI)...")
        started = time.perf_counter()
        process, peer_url = start_peer(stored, args.workers)
        console.print(f"Ready in {time.perf_counter() - started:.1f} s")
        try:
            agreed = answers(peer_url, None, sample[:500]) == expected
            console.print(f"Same matches as Rempart on 500 queries: {agreed}")
            results["peer"] = run_load(peer_url, None, sample, args)
        finally:
            process.terminate()
            process.wait()
    show(results, args)


def show(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    table = Table(
        title=f"/v1/match, one hash a request, {args.hashes:,}-hash bank, "
        f"{args.workers} workers, {os.cpu_count()} cores (load generator included)"
    )
    for column in ("server", "concurrency", "requests/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for name, rows in results.items():
        for row in rows:
            table.add_row(
                name,
                str(row["concurrency"]),
                f"{row['rps']:,.0f}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                str(row["errors"]),
            )
    Console().print(table)
    if "peer" in results:
        for ours, theirs in zip(results["rempart"], results["peer"], strict=True):
            console.print(
                f"concurrency {ours['concurrency']}: Rempart {ours['rps'] / theirs['rps']:.1f}x "
                "the peer's requests/s"
            )


if __name__ == "__main__":
    main()
