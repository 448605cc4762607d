"""HMA's ``/m/raw_lookup`` against Rempart's own ``/v1/match``, on the same server and bank,
in the same run: what the HMA-compatible API (``rempart serve --hma-compat``) costs per lookup.

One server (``rempart serve --hma-compat``, as deployed: key check, rate limit, audit log,
metrics) holds a bank of random PDQ hashes (``api_load``'s, cached in ``.bench-cache/api``).
A second process sends closed-loop load on loopback: at each concurrency, that many
connections each send a request as soon as the last is answered, for a fixed time; first
``GET /m/raw_lookup?signal=<hash>&signal_type=pdq`` (HMA's lookup of one hash), then
``POST /v1/match`` with ``{"hashes": [<hash>]}``, the same hashes (half near a banked one,
half random). Both endpoints' answers to a sample are compared before timing. Prints requests
a second of each and the ratio raw_lookup / v1_match.

Run: ``python benchmarks/hma_lookup.py [--hashes 100000] [--concurrency 1 16 64]``.
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

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_load  # noqa: E402 - the bank, keys and load loop are api_load's
from tests.server.running import RunningServer  # noqa: E402

console = Console(stderr=True)
SAMPLE = 300


def raw_lookup_request(port: int, key: str, query: str) -> bytes:
    """HMA's raw lookup of one PDQ hash, as an HMA client sends it."""
    head = (
        f"GET /m/raw_lookup?signal={query}&signal_type=pdq HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n\r\n"
    )
    return head.encode()


def load_main(spec_path: str) -> None:
    """The load process: each endpoint at each concurrency in turn; results as JSON."""
    import uvloop

    spec = json.loads(Path(spec_path).read_text())
    port, key, sample = spec["port"], spec["key"], spec["queries"]
    kinds = {
        "raw_lookup": [raw_lookup_request(port, key, q) for q in sample],
        "v1_match": [api_load.request_bytes(port, key, q) for q in sample],
    }
    results: dict[str, list[dict[str, Any]]] = {}
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        for name, requests in kinds.items():
            runner.run(api_load._load(port, requests, 4, 1.0))  # warm-up
            results[name] = [
                runner.run(api_load._load(port, requests, concurrency, spec["seconds"]))
                for concurrency in spec["concurrency"]
            ]
    print(json.dumps(results))


def check_agreement(url: str, key: str, sample: list[str]) -> None:
    """Both endpoints find the same banked entries for each hash of the sample."""
    import httpx

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        found = client.post("/v1/match", json={"hashes": sample}, timeout=60).raise_for_status()
        ours = [sorted(m["entry_id"] for m in r["matches"]) for r in found.json()["results"]]
        for query, expected in zip(sample, ours, strict=True):
            answer = client.get(
                "/m/raw_lookup", params={"signal": query, "signal_type": "pdq"}, timeout=60
            ).raise_for_status()
            assert sorted(answer.json()["matches"]) == expected, (query, answer.text)
    matched = sum(bool(entries) for entries in ours)
    console.print(f"Agreement checked on {len(sample)} hashes ({matched} matched)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load)
        return
    stored = api_load.hashes_file(args.hashes)
    url = api_load.rempart_database(stored, args.hashes)
    key = api_load.platform_key(url)
    sample = api_load.queries(stored, api_load.QUERIES)
    data_dir = api_load.CACHE / "hma-data"
    data_dir.mkdir(exist_ok=True)
    server = RunningServer(data_dir, url, workers=args.workers, args=["--hma-compat"])
    console.print(f"Starting rempart serve --hma-compat ({args.workers} workers)...")
    server.start(timeout=900)
    try:
        check_agreement(server.url, key, sample[:SAMPLE])
        spec = api_load.CACHE / "hma-load-spec.json"
        spec.write_text(
            json.dumps(
                {
                    "port": server.port,
                    "key": key,
                    "queries": sample,
                    "concurrency": args.concurrency,
                    "seconds": args.seconds,
                }
            )
        )
        done = subprocess.run(
            [sys.executable, __file__, "--load", str(spec)],
            capture_output=True,
            text=True,
            check=True,
        )
        results = json.loads(done.stdout)
    finally:
        server.stop()
    report(results, args)


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    table = Table(
        title=f"/m/raw_lookup vs /v1/match: {args.hashes:,} hashes, {args.workers} workers, "
        f"{args.seconds:g} s a step"
    )
    for column in ("concurrency", "raw_lookup req/s", "v1_match req/s", "ratio", "errors"):
        table.add_column(column, justify="right")
    for hma, ours in zip(results["raw_lookup"], results["v1_match"], strict=True):
        table.add_row(
            str(hma["concurrency"]),
            f"{hma['rps']:,.0f}",
            f"{ours['rps']:,.0f}",
            f"{hma['rps'] / ours['rps']:.2f}",
            str(hma["errors"] + ours["errors"]),
        )
    Console().print(table)
    print(json.dumps({"benchmark": "hma_lookup", "hashes": args.hashes, "results": results}))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    console.print(f"Done in {time.perf_counter() - started:.0f} s")
