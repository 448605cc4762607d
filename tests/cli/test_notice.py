"""``rempart notice``: a notice drafted, shown, sent to a real SMTP server on loopback, its
answers recorded and its clocks listed, in the local database; refusals that say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from tests.cli.invoke import desk_environment, jsonl, ok, run, run_on_terminal
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

PLATFORMS = """\
version: 1
platforms:
  picturebay:
    title: Picture Bay
    domains: [example.net]
    jurisdictions: [eu-dsa]
    dsa_online_platform: true
    channel:
      email: notices@example.net
  formhost:
    title: Form Host
    domains: [example.edu]
    jurisdictions: [eu-dsa, fr-authority]
    channel:
      form: https://example.edu/report
"""
FIRST, SECOND = "https://example.net/p/1", "https://www.example.net/p/2"


# --- helpers ---------------------------------------------------------------------------------


def refused(env: dict[str, str], *args: str) -> str:
    """``rempart ARGS``'s standard error, once it exited non-zero with nothing printed."""
    code, out, err = run(env, *args)
    assert code != 0, out
    assert out == ""
    assert err.startswith("Error: ")
    return err


@pytest.fixture
def notice_env(env: dict[str, str], tmp_path: Path, smtp_server: SmtpServer) -> dict[str, str]:
    """A data folder with the desk's key, the platforms above, and SMTP to ``smtp_server``."""
    return desk_environment(
        env,
        tmp_path,
        PLATFORMS,
        **smtp_server.environ(),
        REMPART_SMTP_FROM="desk@example.org",
        REMPART_DESK_TIMEZONE="Europe/Paris",
    )


def case_with(env: dict[str, str], *urls: str) -> dict[str, Any]:
    """A victim's own case, reported here with these URLs."""
    args = [arg for url in urls for arg in ("--url", url)]
    [reported] = jsonl(env, "report", *args, "--age", "adult")
    return reported


# --- a notice's life -------------------------------------------------------------------------


def test_a_notice_drafted_shown_sent_and_answered(
    notice_env: dict[str, str], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    case = case_with(notice_env, FIRST, SECOND)
    number = case["number"]
    items = {item["url"]: item["id"] for item in case["items"]}

    code, out, err = run(notice_env, "notice", "draft", number, "--platform", "picturebay")
    assert code == 0, err
    [notice] = jsonl(notice_env, "notice", "list", number)
    reference = notice["reference"]
    assert reference in out
    assert "drafted" in err
    assert notice["state"] == "draft"
    assert notice["missing"] == []

    # Shown as the platform will read it: text, a PDF written to a file, or JSON.
    text = " ".join(ok(notice_env, "notice", "show", reference).split())
    assert FIRST in text
    assert SECOND in text
    pdf = tmp_path / "notice.pdf"
    ok(notice_env, "notice", "show", reference, "--format", "pdf", "--out", str(pdf))
    assert pdf.stat().st_mode & 0o077 == 0  # it may name the person depicted: the user's alone
    pages = PdfReader(pdf).pages
    assert FIRST in " ".join((page.extract_text() or "") for page in pages)
    piped = ok(notice_env, "notice", "show", reference, "--format", "pdf")  # not a terminal
    assert piped.startswith("%PDF-")
    assert FIRST in ok(notice_env, "notice", "show", reference, "--format", "html")
    [shown] = [json.loads(ok(notice_env, "notice", "show", reference, "-f", "json"))]
    assert shown["reference"] == reference
    assert not smtp_server.messages

    # Sent: the platform's mail server has it; sent once only, unless asked again.
    code, out, err = run(notice_env, "notice", "send", reference)
    assert code == 0, err
    assert "answer due by" in err
    [message] = smtp_server.messages
    assert "notices@example.net" in str(message["To"])
    err = refused(notice_env, "notice", "send", reference)
    assert "again" in err
    ok(notice_env, "notice", "send", reference, "--again")
    assert len(smtp_server.messages) == 2

    # Its items' clocks run; the platform answers.
    due = jsonl(notice_env, "notice", "due")
    assert {d["clock"]["item_id"] for d in due if d["notice"] == reference} == set(items.values())
    assert number in ok(notice_env, "notice", "due")
    ok(notice_env, "notice", "record", reference, "--receipt")
    ok(
        notice_env,
        *("notice", "record", reference, "--decision", "removed", "--item", str(items[FIRST])),
        *("--not-automated", "--reference", "PB-1", "--puid", "puid-1"),
    )
    ok(notice_env, "notice", "escalate", reference, "--step", "regulator")
    [notice] = jsonl(notice_env, "notice", "list", number)
    assert [reply["kind"] for reply in notice["replies"]] == ["receipt", "decision"]
    assert notice["replies"][1]["automated"] is False
    assert [e["step"] for e in notice["escalations"]] == ["regulator"]
    clocks = {clock["item_id"]: clock for clock in notice["clocks"]}
    assert clocks[items[FIRST]]["outcome"] == "removed"
    [shown] = jsonl(notice_env, "case", "show", number)
    removed = {item["id"] for item in shown["items"] if item["state"] == "removed"}
    assert removed == {items[FIRST]}
    due = jsonl(notice_env, "notice", "due")
    assert {d["clock"]["item_id"] for d in due if d["notice"] == reference} == {items[SECOND]}


def test_a_notice_delivered_by_hand_at_a_local_time(notice_env: dict[str, str]) -> None:
    number = case_with(notice_env, "https://example.edu/p/3")["number"]
    ok(notice_env, "notice", "draft", number, "--platform", "formhost")
    [notice] = jsonl(notice_env, "notice", "list", number)
    reference = notice["reference"]
    err = refused(notice_env, "notice", "send", reference)
    assert "form" in err  # the platform takes notices by its web form
    # A time without an offset is the desk's (REMPART_DESK_TIMEZONE); after the draft, not
    # in the future.
    went = datetime.now(ZoneInfo("Europe/Paris"))
    local = went.replace(tzinfo=None).isoformat(sep=" ")
    ok(
        notice_env,
        *("notice", "record", reference, "--delivered", "--how", "web form"),
        *("--ticket", "T-1", "--at", local),
    )
    ordered = datetime.now(UTC)
    ok(notice_env, "notice", "order", reference, "--reference", "O-1", "--at", ordered.isoformat())
    [notice] = jsonl(notice_env, "notice", "list", number)
    assert notice["state"] == "sent"
    assert datetime.fromisoformat(notice["sent_at"]) == went
    assert datetime.fromisoformat(notice["order_at"]) == ordered
    assert notice["order_ref"] == "O-1"
    assert [d["ticket"] for d in notice["deliveries"]] == ["T-1"]


# --- refused, saying why ---------------------------------------------------------------------


def test_bad_references_and_options_are_refused(notice_env: dict[str, str]) -> None:
    number = case_with(notice_env, FIRST)["number"]
    assert "N-999" in refused(notice_env, "notice", "show", "N-999")
    assert "N-999" in refused(notice_env, "notice", "send", "N-999")
    assert "nowhere" in refused(notice_env, "notice", "draft", number, "--platform", "nowhere")
    ok(notice_env, "notice", "draft", number, "--platform", "picturebay")
    [notice] = jsonl(notice_env, "notice", "list", number)
    reference = notice["reference"]
    assert "--receipt" in refused(notice_env, "notice", "record", reference)
    err = refused(notice_env, "notice", "record", reference, "--receipt", "--decision", "removed")
    assert "one of" in err
    assert "--how" in refused(notice_env, "notice", "record", reference, "--delivered")
    assert "--decision" in refused(
        notice_env, "notice", "record", reference, "--receipt", "--puid", "x"
    )
    assert "--at" in refused(
        notice_env, "notice", "order", reference, "--reference", "O", "--at", "soon"
    )
    # A time whose UTC falls off the calendar is refused by name, not a crash.
    assert "at:" in refused(
        notice_env,
        "notice",
        "order",
        reference,
        "--reference",
        "O",
        "--at",
        "0001-01-01T00:30+01:00",
    )
    [notice] = jsonl(notice_env, "notice", "list", number)
    assert notice["state"] == "draft"
    assert notice["replies"] == []


def test_a_pdf_is_not_printed_to_a_terminal(notice_env: dict[str, str]) -> None:
    number = case_with(notice_env, FIRST)["number"]
    ok(notice_env, "notice", "draft", number, "--platform", "picturebay")
    [notice] = jsonl(notice_env, "notice", "list", number)
    code, err, printed = run_on_terminal(
        notice_env, "notice", "show", notice["reference"], "--format", "pdf"
    )
    assert code == 2, err
    assert "--out" in err
    assert b"%PDF" not in printed
