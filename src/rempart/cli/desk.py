"""``rempart report``, ``rempart case`` and ``rempart desk``: report a case from photos hashed
on this machine (only their hashes leave it), work the desk's cases in the local database, and
make or rotate the desk's key file.

The ``case`` commands act on the database directly, as an admin at this machine's console:
their events name the actor ``cli`` (an API key's id is 12 letters and digits, so no key is
ever named so). ``rempart report`` into the local database is the victim's own report, as on
the desk's page, or with ``--mandate`` the console's under that mandate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer

from rempart.cli.console import DocumentOutOption, refuse_pdf_to_terminal, write_document
from rempart.cli.console import console_actor as _cli
from rempart.cli.console import local_desk as _local_desk
from rempart.cli.console import print_records as _print
from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import FormatOption, current_settings
from rempart.cli.output import OutputFormat

if TYPE_CHECKING:
    from rempart.desk import Case, ItemInput, Mandate
    from rempart.desk.platforms import Jurisdiction, Platform

__all__ = ["case_app", "desk_app", "report_command"]

case_app = typer.Typer(
    help="The desk's cases, in the local database: list, show, move, confirm, withdraw.",
    no_args_is_help=True,
)
desk_app = typer.Typer(
    help="The desk: its key file, its cases' branch, its platforms, its yearly report.",
    no_args_is_help=True,
)

REPORT_COLUMNS = ("number", "secret", "branch", "state", "authority", "items")
CASE_COLUMNS = ("number", "branch", "state", "authority", "items", "created_at", "updated_at")
ITEM_COLUMNS = ("id", "state", "confirmed", "pdq", "quality", "url", "sightings")
EVENT_COLUMNS = ("at", "actor", "kind", "item_id", "from_state", "to_state")
LAW_COLUMNS = ("name", "hours", "from", "provisional", "title")
PLATFORM_COLUMNS = ("name", "domains", "jurisdictions", "channel", "language", "source")
_TIMEOUT_S: Final = 60.0

E = TypeVar("E", bound=StrEnum)

NumberArgument = Annotated[
    str, typer.Argument(metavar="NUMBER", help="The case number, R-XXXXXXXXXX (any case, dashes).")
]


# --- rempart report --------------------------------------------------------------------------


def report_command(
    age: Annotated[
        str,
        typer.Option(
            metavar="under-18|adult|unsure",
            help="The person's age when the image was made; under-18 or unsure opens a minor's "
            "case (hashes, URLs and metadata only).",
        ),
    ],
    photos: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PHOTO",
            help="Photos to hash here: only their hashes leave this machine, never the photos.",
        ),
    ] = None,
    urls: Annotated[
        list[str] | None,
        typer.Option("--url", metavar="URL", help="Where a copy is shared (repeatable)."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            "-s",
            metavar="URL",
            help="Report to this Rempart server, with the key in --key-file "
            "[default: into the local database].",
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            "-k",
            metavar="FILE",
            help="File holding the API key (a flagger's or an admin's) for --server "
            "[default: none].",
        ),
    ] = None,
    words: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT",
            help="What happened, in the victim's words: sealed, and refused for a minor's "
            "case [default: none].",
        ),
    ] = None,
    language: Annotated[
        str, typer.Option(metavar="LANG", help="The victim's language on the desk's pages.")
    ] = "en",
    mandate: Annotated[
        str | None,
        typer.Option(
            metavar="REFERENCE",
            help="The victim's mandate to the flagger reporting, by its reference (needed with "
            "a flagger's key) [default: none].",
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="What the mandate covers, needed with --mandate [default: none]."
        ),
    ] = None,
    starts: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="When the mandate starts [default: today]."),
    ] = None,
    ends: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="When the mandate ends [default: no end]."),
    ] = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """Report a case: photos are hashed here (PDQ), and only the hashes and URLs are sent.

    Prints the case number and its secret, shown this once: the victim signs in to the
    desk with both. A photo of quality under 50 is refused, naming it, and nothing is reported.
    A flagger's key reports under the victim's --mandate.

    \b
    Examples:
      rempart report photo.jpg --age adult
      rempart report --url https://example.org/post/1 --age unsure
      rempart report a.jpg --age adult -s "$URL" -k key --mandate M1 --scope all
    """
    from rempart.desk import VICTIM, AgeAnswer, Mandate

    answer = _choice(AgeAnswer, age, "--age")
    if (key_file is None) != (server is None):
        exit_with("--server and --key-file go together", ExitCode.USAGE)
    if (mandate is None) != (scope is None) or (mandate is None and (starts or ends)):
        exit_with(
            "--mandate and --scope go together, --starts and --ends with them", ExitCode.USAGE
        )
    key = _read_key(key_file) if key_file is not None else None
    given = None
    if mandate is not None and scope is not None:
        given = Mandate(
            reference=mandate,
            scope=scope,
            starts=_date(starts, "--starts") or datetime.now(UTC).date(),
            ends=_date(ends, "--ends"),
        )
    items = [*_hashed(photos or []), *_urls(urls or [])]
    if not items:
        exit_with("give photos to hash, or --url, or both", ExitCode.USAGE)
    if server is not None and key is not None:
        body = _report_body(answer.value, items, words=words, language=language, mandate=given)
        record = _post(server, key, "/v1/cases", body)
    else:
        actor = VICTIM if given is None else _cli()
        with _local_desk() as desk:
            new = desk.report(
                answer, items, words=words, language=language, actor=actor, mandate=given
            )
        record = {**new.case.to_json(), "secret": new.secret}
    _print([record], output_format, REPORT_COLUMNS)
    typer.echo(
        f"Reported case {record['number']}. Give the victim its number and secret now: the "
        "secret cannot be shown again.",
        err=True,
    )


def _hashed(photos: Sequence[str]) -> list[ItemInput]:
    """An item for each photo's PDQ hash; every photo is hashed first, and if any cannot be
    or is of too low quality, each such is named and nothing goes further (exit 1)."""
    from rempart.desk import ItemInput
    from rempart.hashing import MIN_QUALITY, HashFailure, hash_files

    settings = current_settings()
    items, problems = [], []
    for result in hash_files(photos, limits=settings.media):
        if isinstance(result, HashFailure):
            reason = result.error.message.removeprefix(f"{result.path}: ")
            problems.append(f"{result.path}: {reason}")
        elif result.quality < MIN_QUALITY:
            problems.append(
                f"{result.path}: PDQ quality {result.quality} is under {MIN_QUALITY}, too "
                "featureless to match; use a sharper or larger copy"
            )
        else:
            items.append(ItemInput(pdq=result.pdq, quality=result.quality))
    if problems:
        exit_with("nothing was reported:\n  " + "\n  ".join(problems), ExitCode.SOME_FAILED)
    return items


def _urls(urls: Sequence[str]) -> list[ItemInput]:
    from rempart.desk import ItemInput

    return [ItemInput(url=url) for url in urls]


def _report_body(
    age: str,
    items: Sequence[ItemInput],
    *,
    words: str | None,
    language: str,
    mandate: Mandate | None,
) -> dict[str, Any]:
    """The JSON body of ``POST /v1/cases``."""
    body: dict[str, Any] = {
        "age": age,
        "items": [_item_json(item) for item in items],
        "language": language,
    }
    if words is not None:
        body["words"] = words
    if mandate is not None:
        body["mandate"] = mandate.to_json()
    return body


def _item_json(item: ItemInput) -> dict[str, Any]:
    """An item as the API reads it: those of ``url``, ``pdq`` and ``quality`` it has."""
    fields = {"url": item.url, "pdq": item.pdq, "quality": item.quality}
    return {name: value for name, value in fields.items() if value is not None}


def _read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        exit_with(f"cannot read the key file {path}: {exc}", ExitCode.USAGE)
    if not key:
        exit_with(f"the key file {path} is empty", ExitCode.USAGE)
    return key


def _post(server: str, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` as JSON to ``server`` + ``path`` with the key; the answer's JSON, or an
    error that says what the server answered (its problem's detail) and exits 2."""
    import urllib.error
    import urllib.request

    if not server.startswith(("http://", "https://")):
        exit_with(f"--server must be an http:// or https:// URL (got {server!r})", ExitCode.USAGE)
    request = urllib.request.Request(
        server.rstrip("/") + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            answer: dict[str, Any] = json.load(response)
            return answer
    except urllib.error.HTTPError as exc:
        exit_with(f"{server} refused: {_problem_detail(exc)}", ExitCode.USAGE)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        exit_with(f"cannot reach {server}: {reason}; nothing was reported", ExitCode.USAGE)


def _problem_detail(error: Any) -> str:
    """``<status> <slug>: <detail>`` from a problem document, else the status line."""
    try:
        problem = json.loads(error.read())
        slug = str(problem["type"]).rsplit(":", 1)[-1]
        return f"{error.code} {slug}: {problem['detail']}"
    except (ValueError, KeyError, TypeError, OSError):
        return f"{error.code} {error.reason}"


# --- rempart case ----------------------------------------------------------------------------


@case_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Most cases listed.")] = 100,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """The queue of open cases: minors' first, then those with a sighted or reappeared item,
    then the oldest.

    \b
    Examples:
      rempart case list
      rempart case list --limit 20 --format jsonl
    """
    with _local_desk() as desk:
        cases = desk.queue(limit=limit)
    _print([case.to_json() for case in cases], output_format, CASE_COLUMNS)


@case_app.command("show")
def show_command(number: NumberArgument, output_format: FormatOption = OutputFormat.TABLE) -> None:
    """A case, its items and what happened to it (never its sealed fields or its secret).

    \b
    Examples:
      rempart case show R-ABCDEFGHJK
      rempart case show R-ABCDEFGHJK --format jsonl
    """
    with _local_desk() as desk:
        case = desk.get(number)
        events = [event.to_json() for event in desk.events(case.number)]
    record = case.to_json()
    if output_format is OutputFormat.JSONL:
        _print([{**record, "events": events}], output_format, ())
        return
    if output_format is OutputFormat.CSV:
        exit_with("case show prints a table or jsonl, not csv", ExitCode.USAGE)
    _print([record], output_format, CASE_COLUMNS)
    for title, rows, columns in (
        ("Items", record["items"], ITEM_COLUMNS),
        ("Events", events, EVENT_COLUMNS),
    ):
        typer.echo(f"\n{title}")
        _print(rows, output_format, columns)


@case_app.command("move")
def move_command(
    number: NumberArgument,
    state: Annotated[
        str,
        typer.Argument(
            metavar="STATE",
            help="The case's next state (received, in_review, acting, on_hold, closed), or "
            "with --item the item's (watching, sighted, removed, refused, reappeared, on_hold, "
            "closed...).",
        ),
    ],
    item: Annotated[
        int | None,
        typer.Option(
            metavar="ID", help="Move this item, as case show lists it [default: the case]."
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="A note, sealed with the move (adults' cases) [default: none]."
        ),
    ] = None,
) -> None:
    """Move a case, or one of its items, to another state; a move not allowed is refused,
    naming those that are.

    \b
    Examples:
      rempart case move R-ABCDEFGHJK in_review
      rempart case move R-ABCDEFGHJK acting --note "notice sent to the host"
      rempart case move R-ABCDEFGHJK removed --item 3
    """
    from rempart.desk import CaseState, ItemState

    with _local_desk() as desk:
        if item is None:
            case = desk.move(number, _choice(CaseState, state, "STATE"), _cli(), note=note)
        else:
            if note is not None:
                exit_with("--note goes with a case's move, not an item's", ExitCode.USAGE)
            case = desk.move_item(number, item, _choice(ItemState, state, "STATE"), _cli())
    _done(case, f"moved to {state}")


@case_app.command("confirm")
def confirm_command(
    number: NumberArgument,
    item: Annotated[int, typer.Argument(metavar="ID", help="The item, as case show lists it.")],
) -> None:
    """Confirm an item's hash after review: from now on it blocks, not only sends to review.

    \b
    Examples:
      rempart case confirm R-ABCDEFGHJK 3
    """
    with _local_desk() as desk:
        case = desk.confirm(number, item, _cli())
    _done(case, f"item {item} confirmed")


@case_app.command("withdraw")
def withdraw_command(number: NumberArgument) -> None:
    """Withdraw a case: its hashes stop matching (but those another open case reported), and
    its sealed fields are erased.

    \b
    Examples:
      rempart case withdraw R-ABCDEFGHJK
    """
    with _local_desk() as desk:
        case = desk.withdraw(number, _cli())
    _done(case, "withdrawn")


@case_app.command("new-secret")
def new_secret_command(number: NumberArgument) -> None:
    """Give a case a new secret and print it, this once; the old one no longer signs in.

    \b
    Examples:
      rempart case new-secret R-ABCDEFGHJK
    """
    with _local_desk() as desk:
        secret = desk.new_secret(number, _cli())
    typer.echo(secret)
    typer.echo("Give the victim the new secret now: it cannot be shown again.", err=True)


# --- rempart desk ----------------------------------------------------------------------------


@desk_app.command("init")
def init_command() -> None:
    """Make the desk's key file (REMPART_DESK_KEY_FILE, default desk.key in the data folder),
    readable by its owner only; an existing one is never overwritten.

    \b
    Examples:
      rempart desk init
      REMPART_DESK_KEY_FILE=/etc/rempart/desk.key rempart desk init
    """
    from rempart.desk import DeskKeys

    path = _key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    DeskKeys.create(path)
    typer.echo(
        f"Created the desk's key file {path}. Back it up: without it, sealed notes, words and "
        "mandates cannot be read.",
        err=True,
    )


@desk_app.command("rekey")
def rekey_command() -> None:
    """Rotate the desk's key: a new key wraps every case's data key, then the old one is
    dropped from the key file.

    \b
    Examples:
      rempart desk rekey
    """
    from rempart.desk.sealed import rekey
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        report = rekey(store, _key_path())
    _print([report.to_json()], OutputFormat.JSONL, ())


@desk_app.command("branch")
def branch_command(
    number: NumberArgument,
    branch: Annotated[
        str,
        typer.Argument(
            metavar="adult|minor",
            help="The branch the case belongs in: what the person's age was, learnt later.",
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            metavar="TEXT",
            help="Why, in one line: recorded in the case's events with who and when.",
        ),
    ],
) -> None:
    """Move a case to the other branch. To minor, at once: its words, notes and captures are
    erased and its hashes move to the minors' banks.

    \b
    Examples:
      rempart desk branch R-ABCDEFGHJK minor --reason "the person was 16 then"
    """
    from rempart.desk import Branch

    to = _choice(Branch, branch, "BRANCH")
    with _local_desk() as desk:
        case = desk.move_branch(number, to, _cli(), reason=reason)
    _done(case, f"moved to the {to.value} branch")
    if to is Branch.MINOR:
        typer.echo("  Its words, notes and captures were erased.", err=True)


@desk_app.command("platforms")
def platforms_command(
    check: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Check this folder of platform files instead, as REMPART_DESK_PLATFORMS would "
            "be read, and say OK or the first error's file and line [default: list those of "
            "REMPART_DESK_PLATFORMS].",
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", metavar="table|json", help="table or json.")
    ] = "table",
) -> None:
    """The jurisdictions and platform profiles the desk knows: the built-in ones and those
    of REMPART_DESK_PLATFORMS. A file that is not valid is named with its line (exit 2).

    \b
    Examples:
      rempart desk platforms
      rempart desk platforms --format json
      rempart desk platforms --check ./platforms
    """
    from rempart.desk.platforms import PlatformBook

    if output_format not in ("table", "json"):
        exit_with(f"--format must be table or json, not {output_format!r}", ExitCode.USAGE)
    settings = current_settings()
    book = PlatformBook.load(check if check is not None else settings.desk_platforms)
    if output_format == "json":
        typer.echo(
            json.dumps(
                {
                    "dsa_hours": settings.dsa_hours,
                    "jurisdictions": [law.to_json() for law in book.jurisdictions.values()],
                    "platforms": [platform.to_json() for platform in book.platforms.values()],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif check is not None:
        typer.echo(
            f"{check}: OK, {len(book.platforms)} platforms and {len(book.jurisdictions)} "
            "jurisdictions (the built-in ones included)."
        )
    else:
        typer.echo("Jurisdictions")
        _print(
            [_law_row(law, settings.dsa_hours) for law in book.jurisdictions.values()],
            OutputFormat.TABLE,
            LAW_COLUMNS,
        )
        typer.echo("\nPlatforms")
        _print(
            [_platform_row(p) for p in book.platforms.values()],
            OutputFormat.TABLE,
            PLATFORM_COLUMNS,
        )


@desk_app.command("report")
def report_yearly_command(
    year: Annotated[
        int, typer.Option(metavar="YEAR", min=2000, max=9999, help="The calendar year, e.g. 2026.")
    ],
    output_format: Annotated[
        str, typer.Option("--format", "-f", metavar="csv|pdf|json", help="csv, pdf or json.")
    ] = "csv",
    language: Annotated[
        str, typer.Option(metavar="en|fr", help="The PDF's language: en or fr.")
    ] = "en",
    out: DocumentOutOption = None,
) -> None:
    """The trusted flagger's yearly report (DSA Art. 22(3)): the notices sent in YEAR (in
    REMPART_DESK_TIMEZONE) by platform, type of content and outcome, the median time to
    removal and the share accepted. It holds no personal data, so a file it writes gets the
    usual permissions.

    \b
    Examples:
      rempart desk report --year 2026
      rempart desk report --year 2026 -f pdf --language fr -o report-2026.pdf
    """
    from zoneinfo import ZoneInfo

    from rempart.desk.platforms import PlatformBook
    from rempart.desk.yearly import render_pdf, yearly_report
    from rempart.store import Store

    if output_format not in ("csv", "pdf", "json"):
        exit_with(f"--format must be csv, pdf or json, not {output_format!r}", ExitCode.USAGE)
    if language not in ("en", "fr"):
        exit_with(f"--language must be en or fr, not {language!r}", ExitCode.USAGE)
    if output_format == "pdf" and out is None:
        refuse_pdf_to_terminal()
    settings = current_settings()
    book = PlatformBook.load(settings.desk_platforms)
    with closing(Store.open(settings.database_url)) as store:
        report = yearly_report(
            store,
            year,
            now=datetime.now(UTC),
            zone=ZoneInfo(settings.desk_timezone),
            titles={name: platform.title for name, platform in book.platforms.items()},
            notifier=settings.desk_notifier_name,
            trusted_flagger=settings.desk_trusted_flagger,
        )
    data: str | bytes
    if output_format == "pdf":
        data = render_pdf(report, language)
    elif output_format == "json":
        data = json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"
    else:
        data = report.to_csv()
    write_document(data, out, private=False)  # no personal data: the usual permissions
    if out is not None:
        typer.echo(f"Wrote the {year} report to {out}.", err=True)


def _law_row(law: Jurisdiction, dsa_hours: int) -> dict[str, Any]:
    hours = f"{dsa_hours} (deployment)" if law.hours is None else str(law.hours)
    since = "the order" if law.starts == "order" else "sending"
    return {
        "name": law.name,
        "hours": hours,
        "from": since,
        "provisional": "yes" if law.provisional else "",
        "title": law.title,
    }


def _platform_row(platform: Platform) -> dict[str, Any]:
    return {
        "name": platform.name,
        "domains": ", ".join(platform.domains),
        "jurisdictions": ", ".join(platform.jurisdictions),
        "channel": platform.channel.kind.value,
        "language": platform.language,
        "source": platform.source,
    }


# --- shared ----------------------------------------------------------------------------------


def _key_path() -> Path:
    path = current_settings().desk_key_file
    assert path is not None  # load_settings always resolves it
    return path


def _choice(enum: type[E], value: str, name: str) -> E:
    """``value`` as a member of ``enum``, or a usage error listing the members."""
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        exit_with(f"{name}: choose one of {allowed} (got {value!r})", ExitCode.USAGE)


def _date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        exit_with(f"{name}: a date as YYYY-MM-DD (got {value!r})", ExitCode.USAGE)


def _done(case: Case, outcome: str) -> None:
    _print([case.to_json()], OutputFormat.TABLE, CASE_COLUMNS)
    typer.echo(f"Case {case.number} {outcome}.", err=True)


# --- rempart desk recheck --------------------------------------------------------------------

CHECK_COLUMNS = ("item", "case", "at", "method", "status", "outcome", "distance", "detail")


@desk_app.command("recheck")
def recheck_command(
    number: Annotated[
        str | None,
        typer.Option(
            "--case",
            metavar="NUMBER",
            help="Check this case's URL items, due or not [default: every URL due a check].",
        ),
    ] = None,
    items: Annotated[
        list[int] | None,
        typer.Option(
            "--item", metavar="ID", help="Check this item's URL, due or not (repeatable)."
        ),
    ] = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """Check whether notified URLs were removed: 404, 410 or 451, or a served image no longer
    within 31 of the item's PDQ, verifies the removal (the item moves to removed, its notices'
    clocks stop). A minor's item is asked HEAD only, never its content; no answer to HEAD
    means a reviewer checks it by hand. Only REMPART_DESK_FETCH_ALLOW's private addresses
    are ever reached.

    \b
    Examples:
      rempart desk recheck
      rempart desk recheck --case R-ABCDEFGHJK --format jsonl
      rempart desk recheck --item 12 --item 13
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from rempart.desk.evidence_model import CheckOutcome
    from rempart.desk.recheck import Rechecker

    if number is not None and items:
        exit_with("give --case or --item, not both", ExitCode.USAGE)
    console = Console(stderr=True)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("Checked {task.completed} URLs"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task("recheck", total=None)
    with _local_desk() as desk, bar:
        rechecker = Rechecker.from_settings(current_settings(), desk)
        report = rechecker.recheck(
            number=number,
            items=items or None,
            actor=_cli(),
            on_check=lambda _: bar.advance(task),
        )
    _print([check.to_json() for check in report.checks], output_format, CHECK_COLUMNS)
    counts = ", ".join(f"{report.count(outcome)} {outcome.value}" for outcome in CheckOutcome)
    typer.echo(f"Checked {len(report.checks)} URLs: {counts}.", err=True)
