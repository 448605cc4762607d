"""``rempart guard``: the generation gate on one request, or on a file of them."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Annotated, Any, Final

import typer

from rempart.cli.detectors import bank_matcher
from rempart.cli.exit_codes import ExitCode, exit_with, reported_errors, settings_or_exit
from rempart.cli.options import BankOption, PolicyOption, policy_or_exit
from rempart.cli.output import progress
from rempart.cli.registry import stored_gallery, stored_names
from rempart.config import Settings
from rempart.detectors.identity import Gallery
from rempart.errors import MediaError, PromptError, RempartError
from rempart.gate import Gate, GateDetectors
from rempart.persons import PersonsError, read_persons_file
from rempart.policy import Action, Verdict
from rempart.text import PersonName

__all__ = ["ACTION_EXIT_CODES", "guard_command"]

ACTION_EXIT_CODES: Final = {Action.ALLOW: 0, Action.REVIEW: 3, Action.BLOCK: 4}
"""Exit status of ``rempart guard`` on one request, by action."""
MAX_BATCH_LINE_BYTES: Final = 1 << 20


def guard_command(
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="The prompt of the request.")
    ] = None,
    negative: Annotated[str | None, typer.Option("--negative", help="Its negative prompt.")] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", help="A photo uploaded with the request (repeatable)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="The image the generator made.")
    ] = None,
    person_photo: Annotated[
        bool,
        typer.Option(
            "--person-photo",
            help="The request edits an uploaded photo of a person that is not passed.",
        ),
    ] = False,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help='Protected persons from this JSON file ({"protected_persons": [names]}) '
            "[default: the registry in the data directory].",
        ),
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            help='Check each JSON line {"id", "text", "negative", "inputs", "output"} of this '
            "file (- for standard input).",
        ),
    ] = None,
    policy_name: PolicyOption = "default",
    bank_names: BankOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="json or text (one request).")
    ] = "json",
) -> None:
    """Check a generation request: its prompt, negative prompt, uploaded photos and output.

    Prints {"action", "categories", "reasons"} (or, with --format text, the same in words).
    Exit status for one request: 0 allow, 3 review, 4 block; 1 when the prompt or an image
    could not be read (nothing was judged), 2 for a usage or configuration error. With
    --batch, one {"id", "action", "categories", "reasons"} (or {"id", "error"}) per line, and
    exit status 0 when every line was judged, 1 when some could not be.
    """
    if output_format not in ("json", "text"):
        exit_with(f"--format must be json or text, not {output_format!r}", ExitCode.USAGE)
    if (prompt is None) == (batch is None):
        exit_with("give --prompt for one request, or --batch FILE", ExitCode.USAGE)
    settings = settings_or_exit()
    gate = _gate(settings, registry, policy_name, bank_names)
    if batch is not None:
        raise typer.Exit(_run_batch(gate, batch))
    assert prompt is not None
    verdict = _check_or_exit(
        gate, prompt, negative, [str(p) for p in inputs or ()], output, person_photo
    )
    if output_format == "text":
        typer.echo(_as_text(verdict))
    else:
        typer.echo(json.dumps(_record(verdict), ensure_ascii=False))
    raise typer.Exit(ACTION_EXIT_CODES[verdict.action])


def _gate(
    settings: Settings, registry: Path | None, policy_name: str, bank_names: list[str] | None
) -> Gate:
    """The gate, with the persons of ``registry`` (a file), or else those enrolled."""
    policy = policy_or_exit(policy_name)
    if registry is not None:
        try:
            persons: Sequence[PersonName] = read_persons_file(registry)
        except PersonsError as exc:
            exit_with(str(exc), ExitCode.USAGE)
        gallery: Callable[[], Gallery] = Gallery  # a registry file holds names, not faces
    else:
        persons = stored_names(settings)
        gallery = functools.partial(stored_gallery, settings)
    matcher = bank_matcher(settings, bank_names)
    return Gate(
        policy,
        persons=persons,
        detectors=lambda: GateDetectors.default(settings, gallery=gallery, matcher=matcher),
        limits=settings.media,
    )


def _check_or_exit(
    gate: Gate,
    prompt: str,
    negative: str | None,
    inputs: list[str],
    output: Path | None,
    person_photo: bool,
) -> Verdict:
    try:
        with reported_errors():
            return gate.check(
                prompt,
                negative,
                inputs,
                None if output is None else str(output),
                person_photo=person_photo,
            )
    except (PromptError, MediaError) as exc:
        exit_with(f"nothing judged: {exc}", ExitCode.SOME_FAILED)


def _run_batch(gate: Gate, path: Path) -> ExitCode:
    """Check every line of ``path``, printing one record per line; models load once."""
    lines = _batch_lines(path)
    failed = 0
    with progress("Checking", total=len(lines)) as track, reported_errors():
        for number, raw in track(enumerate(lines, start=1)):
            record = _batch_record(gate, number, raw)
            failed += "error" in record
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return ExitCode.SOME_FAILED if failed else ExitCode.OK


def _batch_lines(path: Path) -> list[bytes]:
    stream: IO[bytes]
    try:
        stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    except OSError as exc:
        exit_with(f"cannot read {path}: {exc.strerror}", ExitCode.USAGE)
    with stream:
        return [line for line in stream if line.strip()]


def _batch_record(gate: Gate, number: int, raw: bytes) -> dict[str, Any]:
    """The verdict on one line, or what was wrong with it."""
    request_id: Any = None
    try:
        request = _parse_line(raw, number)
        request_id = request.get("id")
        verdict = gate.check(
            request["text"],
            request.get("negative"),
            request.get("inputs") or (),
            request.get("output"),
            person_photo=bool(request.get("has_input_photo")) and not request.get("inputs"),
        )
    except (PromptError, MediaError, _LineError) as exc:
        code = getattr(exc, "code", "invalid_request")
        return {"id": request_id, "line": number, "error": {"code": str(code), "message": str(exc)}}
    return {"id": request_id, **_record(verdict)}


class _LineError(RempartError):
    """A batch line that is not a request."""

    code = "invalid_request"


def _parse_line(raw: bytes, number: int) -> dict[str, Any]:
    if len(raw) > MAX_BATCH_LINE_BYTES:
        raise _LineError(f"line {number} is over {MAX_BATCH_LINE_BYTES:,} bytes")
    try:
        request = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _LineError(f"line {number} is not UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise _LineError(f"line {number} is not JSON: {exc.msg}") from exc
    if not isinstance(request, dict):
        raise _LineError(f"line {number} must be a JSON object")
    text = request.get("text", request.get("prompt"))
    if not isinstance(text, str):
        raise _LineError(f'line {number} has no "text" string')
    request["text"] = text
    negative = request.get("negative")
    if negative is not None and not isinstance(negative, str):
        raise _LineError(f'line {number}: "negative" must be a string or null')
    inputs = request.get("inputs") or []
    if not isinstance(inputs, list) or not all(isinstance(item, str) for item in inputs):
        raise _LineError(f'line {number}: "inputs" must be a list of paths')
    if request.get("output") is not None and not isinstance(request["output"], str):
        raise _LineError(f'line {number}: "output" must be a path or null')
    return request


def _record(verdict: Verdict) -> dict[str, Any]:
    """``{"action", "categories", "reasons"}``."""
    record = verdict.to_json()
    return {key: record[key] for key in ("action", "categories", "reasons")}


def _as_text(verdict: Verdict) -> str:
    """The verdict in words: the action and categories, then each reason and its signals."""
    categories = ", ".join(category.name for category in verdict.categories)
    lines = [verdict.action.value.upper() + (f"  {categories}" if categories else "")]
    for reason in verdict.reasons:
        lines.append(f"  {reason.rule} ({reason.action.value}): {reason.text}")
        lines.extend(f"    {line}" for line in _signal_lines(reason.signals))
    return "\n".join(lines)


def _signal_lines(signals: Sequence[Any]) -> Iterator[str]:
    for signal in signals:
        evidence = signal.evidence
        if "match" in evidence:
            edits = evidence.get("edits")
            yield (
                f"{signal.name}: {evidence['match']!r} in the {evidence['field']}, "
                f"view {evidence['view']}, term {evidence['term']!r}"
                + (f", {edits} edit{'s' if edits != 1 else ''} away" if edits else "")
            )

        else:
            source = evidence.get("source")
            where = f" in {source}" if source else ""
            shown = signal.value is not None and signal.value != source
            value = f" {signal.value}" if shown else ""
            yield f"{signal.name}{value} ({signal.score:.2f}){where}"
