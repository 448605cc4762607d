"""``rempart desk report``: the trusted flagger's yearly report of notices sent and answered
through the command line, on the local database, as CSV, JSON or PDF; no case number, URL or
notice reference in it; a PDF never printed to a terminal."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from tests.cli import test_notice
from tests.cli.invoke import jsonl, ok, run, run_on_terminal
from tests.cli.test_notice import (
    FIRST,
    SECOND,
    case_with,
    refused,
)
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

notice_env = test_notice.notice_env  # the fixture, under its name
YEAR = str(datetime.now(UTC).year)


def sent_and_answered(env: dict[str, str]) -> list[str]:
    """A notice of two items to Picture Bay, sent now, one removed: what must not show."""
    case = case_with(env, FIRST, SECOND)
    number = case["number"]
    ok(env, "notice", "draft", number, "--platform", "picturebay")
    [notice] = jsonl(env, "notice", "list", number)
    reference = notice["reference"]
    ok(env, "notice", "send", reference)
    first = next(item["id"] for item in case["items"] if item["url"] == FIRST)
    ok(env, "notice", "record", reference, "--decision", "removed", "--item", str(first))
    return [number, reference, FIRST, SECOND, "example.net"]


def test_the_report_as_csv_json_and_pdf(
    notice_env: dict[str, str], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    secrets = sent_and_answered(notice_env)
    shown = ok(notice_env, "desk", "report", "--year", YEAR)
    rows = list(csv.DictReader(io.StringIO(shown)))
    counts = {(r["kind"], r["platform"], r["nature"], r["outcome"]): r for r in rows}
    assert counts["count", "picturebay", "ncii", "removed"]["items"] == "1"
    assert counts["count", "picturebay", "ncii", "unanswered"]["items"] == "1"
    assert counts["count", "picturebay", "ncii", "mixed"]["notices"] == "1"
    assert counts["summary", "all", "", ""]["share_accepted"] == "1.0"
    assert {r["title"] for r in rows if r["platform"] == "picturebay"} == {"Picture Bay"}
    report = json.loads(ok(notice_env, "desk", "report", "--year", YEAR, "--format", "json"))
    assert report["overall"]["notices"] == 1
    assert report["overall"]["items"] == 2
    assert report["notifier"] == "Rempart test desk"
    pdf = tmp_path / "report.pdf"
    code, _, err = run(
        notice_env,
        "desk",
        "report",
        "--year",
        YEAR,
        "-f",
        "pdf",
        "--language",
        "fr",
        "-o",
        str(pdf),
    )
    assert code == 0, err
    assert str(pdf) in err
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Picture Bay" in text
    assert "Rapport annuel" in text
    for shown_text in (shown, json.dumps(report), text):
        for secret in secrets:
            assert secret not in shown_text, secret
    other = json.loads(ok(notice_env, "desk", "report", "--year", "2001", "--format", "json"))
    assert other["overall"]["notices"] == 0


def test_bad_options_are_refused(notice_env: dict[str, str]) -> None:
    assert "--format" in refused(notice_env, "desk", "report", "--year", YEAR, "-f", "xml")
    assert "--language" in refused(notice_env, "desk", "report", "--year", YEAR, "--language", "de")
    code, _, err = run(notice_env, "desk", "report", "--year", "1999")
    assert code == 2
    assert "--year" in err


def test_a_pdf_is_not_printed_to_a_terminal(notice_env: dict[str, str]) -> None:
    code, err, printed = run_on_terminal(
        notice_env, "desk", "report", "--year", YEAR, "--format", "pdf"
    )
    assert code == 2, err
    assert "--out" in err
    assert b"%PDF" not in printed
