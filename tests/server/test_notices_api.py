"""The desk's notices over the API (``/v1/notices``, ``/v1/platforms``), against a real server
on SQLite (the service's own tests cover PostgreSQL) that mails to a real SMTP server on
loopback: a notice's whole life, what is refused by name, and who may see what."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from rempart.desk import DeskKeys
from rempart.desk.notice_model import BONA_FIDE
from rempart.server.routes.notices import PREVIEW_POLICY
from tests.desk.smtp import SmtpServer
from tests.server.checks import problem
from tests.server.running import RunningServer

MANDATE = {"reference": "M-20", "scope": "take-down requests", "starts": "2026-01-01"}
NOTIFIER_EMAIL = "desk@example.org"
# Two platforms of the deployment's own: one under the DSA alone (its notices need nothing a
# flagger's case lacks), one under the TAKE IT DOWN Act (an association's needs a signatory),
# one that takes notices by its web form, and whose clock an authority's order may start.
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
    language: en
  clipshare:
    title: Clip Share
    domains: [example.edu]
    jurisdictions: [us-take-it-down]
    channel:
      email: abuse@example.edu
    language: en
  formhost:
    domains: [example.org]
    jurisdictions: [eu-dsa, fr-authority]
    channel:
      form: https://example.org/report
"""


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the notices' SQL is the service's, tested on PostgreSQL there."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'rempart.db'}"


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpServer]:
    """The platforms' mail server, on loopback."""
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def desk_server(
    database_url: str,
    keys: dict[str, str],
    mail: SmtpServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    """A server with the desk on, its own platform files, and SMTP to ``mail``."""
    data_dir = tmp_path_factory.mktemp("data")
    DeskKeys.create(data_dir / "desk.key")
    platforms = tmp_path_factory.mktemp("platforms")
    (platforms / "ours.yaml").write_text(PLATFORMS, encoding="utf-8")
    settings = {
        "REMPART_DESK_PLATFORMS": str(platforms),
        "REMPART_DESK_NOTIFIER_NAME": "Rempart test desk",
        "REMPART_DESK_NOTIFIER_EMAIL": NOTIFIER_EMAIL,
        "REMPART_SMTP_HOST": mail.host,
        "REMPART_SMTP_PORT": str(mail.port),
        "REMPART_SMTP_SECURITY": "none",
        "REMPART_SMTP_FROM": NOTIFIER_EMAIL,
    }
    running = RunningServer(data_dir, database_url, extra_env=settings).start()
    yield running
    running.stop()


def _client(server: RunningServer, key: str) -> Iterator[httpx.Client]:
    with server.client(key) as client:
        yield client


@pytest.fixture
def flagger(desk_server: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    yield from _client(desk_server, keys["flagger"])


@pytest.fixture
def reviewer(desk_server: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    yield from _client(desk_server, keys["reviewer"])


@pytest.fixture
def admin(desk_server: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    yield from _client(desk_server, keys["admin"])


# --- helpers ---------------------------------------------------------------------------------


def report(client: httpx.Client, *urls: str) -> dict[str, Any]:
    """An adult's case the flagger reports under the mandate, with these URLs."""
    body = {"age": "adult", "items": [{"url": url} for url in urls], "mandate": MANDATE}
    response = client.post("/v1/cases", json=body)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


def url(host: str) -> str:
    """A URL on ``host`` no other test names."""
    return f"https://{host}/p/{secrets.token_hex(4)}"


def draft(client: httpx.Client, number: str, platform: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/notices", json={"case": number, "platform": platform, **fields})
    assert response.status_code == 201, response.text
    notice: dict[str, Any] = response.json()
    return notice


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def mail_to(mail: SmtpServer, address: str) -> list[EmailMessage]:
    return [message for message in mail.messages if address in str(message["To"])]


def attached_pdf(message: EmailMessage) -> bytes:
    [pdf] = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    data = pdf.get_content()
    assert isinstance(data, bytes)
    return data


# --- a notice's life -------------------------------------------------------------------------


def test_a_notice_from_draft_to_removal(
    flagger: httpx.Client,
    reviewer: httpx.Client,
    admin: httpx.Client,
    mail: SmtpServer,
) -> None:
    first, second = url("example.net"), url("www.example.net")
    case = report(flagger, first, second)
    number = case["number"]
    items = {item["url"]: item["id"] for item in case["items"]}

    # The flagger drafts for its case: both items are on the platform, nothing is missing.
    notice = draft(flagger, number, "picturebay")
    reference = notice["reference"]
    assert reference.startswith("N-")
    assert notice["state"] == "draft"
    assert notice["missing"] == []
    assert {clock["item_id"] for clock in notice["clocks"]} == set(items.values())
    assert [
        n["reference"] for n in ok(flagger.get("/v1/notices", params={"case": number}))["notices"]
    ] == [reference]

    # Previewed as the platform will read it: text, HTML under a policy that runs nothing,
    # and a PDF with every element the DSA requires.
    text = flagger.get(f"/v1/notices/{reference}/preview")
    assert text.status_code == 200, text.text
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    said = " ".join(text.text.split())  # however the lines are wrapped
    for element in (first, second, BONA_FIDE.text("en"), NOTIFIER_EMAIL, "226-2-1"):
        assert element in said
    html = flagger.get(f"/v1/notices/{reference}/preview", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-security-policy"] == PREVIEW_POLICY
    for directive in ("default-src 'none'", "sandbox", "frame-ancestors 'none'"):
        assert directive in PREVIEW_POLICY.split("; ")
    assert first in html.text
    pdf = reviewer.get(f"/v1/notices/{reference}/preview", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{reference}.pdf"'
    words = pdf_text(pdf.content)
    assert first in words
    assert reference in words
    assert not mail_to(mail, "notices@example.net")  # a preview sends nothing

    # Sent: the platform's mail server has it, with the PDF; the clocks run.
    sent = ok(flagger.post(f"/v1/notices/{reference}/send"))
    assert sent["state"] == "sent"
    assert sent["sent_at"]
    assert "missing" not in sent
    assert {clock["status"] for clock in sent["clocks"]} == {"running"}
    assert all(clock["due_at"] for clock in sent["clocks"])
    [message] = mail_to(mail, "notices@example.net")
    assert first in pdf_text(attached_pdf(message))
    assert sent["message_id"] == message["Message-ID"]

    # Sent once: again only when a reviewer asks.
    refused = problem(flagger.post(f"/v1/notices/{reference}/send"), 422, "notice-invalid")
    assert refused["element"] == "state"
    assert len(mail_to(mail, "notices@example.net")) == 1

    # The items whose clocks run, as JSON and as JSON Lines.
    due = ok(reviewer.get("/v1/notices/due"))["due"]
    assert {d["clock"]["item_id"] for d in due if d["notice"] == reference} == set(items.values())
    for response in (
        reviewer.get("/v1/notices/due", params={"format": "jsonl"}),
        reviewer.get("/v1/notices/due", headers={"Accept": "application/x-ndjson"}),
    ):
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert lines == due

    # The platform answers: a receipt, then the first item removed.
    answered = ok(reviewer.post(f"/v1/notices/{reference}/replies", json={"kind": "receipt"}))
    assert [reply["kind"] for reply in answered["replies"]] == ["receipt"]
    decided = ok(
        flagger.post(
            f"/v1/notices/{reference}/replies",
            json={
                "kind": "decision",
                "decision": "removed",
                "item": items[first],
                "automated": False,
                "reference": "PB-1",
                "puid": "puid-1",
            },
        )
    )
    clocks = {clock["item_id"]: clock for clock in decided["clocks"]}
    assert clocks[items[first]]["status"] == "answered"
    assert clocks[items[first]]["outcome"] == "removed"
    assert clocks[items[second]]["status"] == "running"
    shown = ok(reviewer.get(f"/v1/cases/{number}"))
    states = {item["id"]: item["state"] for item in shown["items"]}
    assert states[items[first]] == "removed"
    assert states[items[second]] != "removed"
    due = ok(reviewer.get("/v1/notices/due"))["due"]
    assert {d["clock"]["item_id"] for d in due if d["notice"] == reference} == {items[second]}

    # An escalation for the silent item, then the notice again, at a reviewer's asking.
    escalated = ok(
        reviewer.post(
            f"/v1/notices/{reference}/escalations",
            json={"step": "platform-again", "item": items[second]},
        )
    )
    assert [e["step"] for e in escalated["escalations"]] == ["platform-again"]
    again = ok(reviewer.post(f"/v1/notices/{reference}/send", json={"again": True}))
    assert len(mail_to(mail, "notices@example.net")) == 2
    assert again["sent_at"] == sent["sent_at"]  # the clocks run on

    # Each change is in the audit log, under the notice's reference.
    entries = admin.get("/v1/audit", params={"limit": 1000}).json()["entries"]
    outcomes = [e["outcome"] for e in entries if e["target"] == reference]
    for outcome in ("drafted", "sent", "reply: receipt", "reply: removed", "sent again"):
        assert outcome in outcomes


def test_a_notice_by_hand_and_an_order(flagger: httpx.Client, reviewer: httpx.Client) -> None:
    number = report(flagger, url("example.org"))["number"]
    reference = draft(reviewer, number, "formhost")["reference"]
    by_form = problem(reviewer.post(f"/v1/notices/{reference}/send"), 422, "notice-invalid")
    assert by_form["element"] == "channel"
    went = datetime.now(timezone(timedelta(hours=1)))  # after the draft, not in the future
    delivered = ok(
        reviewer.post(
            f"/v1/notices/{reference}/deliveries",
            json={"at": went.isoformat(), "how": "web form", "ticket": "T-9"},
        )
    )
    assert delivered["state"] == "sent"
    assert datetime.fromisoformat(delivered["sent_at"]) == went
    assert [d["ticket"] for d in delivered["deliveries"]] == ["T-9"]
    ordered = ok(reviewer.post(f"/v1/notices/{reference}/order", json={"reference": "O-1"}))
    assert ordered["order_ref"] == "O-1"
    assert ordered["order_at"]
    # A time without its offset is not a time.
    naive = reviewer.post(
        f"/v1/notices/{reference}/deliveries",
        json={"at": went.replace(tzinfo=None).isoformat(), "how": "x"},
    )
    problem(naive, 422, "invalid-request")


def test_a_time_past_the_calendars_ends_is_refused_by_name(
    flagger: httpx.Client, reviewer: httpx.Client
) -> None:
    number = report(flagger, url("example.org"))["number"]
    reference = draft(reviewer, number, "formhost")["reference"]
    # Valid times with their offsets, whose UTC falls outside the calendar.
    for at in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"):
        for path, body in (
            ("deliveries", {"at": at, "how": "web form"}),
            ("replies", {"kind": "receipt", "at": at}),
            ("order", {"reference": "O-1", "at": at}),
        ):
            refused = problem(
                reviewer.post(f"/v1/notices/{reference}/{path}", json=body), 422, "notice-invalid"
            )
            assert refused["element"] == "at"
    shown = ok(reviewer.get(f"/v1/notices/{reference}"))
    assert shown["state"] == "draft"
    assert shown["order_at"] is None


# --- refused, by name ------------------------------------------------------------------------


def test_a_missing_element_is_refused_by_name_and_nothing_sent(
    flagger: httpx.Client, mail: SmtpServer
) -> None:
    number = report(flagger, url("example.edu"))["number"]
    notice = draft(flagger, number, "clipshare")  # an association's, without its signatory
    missing = notice["missing"]
    assert missing
    assert all(entry["why"] for entry in missing)
    refused = problem(
        flagger.post(f"/v1/notices/{notice['reference']}/send"), 422, "notice-invalid"
    )
    assert refused["element"] == missing[0]["element"]
    assert refused["element"] in {"signature", "mandate", "contact"}
    shown = ok(flagger.get(f"/v1/notices/{notice['reference']}"))
    assert shown["state"] == "draft"
    assert not mail_to(mail, "abuse@example.edu")


def test_unknown_references_and_platforms_are_404(flagger: httpx.Client) -> None:
    for reference in ("N-999999", "R-AAAAAAAAAA", "nothing"):
        problem(flagger.get(f"/v1/notices/{reference}"), 404, "notice-not-found")
        problem(flagger.post(f"/v1/notices/{reference}/send"), 404, "notice-not-found")
    case = report(flagger, url("example.net"))
    number, item = case["number"], case["items"][0]["id"]
    unknown = problem(
        flagger.post("/v1/notices", json={"case": number, "platform": "nowhere"}),
        404,
        "platform-unknown",
    )
    assert "picturebay" in unknown["detail"]  # the known ones are named
    # An item on another platform's host, asked for or not, is no item of this platform's.
    body = {"case": number, "platform": "clipshare"}
    named = problem(
        flagger.post("/v1/notices", json={**body, "items": [item]}), 422, "notice-invalid"
    )
    assert named["element"] == "url"
    none = problem(flagger.post("/v1/notices", json=body), 422, "notice-invalid")
    assert none["element"] == "items"
    assert ok(flagger.get("/v1/notices", params={"case": number}))["notices"] == []


def test_bodies_that_are_not_json_or_not_valid_are_refused(flagger: httpx.Client) -> None:
    number = report(flagger, url("example.net"))["number"]
    form = flagger.post("/v1/notices", data={"case": number, "platform": "picturebay"})
    problem(form, 415, "unsupported-media-type")
    reference = draft(flagger, number, "picturebay")["reference"]
    text = flagger.post(
        f"/v1/notices/{reference}/replies",
        content=b"kind=receipt",
        headers={"content-type": "text/plain"},
    )
    problem(text, 415, "unsupported-media-type")
    bad = flagger.post(f"/v1/notices/{reference}/replies", json={"kind": "maybe"})
    assert problem(bad, 422, "invalid-request")["errors"][0]["location"] == "body.kind"
    long = flagger.post("/v1/notices", json={"case": number, "platform": "p" * 201})
    problem(long, 422, "invalid-request")
    assert ok(flagger.get(f"/v1/notices/{reference}"))["replies"] == []


# --- who may see what ------------------------------------------------------------------------


def test_a_flagger_sees_its_own_cases_notices_only(
    desk_server: RunningServer, keys: dict[str, str], flagger: httpx.Client, admin: httpx.Client
) -> None:
    number = report(flagger, url("example.net"))["number"]
    reference = draft(flagger, number, "picturebay")["reference"]
    made = admin.post("/v1/keys", json={"role": "flagger", "name": "another association"})
    assert made.status_code == 201, made.text
    with desk_server.client(made.json()["secret"]) as other:
        absent = problem(other.get(f"/v1/notices/{reference}"), 404, "notice-not-found")
        unknown = problem(other.get("/v1/notices/N-999999"), 404, "notice-not-found")
        assert absent["detail"].replace(reference, "N") == unknown["detail"].replace(
            "N-999999", "N"
        )
        for path in ("preview", "send"):
            method = other.get if path == "preview" else other.post
            problem(method(f"/v1/notices/{reference}/{path}"), 404, "notice-not-found")
        replied = other.post(f"/v1/notices/{reference}/replies", json={"kind": "receipt"})
        problem(replied, 404, "notice-not-found")
        assert other.get("/v1/notices", params={"case": number}).status_code == 404
        drafted = other.post("/v1/notices", json={"case": number, "platform": "picturebay"})
        assert drafted.status_code == 404
        due = ok(other.get("/v1/notices/due"))["due"]
        assert reference not in {d["notice"] for d in due}
    assert ok(flagger.get(f"/v1/notices/{reference}"))["replies"] == []


def test_a_platform_key_may_not(
    desk_server: RunningServer, keys: dict[str, str], flagger: httpx.Client
) -> None:
    number = report(flagger, url("example.net"))["number"]
    reference = draft(flagger, number, "picturebay")["reference"]
    with desk_server.client(keys["platform"]) as platform:
        for response in (
            platform.get(f"/v1/notices/{reference}"),
            platform.get("/v1/notices", params={"case": number}),
            platform.get("/v1/notices/due"),
            platform.get("/v1/platforms"),
            platform.post(f"/v1/notices/{reference}/send"),
            platform.post("/v1/notices", json={"case": number, "platform": "picturebay"}),
        ):
            denied = problem(response, 403, "forbidden")
            assert "desk:review" in denied["detail"]
    assert ok(flagger.get(f"/v1/notices/{reference}"))["state"] == "draft"


def test_platforms_lists_the_example_ours_and_the_four_jurisdictions(
    flagger: httpx.Client,
) -> None:
    listed = ok(flagger.get("/v1/platforms"))
    assert listed["dsa_hours"] == 72  # no trusted flagger: the DSA's default
    laws = {law["name"]: law for law in listed["jurisdictions"]}
    assert {"us-take-it-down", "eu-dsa", "uk", "fr-authority"} <= set(laws)
    assert laws["eu-dsa"]["hours"] is None
    assert laws["us-take-it-down"]["hours"] == 48
    assert laws["fr-authority"]["starts"] == "order"
    assert laws["uk"]["provisional"] is True
    assert "signature" in laws["us-take-it-down"]["elements"]
    platforms = {platform["name"]: platform for platform in listed["platforms"]}
    assert platforms["example"]["example"] is True
    assert platforms["example"]["domains"] == ["example.com"]
    assert platforms["picturebay"]["channel"] == {"kind": "email", "address": "notices@example.net"}
    assert not any("source" in entry for entry in [*listed["platforms"], *listed["jurisdictions"]])


def test_the_example_platform_is_never_mailed(flagger: httpx.Client, mail: SmtpServer) -> None:
    number = report(flagger, url("example.com"))["number"]
    reference = draft(flagger, number, "example", signatory="Camille Martin")["reference"]
    refused = problem(flagger.post(f"/v1/notices/{reference}/send"), 422, "notice-invalid")
    assert refused["element"] == "channel"
    assert "REMPART_DESK_PLATFORMS" in refused["detail"]
    assert not mail_to(mail, "notices@example.com")
