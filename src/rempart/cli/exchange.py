"""``rempart exchange``: hash lists fetched from StopNCII, NCMEC, ThreatExchange and TAT into
banks, incrementally; the credential stays in a file or an environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import FormatOption, current_settings
from rempart.cli.output import OutputFormat, write_records
from rempart.matching.formats import BankCategory

if TYPE_CHECKING:
    from rempart.exchanges.sync import Exchanges

__all__ = ["exchange_app"]

exchange_app = typer.Typer(
    help="Exchanges: hash lists fetched from StopNCII, NCMEC, ThreatExchange and Tech Against "
    "Terrorism into banks, incrementally (rempart serve fetches them on a schedule).",
    no_args_is_help=True,
)

EXCHANGE_COLUMNS = (
    "name",
    "type",
    "bank",
    "state",
    "entries",
    "last_success_at",
    "last_error",
)
ALL_COLUMNS = (
    "name",
    "type",
    "bank",
    "state",
    "enabled",
    "url",
    "options",
    "credentials",
    "entries",
    "fetched",
    "added",
    "withdrawn",
    "skipped",
    "last_attempt_at",
    "last_success_at",
    "last_error",
    "fetching",
    "created_at",
)
REPORT_COLUMNS = (
    "exchange",
    "bank",
    "pages",
    "fetched",
    "added",
    "withdrawn",
    "skipped",
    "entries",
    "seconds",
    "error",
)
TYPES = ("stopncii", "ncmec", "threatexchange", "tat")  # rempart.exchanges.EXCHANGE_TYPES

NameArgument = Annotated[str, typer.Argument(help="The exchange's name.")]


def _exchanges() -> Exchanges:
    try:
        from rempart.exchanges.sync import Exchanges
    except ImportError as exc:
        exit_with(
            f"rempart exchange needs the 'exchanges' extra ({exc.name} is not installed): "
            "pip install 'rempart[exchanges]'",
            ExitCode.USAGE,
        )
    from rempart.store import Store

    return Exchanges(Store.open(current_settings().database_url))


def _print(records: list[dict[str, Any]], fmt: OutputFormat, columns: tuple[str, ...]) -> None:
    write_records(
        records,
        fmt,
        columns=columns,
        table_columns=columns,
        flatten=lambda record: {k: _cell(v) for k, v in record.items()},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _options(pairs: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            exit_with(f"--option takes KEY=VALUE, not {pair!r}", ExitCode.USAGE)
        options[key] = value
    return options


@exchange_app.command("add")
def add_command(
    name: NameArgument,
    exchange_type: Annotated[
        str, typer.Option("--type", metavar="TYPE", help=f"One of {', '.join(TYPES)}.")
    ],
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials-file",
            metavar="PATH",
            help="File holding the credential, read at each fetch (python-threatexchange's "
            "format for the exchange) [default: none: give this or --credentials-env].",
        ),
    ] = None,
    credentials_env: Annotated[
        str | None,
        typer.Option(
            "--credentials-env",
            metavar="VAR",
            help="Environment variable holding the credential, read at each fetch "
            "[default: none: give this or --credentials-file].",
        ),
    ] = None,
    bank: Annotated[
        str | None,
        typer.Option(metavar="BANK", help="Bank its hashes go to [default: a new bank NAME]."),
    ] = None,
    category: Annotated[
        BankCategory | None,
        typer.Option(
            metavar="CATEGORY",
            help="Category of a new bank [default: the exchange's: ncii for StopNCII, "
            "child_sexual_abuse for NCMEC, other for the others].",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The exchange API's base URL [default: its own]."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY=VALUE",
            help="An exchange option, repeatable: NCMEC environment=Industry, ThreatExchange "
            "privacy_group=ID.",
        ),
    ] = None,
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Add it without scheduled fetches.")
    ] = False,
) -> None:
    """Add an exchange, fetched into a bank of its own. The credential is never stored: only
    where to read it.

    \b
    Credential formats (python-threatexchange's):
      stopncii        FETCH_FUNCTION_KEY,SUBSCRIPTION_KEY
      ncmec           USER:PASSWORD
      threatexchange  APP_ID|APP_SECRET
      tat             USER:PASSWORD

    \b
    Examples:
      rempart exchange add sn --type stopncii --credentials-file /etc/rempart/sn
      rempart exchange add ncmec --type ncmec --credentials-env NCMEC_LOGIN
      rempart exchange add tat --type tat --credentials-env TAT_LOGIN
    """
    exchange = _exchanges().add(
        name,
        exchange_type,
        credentials_file=credentials_file,
        credentials_env=credentials_env,
        bank=bank,
        category=category,
        url=url,
        options=_options(option or []),
        enabled=not disabled,
    )
    typer.echo(
        f"Added exchange {exchange.name!r} ({exchange.type}) into bank {exchange.bank!r}; "
        f"fetch it with: rempart exchange fetch {exchange.name}",
        err=True,
    )


@exchange_app.command("list")
def list_command(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """List the exchanges.

    \b
    Examples:
      rempart exchange list
      rempart exchange list --format jsonl
    """
    records = [exchange.to_json() for exchange in _exchanges().list()]
    _print(records, output_format, EXCHANGE_COLUMNS if output_format == "table" else ALL_COLUMNS)


@exchange_app.command("status")
def status_command(
    name: Annotated[str | None, typer.Argument(help="The exchange [default: all].")] = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """How each exchange's last fetch went: when, what it holds, and why it failed. Exits 1
    when the last fetch of one failed.

    \b
    Examples:
      rempart exchange status
      rempart exchange status ncmec --format jsonl
    """
    found = _exchanges().status(name)
    _print([e.to_json() for e in found], output_format, ALL_COLUMNS)
    if any(exchange.state == "failing" for exchange in found):
        raise typer.Exit(ExitCode.SOME_FAILED)


@exchange_app.command("fetch")
def fetch_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="Exchanges [default: every enabled one].")
    ] = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Fetch everything again, not from the checkpoint, and withdraw what the "
            "exchange no longer lists.",
        ),
    ] = False,
    output_format: FormatOption = OutputFormat.JSONL,
) -> None:
    """Fetch what changed since the last fetch. A failure keeps what the exchange's earlier
    pages brought and says why; exits 1 when any fetch failed.

    \b
    Examples:
      rempart exchange fetch
      rempart exchange fetch stopncii --full
    """
    from rempart.errors import ExchangeError, UnknownExchangeError

    exchanges = _exchanges()
    wanted = names or [e.name for e in exchanges.list() if e.enabled]
    if not wanted:
        typer.echo("No enabled exchange to fetch (rempart exchange add ...).", err=True)
        return
    for name in wanted:
        exchanges.get(name)  # an unknown name is a usage error, before anything is fetched
    records: list[dict[str, Any]] = []
    failed = 0
    for name in wanted:
        try:
            with _progress(name) as progress:
                report = exchanges.fetch(name, full=full, progress=progress)
            records.append({**report.to_json(), "error": None})
        except UnknownExchangeError:
            raise  # removed meanwhile: as if never there
        except ExchangeError as exc:  # failed, or being fetched by another process
            failed += 1
            records.append({"exchange": name, "error": str(exc)})
            typer.echo(f"Error: {exc}", err=True)
    _print(records, output_format, REPORT_COLUMNS)
    if failed:
        raise typer.Exit(ExitCode.SOME_FAILED)


def _progress(name: str) -> Any:
    """A spinner on standard error counting the signals fetched (nothing off a terminal)."""
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = Console(stderr=True)
    bar = Progress(
        SpinnerColumn(),
        TextColumn(f"{name}: {{task.fields[pages]}} pages, {{task.completed}} signals written"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )

    @contextmanager
    def track() -> Any:
        task = bar.add_task(name, total=None, pages=0)
        with bar:
            yield lambda report: bar.update(task, completed=report.fetched, pages=report.pages)

    return track()


@exchange_app.command("enable")
def enable_command(name: NameArgument) -> None:
    """Fetch the exchange on serve's schedule again.

    \b
    Examples:
      rempart exchange enable ncmec
    """
    _exchanges().set_enabled(name, True)
    typer.echo(f"Exchange {name!r} enabled.", err=True)


@exchange_app.command("disable")
def disable_command(name: NameArgument) -> None:
    """Stop fetching the exchange on serve's schedule (its bank still matches).

    \b
    Examples:
      rempart exchange disable ncmec
    """
    _exchanges().set_enabled(name, False)
    typer.echo(f"Exchange {name!r} disabled.", err=True)


@exchange_app.command("remove")
def remove_command(
    name: NameArgument,
    keep_bank: Annotated[
        bool,
        typer.Option("--keep-bank", help="Leave its bank matching (default: it is disabled)."),
    ] = False,
) -> None:
    """Forget an exchange. Its bank's entries stay on record; the bank is disabled unless
    --keep-bank.

    \b
    Examples:
      rempart exchange remove te
      rempart exchange remove stopncii --keep-bank
    """
    exchange = _exchanges().remove(name, keep_bank=keep_bank)
    what = "left matching" if keep_bank else "disabled"
    typer.echo(f"Removed exchange {name!r}; bank {exchange.bank!r} {what}.", err=True)
