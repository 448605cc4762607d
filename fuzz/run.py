"""Fuzz Rempart's parsers: ``python fuzz/run.py [--seconds N] [names...]`` (``make fuzz``).

Each target (``fuzz/targets/<name>.py``) runs for N seconds in a process of its own, seeded
with its corpus (``fuzz/corpus/<name>/``). With atheris installed (``pip install
'rempart[fuzz]'``) the search is coverage-guided (libFuzzer); without it, a seeded loop of
random mutations of the corpus. An input that makes anything but a ``RempartError`` escape is
a crash: it is written to ``fuzz/crashes/<name>/`` with its traceback printed, and the run
exits 1. Inputs that reached new code are kept in ``fuzz/work/<name>/`` (both git-ignored):
add a minimised crash to the corpus, under a name that says what it is, once it is fixed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import random
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A checkout's own sources win over an installed rempart, as in the tests.
for _path in (ROOT / "src", ROOT):
    if _path.is_dir() and str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fuzz.mutate import mutate  # noqa: E402 - after the path above
from fuzz.targets import CORPUS, corpus_files, load, names  # noqa: E402

CRASHES = ROOT / "fuzz" / "crashes"
WORK = ROOT / "fuzz" / "work"
# libFuzzer's limits on one input: slower or larger than this is a finding, not a wait.
INPUT_TIMEOUT_S = 10
RSS_LIMIT_MB = 3072


def main(argv: list[str] | None = None) -> int:
    """Run the named targets (all by default) one after the other; 1 if any crashed."""
    args = _parser().parse_args(argv)
    if args.child:
        return _run_child(args.child, args.seconds, args.engine, args.seed)
    unknown = sorted(set(args.names) - set(names()))
    if unknown:
        print(f"no fuzz target {', '.join(unknown)}; known: {', '.join(names())}", file=sys.stderr)
        return 2
    failed = []
    for name in args.names or names():
        print(f"== fuzz {name}: {args.seconds} s ({args.engine})", flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", name]
        command += ["--seconds", str(args.seconds), "--engine", args.engine]
        command += ["--seed", str(args.seed)]
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"crashes in {', '.join(failed)}: see {CRASHES.relative_to(ROOT)}/", file=sys.stderr)
        return 1
    print("no crash found")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help=f"targets to run (default: all of {names()})")
    parser.add_argument("--seconds", type=int, default=600, help="per target [default: 600]")
    parser.add_argument(
        "--engine",
        choices=("auto", "atheris", "random"),
        default="auto",
        help="atheris when installed, else random mutations [default: auto]",
    )
    parser.add_argument("--seed", type=int, default=0, help="the random engine's [default: 0]")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one target, in this process
    return parser


def _run_child(name: str, seconds: int, engine: str, seed: int) -> int:
    # Libraries' warnings on damaged input (Pillow's "Truncated File Read") are not findings,
    # and printed for every input they would bury the crashes.
    warnings.simplefilter("ignore")
    (CRASHES / name).mkdir(parents=True, exist_ok=True)
    (WORK / name).mkdir(parents=True, exist_ok=True)
    use_atheris = engine == "atheris" or (
        engine == "auto" and importlib.util.find_spec("atheris") is not None
    )
    if use_atheris:
        return _atheris(name, seconds)
    return _random(name, seconds, seed)


def _atheris(name: str, seconds: int) -> int:
    """Coverage-guided: libFuzzer through atheris. It exits the process itself."""
    import atheris

    fuzz_one = load(name)
    # Run the seeds once so that lazily imported code (Pillow's plugins) is loaded, then
    # instrument everything loaded: Rempart's parsers and the pure-Python ones below them.
    for path in corpus_files(name):
        with contextlib.suppress(Exception):  # libFuzzer replays them and reports crashes
            fuzz_one(path.read_bytes())
    atheris.instrument_all()
    corpus = CORPUS / name
    options = [
        f"-max_total_time={seconds}",
        f"-timeout={INPUT_TIMEOUT_S}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={CRASHES / name}/",
        "-print_final_stats=1",
    ]
    # New inputs go into the first folder (the work folder); the corpus is only read.
    folders = [str(WORK / name)] + ([str(corpus)] if corpus.is_dir() else [])
    atheris.Setup([sys.argv[0], *options, *folders], fuzz_one)
    atheris.Fuzz()
    return 0  # pragma: no cover - atheris.Fuzz exits the process


def _random(name: str, seconds: int, seed: int) -> int:
    """Without atheris: the seeds, then random mutations of them, until the time is up."""
    fuzz_one = load(name)
    seeds = [path.read_bytes() for path in corpus_files(name)] or [b""]
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    runs, found = 0, set[tuple[str, str]]()
    for data in seeds:
        runs += 1
        _one(name, fuzz_one, data, found)
    while time.monotonic() < deadline:
        runs += 1
        _one(name, fuzz_one, mutate(rng.choice(seeds), rng), found)
    print(f"{name}: {runs:,} inputs in {seconds} s, {len(found)} distinct crash(es)")
    return 1 if found else 0


def _one(
    name: str, fuzz_one: Callable[[bytes], None], data: bytes, found: set[tuple[str, str]]
) -> None:
    """Run one input; a crash not seen before (by exception type and place) is written."""
    try:
        fuzz_one(data)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        key = (type(exc).__name__, f"{where.filename}:{where.lineno}")
        if key in found:
            return
        found.add(key)
        path = CRASHES / name / f"crash-{hashlib.sha1(data).hexdigest()}"
        path.write_bytes(data)
        print(f"--- crash {key[0]} at {key[1]}, input {path.relative_to(ROOT)}", flush=True)
        traceback.print_exception(exc)


if __name__ == "__main__":
    sys.exit(main())
