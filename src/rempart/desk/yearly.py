"""The trusted flagger's yearly report (DSA Art. 22(3)): the notices the desk sent in a calendar
year, by platform, type of content and what the platform did, with the median time to removal
and the share accepted (what the regulator watches under Art. 23).

The year runs from 1 January 00:00 to the next 1 January 00:00 in the time zone given (the
desk's, ``REMPART_DESK_TIMEZONE``, from the command line; UTC otherwise); a notice belongs to
the year its first sending fell in. Counts are given both per notice (what Art. 22(3) names)
and per item (each URL a notice names; a platform decides on each). The report holds no
personal data: platforms, natures, outcomes and numbers only; no name, address, URL, case
number, notice reference or item id.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from sqlalchemy import and_, select

from rempart.desk.i18n import language_of
from rempart.desk.notice_model import Nature, NoticeState
from rempart.desk.render import template, write_pdf
from rempart.store import Store
from rempart.store.schema import desk_notice_items, desk_notices

__all__ = [
    "ATTACHMENT",
    "MIXED",
    "OUTCOMES",
    "UNANSWERED",
    "Count",
    "Summary",
    "YearlyReport",
    "render_html",
    "render_pdf",
    "yearly_report",
]

ATTACHMENT: Final = "report.json"
"""The name the report's JSON has inside its PDF."""

UNANSWERED: Final = "unanswered"
"""An item the platform has not decided on yet."""
MIXED: Final = "mixed"
"""A notice whose items ended differently (per notice only; its items count in their own)."""
OUTCOMES: Final = ("removed", "restricted", "refused", UNANSWERED)
"""An item's outcomes, in the report's order."""
ACCEPTED: Final = frozenset({"removed", "restricted"})
ALL: Final = "all"
"""The platform of the summary over every platform."""
CSV_COLUMNS: Final = (
    "kind",
    "platform",
    "title",
    "nature",
    "outcome",
    "notices",
    "items",
    "decided",
    "accepted",
    "share_accepted",
    "median_hours_to_removal",
)


@dataclass(frozen=True, slots=True)
class Count:
    """How many notices and items of a platform and nature ended so: ``notices`` counts the
    notices all of whose items had this outcome (``MIXED``: not all the same), ``items`` the
    items that had it; each column sums to the totals."""

    platform: str
    title: str
    nature: str
    outcome: str
    notices: int
    items: int

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "title": self.title,
            "nature": self.nature,
            "outcome": self.outcome,
            "notices": self.notices,
            "items": self.items,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """A platform's (or ``ALL``'s) year: notices and items sent, items decided, accepted
    (removed or restricted), the share accepted of those decided, and the median hours from
    sending to removal of the items removed (None where nothing was decided or removed)."""

    platform: str
    title: str
    notices: int
    items: int
    decided: int
    accepted: int
    removed: int
    median_hours_to_removal: float | None

    @property
    def share_accepted(self) -> float | None:
        return round(self.accepted / self.decided, 4) if self.decided else None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "title": self.title,
            "notices": self.notices,
            "items": self.items,
            "decided": self.decided,
            "accepted": self.accepted,
            "removed": self.removed,
            "share_accepted": self.share_accepted,
            "median_hours_to_removal": self.median_hours_to_removal,
        }


@dataclass(frozen=True, slots=True)
class YearlyReport:
    """The year's counts and summaries (see the module's doc)."""

    year: int
    zone: str
    as_of: datetime
    """When it was made: the items not answered by then count as ``UNANSWERED``."""
    notifier: str
    trusted_flagger: str
    counts: tuple[Count, ...]
    platforms: tuple[Summary, ...]
    overall: Summary

    def to_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "time_zone": self.zone,
            "as_of": self.as_of.astimezone(UTC).isoformat(),
            "notifier": self.notifier,
            "trusted_flagger": self.trusted_flagger,
            "counts": [count.to_json() for count in self.counts],
            "platforms": [summary.to_json() for summary in self.platforms],
            "overall": self.overall.to_json(),
        }

    def to_csv(self) -> str:
        """One header (``CSV_COLUMNS``); a ``count`` row per platform, nature and outcome
        (notices and items filled), then a ``summary`` row per platform and one for ``all``
        (nature and outcome empty; notices, items, decided, accepted, the share accepted and
        the median hours to removal filled, empty where there is none)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for count in self.counts:
            writer.writerow(
                (
                    "count",
                    count.platform,
                    count.title,
                    count.nature,
                    count.outcome,
                    count.notices,
                    count.items,
                    *("",) * 4,
                )
            )
        for summary in (*self.platforms, self.overall):
            writer.writerow(
                (
                    "summary",
                    summary.platform,
                    summary.title,
                    "",
                    "",
                    summary.notices,
                    summary.items,
                    summary.decided,
                    summary.accepted,
                    _blank(summary.share_accepted),
                    _blank(summary.median_hours_to_removal),
                )
            )
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class _Item:
    notice: int
    platform: str
    nature: str
    outcome: str
    hours: float | None
    """Hours from sending to the answer, for a removed item."""


def yearly_report(
    store: Store,
    year: int,
    *,
    now: datetime,
    zone: tzinfo = UTC,
    titles: Mapping[str, str] | None = None,
    notifier: str = "",
    trusted_flagger: str = "",
) -> YearlyReport:
    """The report of the notices first sent in ``year`` (in ``zone``), as of ``now`` (the
    desk's clock); ``titles``: each
    platform's title by its profile's name (a platform no profile names any more is shown by
    its name)."""
    start = datetime(year, 1, 1, tzinfo=zone)
    end = datetime(year + 1, 1, 1, tzinfo=zone)
    query = (
        select(
            desk_notices.c.id,
            desk_notices.c.platform,
            desk_notices.c.nature,
            desk_notices.c.sent_at,
            desk_notice_items.c.answered_at,
            desk_notice_items.c.outcome,
        )
        .join(desk_notice_items, desk_notice_items.c.notice_id == desk_notices.c.id)
        .where(
            and_(
                desk_notices.c.state == NoticeState.SENT.value,
                desk_notices.c.sent_at >= start.astimezone(UTC),
                desk_notices.c.sent_at < end.astimezone(UTC),
            )
        )
    )
    with store.read() as connection:
        items = [_item(row) for row in connection.execute(query)]
    names = titles or {}
    title = {platform: names.get(platform, platform) for platform in {i.platform for i in items}}
    platforms = sorted(title)
    return YearlyReport(
        year=year,
        zone=str(zone),
        as_of=now,
        notifier=notifier,
        trusted_flagger=trusted_flagger,
        counts=_counts(items, platforms, title),
        platforms=tuple(
            _summary(platform, title[platform], [i for i in items if i.platform == platform])
            for platform in platforms
        ),
        overall=_summary(ALL, "", items),
    )


def render_html(report: YearlyReport, language: str) -> str:
    """The report as a standalone HTML page in ``language`` (French, else English)."""
    return template("yearly.html", language).render(report=report, lang=language_of(language))


def render_pdf(report: YearlyReport, language: str) -> bytes:
    """The report as PDF/A-3b, its JSON attached as ``ATTACHMENT``."""
    return write_pdf(
        render_html(report, language),
        source=json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode(),
        name=ATTACHMENT,
        description=f"Trusted flagger's yearly report {report.year} (JSON)",
        # The report's own time: the same report makes the same PDF.
        created=report.as_of,
        modified=report.as_of,
    )


def _item(row: Any) -> _Item:
    outcome = row.outcome or UNANSWERED
    hours = None
    if outcome == "removed" and row.answered_at is not None:
        hours = (_utc(row.answered_at) - _utc(row.sent_at)).total_seconds() / 3600
    return _Item(row.id, row.platform, row.nature, outcome, hours)


def _utc(value: datetime) -> datetime:
    """SQLite gives back naive times; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _counts(
    items: list[_Item], platforms: list[str], title: Mapping[str, str]
) -> tuple[Count, ...]:
    by_item = Counter((i.platform, i.nature, i.outcome) for i in items)
    outcomes_of: dict[int, set[str]] = {}
    for i in items:
        outcomes_of.setdefault(i.notice, set()).add(i.outcome)
    notice_of = {i.notice: (i.platform, i.nature) for i in items}
    by_notice = Counter(
        (*notice_of[notice], next(iter(found)) if len(found) == 1 else MIXED)
        for notice, found in outcomes_of.items()
    )
    counts = []
    for platform in platforms:
        for nature in (n.value for n in Nature):
            for outcome in (*OUTCOMES, MIXED):
                key = (platform, nature, outcome)
                if by_item[key] or by_notice[key]:
                    counts.append(
                        Count(
                            platform, title[platform], nature, outcome, by_notice[key], by_item[key]
                        )
                    )
    return tuple(counts)


def _summary(platform: str, title: str, items: Iterable[_Item]) -> Summary:
    listed = list(items)
    decided = [i for i in listed if i.outcome != UNANSWERED]
    removal = [i.hours for i in listed if i.hours is not None]
    return Summary(
        platform=platform,
        title=title,
        notices=len({i.notice for i in listed}),
        items=len(listed),
        decided=len(decided),
        accepted=sum(1 for i in decided if i.outcome in ACCEPTED),
        removed=sum(1 for i in decided if i.outcome == "removed"),
        median_hours_to_removal=round(statistics.median(removal), 2) if removal else None,
    )


def _blank(value: float | None) -> str:
    return "" if value is None else str(value)
