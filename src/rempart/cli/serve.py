"""``rempart serve``, ``rempart key`` and ``rempart db``: the HTTP service, its API keys, and
its database's schema."""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from rempart.access.roles import Role
from rempart.cli.options import FormatOption, current_settings
from rempart.cli.output import OutputFormat, write_records

__all__ = ["db_app", "key_app", "serve_command"]

key_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="The database's schema.", no_args_is_help=True)
KEY_COLUMNS = ("key_id", "name", "role", "rate_limit", "created_at", "revoked_at")


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            help="Address to listen on; beyond loopback only once a key exists.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, metavar="PORT", help="Port to listen on.")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Processes serving, each with its own match index."),
    ] = 1,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            "-p",
            metavar="NAME|FILE",
            help="Policy for scans and the gate [default: $REMPART_POLICY or default].",
        ),
    ] = None,
    desk: Annotated[
        bool,
        typer.Option(
            "--desk",
            help="Serve the desk's pages at /desk (needs rempart desk init; beyond loopback, "
            "TLS or --proxy).",
        ),
    ] = False,
    hma_compat: Annotated[
        bool,
        typer.Option(
            "--hma-compat",
            help="Also answer HMA 2.x's API at its own paths (/m, /h, /c), behind API keys "
            "[default: $REMPART_HMA_COMPAT or off]. See docs/hma.md.",
        ),
    ] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="Certificate chain (PEM) to serve HTTPS with [default: plain HTTP].",
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="Private key (PEM) of --tls-cert [default: none].",
        ),
    ] = None,
    proxy: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Address(es), comma-separated, of the TLS proxy in front, trusted for "
            "X-Forwarded-Proto and -For [default: none].",
        ),
    ] = None,
) -> None:
    """Serve API v1 over HTTP: every /v1 endpoint needs an API key (rempart key create).

    The database is migrated first. The server refuses to listen beyond loopback while no
    API key exists, and to serve the desk there without TLS (or a TLS proxy in front).
    OpenAPI at /docs and /openapi.json; probes at /healthz and /readyz.

    \b
    Examples:
      rempart serve
      rempart serve --host 0.0.0.0 --port 8080 --workers 4 --policy strict
      rempart serve --desk --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
      rempart serve --hma-compat
    """
    from rempart.policy import load_policy
    from rempart.server.launch import NO_KEY_WARNING, Tls, check_desk, check_exposure, serve

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    tls = Tls(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    if policy is not None:
        os.environ["REMPART_POLICY"] = policy
    if hma_compat:  # the workers read it from the environment, as every setting
        os.environ["REMPART_HMA_COMPAT"] = "1"
    settings = current_settings()
    load_policy(settings.policy)
    if desk:
        check_desk(settings, host, tls=tls, proxy=proxy)
    if not check_exposure(settings, host):
        typer.echo(NO_KEY_WARNING, err=True)
    serve(settings, host, port, workers=workers, desk=desk, tls=tls, proxy=proxy)


@key_app.command("create")
def create_key_command(
    role: Annotated[Role, typer.Option(help="What the key may do.")],
    name: Annotated[
        str,
        typer.Option(metavar="TEXT", help="Who holds it, for the listing [default: nothing]."),
    ] = "",
    rate: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Requests a second [default: REMPART_API_RATE_LIMIT]."
        ),
    ] = None,
) -> None:
    """Create an API key and print it: this is the only time it is shown (only an Argon2
    hash of it is stored).

    \b
    Examples:
      rempart key create --role admin --name "trust and safety team"
      rempart key create --role platform --name uploads-service --rate 500
    """
    from rempart.access.keys import ApiKeys
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        new = ApiKeys(store).create(role, name=name, rate_limit=rate)
    typer.echo(new.secret)
    typer.echo(
        f"Created key {new.key.key_id} ({new.key.role.value}). Store it now: "
        "it cannot be shown again. Send it as 'Authorization: Bearer <key>'.",
        err=True,
    )


@key_app.command("list")
def list_keys_command(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """List API keys (never their secrets), revoked ones included.

    \b
    Examples:
      rempart key list
      rempart key list --format jsonl
    """
    from rempart.access.keys import ApiKeys
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        keys = ApiKeys(store).list()
    write_records(
        [key.to_json() for key in keys],
        output_format,
        columns=KEY_COLUMNS,
        table_columns=KEY_COLUMNS,
        flatten=lambda record: {k: "" if v is None else str(v) for k, v in record.items()},
    )


@key_app.command("revoke")
def revoke_key_command(
    key_id: Annotated[str, typer.Argument(help="The key's id, as rempart key list shows it.")],
) -> None:
    """Revoke a key: every running server refuses it within seconds.

    \b
    Examples:
      rempart key revoke 5oq0aju5ejx9
    """
    from rempart.access.keys import ApiKeys
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        key = ApiKeys(store).revoke(key_id)
    typer.echo(f"Revoked key {key.key_id} ({key.role.value}).", err=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database's schema to this version's (the server also does it on start).

    \b
    Examples:
      rempart db upgrade
      REMPART_DATABASE_URL=postgresql+psycopg://db/rempart rempart db upgrade
    """
    from rempart.store import Store

    settings = current_settings()
    with closing(Store.open(settings.database_url)) as store:
        typer.echo(f"Database {store.url} is up to date.", err=True)
