"""The scan report: one self-contained HTML file a trust-and-safety lead or a regulator reads.

It holds the summary, a chart of categories, for a sample a chart of prevalence with 95%
intervals, and a table of flagged items. Thumbnails are mosaics of a few cells (see
``THUMBNAIL_CELLS``), never the image: the page scales them up. A flagged video's is a strip
of such mosaics, of the frames behind its verdict only, with the seconds they were at. An
audit's report lists model files instead (format, size, fingerprint), each flagged model once
with every path its copies have. No script, no external file, so it opens offline and shows
nothing from elsewhere.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Final

from rempart import __version__
from rempart.policy import CATEGORIES, Action
from rempart.scan.summary import Prevalence, ScanSummary, Subject
from rempart.walk import printable

__all__ = ["MAX_FLAGGED_ROWS", "FlaggedItem", "render_report", "write_report"]

MAX_FLAGGED_ROWS: Final = 1000
"""Flagged items the table lists (and a scan keeps for it); the JSON Lines output has every
one."""

_CSP: Final = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""Nothing loads from anywhere, and nothing runs: images only from the page itself."""


@dataclass(frozen=True, slots=True)
class FlaggedItem:
    """A record whose verdict is review or block, and its mosaic thumbnail when this run made
    one (items judged by an earlier, resumed run have none)."""

    record: dict[str, Any]
    thumbnail: bytes | None = None


def write_report(path: Path, summary: ScanSummary, flagged: Sequence[FlaggedItem]) -> None:
    """Write the report to ``path`` (through a temporary file, so a reader never sees half)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_report(summary, flagged), encoding="utf-8")
    partial.replace(path)


def render_report(summary: ScanSummary, flagged: Sequence[FlaggedItem]) -> str:
    """The report as an HTML document."""
    sections = [
        _overview(summary),
        _categories(summary),
        _prevalence(summary) if summary.sampled else "",
        _flagged_models(flagged, total=summary.flagged)
        if summary.subject is Subject.MODELS
        else _flagged(flagged, total=summary.flagged),
    ]
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Rempart {summary.subject.job} report"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{title}</h1>
<p class="meta">Generated {generated} by Rempart {escape(__version__)} under policy
<strong>{escape(summary.policy.name)}</strong> {escape(summary.policy.version)}
(<code>{escape(summary.policy.digest)}</code>).</p>
{"".join(sections)}
</body>
</html>
"""


def _overview(summary: ScanSummary) -> str:
    rows = [
        ("Files", summary.judged + summary.failed),
        *((action.value.capitalize(), summary.actions[action.value]) for action in Action),
        ("Could not be read", summary.failed),
    ]
    if summary.sampled:
        rows.insert(0, ("Files in the population sampled", summary.population))
    errors = "".join(
        f"<li><code>{escape(code)}</code>: {count}</li>" for code, count in summary.errors.items()
    )
    speed = (
        f"<p>This run: {summary.new} files in {summary.elapsed:.1f} s "
        f"({summary.rate:.1f} {summary.subject}/s).</p>"
    )
    return (
        "<section><h2>Summary</h2>"
        + _table(("", "count"), [(escape(name), str(count)) for name, count in rows])
        + (f"<p>Errors by kind:</p><ul>{errors}</ul>" if errors else "")
        + speed
        + "</section>"
    )


def _categories(summary: ScanSummary) -> str:
    names = summary.category_names()
    subject = summary.subject
    if not names:
        return (
            f"<section><h2>Categories</h2><p>No {subject.one} fell under any category.</p>"
            "</section>"
        )
    bars = [(name, summary.categories[name], None) for name in names]  # titled in the table
    dsa = [
        (
            f"{escape(CATEGORIES[name].title)} (<code>{escape(name)}</code>)",
            str(summary.categories[name]),
            escape(CATEGORIES[name].dsa_category or "(a label, not a DSA category)"),
            escape(", ".join(CATEGORIES[name].dsa_keywords)),
        )
        for name in names
    ]
    return (
        "<section><h2>Categories</h2>"
        + _bar_chart(bars, maximum=max(count for _, count, _ in bars), label=subject)
        + _table(("category", subject, "DSA category", "DSA keywords"), dsa)
        + "</section>"
    )


def _prevalence(summary: ScanSummary) -> str:
    found = summary.prevalence()
    bars = [(item.name, item.rate, item) for item in found]
    rows = [
        (
            escape(item.name),
            f"{item.count} of {item.total}",
            f"{item.rate:.2%}",
            f"{item.low:.2%} to {item.high:.2%}",
        )
        for item in found
    ]
    return (
        "<section><h2>Prevalence</h2>"
        f"<p>A random sample of {summary.judged + summary.failed} of {summary.population} files. "
        f"Each bar is the share of judged {summary.subject}, its whisker the 95% Wilson interval "
        "for the whole population (with the finite population correction).</p>"
        + _bar_chart(bars, maximum=max((item.high for item in found), default=1.0), label="%")
        + _table(("", summary.subject, "rate", "95% interval"), rows)
        + "</section>"
    )


def _flagged(items: Sequence[FlaggedItem], *, total: int) -> str:
    if not items:
        return "<section><h2>Flagged items</h2><p>No image was flagged.</p></section>"
    shown = items[:MAX_FLAGGED_ROWS]
    rows = [_flagged_row(item) for item in shown]
    more = (
        f"<p>{total - len(shown)} more flagged items are in the JSON Lines output.</p>"
        if total > len(shown)
        else ""
    )
    return (
        "<section><h2>Flagged items</h2>"
        "<p>Thumbnails are coarse mosaics: no flagged image is ever shown. A video's is a "
        "strip of mosaics of its flagged frames only.</p>"
        + _table(("", "file", "action", "reasons"), rows)
        + more
        + "</section>"
    )


def _flagged_row(item: FlaggedItem) -> tuple[str, ...]:
    record = item.record
    verdict = record["verdict"]
    action = verdict["action"]
    video = record.get("kind") == "video"
    if item.thumbnail is None:
        thumbnail = '<span class="none">no thumbnail</span>'
    else:
        data = base64.b64encode(item.thumbnail).decode("ascii")
        kind = "strip" if video else "mosaic"
        thumbnail = f'<img class="{kind}" alt="{kind}" src="data:image/png;base64,{data}">'
    return (
        thumbnail,
        f"<code>{escape(printable(record['path']))}</code><br><small>sha256 "
        f"{escape(record['sha256'][:16])}…</small>" + (_video(record) if video else ""),
        _action(action),
        _reasons(verdict),
    )


def _video(record: dict[str, Any]) -> str:
    """A video's length, and the seconds of the frames behind its verdict."""
    times = record.get("flagged_at") or []
    shown = ", ".join(_seconds(at) for at in times[:20]) + (", …" if len(times) > 20 else "")
    flagged = f"; flagged at {escape(shown)}" if times else ""
    return f"<br><small>video, {_seconds(record.get('duration', 0.0))}{flagged}</small>"


def _seconds(at: object) -> str:
    """``75.5`` as ``1:15.5``: a time in a video as a player shows it."""
    if not isinstance(at, int | float):
        return ""
    minutes, seconds = divmod(float(at), 60)
    return f"{int(minutes)}:{seconds:04.1f}"


@dataclass
class _Copies:
    """A flagged model and the paths of every copy of it (same fingerprint) the table holds."""

    record: dict[str, Any]
    paths: list[str] = field(default_factory=list)


def _flagged_models(items: Sequence[FlaggedItem], *, total: int) -> str:
    """The flagged models, one row per fingerprint listing every path that has it; a model
    without a fingerprint (``--fingerprint none``, a pickle) is a row of its own."""
    if not items:
        return "<section><h2>Flagged models</h2><p>No model was flagged.</p></section>"
    shown = items[:MAX_FLAGGED_ROWS]
    groups: dict[object, _Copies] = {}
    for index, item in enumerate(shown):
        fingerprint = item.record.get("fingerprint")
        key = fingerprint if fingerprint is not None else index
        groups.setdefault(key, _Copies(item.record)).paths.append(item.record["path"])
    more = (
        f"<p>{total - len(shown)} more flagged models are in the JSON Lines output.</p>"
        if total > len(shown)
        else ""
    )
    return (
        "<section><h2>Flagged models</h2>"
        "<p>Copies (the same tensors, whatever their names or metadata) share a row.</p>"
        + _table(
            ("files", "format", "size", "fingerprint", "action", "reasons"),
            [_model_row(group) for group in groups.values()],
        )
        + more
        + "</section>"
    )


def _model_row(group: _Copies) -> tuple[str, ...]:
    record = group.record
    paths = "<br>".join(f"<code>{escape(printable(path))}</code>" for path in group.paths)
    copies = len(group.paths)
    fingerprint = record.get("fingerprint")
    return (
        paths + (f"<br><small>{copies} copies</small>" if copies > 1 else ""),
        escape(str(record.get("format", ""))),
        escape(_size(record.get("bytes"))),
        f"<code>{escape(fingerprint[:15])}…</code>"
        if isinstance(fingerprint, str)
        else '<span class="none">none</span>',
        _action(record["verdict"]["action"]),
        _reasons(record["verdict"]),
    )


def _size(size: object) -> str:
    """``12.3 MB``: a size a person reads at a glance (the output has the bytes)."""
    if not isinstance(size, int):
        return ""
    if size < 1000:
        return f"{size} B"
    value, unit = size / 1000, "kB"
    for larger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{value:.1f} {unit}"


def _action(action: str) -> str:
    return f'<span class="action {escape(action)}">{escape(action)}</span>'


def _reasons(verdict: dict[str, Any]) -> str:
    reasons = "".join(
        f"<li><strong>{escape(reason['rule'])}</strong> ({escape(reason['category'])}): "
        f'{escape(reason["text"])} <span class="signals">{_signals(reason["signals"])}</span></li>'
        for reason in verdict["reasons"]
    )
    return f"<ul>{reasons}</ul>"


def _signals(signals: Iterable[dict[str, Any]]) -> str:
    # A value may come from a hostile file (a pickle's import): printable, as a path is.
    return ", ".join(escape(printable(_signal(s))) for s in signals)


def _signal(signal: dict[str, Any]) -> str:
    """A signal in words: its name, score and value."""
    value = f" ({signal['value']})" if "value" in signal else ""
    return f"{signal['name']} {signal['score']:.2f}{value}"


def _bar_chart(
    bars: Sequence[tuple[str, float, Prevalence | None]], *, maximum: float, label: str
) -> str:
    """Horizontal bars as inline SVG; a bar with a ``Prevalence`` gets its interval."""
    width, left, row = 640, 260, 26
    scale = (width - left - 70) / (maximum or 1)
    parts = []
    for index, (name, value, interval) in enumerate(bars):
        y = index * row + 4
        shown = f"{value:.1%}" if label == "%" else f"{value:g}"
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{value * scale:.1f}" height="18" fill="#4a6fa5"/>'
        )
        end = value * scale
        if interval is not None:
            low, high = left + interval.low * scale, left + interval.high * scale
            parts.append(
                f'<line x1="{low:.1f}" y1="{y + 9}" x2="{high:.1f}" y2="{y + 9}" stroke="#111"/>'
                f'<line x1="{low:.1f}" y1="{y + 3}" x2="{low:.1f}" y2="{y + 15}" stroke="#111"/>'
                f'<line x1="{high:.1f}" y1="{y + 3}" x2="{high:.1f}" y2="{y + 15}" stroke="#111"/>'
            )
            end = interval.high * scale
        parts.append(f'<text x="{left + end + 6:.1f}" y="{y + 14}">{shown}</text>')
    height = len(bars) * row + 8
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; the cells are HTML the caller has escaped."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS: Final = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #555; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left; }
td { vertical-align: top; }
td ul { margin: 0; padding-left: 1rem; }
.chart text { font: 13px system-ui, sans-serif; fill: #1d1d1f; }
img.mosaic { width: 96px; image-rendering: pixelated; image-rendering: crisp-edges; }
img.strip { height: 54px; image-rendering: pixelated; image-rendering: crisp-edges; }
.action { color: #fff; border-radius: 3px; padding: 0 .4rem; }
.review { background: #b7791f; } .block { background: #b83232; }
.signals { color: #555; font-size: .85em; }
.none { color: #888; font-size: .85em; }
"""
