"""``rempart gate`` (formerly ``rempart guard``): the generation gate on one request, or on a
file of them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Final

import typer

from rempart.cli.detectors import bank_matcher, detector_registry
from rempart.cli.errors import ExitCode, exit_with
from rempart.cli.options import BankOption, PolicyOption, current_settings
from rempart.cli.output import progress
from rempart.errors import MediaError, PromptError, RequestError

if TYPE_CHECKING:
    from rempart.config import Settings
    from rempart.gallery import Gallery
    from rempart.gate import Gate
    from rempart.policy import Verdict
    from rempart.text import PersonName

__all__ = ["ACTION_EXIT_CODES", "gate_command"]

ACTION_EXIT_CODES: Final[Mapping[str, int]] = {"allow": 0, "review": 3, "block": 4}
"""Exit status of ``rempart gate`` on one request, by action: keyed by the values of
``rempart.policy.Action`` (a string enum), so that the command line starts without the
policy code."""
MAX_BATCH_LINE_BYTES: Final = 1 << 20


def gate_command(
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            metavar="TEXT",
            help="The prompt of the request [default: none; give it or --batch].",
        ),
    ] = None,
    negative: Annotated[
        str | None,
        typer.Option("--negative", metavar="TEXT", help="Its negative prompt [default: none]."),
    ] = None,
    inputs: Annotated[
        list[Path] | None,
        typer.Option(
            "--input", metavar="FILE", help="A photo uploaded with the request (repeatable)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            metavar="FILE",
            help="The image or video the generator made [default: none].",
        ),
    ] = None,
    person_photo: Annotated[
        bool,
        typer.Option(
            "--person-photo",
            help="The request edits an uploaded photo of a person that is not passed.",
        ),
    ] = False,
    persons_file: Annotated[
        Path | None,
        typer.Option(
            "--persons",
            metavar="FILE",
            help='Protected persons from this JSON file ({"protected_persons": [names]}) '
            "[default: those enrolled in the data directory].",
        ),
    ] = None,
    registry: Annotated[
        Path | None, typer.Option("--registry", hidden=True, help="Old --persons.")
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            "--batch",
            metavar="FILE",
            help='Check each JSON line {"id", "prompt", "negative_prompt", "inputs", "output", '
            '"person_photo"} of this file (- for standard input) [default: one request, '
            "from --prompt].",
        ),
    ] = None,
    policy_name: PolicyOption = "default",
    bank_names: BankOption = None,
    output_format: Annotated[
        str,
        typer.Option("--format", "-f", metavar="json|text", help="json or text (one request)."),
    ] = "json",
) -> None:
    """Check a generation request: its prompt, negative prompt, uploaded photos and output.

    Prints {"action", "categories", "reasons"} (or, with --format text, the same in words).
    A video output is checked on a frame a second: its signals name the "timestamps" (seconds)
    of the frames that gave them.
    Exit status for one request: 0 allow, 3 review, 4 block; 1 when the prompt or an image
    could not be read (nothing was judged), 2 for a usage or configuration error. With
    --batch, one {"id", "action", "categories", "reasons"} (or {"id", "error"}) per line, and
    exit status 0 when every line was judged, 1 when some could not be.

    \b
    Examples:
      rempart gate --prompt "a watercolour of a harbour at dawn"
      rempart gate --prompt "make her older" --input upload.jpg --format text
      rempart gate --prompt "a portrait" --output generated.png --policy strict
      rempart gate --prompt "a drone shot of a bridge" --output generated.mp4
      rempart gate --batch requests.jsonl > verdicts.jsonl
    """
    if output_format not in ("json", "text"):
        exit_with(f"--format must be json or text, not {output_format!r}", ExitCode.USAGE)
    if (prompt is None) == (batch is None):
        exit_with("give --prompt for one request, or --batch FILE", ExitCode.USAGE)
    from rempart.gate import GateRequest

    settings = current_settings()
    gate = _gate(settings, persons_file or registry, policy_name, bank_names)
    if batch is not None:
        raise typer.Exit(_run_batch(gate, batch))
    assert prompt is not None
    request = GateRequest(
        prompt,
        negative,
        tuple(str(path) for path in inputs or ()),
        None if output is None else str(output),
        person_photo=person_photo,
    )
    try:
        verdict = gate.check_request(request)
    except (PromptError, MediaError) as exc:
        exit_with(f"nothing judged: {exc}", ExitCode.SOME_FAILED)
    if output_format == "text":
        typer.echo(_as_text(verdict))
    else:
        typer.echo(json.dumps(_record(verdict), ensure_ascii=False))
    raise typer.Exit(ACTION_EXIT_CODES[verdict.action])


def _gate(
    settings: Settings, persons_file: Path | None, policy_name: str, bank_names: list[str] | None
) -> Gate:
    """The gate, with the persons of ``persons_file``, or else those enrolled."""
    from rempart.gallery import Gallery
    from rempart.gate import Gate, GateDetectors
    from rempart.persons import PersonsSnapshot, read_persons_file
    from rempart.policy import load_policy

    policy = load_policy(policy_name)
    gallery: Callable[[], Gallery]
    persons: Sequence[PersonName] | Callable[[], Sequence[PersonName]]
    if persons_file is not None:
        persons = read_persons_file(persons_file)
        gallery = Gallery  # a persons file holds names, not faces
    else:
        snapshot = PersonsSnapshot(settings.database_url)
        persons, gallery = snapshot.names, snapshot.gallery
    return Gate(
        policy,
        persons=persons,
        # The registry and the index load with the image detectors, on the first request
        # with an image: a text-only request needs none of them.
        detectors=lambda: GateDetectors.from_registry(
            detector_registry(settings, gallery=gallery),
            matcher=bank_matcher(settings, bank_names),
        ),
        limits=settings.media,
        video_limits=settings.video,
        prompt_ms=settings.gate_prompt_ms,
    )


def _run_batch(gate: Gate, path: Path) -> ExitCode:
    """Check every line of ``path``, printing one record per line; models load once."""
    lines = _batch_lines(path)
    failed = 0
    with progress("Checking", total=len(lines)) as track:
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
    from rempart.gate import ImageEncoding, parse_gate_request

    request_id: Any = None
    try:
        data = _json_line(raw)
        request_id = data.get("id") if isinstance(data, dict) else None
        verdict = gate.check_request(parse_gate_request(data, images=ImageEncoding.PATH))
    except (PromptError, MediaError) as exc:
        error = {"code": exc.code.value, "message": str(exc)}
        return {"id": request_id, "line": number, "error": error}
    except RequestError as exc:
        error = {"code": "invalid_request", "message": f"line {number}: {exc}"}
        return {"id": request_id, "line": number, "error": error}
    return {"id": request_id, **_record(verdict)}


def _json_line(raw: bytes) -> object:
    """A batch line's JSON value; ``RequestError`` for a line too long, not UTF-8 or not JSON."""
    if len(raw) > MAX_BATCH_LINE_BYTES:
        raise RequestError(f"over {MAX_BATCH_LINE_BYTES:,} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RequestError(f"not UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise RequestError(f"not JSON: {exc.msg}") from exc


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
            times = evidence.get("timestamps")
            at = f" at {', '.join(f'{t:g} s' for t in times)}" if times else ""
            yield f"{signal.name}{value} ({signal.score:.2f}){where}{at}"
