"""``rempart notice``: the desk's notices to platforms, in the local database: draft one for a
case's items, show it (text, HTML, PDF or JSON), send it, record a delivery by hand, a
platform's answer, an authority's order or an escalation, and list the items whose clocks run.

Like ``rempart case``, these act as an admin at this machine's console (the actor ``cli``),
and send through the SMTP server the settings name (``REMPART_SMTP_*``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

import typer

from rempart.cli.console import (
    DocumentOutOption,
    console_actor,
    local_desk,
    print_records,
    write_document,
)
from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import FormatOption, current_settings
from rempart.cli.output import OutputFormat

if TYPE_CHECKING:
    from rempart.desk.notice_model import Notice
    from rempart.desk.notices import Notices

__all__ = ["notice_app"]

notice_app = typer.Typer(
    help="The desk's notices to platforms: draft, show, send, record answers, follow clocks.",
    no_args_is_help=True,
)

NOTICE_COLUMNS: Final = ("reference", "case", "platform", "state", "sent_at", "items", "missing")
CLOCK_COLUMNS: Final = ("item_id", "status", "due_at", "jurisdiction", "outcome", "suggested")
DUE_COLUMNS: Final = ("case", "branch", "notice", "platform", "item", "status", "due_at")

ReferenceArgument = Annotated[
    str, typer.Argument(metavar="REF", help="The notice's reference, N-<number>.")
]
CaseArgument = Annotated[str, typer.Argument(metavar="CASE", help="The case number, R-XXXXXXXXXX.")]
ItemOption = Annotated[
    int | None,
    typer.Option(
        "--item", metavar="ID", help="Only this item, as case show lists it [default: all]."
    ),
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIME",
        help="When, as YYYY-MM-DD HH:MM (REMPART_DESK_TIMEZONE) or ISO 8601 with an offset "
        "[default: now].",
    ),
]


class Nature(StrEnum):
    """What the items are (``rempart.desk.notice_model.Nature``, not imported before a
    command runs: the desk needs its extra)."""

    NCII = "ncii"
    DEEPFAKE = "deepfake"
    CSAM = "csam"
    CSAM_DEEPFAKE = "csam-deepfake"


class Rendering(StrEnum):
    """How ``notice show`` prints a notice."""

    TEXT = "text"
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


_FORMS: Final[dict[Rendering, Literal["text", "html", "pdf"]]] = {
    Rendering.TEXT: "text",
    Rendering.HTML: "html",
    Rendering.PDF: "pdf",
}


class Decision(StrEnum):
    """A platform's decision on an item (``rempart.desk.notice_model.Decision``)."""

    REMOVED = "removed"
    RESTRICTED = "restricted"
    REFUSED = "refused"


class Step(StrEnum):
    """An escalation step (``rempart.desk.notice_model.EscalationStep``)."""

    PLATFORM_AGAIN = "platform-again"
    HOST = "host"
    SEARCH_DELISTING = "search-delisting"
    REGULATOR = "regulator"
    AUTHORITY = "authority"


@notice_app.command("draft")
def draft_command(
    case: CaseArgument,
    platform: Annotated[
        str, typer.Option(metavar="NAME", help="The platform profile (rempart desk platforms).")
    ],
    items: Annotated[
        list[int] | None,
        typer.Option(
            "--item",
            metavar="ID",
            help="An item to name (repeatable) [default: every item with a URL on the "
            "platform that no other open notice names].",
        ),
    ] = None,
    nature: Annotated[
        Nature | None,
        typer.Option(
            case_sensitive=False,
            help="What the items are [default: ncii; a minor's case: csam].",
        ),
    ] = None,
    signatory: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Who signs for the association holding the case's mandate [default: none].",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(metavar="LANG", help="The notice's language [default: the platform's]."),
    ] = None,
) -> None:
    """Draft a notice to a platform for a case's items, and say what it still lacks.

    \b
    Examples:
      rempart notice draft R-ABCDEFGHJK --platform example
      rempart notice draft R-ABCDEFGHJK --platform example --item 3 --item 4
    """
    from rempart.desk.notice_model import Nature as Natures

    with _notices() as notices:
        notice = notices.draft(
            case,
            platform,
            console_actor(),
            item_ids=items or None,
            nature=Natures(nature.value) if nature is not None else None,
            signatory=signatory,
            language=language,
        )
        _done(notices, notice, "drafted")


@notice_app.command("show")
def show_command(
    reference: ReferenceArgument,
    rendering: Annotated[
        Rendering,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="The notice as the platform reads it (text, html, pdf), or its state, "
            "clocks and answers as one JSON line (json).",
        ),
    ] = Rendering.TEXT,
    out: DocumentOutOption = None,
) -> None:
    """Show a notice: as sent, or for a draft as it would be sent now.

    \b
    Examples:
      rempart notice show N-12
      rempart notice show N-12 --format pdf --out N-12.pdf
      rempart notice show N-12 --format json
    """
    from rempart.walk import json_line

    actor = console_actor()
    with _notices() as notices:
        notice = notices.get(reference, actor)
        if rendering is Rendering.JSON:
            data: str | bytes = json_line(_record(notices, notice))
        else:
            data = notices.render(notice.reference, actor, _FORMS[rendering])
            if rendering is not Rendering.PDF:
                _say_state(notices, notice)
    # A notice may name the person depicted: a file of it is the user's alone.
    write_document(data, out, private=True)
    if out is not None:
        typer.echo(f"Wrote {notice.reference} to {out}.", err=True)


@notice_app.command("send")
def send_command(
    reference: ReferenceArgument,
    again: Annotated[
        bool,
        typer.Option("--again", help="Send a notice already sent once more (its clocks run on)."),
    ] = False,
) -> None:
    """Check every element the platform's jurisdictions need, then send the notice by e-mail
    (REMPART_SMTP_*) and start its clocks; a missing element is refused by name.

    \b
    Examples:
      rempart notice send N-12
      rempart notice send N-12 --again
    """
    with _notices() as notices:
        notice = notices.send(reference, console_actor(), again=again)
        _done(notices, notice, "sent again" if again else "sent")


@notice_app.command("record")
def record_command(
    reference: ReferenceArgument,
    delivered: Annotated[
        bool,
        typer.Option("--delivered", help="The notice went by hand (a web form, a letter)."),
    ] = False,
    how: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="How it went, with --delivered [default: none]."),
    ] = None,
    ticket: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="The platform's ticket number, with --delivered [default: none]."
        ),
    ] = None,
    receipt: Annotated[
        bool, typer.Option("--receipt", help="The platform acknowledged the notice.")
    ] = False,
    decision: Annotated[
        Decision | None,
        typer.Option(case_sensitive=False, help="The platform decided [default: none]."),
    ] = None,
    automated: Annotated[
        bool | None,
        typer.Option(
            "--automated/--not-automated",
            help="Whether the decision was made by automated means [default: not said].",
        ),
    ] = None,
    redress: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="The redress the platform offers [default: none]."),
    ] = None,
    platform_reference: Annotated[
        str | None,
        typer.Option(
            "--reference", metavar="TEXT", help="The platform's reference [default: none]."
        ),
    ] = None,
    puid: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT",
            help="The PUID of the platform's statement of reasons [default: none].",
        ),
    ] = None,
    item: ItemOption = None,
    at: AtOption = None,
) -> None:
    """Record a delivery made by hand (--delivered --how), or a platform's answer: a receipt
    (--receipt) or a decision (--decision), on one item or all of the notice's.

    \b
    Examples:
      rempart notice record N-12 --delivered --how "web form" --ticket T-881
      rempart notice record N-12 --receipt
      rempart notice record N-12 --decision removed --item 3 --not-automated
    """
    from rempart.desk.notice_model import Decision as Decisions
    from rempart.desk.notice_model import ReplyKind

    if delivered + receipt + (decision is not None) != 1:
        exit_with("give one of --delivered, --receipt and --decision", ExitCode.USAGE)
    answer = (automated, redress, platform_reference, puid)
    if decision is None and any(value is not None for value in answer):
        exit_with(
            "--automated, --redress, --reference and --puid go with --decision", ExitCode.USAGE
        )
    if delivered != (how is not None) or (ticket is not None and not delivered):
        exit_with("--delivered needs --how; --ticket goes with them", ExitCode.USAGE)
    actor = console_actor()
    with _notices() as notices:
        when = _when(at)
        if delivered and how is not None:
            if item is not None:
                exit_with("a delivery is the whole notice's: leave out --item", ExitCode.USAGE)
            notice = notices.record_delivery(
                reference, actor, at=when or notices.desk.clock.now(), how=how, ticket=ticket
            )
            outcome = "delivered by hand"
        else:
            kind = ReplyKind.RECEIPT if receipt else ReplyKind.DECISION
            notice = notices.reply(
                reference,
                actor,
                kind=kind,
                at=when,
                item_id=item,
                decision=Decisions(decision.value) if decision is not None else None,
                automated=automated,
                redress=redress,
                platform_reference=platform_reference,
                puid=puid,
            )
            outcome = f"answered: {decision.value if decision is not None else kind.value}"
        _done(notices, notice, outcome)


@notice_app.command("order")
def order_command(
    reference: ReferenceArgument,
    order_reference: Annotated[
        str, typer.Option("--reference", metavar="TEXT", help="The order's reference.")
    ],
    at: AtOption = None,
) -> None:
    """Record an authority's removal order: a jurisdiction that counts from one
    (fr-authority, 24 hours) starts its clock then.

    \b
    Examples:
      rempart notice order N-12 --reference "PHAROS 2026-0042"
      rempart notice order N-12 --reference O-7 --at "2026-12-01 09:30"
    """
    with _notices() as notices:
        when = _when(at) or notices.desk.clock.now()
        notice = notices.order(reference, console_actor(), at=when, order_ref=order_reference)
        _done(notices, notice, "order recorded")


@notice_app.command("escalate")
def escalate_command(
    reference: ReferenceArgument,
    step: Annotated[Step, typer.Option(case_sensitive=False, help="The step taken up the ladder.")],
    item: ItemOption = None,
    target: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT",
            help="Toward whom [default: the step's usual target: the platform, the item's "
            "host, search engines, the regulator, the authority].",
        ),
    ] = None,
) -> None:
    """Record an escalation step taken for a notice's items (or one of them).

    \b
    Examples:
      rempart notice escalate N-12 --step regulator
      rempart notice escalate N-12 --step host --item 3 --target "hosting.example"
    """
    from rempart.desk.notice_model import EscalationStep

    with _notices() as notices:
        notice = notices.escalate(
            reference, console_actor(), EscalationStep(step.value), item_id=item, target=target
        )
        _done(notices, notice, f"escalated: {step.value}")


@notice_app.command("due")
def due_command(
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Most items listed.")] = 1000,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """The notified items whose clocks run, most urgent first: minors' items, then overdue
    ones, then by due time.

    \b
    Examples:
      rempart notice due
      rempart notice due --format jsonl | jq 'select(.clock.status == "overdue")'
    """
    with _notices() as notices:
        found = [item.to_json() for item in notices.due(console_actor(), limit=limit)]
    if output_format is OutputFormat.JSONL:
        print_records(found, output_format, ())
        return
    zone = _zone()
    rows = [
        {
            **{name: record[name] for name in ("case", "branch", "notice", "platform")},
            "item": record["clock"]["item_id"],
            "status": record["clock"]["status"],
            "due_at": _local(record["clock"]["due_at"], zone),
        }
        for record in found
    ]
    print_records(rows, output_format, DUE_COLUMNS)


@notice_app.command("list")
def list_command(case: CaseArgument, output_format: FormatOption = OutputFormat.TABLE) -> None:
    """A case's notices, oldest first.

    \b
    Examples:
      rempart notice list R-ABCDEFGHJK
      rempart notice list R-ABCDEFGHJK --format jsonl
    """
    actor = console_actor()
    with _notices() as notices:
        found = [_record(notices, notice) for notice in notices.for_case(case, actor)]
    if output_format is OutputFormat.JSONL:
        print_records(found, output_format, ())
        return
    print_records([_row(record) for record in found], output_format, NOTICE_COLUMNS)


# --- shared ----------------------------------------------------------------------------------


@contextmanager
def _notices() -> Iterator[Notices]:
    """The notices of the desk on the local database, as the settings configure them."""
    from rempart.desk.notices import Notices

    with local_desk() as desk:
        yield Notices.from_settings(current_settings(), desk)


def _record(notices: Notices, notice: Notice) -> dict[str, Any]:
    """The notice as JSON, with ``missing`` (element and why) while it is not sent."""
    record = notice.to_json()
    if notice.sent_at is None:
        missing = notices.missing(notice.reference, console_actor())
        record["missing"] = [{"element": element, "why": why} for element, why in missing]
    return record


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """A notice's row in a table: its items counted, its missing elements named."""
    missing = record.get("missing") or []
    return {
        **record,
        "sent_at": _local(record["sent_at"], _zone()),
        "items": record["clocks"],
        "missing": ", ".join(entry["element"] for entry in missing),
    }


def _done(notices: Notices, notice: Notice, outcome: str) -> None:
    """The notice as a table row and its clocks, and what happened to it on standard error."""
    record = _record(notices, notice)
    print_records([_row(record)], OutputFormat.TABLE, NOTICE_COLUMNS)
    clocks = [
        {
            **clock,
            "due_at": _local(clock["due_at"], _zone()),
            "suggested": ", ".join(clock["suggested"]),
        }
        for clock in record["clocks"]
    ]
    if notice.sent_at is not None and clocks:
        typer.echo("\nClocks")
        print_records(clocks, OutputFormat.TABLE, CLOCK_COLUMNS)
    typer.echo(f"Notice {notice.reference} {outcome}.", err=True)
    _say_state(notices, notice, record)


def _say_state(notices: Notices, notice: Notice, record: dict[str, Any] | None = None) -> None:
    """On standard error: what a draft still lacks, or when a sent notice's answer is due."""
    record = record or _record(notices, notice)
    for entry in record.get("missing", []):
        typer.echo(f"  missing {entry['element']}: {entry['why']}", err=True)
    if notice.last_error:
        typer.echo(f"  last attempt failed: {notice.last_error}", err=True)
    due = [clock.due_at for clock in notice.clocks if clock.due_at is not None]
    if notice.sent_at is not None and due:
        zone = _zone()
        typer.echo(
            f"  sent on {_local(notice.sent_at.isoformat(), zone)}, answer due by "
            f"{_local(min(due).isoformat(), zone)}",
            err=True,
        )


def _zone() -> ZoneInfo:
    return ZoneInfo(current_settings().desk_timezone)


def _local(value: str | None, zone: ZoneInfo) -> str:
    """An ISO 8601 time in the desk's time zone, to the minute, for a person."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _when(value: str | None) -> datetime | None:
    """``--at``: ISO 8601; without an offset, in the desk's time zone; None: not given."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        exit_with(f"--at: a time as YYYY-MM-DD HH:MM, or ISO 8601 (got {value!r})", ExitCode.USAGE)
    # The desk puts it in UTC, and refuses by name a time that falls off the calendar then.
    return when if when.tzinfo is not None else when.replace(tzinfo=_zone())
