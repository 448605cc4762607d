"""The desk: hashing a photo in the browser, and matching while the desk watches.

12-megapixel JPEGs (4,000 x 3,000, made here from the shared photos and scikit-image's
samples) are hashed in the page by ``pdq.js`` in Debian's chromium (WebGL2 on SwiftShader,
the software renderer, as on a machine without a GPU), from the file's bytes to the answer;
the peer is ``rempart hash`` on the same files in the same run (Python, one file at a time).
Targets: median under 0.5 s, max 1.5 s on 2 cores; the page's scripts under 60 KB.

Watching: ``/v1/match`` load (closed loop from a second process, as ``api_load.py``) on a
server whose index holds a bank of random hashes and 10,000 hashes reported at the desk, which
the watch looks up in every answer (and whose sightings it writes each second), against the
same server with those 10,000 hashes in a plain bank, which nothing watches; both up at once,
loaded in turn, one worker each (with two, the kernel's spreading of connections moves a round
by a third), the median of five rounds kept. Target: within 5%.

Victims' reports: closed-loop load on ``rempart serve --desk`` (SQLite), each report as a
browser makes it: a new session (``GET /desk/report?age=adult``, its token read from the form),
then the form posted with one photo's hash and one link; the peer is the same report as JSON
to ``/v1/cases`` by a flagger's key, on the same server. Target: 50 reports a second, p99 under
250 ms.

Run: ``make bench`` (or ``python benchmarks/desk_bench.py --count 12 --watched 10000``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import skimage.data
from PIL import Image
from rich.console import Console
from rich.table import Table

from rempart.hashing import FileHashes, hamming, hash_path, pack
from rempart.matching.banks.formats import HashListFormat, Record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from api_load import hashes_file, platform_key, queries, run_load  # noqa: E402
from tests.desk.browser import STATIC, Site, launch, missing_browser  # noqa: E402
from tests.server.running import RunningServer  # noqa: E402

SHARED = ROOT.parent / "shared" / "testdata"
SKIMAGE_SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
PAGE_SCRIPTS = ("pdq.js", "report.js")
console = Console()
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def twelve_megapixel_jpegs(count: int, folder: Path) -> list[Path]:
    """``count`` JPEGs of 4,000 x 3,000 (quality 85 to 95), written into ``folder``."""
    sources = [Image.open(p).convert("RGB") for p in sorted(SHARED.glob("pdq/bridge-mods/*.jpg"))]
    sources += [Image.fromarray(getattr(skimage.data, n)()) for n in SKIMAGE_SAMPLES]
    paths = []
    for index in range(count):
        image = sources[index % len(sources)].resize((4000, 3000), Image.Resampling.BICUBIC)
        path = folder / f"{index:03d}.jpg"
        image.save(path, quality=85 + 5 * (index % 3))
        paths.append(path)
    return paths


def in_the_page(paths: list[Path]) -> list[dict[str, object]]:
    """The worker's answers, each with the seconds from posting the file to its answer."""
    site = Site()
    try:
        with launch() as browser:
            page = site.open(browser, "/pages/hash.html")
            messages = [{"url": site.put(p.name, p.read_bytes()), "name": p.name} for p in paths]
            page.evaluate("(messages) => hashAll(messages.slice(0, 1))", messages)  # warm up
            answers: list[dict[str, object]] = page.evaluate(
                "(messages) => hashAll(messages)", messages
            )
            return answers
    finally:
        site.close()


def with_rempart_hash(paths: list[Path]) -> tuple[list[float], list[FileHashes]]:
    """``rempart hash``'s work on each file, and the seconds each took."""
    hash_path(str(paths[0]))  # warm up
    seconds, results = [], []
    for path in paths:
        started = time.perf_counter()
        result = hash_path(str(path))
        seconds.append(time.perf_counter() - started)
        assert isinstance(result, FileHashes), result
        results.append(result)
    return seconds, results


def browser_hashing(count: int) -> None:
    """Print the browser's seconds per photo against ``rempart hash``, and the scripts' size."""
    reason = missing_browser()
    if reason is not None:
        console.print(f"[yellow]Browser hashing skipped: {reason}")
        return
    with tempfile.TemporaryDirectory() as folder:
        paths = twelve_megapixel_jpegs(count, Path(folder))
        answers = in_the_page(paths)
        peer_seconds, peer = with_rempart_hash(paths)
    failed = [a for a in answers if not a["ok"]]
    assert not failed, failed
    page_seconds = [float(str(a["seconds"])) for a in answers]
    distances = [
        int(hamming(pack([str(a["hash"])]), pack([p.pdq]))[0])
        for a, p in zip(answers, peer, strict=True)
    ]
    table = Table(
        "12-MP JPEG, seconds", "in the page (pdq.js)", "rempart hash", "ratio",
        title=f"Hashing a photo in the browser ({count} photos, path: {answers[0]['path']})",
    )  # fmt: skip
    for name, measure in (("median", statistics.median), ("max", max)):
        ours, theirs = measure(page_seconds), measure(peer_seconds)
        table.add_row(name, f"{ours:.3f}", f"{theirs:.3f}", f"{ours / theirs:.1f}x")
    console.print(table)
    console.print(
        f"Distance to rempart hash: median {statistics.median(distances)}, max {max(distances)}"
    )
    raw = sum((STATIC / name).stat().st_size for name in PAGE_SCRIPTS)
    packed = sum(len(gzip.compress((STATIC / name).read_bytes())) for name in PAGE_SCRIPTS)
    console.print(
        f"The hash page's scripts ({' + '.join(PAGE_SCRIPTS)}): {raw / 1000:.1f} KB, "
        f"{packed / 1000:.1f} KB gzipped"
    )


def records(hashes: list[str]) -> Iterator[Record]:
    """Hashes as a hash list's records, of quality 100."""
    return (Record(line, value, 100) for line, value in enumerate(hashes, start=1))


def watched_database(folder: Path, hashes: list[str], watched: int, *, desk: bool) -> str:
    """An SQLite database whose bank ``bench`` holds all but the last ``watched`` hashes, and
    whose last ``watched`` are reported at the desk (``desk``), else in a plain bank."""
    from rempart.desk import AgeAnswer, Desk, DeskKeys, ItemInput
    from rempart.matching.banks import Banks
    from rempart.store import Store

    url = f"sqlite:///{folder / 'rempart.db'}"
    store = Store.open(url)
    try:
        banks = Banks(store)
        banks.create("bench")
        banks.import_records(
            "bench", records(hashes[:-watched]), origin="bench", fmt=HashListFormat.HEX
        )
        if desk:
            reports = Desk(store, keys=DeskKeys.create(folder / "desk.key"))
            tail = hashes[-watched:]
            for start in range(0, watched, 10):  # ten photos a report
                items = [ItemInput(pdq=h, quality=100) for h in tail[start : start + 10]]
                reports.report(AgeAnswer.ADULT, items)
        else:
            banks.create("plain")
            banks.import_records(
                "plain", records(hashes[-watched:]), origin="bench", fmt=HashListFormat.HEX
            )
    finally:
        store.close()
    return url


def watched_matching(watched: int, size: int, seconds: float, workers: int, rounds: int) -> None:
    """Print ``/v1/match`` requests a second with and without ``watched`` desk items: both
    servers up at once, loaded in turn ``rounds`` times each, the median of each kept (one
    load alone moves by a third on this shared machine)."""
    stored = hashes_file(size)
    hashes = stored.read_text().split()
    sample = queries(stored, 20_000)
    load = argparse.Namespace(concurrency=[16], seconds=seconds)
    labels = {"plain bank": False, "desk, watched": True}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    with contextlib.ExitStack() as stack:
        servers = {}
        for label, desk in labels.items():
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = watched_database(folder, hashes, watched, desk=desk)
            key = platform_key(url)
            server = RunningServer(folder, url, workers=workers).start(timeout=300)
            stack.callback(server.stop)
            servers[label] = (server, key)
        for _ in range(rounds):
            for label, (server, key) in servers.items():
                runs[label].append(run_load(server.url, key, sample, load)[0])
    table = Table(
        "the last hashes", "requests/s (median)", "each round", "p50 ms", "p99 ms", "errors",
        title=f"/v1/match, {size:,} hashes of which {watched:,} reported at the desk or not "
        f"({workers} workers, 16 connections, {rounds} rounds of {seconds:g} s in turn)",
    )  # fmt: skip
    medians = {}
    for label, results in runs.items():
        middle = sorted(results, key=lambda result: float(result["rps"]))[len(results) // 2]
        medians[label] = float(middle["rps"])
        table.add_row(
            label,
            f"{middle['rps']:.0f}",
            ", ".join(f"{result['rps']:.0f}" for result in results),
            f"{middle['p50_ms']:.2f}",
            f"{middle['p99_ms']:.2f}",
            str(sum(int(result["errors"]) for result in results)),
        )
    console.print(table)
    ratio = medians["desk, watched"] / medians["plain bank"]
    console.print(f"Watched / plain (medians): {ratio:.3f} (target: at least 0.95)")


def _report_load(
    url: str,
    send: Callable[[httpx.AsyncClient, int], Awaitable[None]],
    concurrency: int,
    seconds: float,
) -> dict[str, float]:
    """Reports a second and latency percentiles of ``send`` from ``concurrency`` clients."""
    latencies: list[float] = []

    async def client(offset: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            number = offset
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                await send(http, number)
                latencies.append(time.perf_counter() - began)
                number += concurrency

    async def run() -> float:
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        return time.perf_counter() - started

    started = time.perf_counter()
    deadline = started + seconds
    elapsed = asyncio.run(run())
    ms = sorted(1000 * value for value in latencies)
    return {
        "reports": len(ms),
        "rate": len(ms) / elapsed,
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
    }


def _hash_of(number: int) -> str:
    """A different, well-spread hash for each report."""
    return hashlib.sha256(number.to_bytes(8, "big")).hexdigest()


async def _page_report(http: httpx.AsyncClient, number: int) -> None:
    """A victim's report as the browser sends it: a new session, then the form."""
    http.cookies.clear()
    form = await http.get("/desk/report?age=adult")
    token = _CSRF.search(form.text)
    assert token, form.text
    sent = await http.post(
        "/desk/report",
        data={
            "csrf": token.group(1),
            "age": "adult",
            "pdq": _hash_of(number),
            "quality": "100",
            "url": f"https://example.org/post/{number}",
        },
        headers={"Origin": str(http.base_url).rstrip("/")},
    )
    assert sent.status_code == 201, sent.text


def _api_report(key: str) -> Callable[[httpx.AsyncClient, int], Awaitable[None]]:
    """The same report as JSON to ``/v1/cases``, by a flagger under a mandate."""

    async def send(http: httpx.AsyncClient, number: int) -> None:
        body = {
            "age": "adult",
            "items": [
                {"pdq": _hash_of(number), "quality": 100},
                {"url": f"https://example.org/post/{number}"},
            ],
            "mandate": {"reference": f"M-{number}", "scope": "all", "starts": "2026-12-01"},
        }
        sent = await http.post("/v1/cases", json=body, headers={"Authorization": f"Bearer {key}"})
        assert sent.status_code == 201, sent.text

    return send


def victim_reports(clients: Sequence[int], seconds: float, workers: int) -> None:
    """Print victims' reports a second through the pages, and through the API as the peer."""
    from rempart.access.keys import ApiKeys, Role
    from rempart.desk import DeskKeys
    from rempart.store import Store

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = f"sqlite:///{folder / 'rempart.db'}"
        DeskKeys.create(folder / "desk.key")
        store = Store.open(url)
        try:
            key = ApiKeys(store).create(Role.FLAGGER, name="bench", rate_limit=10**6).secret
        finally:
            store.close()
        # Every report comes from 127.0.0.1 here: lift the per-address limit.
        no_limit = {"REMPART_DESK_REPORTS_PER_MINUTE": str(10**9)}
        server = RunningServer(folder, url, workers=workers, extra_env=no_limit, args=["--desk"])
        server.start(timeout=300)
        try:
            results = {
                (label, count): _report_load(server.url, send, count, seconds)
                for count in clients
                for label, send in (("the pages", _page_report), ("the API", _api_report(key)))
            }
        finally:
            server.stop()
    table = Table(
        "a victim's report", "clients", "reports/s", "p50 ms", "p99 ms", "reports",
        title=f"Reports at the desk ({workers} workers, SQLite): the pages (a new session, the "
        "form, the report) against the API (/v1/cases, JSON, a flagger's key)",
    )  # fmt: skip
    for (label, count), result in results.items():
        table.add_row(
            label,
            str(count),
            f"{result['rate']:.0f}",
            f"{result['p50']:.1f}",
            f"{result['p99']:.1f}",
            f"{result['reports']:.0f}",
        )
    console.print(table)
    for count in clients:
        pages, api = results["the pages", count], results["the API", count]
        console.print(f"{count} clients: pages / API {pages['rate'] / api['rate']:.2f}")
    console.print("Target for the pages: 50 reports/s with p99 under 250 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12, help="12-MP JPEGs to hash")
    parser.add_argument("--watched", type=int, default=10_000, help="hashes reported")
    parser.add_argument("--hashes", type=int, default=100_000, help="hashes in the index")
    parser.add_argument("--seconds", type=float, default=5.0, help="each load")
    parser.add_argument("--rounds", type=int, default=5, help="loads of each watched server")
    # One: with two, how the kernel spreads the connections over the workers moves a load's
    # rate by a third from one round to the next, more than the watch could.
    parser.add_argument("--match-workers", type=int, default=1, help="workers of the match A/B")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--clients", type=int, nargs="+", default=[4, 16], help="victims reporting at once"
    )
    args = parser.parse_args()
    browser_hashing(args.count)
    victim_reports(args.clients, args.seconds, args.workers)
    watched_matching(args.watched, args.hashes, args.seconds, args.match_workers, args.rounds)


if __name__ == "__main__":
    main()
