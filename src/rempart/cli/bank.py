"""``rempart bank``: create hash banks, import and export hash lists, add and withdraw hashes
and exact digests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import FormatOption, current_settings
from rempart.cli.output import OutputFormat
from rempart.cli.output import write_records as print_records
from rempart.matching.formats import EXPORT_FORMATS, BankCategory, HashListFormat

if TYPE_CHECKING:
    from rempart.matching.banks import Banks, VideoThresholds

__all__ = ["bank_app"]

bank_app = typer.Typer(
    help="Hash banks: lists of PDQ hashes, vPDQ videos and files' MD5 and SHA-256 digests to "
    "match against, with where each came from.",
    no_args_is_help=True,
)

STDIO = "-"
BANK_COLUMNS = (
    "name",
    "category",
    "enabled",
    "threshold",
    "images",
    "videos",
    "digests",
    "source",
    "description",
    "created_at",
)
STATS_COLUMNS = (
    "name",
    "category",
    "enabled",
    "threshold",
    "active",
    "images",
    "videos",
    "md5",
    "sha256",
    "withdrawn",
    "imports",
    "last_added_at",
    "last_withdrawn_at",
)

NameArgument = Annotated[str, typer.Argument(help="The bank's name.")]
Md5Option = Annotated[
    list[str] | None,
    typer.Option("--md5", metavar="HEX", help="A file's MD5 digest, 32 hex digits (repeatable)."),
]
Sha256Option = Annotated[
    list[str] | None,
    typer.Option(
        "--sha256", metavar="HEX", help="A file's SHA-256 digest, 64 hex digits (repeatable)."
    ),
]
_CATEGORY_HELP = (
    "What the bank's images are; matches are reported so: ncii, child_sexual_abuse, "
    "sexual_deepfake, demo or other"
)


VideoQualityOption = Annotated[
    int | None,
    typer.Option(
        "--video-quality",
        metavar="N",
        help="Video frames of lower PDQ quality are left out of matching (0-100) "
        "[default: 50, vPDQ's].",
    ),
]
VideoDistanceOption = Annotated[
    int | None,
    typer.Option(
        "--video-distance",
        metavar="N",
        help="Largest PDQ distance at which two video frames match (0-63) [default: 31].",
    ),
]
VideoQueryOption = Annotated[
    float | None,
    typer.Option(
        "--video-query",
        metavar="P",
        help="Share of a queried video's frames that must match a banked video's "
        "(above 0 to 100) [default: 80].",
    ),
]
VideoStoredOption = Annotated[
    float | None,
    typer.Option(
        "--video-stored",
        metavar="P",
        help="Share of a banked video's frames that must match the query's (0-100) "
        "[default: 0: a short clip matches the video it was cut from].",
    ),
]


def _video_thresholds(
    base: VideoThresholds,
    quality: int | None,
    distance: int | None,
    query: float | None,
    stored: float | None,
) -> VideoThresholds | None:
    """``base`` with the values given on the command line; None when none was."""
    if quality is None and distance is None and query is None and stored is None:
        return None
    return replace(
        base,
        quality=base.quality if quality is None else quality,
        distance=base.distance if distance is None else distance,
        query_percent=base.query_percent if query is None else query,
        stored_percent=base.stored_percent if stored is None else stored,
    )


def _banks() -> Banks:
    from rempart.matching.banks import Banks
    from rempart.store import Store

    return Banks(Store.open(current_settings().database_url))


def _print(records: list[dict[str, Any]], fmt: OutputFormat, columns: tuple[str, ...]) -> None:
    print_records(
        records,
        fmt,
        columns=columns,
        table_columns=columns,
        flatten=lambda record: {k: "" if v is None else str(v) for k, v in record.items()},
    )


@bank_app.command("create")
def create_command(
    name: NameArgument,
    description: Annotated[
        str, typer.Option(metavar="TEXT", help="What the bank holds [default: nothing].")
    ] = "",
    source: Annotated[
        str,
        typer.Option(metavar="NAME", help="Where its hashes come from: local, stopncii, ncmec..."),
    ] = "local",
    category: Annotated[
        BankCategory | None,
        typer.Option(
            metavar="CATEGORY",
            help=f"{_CATEGORY_HELP} [default: child_sexual_abuse for a child-protection "
            "--source (ncmec, iwf, thorn, c3p), else ncii].",
        ),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Largest PDQ distance that counts as a match (0-63) [default: 31, PDQ's].",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")] = False,
    video_quality: VideoQualityOption = None,
    video_distance: VideoDistanceOption = None,
    video_query_percent: VideoQueryOption = None,
    video_stored_percent: VideoStoredOption = None,
) -> None:
    """Create an empty bank, for images, videos or both.

    \b
    Examples:
      rempart bank create known --description "images reported to us"
      rempart bank create hotline --source ncmec
      rempart bank create deepfakes --category sexual_deepfake --threshold 24
      rempart bank create clips --video-stored 50
    """
    # The default is PDQ's MATCH_THRESHOLD, which the help repeats: reading it in the signature
    # would load the hashing code, and numpy, whenever the command line starts.
    from rempart.hashing.pdq import MATCH_THRESHOLD
    from rempart.matching.banks import VideoThresholds

    video = _video_thresholds(
        VideoThresholds(), video_quality, video_distance, video_query_percent, video_stored_percent
    )
    banks = _banks()
    bank = banks.create(
        name,
        description=description,
        source=source,
        category=category,
        threshold=MATCH_THRESHOLD if threshold is None else threshold,
        enabled=not disabled,
        video=video,
    )
    typer.echo(
        f"Created bank {bank.name!r} ({bank.category}, threshold {bank.threshold}).", err=True
    )


@bank_app.command("update")
def update_command(
    name: NameArgument,
    description: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="What the bank holds [default: unchanged]."),
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Largest PDQ distance that counts as a match (0-63) [default: unchanged].",
        ),
    ] = None,
    enabled: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Switch matching on or off [default: unchanged]."),
    ] = None,
    category: Annotated[
        BankCategory | None,
        typer.Option(metavar="CATEGORY", help=f"{_CATEGORY_HELP} [default: unchanged]."),
    ] = None,
    video_quality: VideoQualityOption = None,
    video_distance: VideoDistanceOption = None,
    video_query_percent: VideoQueryOption = None,
    video_stored_percent: VideoStoredOption = None,
) -> None:
    """Change a bank's description, thresholds or category, or switch it on or off (the
    --video-* options default to unchanged).

    \b
    Examples:
      rempart bank update known --threshold 20
      rempart bank update known --disable
      rempart bank update hotline --category child_sexual_abuse
      rempart bank update clips --video-query 90
    """
    banks = _banks()
    video = _video_thresholds(
        banks.get(name).video,
        video_quality,
        video_distance,
        video_query_percent,
        video_stored_percent,
    )
    bank = banks.update(
        name,
        description=description,
        threshold=threshold,
        enabled=enabled,
        category=category,
        video=video,
    )
    _print([bank.to_json()], OutputFormat.JSONL, BANK_COLUMNS)


@bank_app.command("list")
def list_command(output_format: FormatOption = OutputFormat.TABLE) -> None:
    """List the banks.

    \b
    Examples:
      rempart bank list
      rempart bank list --format jsonl
    """
    banks = _banks()
    records = [bank.to_json() for bank in banks.list()]
    _print(records, output_format, BANK_COLUMNS)


@bank_app.command("stats")
def stats_command(
    names: Annotated[list[str] | None, typer.Argument(help="Banks [default: all].")] = None,
    output_format: FormatOption = OutputFormat.TABLE,
) -> None:
    """How many active (images, videos) and withdrawn entries each bank holds, and when it
    last changed.

    \b
    Examples:
      rempart bank stats
      rempart bank stats known hotline --format csv
    """
    banks = _banks()
    wanted = names or [bank.name for bank in banks.list()]
    records = [banks.stats(name).to_json() for name in wanted]
    _print(records, output_format, STATS_COLUMNS)


@bank_app.command("import")
def import_command(
    name: NameArgument,
    path: Annotated[str, typer.Argument(help="The hash-list file; - reads standard input.")],
    list_format: Annotated[
        HashListFormat | None,
        typer.Option(
            "--format", "-f", help="The file's format [default: from its name and first line]."
        ),
    ] = None,
) -> None:
    """Import a hash list, all or nothing: an invalid line imports nothing and names the line.

    Formats: hex (one hash a line), pytx ('pdq <hash>', 'vpdq <JSON>', and 'video_md5 <hex>'
    / 'video_sha256 <hex>' lines: exact digests), csv (with a header), jsonl, te (HMA 1.0),
    stopncii (FetchHashes responses), vpdq (one video's features, the reference's text
    file). Importing a file again adds nothing twice.

    \b
    Examples:
      rempart bank import known hashes.txt
      rempart bank import stopncii fetch-hashes.json --format stopncii
      rempart hash -r reported/ | rempart bank import known - --format jsonl
      rempart bank import known reported-clip.vpdq.txt
    """
    banks = _banks()
    with ExitStack() as stack:
        if path == STDIO and list_format is None:
            exit_with("give --format when importing from standard input", ExitCode.USAGE)
        stream = stack.enter_context(_open_input(path))
        report = banks.import_list(
            name,
            stream,
            origin=path if path != STDIO else "stdin",
            fmt=list_format,
            filename="" if path == STDIO else path,
        )
    _print([report.to_json()], OutputFormat.JSONL, ())
    skipped = sum(report.skipped.values())
    typer.echo(
        f"{report.added} added to {report.bank!r}, {report.already_present} already there, "
        f"{report.already_withdrawn} withdrawn earlier (not restored), "
        f"{report.withdrawn} withdrawn, {skipped} skipped.",
        err=True,
    )


@bank_app.command("export")
def export_command(
    name: NameArgument,
    list_format: Annotated[
        str,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help=f"One of {', '.join(EXPORT_FORMATS)}."
        ),
    ] = HashListFormat.PYTX.value,
    out: Annotated[
        str,
        typer.Option("--out", "-o", metavar="FILE", help="File to write; - is standard output."),
    ] = STDIO,
    include_withdrawn: Annotated[
        bool, typer.Option("--include-withdrawn", help="Also list withdrawn entries.")
    ] = False,
) -> None:
    """Export a bank's hashes, videos and digests (pytx format by default: readable by
    python-threatexchange; digests as its video_md5 and video_sha256). hex and te hold PDQ
    hashes only: a bank's videos and digests are left out.

    \b
    Examples:
      rempart bank export known > known.pdq.txt
      rempart bank export known --format csv --out known.csv --include-withdrawn
    """
    if list_format not in EXPORT_FORMATS:
        exit_with(
            f"cannot export as {list_format!r}; choose one of {', '.join(EXPORT_FORMATS)}",
            ExitCode.USAGE,
        )
    from rempart.matching.banks import write_records
    from rempart.matching.banks.formats import DIGEST_KINDS, IMAGE_ONLY_FORMATS, ExportRow

    banks = _banks()
    fmt = HashListFormat(list_format)
    banks.get(name)
    others = 0  # videos and digests

    def rows() -> Iterator[ExportRow]:
        nonlocal others
        for row in banks.entries(name, include_withdrawn=include_withdrawn):
            others += row.features is not None or row.kind in DIGEST_KINDS
            yield row

    if out == STDIO:
        count = write_records(rows(), fmt, sys.stdout)
    else:
        partial = Path(out + ".partial")
        with open(partial, "w", encoding="utf-8", newline="") as stream:
            count = write_records(rows(), fmt, stream)
        partial.replace(out)
    left_out = others if fmt in IMAGE_ONLY_FORMATS else 0
    typer.echo(
        f"{count} entries exported from {name!r}."
        + (
            f" {left_out} videos and digests left out: {fmt} holds PDQ hashes only."
            if left_out
            else ""
        ),
        err=True,
    )


@bank_app.command("add")
def add_command(
    name: NameArgument,
    md5: Md5Option = None,
    sha256: Sha256Option = None,
    pdq: Annotated[
        list[str] | None,
        typer.Option("--pdq", metavar="HEX", help="A PDQ hash, 64 hex digits (repeatable)."),
    ] = None,
    source_ref: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT", help="Where they come from (a case, a report) [default: none]."
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option(metavar="TEXT", help="A note kept with them [default: none].")
    ] = None,
) -> None:
    """Add files' exact digests (MD5, SHA-256) or PDQ hashes, all or nothing. A file whose
    MD5 or SHA-256 is banked matches in 'rempart scan', 'rempart match' and the server
    whatever its pixels; the counts show in 'rempart bank list' and 'stats'.

    \b
    Examples:
      rempart bank add hotline --md5 "$(md5sum clip.mp4 | cut -c1-32)"
      rempart bank add known --sha256 "$(rempart hash a.jpg | jq -r .sha256)"
    """
    if not md5 and not sha256 and not pdq:
        exit_with("give --md5, --sha256 or --pdq to add", ExitCode.USAGE)
    banks = _banks()
    totals = {"added": 0, "already_present": 0, "already_withdrawn": 0}
    with banks.store.write() as connection:
        reports = [
            banks.add_digest(
                name, kind, digest, source_ref=source_ref, note=note, connection=connection
            )
            for kind, digests in (("md5", md5), ("sha256", sha256))
            for digest in digests or ()
        ]
        reports += [
            banks.add(name, value, source_ref=source_ref, note=note, connection=connection)
            for value in pdq or ()
        ]
    for report in reports:
        for key in totals:
            totals[key] += getattr(report, key)
    _print([{"bank": name, **totals}], OutputFormat.JSONL, ())
    typer.echo(
        f"{totals['added']} added to {name!r}, {totals['already_present']} already there, "
        f"{totals['already_withdrawn']} withdrawn earlier (not restored).",
        err=True,
    )


@bank_app.command("withdraw")
def withdraw_command(
    name: NameArgument,
    hashes: Annotated[
        list[str] | None,
        typer.Argument(help="PDQ hashes, or videos' keys (the 'hash' an export gives them)."),
    ] = None,
    md5: Md5Option = None,
    sha256: Sha256Option = None,
    entry_ids: Annotated[
        list[int] | None,
        typer.Option(
            "--id", metavar="N", help="Entry ids, as 'rempart match' prints them (repeatable)."
        ),
    ] = None,
    reason: Annotated[
        str,
        typer.Option(
            metavar="TEXT", help="Why, kept on record (e.g. 'victim request') [default: none]."
        ),
    ] = "",
) -> None:
    """Withdraw hashes: they stop matching at once, and the record of them stays.

    \b
    Examples:
      rempart bank withdraw known --id 42 --reason "victim request"
      rempart bank withdraw known "$(rempart hash wrong.jpg | jq -r .pdq)"
      rempart bank withdraw hotline --md5 0123456789abcdef0123456789abcdef
    """
    digests = [("md5", d) for d in md5 or ()] + [("sha256", d) for d in sha256 or ()]
    if not hashes and not entry_ids and not digests:
        exit_with("give hashes, --md5, --sha256 or --id to withdraw", ExitCode.USAGE)
    banks = _banks()
    report = banks.withdraw(
        name, hashes=hashes or [], entry_ids=entry_ids or [], digests=digests, reason=reason
    )
    _print([report.to_json()], OutputFormat.JSONL, ())
    if report.not_found:
        typer.echo(f"Not in {name!r}: {', '.join(report.not_found)}", err=True)
        raise typer.Exit(ExitCode.SOME_FAILED)


def _open_input(path: str) -> Any:
    # Bytes, not text: the parser decodes each line itself, so that an error names the line
    # and byte offset exactly.
    if path == STDIO:
        return nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb")
    except OSError as exc:
        exit_with(f"cannot read {path}: {exc.strerror}", ExitCode.SOME_FAILED)
