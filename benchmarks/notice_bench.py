"""Notices rendered a second: as text (the mail's body, Jinja2) and as PDF/A-3b (WeasyPrint,
the record attached), for notices of 1, 10 and 50 items (English, an association's NCII
notice under the DSA and TAKE IT DOWN).

The peer, measured in the same run: WeasyPrint making a PDF of a plain HTML page holding the
same text (the text rendering in a ``<pre>``), without templates, style, PDF/A or attachment;
the ratio is our seconds over the peer's. Target: a 50-item notice as PDF under 1 s on 2 cores
(WeasyPrint makes a plain 2-page document in about 0.4 s). The first PDF of a process, which
loads the fonts, is shown apart.

Run: ``make bench`` (or ``python benchmarks/notice_bench.py --repeat 5 --sizes 1 10 50``).
"""

from __future__ import annotations

import argparse
import html
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rempart.desk.render import render_pdf, render_text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.desk.records import a_record  # noqa: E402

console = Console()
TARGET_ITEMS = 50
TARGET_SECONDS = 1.0


def seconds_each(work: Callable[[], object], repeat: int) -> list[float]:
    """Seconds ``work`` took, ``repeat`` times."""
    taken = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        taken.append(time.perf_counter() - started)
    return taken


def plain_pdf(text: str) -> bytes:
    """The peer: WeasyPrint's PDF of the text in a bare page (no template, no PDF/A)."""
    from weasyprint import HTML

    page = f"<!doctype html><html><body><pre>{html.escape(text)}</pre></body></html>"
    pdf: bytes = HTML(string=page).write_pdf()
    return pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50], help="items")
    parser.add_argument("--repeat", type=int, default=5, help="PDFs of each size, after one")
    parser.add_argument("--texts", type=int, default=200, help="text renderings of each size")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))

    started = time.perf_counter()
    render_pdf(a_record(count=1))
    first = time.perf_counter() - started
    plain_pdf(render_text(a_record(count=1)))  # the peer loads its fonts too

    table = Table(
        "items", "text /s", "PDF /s", "PDF s (median)", "PDF s (max)", "KB",
        "peer PDF s (median)", "ours / peer",
        title=f"Notices rendered ({cores} cores; PDF: {args.repeat} each after a warm-up; "
        "peer: WeasyPrint on the same text in a plain page)",
    )  # fmt: skip
    medians: dict[int, float] = {}
    for size in args.sizes:
        record = a_record(count=size)
        text = render_text(record)
        text_seconds = sum(seconds_each(partial(render_text, record), args.texts))
        pdf = render_pdf(record)  # warm-up of this size's templates and glyphs
        ours = seconds_each(partial(render_pdf, record), args.repeat)
        plain_pdf(text)
        peer = seconds_each(partial(plain_pdf, text), args.repeat)
        medians[size] = statistics.median(ours)
        table.add_row(
            str(size),
            f"{args.texts / text_seconds:,.0f}",
            f"{1 / medians[size]:.1f}",
            f"{medians[size]:.3f}",
            f"{max(ours):.3f}",
            f"{len(pdf) / 1000:.0f}",
            f"{statistics.median(peer):.3f}",
            f"{medians[size] / statistics.median(peer):.2f}x",
        )
    console.print(table)
    console.print(f"First PDF of the process (fonts loaded): {first:.3f} s")
    # Other work on the machine moves every figure: say how busy it was.
    console.print(f"Load average over the last minute: {os.getloadavg()[0]:.1f} ({cores} cores)")
    if TARGET_ITEMS in medians:
        took = medians[TARGET_ITEMS]
        verdict = "PASS" if took < TARGET_SECONDS else "MISS"
        console.print(
            f"Target: {TARGET_ITEMS}-item notice as PDF under {TARGET_SECONDS:g} s on 2 cores: "
            f"{took:.3f} s on {cores} cores: {verdict}"
        )


if __name__ == "__main__":
    main()
