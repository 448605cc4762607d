"""Removal checks and evidence: re-checks a second, and the cost of sealing a 20 MB capture.

Re-checks: ``Rechecker.recheck()`` on a SQLite desk holding N notified URL items (sent notices
of adult cases; half their URLs answer 200, half 404) against a local web server (the tests'
``Site``, a ``ThreadingHTTPServer`` on loopback), through ``HttpFetcher`` (each address
checked, one connection per fetch, each check written with its event). The peer, in the same
run: a plain ``httpx.Client`` GET loop over the same URLs (a connection each, as ours; no
address check, no database). The ratio is the peer's rate over ours.

Capture: ``Evidence.capture`` of a local page embedding noise PNGs totalling about 20 MB
(fetch, WARC 1.1, seal, store), end to end; the sealing step alone (``sealed.seal_bytes``,
AES-256-GCM, on WARC bytes of the same size); the WARC writing alone (``write_warc``); the
peer: a plain ``httpx.Client`` downloading the page and its images. Target: sealing under 10%
of the capture's time on 2 cores.

Run: ``make bench`` (or ``python benchmarks/evidence_bench.py --items 400 --megabytes 20``).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table
from sqlalchemy import update

from rempart.config import load_settings
from rempart.desk import AgeAnswer, Desk, DeskKeys, FixedClock, ItemInput, Notices
from rempart.desk.evidence import Evidence
from rempart.desk.fetch import HttpFetcher
from rempart.desk.recheck import Rechecker
from rempart.desk.sealed import capture_aad, seal_bytes
from rempart.desk.warc import embedded_images, write_warc
from rempart.store import Store
from rempart.store.schema import desk_items

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.desk.noticing import PLATFORMS, REVIEWER  # noqa: E402
from tests.desk.served import Site  # noqa: E402

console = Console()
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
TARGET_SHARE = 0.10
# The peer opens a connection per GET, as HttpFetcher does: on a kept-alive connection the
# standard library's server (headers and body written apart) meets the client's delayed ACK,
# 40 ms a request, which would measure the test server rather than the fetch.
ONE_CONNECTION_EACH = httpx.Limits(max_keepalive_connections=0)
PER_NOTICE = 100  # a case's items at most (rempart.desk.model.MAX_ITEMS)


def timed(work: Callable[[], object], repeat: int) -> list[float]:
    """Seconds ``work`` took, ``repeat`` times."""
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


def a_desk(folder: Path) -> tuple[Desk, Notices]:
    """A desk on SQLite in ``folder``, with the tests' platforms and a key file."""
    store = Store.open(f"sqlite:///{folder / 'rempart.db'}")
    desk = Desk(store, keys=DeskKeys.create(folder / "desk.key"), clock=FixedClock(NOW))
    (folder / "platforms").mkdir()
    (folder / "platforms" / "test.yaml").write_text(PLATFORMS, encoding="utf-8")
    settings = load_settings(
        {
            "REMPART_DATA_DIR": str(folder),
            "REMPART_DESK_PLATFORMS": str(folder / "platforms"),
            "REMPART_DESK_NOTIFIER_NAME": "Rempart Bench Desk",
            "REMPART_DESK_NOTIFIER_EMAIL": "desk@rempart.test",
        }
    )
    return desk, Notices.from_settings(settings, desk)


def notified_items(desk: Desk, notices: Notices, site: Site, count: int) -> list[str]:
    """``count`` adult URL items in sent notices (delivered by the platform's form), their
    URLs then moved to the local server: half served, half answering 404. Their URLs."""
    urls = []
    for first in range(0, count, PER_NOTICE):
        size = min(PER_NOTICE, count - first)
        items = [ItemInput(url=f"https://forms.test/p/{first + n}") for n in range(size)]
        case = desk.report(AgeAnswer.ADULT, items).case
        draft = notices.draft(case.number, "uk-form", REVIEWER)
        notices.record_delivery(draft.reference, REVIEWER, at=NOW, how="the platform's web form")
        with desk.store.write() as connection:
            for offset, item in enumerate(case.items):
                path = f"/p/{first + offset}"
                if (first + offset) % 2 == 0:
                    site.serve(path, b"<p>still here</p>")
                urls.append(site.url(path))
                connection.execute(
                    update(desk_items).where(desk_items.c.id == item.id).values(url=urls[-1])
                )
    return urls


def rechecks(folder: Path, count: int) -> tuple[float, float, dict[str, int]]:
    """Our re-checks a second, the peer's GETs a second, and our outcomes counted."""
    site = Site()
    try:
        desk, notices = a_desk(folder)
        urls = notified_items(desk, notices, site, count)
        checker = Rechecker(desk, HttpFetcher(allow=[site.allow], clock=desk.clock), hours=6)
        started = time.perf_counter()
        report = checker.recheck(limit=count)
        ours = time.perf_counter() - started
        outcomes: dict[str, int] = {}
        for check in report.checks:
            outcomes[check.outcome.value] = outcomes.get(check.outcome.value, 0) + 1
        with httpx.Client(limits=ONE_CONNECTION_EACH) as client:
            started = time.perf_counter()
            statuses = [client.get(url).status_code for url in urls]
            peer = time.perf_counter() - started
        assert sorted(set(statuses)) == [200, 404]
        return len(report.checks) / ours, len(urls) / peer, outcomes
    finally:
        site.close()


def noise_png(seed: int, megabytes: float) -> bytes:
    """A PNG of random coloured noise (no picture of anything) of about ``megabytes``."""
    side = int((megabytes * 1_000_000 / 3) ** 0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG", compress_level=1)
    return out.getvalue()


def captures(folder: Path, megabytes: float, images: int, repeat: int) -> dict[str, list[float]]:
    """Seconds of each step, ``repeat`` times: the capture, the sealing, the WARC, the peer."""
    site = Site()
    try:
        page = b"<!doctype html><html><body><p>a page of the bench</p>"
        for index in range(images):
            site.serve(f"/img/{index}.png", noise_png(index, megabytes / images), "image/png")
            page += b'<img src="/img/%d.png">' % index
        site.serve("/p/big", page + b"</body></html>")
        desk, _ = a_desk(folder)
        fetcher = HttpFetcher(allow=[site.allow], clock=desk.clock, purpose="evidence capture")
        evidence = Evidence(desk, fetcher, days=365)
        item = desk.report(AgeAnswer.ADULT, [ItemInput(url=site.url("/p/big"))]).case.items[0]
        capture = evidence.capture(item.id, REVIEWER, reason="benchmark")  # warm-up
        fetched = fetcher.fetch(site.url("/p/big"))
        resources = [fetcher.fetch(url) for url in embedded_images(fetched.body, fetched.final_url)]
        warc = write_warc(fetched, resources, captured_at=NOW, version="bench")
        key, aad = secrets.token_bytes(32), capture_aad(capture.id, warc.sha256)

        def peer() -> None:
            with httpx.Client(limits=ONE_CONNECTION_EACH) as client:
                body = client.get(site.url("/p/big")).content
                for url in embedded_images(body, site.url("/p/big")):
                    client.get(url).raise_for_status()

        steps = {
            "capture": timed(
                lambda: evidence.capture(item.id, REVIEWER, reason="benchmark"), repeat
            ),
            # The short steps, timed more often: one slow pass moves their median less.
            "seal": timed(lambda: seal_bytes(key, warc.data, aad), 4 * repeat),
            "warc": timed(
                lambda: write_warc(fetched, resources, captured_at=NOW, version="bench"),
                4 * repeat,
            ),
            "peer": timed(peer, repeat),
        }
        steps["size"] = [len(warc.data) / 1_000_000]
        return steps
    finally:
        site.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400, help="notified URL items")
    parser.add_argument("--megabytes", type=float, default=20.0, help="the page's images")
    parser.add_argument("--images", type=int, default=10, help="images on the page")
    parser.add_argument("--repeat", type=int, default=5, help="captures timed, after one")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))

    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "checks").mkdir()
        ours, peer, outcomes = rechecks(Path(temporary) / "checks", args.items)
        (Path(temporary) / "captures").mkdir()
        steps = captures(Path(temporary) / "captures", args.megabytes, args.images, args.repeat)

    table = Table(
        "items", "outcomes", "re-checks /s", "peer GETs /s", "peer / ours",
        title=f"Removal checks ({cores} cores; ours: Rechecker + HttpFetcher + SQLite; "
        "peer: httpx.Client GET loop, no checks, no database)",
    )  # fmt: skip
    shown = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    table.add_row(str(args.items), shown, f"{ours:,.0f}", f"{peer:,.0f}", f"{peer / ours:.1f}x")
    console.print(table)

    capture, seal = statistics.median(steps["capture"]), statistics.median(steps["seal"])
    warc, plain = statistics.median(steps["warc"]), statistics.median(steps["peer"])
    table = Table(
        "WARC MB", "capture s", "seal s", "seal share", "WARC writing s", "peer s",
        "capture / peer",
        title=f"Capture of a page with {args.images} images ({cores} cores; medians of "
        f"{args.repeat} after a warm-up; peer: httpx.Client downloading the same page and images)",
    )  # fmt: skip
    table.add_row(
        f"{steps['size'][0]:.1f}",
        f"{capture:.3f}",
        f"{seal:.3f}",
        f"{seal / capture:.1%}",
        f"{warc:.3f}",
        f"{plain:.3f}",
        f"{capture / plain:.1f}x",
    )
    console.print(table)
    console.print(f"Load average over the last minute: {os.getloadavg()[0]:.1f} ({cores} cores)")
    verdict = "PASS" if seal / capture < TARGET_SHARE else "MISS"
    console.print(
        f"Target: sealing under {TARGET_SHARE:.0%} of a {args.megabytes:g} MB capture on 2 "
        f"cores: {seal / capture:.1%} on {cores} cores: {verdict}"
    )


if __name__ == "__main__":
    main()
