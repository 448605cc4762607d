"""The trusted flagger's yearly report (DSA Art. 22(3)) from a year of notices sent through the
real service to a real mail server (aiosmtpd on loopback), on SQLite and PostgreSQL: counts by
platform, type of content and outcome, the median time to removal and the share accepted, all
worked out by hand below; other years left out; no name, contact, address, case number or
notice reference in the CSV, the JSON or the PDF."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from rempart.desk import VICTIM, AgeAnswer, Decision, Desk, FixedClock, Nature, Notices
from rempart.desk.notice_model import ReplyKind
from rempart.desk.yearly import ATTACHMENT, YearlyReport, render_pdf, yearly_report
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    REVIEWER,
    desk_fixture,
    link,
    make_notices_fixture,
    pdf_text,
)
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

MakeNotices = Callable[..., Notices]
VICTIM_NAME = "Zelphine Quarrow"
VICTIM_CONTACT = "zq-mailbox@victim.test"
TITLES = {"social": "Social Test", "dsa-only": "DSA Only"}
START = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
"""The first notice's sending: 2025 in UTC, already 2026 in Paris."""


@pytest.fixture(name="clock")
def clock_fixture() -> FixedClock:
    return FixedClock(START)


class Seeder:
    """Cases and notices sent at the clock's time, their items answered at chosen hours
    after; every case number, URL and reference kept, to be looked for in the reports."""

    def __init__(self, desk: Desk, notices: Notices, clock: FixedClock) -> None:
        self.desk, self.notices, self.clock = desk, notices, clock
        self.secrets = [VICTIM_NAME, VICTIM_CONTACT]
        self.paths = 0

    def send(
        self,
        at: datetime,
        platform: str,
        host: str,
        items: int,
        *,
        minor: bool = False,
        nature: Nature | None = None,
    ) -> list[tuple[str, int]]:
        """A notice sent at ``at``: its (reference, item id) pairs."""
        self.clock.at = at
        inputs = []
        for _ in range(items):
            self.paths += 1
            inputs.append(link(host, f"p/{self.paths}"))
            self.secrets.append(inputs[-1].url or "")
        number = self.desk.report(
            AgeAnswer.UNDER_18 if minor else AgeAnswer.ADULT, inputs
        ).case.number
        self.secrets.append(number)
        if not minor:
            self.notices.consent(
                number, VICTIM, name=VICTIM_NAME, contact=VICTIM_CONTACT, signature="Z. Q."
            )
        draft = self.notices.draft(number, platform, REVIEWER, nature=nature)
        self.secrets.append(draft.reference)
        sent = self.notices.send(draft.reference, REVIEWER)
        return [(sent.reference, c.item_id) for c in sent.clocks]

    def answer(self, item: tuple[str, int], decision: Decision, hours: float) -> None:
        """The platform's decision on ``item``, ``hours`` after the clock's time now."""
        at = self.clock.at + timedelta(hours=hours)
        self.clock.at = max(self.clock.at, at)
        reference, item_id = item
        self.notices.reply(
            reference, REVIEWER, kind=ReplyKind.DECISION, at=at, item_id=item_id, decision=decision
        )


def seed_a_year(desk: Desk, notices: Notices, clock: FixedClock) -> list[str]:
    """2026's notices (UTC), by hand:

    - A: social, ncii, 2 items, removed after 10 h and 30 h;
    - B: dsa-only, ncii, 1 item, refused after 5 h;
    - C: social, deepfake, 1 item, removed after 20 h;
    - D: social, ncii, 2 items, one restricted (after 3 h), one not answered;
    - E: dsa-only, a minor's (csam), 1 item, not answered;

    and, left out: one sent 2025-12-31 23:00 UTC (removed after 2 h), one sent in 2027
    (removed after 1 h), one drafted in 2026 and never sent."""
    seed = Seeder(desk, notices, clock)
    [old] = seed.send(START, "social", "social.test", 1)
    seed.answer(old, Decision.REMOVED, 2)
    first, second = seed.send(datetime(2026, 3, 1, 10, tzinfo=UTC), "social", "social.test", 2)
    seed.answer(first, Decision.REMOVED, 10)
    clock.at -= timedelta(hours=10)
    seed.answer(second, Decision.REMOVED, 30)
    [b] = seed.send(datetime(2026, 5, 1, 9, tzinfo=UTC), "dsa-only", "dsa.test", 1)
    seed.answer(b, Decision.REFUSED, 5)
    [c] = seed.send(
        datetime(2026, 7, 1, 8, tzinfo=UTC), "social", "example.org", 1, nature=Nature.DEEPFAKE
    )
    seed.answer(c, Decision.REMOVED, 20)
    restricted, _ = seed.send(datetime(2026, 9, 1, 7, tzinfo=UTC), "social", "social.test", 2)
    seed.answer(restricted, Decision.RESTRICTED, 3)
    seed.send(datetime(2026, 10, 1, 6, tzinfo=UTC), "dsa-only", "dsa.test", 1, minor=True)
    clock.at = datetime(2026, 11, 1, tzinfo=UTC)
    number = desk.report(AgeAnswer.ADULT, [link("social.test", "never-sent")]).case.number
    seed.secrets.append(notices.draft(number, "social", REVIEWER).reference)
    [late] = seed.send(datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "social", "social.test", 1)
    seed.answer(late, Decision.REMOVED, 1)
    return seed.secrets


def report_of(desk: Desk, clock: FixedClock, zone: ZoneInfo | None = None) -> YearlyReport:
    return yearly_report(
        desk.store,
        2026,
        now=clock.now(),
        zone=zone or UTC,
        titles=TITLES,
        notifier="Rempart Test Desk",
        trusted_flagger="Arcom",
    )


def test_the_year_is_counted_by_platform_nature_and_outcome(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock, smtp_server: SmtpServer
) -> None:
    seed_a_year(desk, make_notices(), clock)
    assert len(smtp_server.messages) == 7  # the draft never went out
    report = report_of(desk, clock)
    counts = {(c.platform, c.nature, c.outcome): (c.notices, c.items) for c in report.counts}
    assert counts == {
        ("dsa-only", "ncii", "refused"): (1, 1),  # B
        ("dsa-only", "csam", "unanswered"): (1, 1),  # E
        ("social", "ncii", "removed"): (1, 2),  # A
        ("social", "ncii", "restricted"): (0, 1),  # D's first
        ("social", "ncii", "unanswered"): (0, 1),  # D's second
        ("social", "ncii", "mixed"): (1, 0),  # D
        ("social", "deepfake", "removed"): (1, 1),  # C
    }
    assert {c.title for c in report.counts} == {"Social Test", "DSA Only"}
    dsa, social = (s.to_json() for s in report.platforms)  # by name
    assert social == {
        "platform": "social",
        "title": "Social Test",
        "notices": 3,
        "items": 5,
        "decided": 4,
        "accepted": 4,
        "removed": 3,
        "share_accepted": 1.0,
        "median_hours_to_removal": 20.0,  # of 10, 30 and 20
    }
    assert dsa["platform"] == "dsa-only"
    assert (dsa["notices"], dsa["items"], dsa["decided"], dsa["accepted"]) == (2, 2, 1, 0)
    assert dsa["share_accepted"] == 0.0
    assert dsa["median_hours_to_removal"] is None
    overall = report.overall.to_json()
    assert (overall["notices"], overall["items"], overall["decided"]) == (5, 7, 5)
    assert overall["share_accepted"] == 0.8  # 4 of 5
    assert overall["median_hours_to_removal"] == 20.0


def test_the_year_runs_in_the_zone_given(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock, smtp_server: SmtpServer
) -> None:
    seed_a_year(desk, make_notices(), clock)
    report = report_of(desk, clock, ZoneInfo("Europe/Paris"))
    assert report.zone == "Europe/Paris"
    # 2025-12-31 23:00 UTC is 2026 in Paris: removed after 2 h, one more notice and item.
    assert (report.overall.notices, report.overall.items, report.overall.removed) == (6, 8, 4)
    assert report.overall.median_hours_to_removal == 15.0  # of 2, 10, 20 and 30


def test_the_csv_json_and_pdf_hold_no_personal_data(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock, smtp_server: SmtpServer
) -> None:
    secrets = seed_a_year(desk, make_notices(), clock)
    report = report_of(desk, clock)
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert len(rows) == 7 + 3
    assert rows[0]["kind"] == "count"
    summary = rows[-1]
    assert summary["kind"] == "summary"
    assert summary["platform"] == "all"
    assert (summary["notices"], summary["items"], summary["share_accepted"]) == ("5", "7", "0.8")
    assert summary["median_hours_to_removal"] == "20.0"
    assert rows[-3]["median_hours_to_removal"] == ""  # dsa-only (first by name): none removed
    as_json = json.dumps(report.to_json(), ensure_ascii=False)
    assert json.loads(as_json)["overall"]["decided"] == 5
    pdf = render_pdf(report, "fr")
    text = pdf_text(pdf)
    assert "Rapport annuel du signaleur de confiance 2026" in text
    assert "Rempart Test Desk" in text
    assert "Arcom" in text
    assert "Social Test" in text
    assert "80.0 %" in text
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments[ATTACHMENT] == [
        json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode()
    ]
    assert len(secrets) > 20
    for shown in (report.to_csv(), as_json, text):
        for secret in secrets:
            assert secret.casefold() not in shown.casefold(), secret
        assert "R-" not in shown
        assert "N-" not in shown
        assert "http" not in shown


def test_a_year_without_notices_says_so(desk: Desk, clock: FixedClock) -> None:
    report = report_of(desk, clock)
    assert report.counts == ()
    assert report.overall.share_accepted is None
    assert report.to_csv().splitlines()[1:] == ["summary,all,,,,0,0,0,0,,"]
    assert "No notice was sent in this year." in pdf_text(render_pdf(report, "en"))
