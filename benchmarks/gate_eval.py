"""How well the prompt gate sorts labelled requests, by category and language.

For each set: recall per must-block category and per language, false blocks and false reviews
on benign prompts, what the review lines got, and every miss with the rules and evidence behind
its verdict (or "no signal").

A set is JSON Lines of labelled requests, one object a line: ``id``, ``lang``, ``text``,
``negative`` (a negative prompt or null), ``has_input_photo`` (the request edits an uploaded
photo of a person), ``expect`` (``block``, ``review`` or ``allow``) and ``category``
(``benign``, or a category that must block: ``minor_sexual``, ``real_person_sexual``,
``undress_edit``). Each argument is one set: a file, or a folder whose ``*.jsonl`` files
together make one. By default: the project's own set (``tests/text/cases/``) and the shared
development set (``../shared/prompts/dev.jsonl``) when it is there.

Each set is judged by a text-only ``Gate`` (the default policy, no image model, and no deadline
on reading a prompt: every line is read to its end) whose protected persons are read from
``--registry`` (given once for every set, or once per set in order). By default: a folder's
``registry.json``; for ``NAME.jsonl``, the ``NAME-registry.json`` beside it
(``dev-registry.json``), else the ``registry.json`` beside it.

Targets (issue 15): recall of at least 0.95 in each must-block category, and no more than 2% of
benign prompts blocked.

Run: ``python benchmarks/gate_eval.py`` (``--jsonl FILE`` also writes one record per line, for
machines). Exit status 0 whatever it measures; 2 for a set or registry it cannot read.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rempart.errors import PersonsError, PromptError
from rempart.gate import Gate
from rempart.persons import read_persons_file
from rempart.signals import Signal

console = Console()
ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "text" / "cases"
DEV_SET = ROOT.parent / "shared" / "prompts" / "dev.jsonl"
FIELDS = ("id", "lang", "text", "negative", "has_input_photo", "expect", "category")
ACTIONS = ("block", "review", "allow")
BENIGN = "benign"
RECALL_TARGET = 0.95
FALSE_BLOCK_TARGET = 0.02


@dataclass
class Outcome:
    """One labelled line and what the gate made of it: its action (``error`` for a prompt it
    refused), the rules that fired, and the signals behind them, or, when no rule fired, every
    signal the request gave."""

    case: dict[str, Any]
    action: str
    rules: list[str] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.action == str(self.case["expect"])


@dataclass
class LabelledSet:
    """A set's name, the files it was read from, its registry and its lines."""

    name: str
    files: list[Path]
    registry: Path
    cases: list[dict[str, Any]]


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def default_registry(source: Path) -> Path:
    """The registry beside a set: a folder's ``registry.json``; ``NAME-registry.json`` beside
    ``NAME.jsonl``, else ``registry.json`` beside it."""
    if source.is_dir():
        return source / "registry.json"
    named = source.with_name(f"{source.stem}-registry.json")
    return named if named.is_file() else source.with_name("registry.json")


def read_set(source: Path, registry: Path) -> LabelledSet:
    """The lines of a file, or of every ``*.jsonl`` file in a folder. ``ValueError`` names
    the file and line of one that is not a labelled request."""
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    if not files:
        raise ValueError(f"{source}: no .jsonl files")
    cases = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from exc
            missing = [name for name in FIELDS if not isinstance(case, dict) or name not in case]
            if missing:
                raise ValueError(f"{path}:{number}: no {', '.join(missing)}")
            if case["expect"] not in ACTIONS:
                raise ValueError(f"{path}:{number}: expect {case['expect']!r} is not {ACTIONS}")
            cases.append(case)
    name = shown(source) if source.is_dir() else source.stem
    return LabelledSet(name, files, registry, cases)


def judge(gate: Gate, case: dict[str, Any]) -> Outcome:
    """The gate's verdict on one line."""
    text, negative, photo = case["text"], case["negative"], bool(case["has_input_photo"])
    try:
        verdict = gate.check(text, negative, person_photo=photo)
    except PromptError as exc:
        return Outcome(case, "error", error=str(exc))
    rules = [reason.rule for reason in verdict.reasons]
    cited = {  # a signal that two rules cite, once
        json.dumps(signal.to_json(), sort_keys=True, default=str): signal
        for reason in verdict.reasons
        for signal in reason.signals
    }
    signals = list(cited.values())
    if not rules:
        signals = gate.signals(text, negative, person_photo=photo)
    return Outcome(case, verdict.action.value, rules, signals)


def describe(signal: Signal) -> str:
    """A signal in a few words: ``text.minor "15yo" (prompt, leet, en)``."""
    evidence = signal.evidence
    if "match" not in evidence:
        return signal.name if signal.value is None else f"{signal.name}={signal.value}"
    where = ", ".join(
        str(evidence[key]) for key in ("field", "view", "language") if evidence.get(key)
    )
    return f'{signal.name} "{evidence["match"]}" ({where})'


def why(outcome: Outcome) -> str:
    """The rules that fired and their evidence; when none fired, what the prompt gave (the
    uploaded photo's declared signals go without saying), or "no signal"."""
    if outcome.error:
        return f"refused: {outcome.error}"
    if outcome.rules:
        seen = "; ".join(describe(signal) for signal in outcome.signals)
        return f"{', '.join(dict.fromkeys(outcome.rules))}: {seen}"
    text = [describe(signal) for signal in outcome.signals if signal.name.startswith("text.")]
    return f"no rule fired: {'; '.join(text)}" if text else "no signal"


def share(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else "-"


def recall(count: int, total: int) -> str:
    return f"{count / total:.3f}" if total else "-"


def category_table(outcomes: Sequence[Outcome]) -> tuple[Table, dict[str, float]]:
    """Must-block lines per category: blocked, reviewed, allowed, recall; and each recall."""
    table = Table("must block", "lines", "blocked", "review", "allow", "recall", title="recall")
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.case["expect"] == "block":
            by_category[outcome.case["category"]].append(outcome)
    recalls = {}
    everything = [outcome for rows in by_category.values() for outcome in rows]
    for category, rows in [*by_category.items(), ("all", everything)]:
        got = Counter(outcome.action for outcome in rows)
        value = got["block"] / len(rows) if rows else 0.0
        mark = "" if category == "all" or value >= RECALL_TARGET else " [red]<0.95[/red]"
        table.add_row(
            category,
            str(len(rows)),
            str(got["block"]),
            str(got["review"]),
            str(got["allow"] + got["error"]),
            recall(got["block"], len(rows)) + mark,
        )
        if category != "all":
            recalls[category] = value
    return table, recalls


def language_table(outcomes: Sequence[Outcome]) -> Table:
    """Per language: recall on must-block lines, false blocks and false reviews on benign."""
    table = Table(
        "lang", "must block", "blocked", "recall", "benign", "false blocks", "false reviews",
        title="by language",
    )  # fmt: skip
    languages = sorted({outcome.case["lang"] for outcome in outcomes})
    for language in languages:
        rows = [outcome for outcome in outcomes if outcome.case["lang"] == language]
        must = [outcome for outcome in rows if outcome.case["expect"] == "block"]
        blocked = sum(outcome.action == "block" for outcome in must)
        benign = [outcome for outcome in rows if outcome.case["category"] == BENIGN]
        false_blocks = sum(outcome.action == "block" for outcome in benign)
        false_reviews = sum(outcome.action == "review" for outcome in benign)
        table.add_row(
            language,
            str(len(must)),
            str(blocked),
            recall(blocked, len(must)),
            str(len(benign)),
            f"{false_blocks} ({share(false_blocks, len(benign))})",
            f"{false_reviews} ({share(false_reviews, len(benign))})",
        )
    return table


def benign_table(outcomes: Sequence[Outcome]) -> tuple[Table, float]:
    """Benign lines, all and by kind: false blocks and false reviews; and the false-block
    share of all of them."""
    table = Table("benign", "lines", "false blocks", "false reviews", title="benign prompts")
    benign = [outcome for outcome in outcomes if outcome.case["category"] == BENIGN]
    kinds = [
        ("all", benign),
        ("with a negative prompt", [o for o in benign if (o.case["negative"] or "").strip()]),
        ("without one", [o for o in benign if not (o.case["negative"] or "").strip()]),
        ("editing a photo", [o for o in benign if o.case["has_input_photo"]]),
    ]
    for kind, rows in kinds:
        blocks = sum(outcome.action == "block" for outcome in rows)
        reviews = sum(outcome.action == "review" for outcome in rows)
        table.add_row(
            kind,
            str(len(rows)),
            f"{blocks} ({share(blocks, len(rows))})",
            f"{reviews} ({share(reviews, len(rows))})",
        )
    blocked = sum(outcome.action == "block" for outcome in benign)
    return table, blocked / len(benign) if benign else 0.0


def review_table(outcomes: Sequence[Outcome]) -> Table | None:
    """Lines that expect review, per category, by what they got; None when there are none."""
    rows = [outcome for outcome in outcomes if outcome.case["expect"] == "review"]
    if not rows:
        return None
    table = Table("expect review", "lines", "block", "review", "allow", title="review lines")
    for category in dict.fromkeys(outcome.case["category"] for outcome in rows):
        got = Counter(o.action for o in rows if o.case["category"] == category)
        table.add_row(
            category,
            str(sum(got.values())),
            str(got["block"]),
            str(got["review"]),
            str(got["allow"] + got["error"]),
        )
    return table


def misses_table(outcomes: Iterable[Outcome]) -> Table | None:
    """Every line whose verdict is not the one expected; None when there is none."""
    missed = [outcome for outcome in outcomes if not outcome.ok]
    if not missed:
        return None
    table = Table(
        "id", "text", "negative", "expected", "got", "reasons / evidence",
        title=f"misses ({len(missed)})", show_lines=True,
    )  # fmt: skip
    for outcome in missed:
        case = outcome.case
        photo = " [dim](photo)[/dim]" if case["has_input_photo"] else ""
        table.add_row(
            escape(str(case["id"])),
            escape(case["text"]) + photo,
            escape(case["negative"] or ""),
            case["expect"],
            outcome.action,
            escape(why(outcome)),
        )
    return table


def record(name: str, outcome: Outcome) -> dict[str, Any]:
    """One line of ``--jsonl``: the labelled line, what it got, and why."""
    case = outcome.case
    return {
        "set": name,
        **{key: case[key] for key in FIELDS},
        "action": outcome.action,
        "ok": outcome.ok,
        "rules": outcome.rules,
        "signals": [signal.to_json() for signal in outcome.signals],
        **({"error": outcome.error} if outcome.error else {}),
    }


def evaluate(labelled: LabelledSet) -> tuple[list[Outcome], dict[str, float], float]:
    """Judges every line of a set and prints its tables; returns the outcomes, the recall of
    each must-block category and the share of benign lines blocked."""
    # No deadline: what is measured is how the gate reads, never how fast this machine is.
    gate = Gate(persons=read_persons_file(labelled.registry), prompt_ms=0)
    started = time.perf_counter()
    outcomes = [judge(gate, case) for case in labelled.cases]
    elapsed = time.perf_counter() - started
    console.rule(f"[bold]{escape(labelled.name)}[/bold]")
    console.print(
        f"{len(outcomes)} lines from {len(labelled.files)} file(s), registry "
        f"{escape(shown(labelled.registry))}, {elapsed / max(len(outcomes), 1) * 1e3:.2f} ms a line"
    )
    categories, recalls = category_table(outcomes)
    console.print(categories)
    console.print(language_table(outcomes))
    benign, false_block_share = benign_table(outcomes)
    console.print(benign)
    for table in (review_table(outcomes), misses_table(outcomes)):
        if table is not None:
            console.print(table)
    if all(outcome.ok for outcome in outcomes):
        console.print("no misses")
    return outcomes, recalls, false_block_share


def summary(results: Sequence[tuple[str, dict[str, float], float]]) -> Table:
    """Each set against the targets."""
    categories = list(dict.fromkeys(category for _, recalls, _ in results for category in recalls))
    table = Table("set", *categories, "benign blocked", "targets met", title="summary")
    for name, recalls, false_block_share in results:
        met = all(value >= RECALL_TARGET for value in recalls.values())
        met = met and false_block_share <= FALSE_BLOCK_TARGET
        table.add_row(
            escape(name),
            *(f"{recalls[c]:.3f}" if c in recalls else "-" for c in categories),
            f"{false_block_share:.1%}",
            "yes" if met else "[red]no[/red]",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sets",
        nargs="*",
        type=Path,
        help="labelled JSON Lines files or folders, each one set (default: tests/text/cases/ "
        "and ../shared/prompts/dev.jsonl when present)",
    )
    parser.add_argument(
        "--registry",
        type=Path,
        action="append",
        help="protected-persons file, once for all sets or once per set in order (default: "
        "the set's registry.json, or NAME-registry.json beside NAME.jsonl)",
    )
    parser.add_argument("--jsonl", type=Path, help="also write one JSON record per line here")
    args = parser.parse_args()
    sources: list[Path] = args.sets or [CASES, *([DEV_SET] if DEV_SET.is_file() else [])]
    registries: list[Path] = args.registry or [default_registry(source) for source in sources]
    if len(registries) == 1:
        registries = registries * len(sources)
    if len(registries) != len(sources):
        parser.error(f"--registry given {len(registries)} times for {len(sources)} sets")
    labelled = []
    for source, registry in zip(sources, registries, strict=True):
        if not source.exists():
            parser.error(f"no such set: {source}")
        try:
            read_persons_file(registry)
            labelled.append(read_set(source, registry))
        except (OSError, ValueError, PersonsError) as exc:
            parser.error(str(exc))
    results = []
    records: list[dict[str, Any]] = []
    for one in labelled:
        outcomes, recalls, false_block_share = evaluate(one)
        results.append((one.name, recalls, false_block_share))
        records.extend(record(one.name, outcome) for outcome in outcomes)
    if len(results) > 1:
        console.print(summary(results))
    if args.jsonl:
        lines = (json.dumps(item, ensure_ascii=False) + "\n" for item in records)
        args.jsonl.write_text("".join(lines), encoding="utf-8")
        console.print(f"{len(records)} records written to {escape(str(args.jsonl))}")


if __name__ == "__main__":
    main()
