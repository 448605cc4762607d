"""How fast the command line starts: ``rempart --help``, ``rempart --version`` and ``rempart
hash`` on one small image, each against python-threatexchange's CLI (``threatexchange``, the
named peer) measured in the same run.

Each command runs N times (after one warm-up run, so both sides read compiled bytecode) as a
fresh process; the table gives the best and the median wall time, the least CPU time (user
and system, the children's: steadier than wall time on a busy machine), and the ratio of
Rempart's best wall time to the peer's (below 1: Rempart starts sooner). The image is a
64 x 64 PNG of random pixels, made here. The peer hashes it with ``threatexchange hash
--signal-type pdq photo FILE`` (the two PDQ hashes are checked to agree), its state
directory (``~/.threatexchange``) in a temporary home. When the peer's CLI is not installed,
the floor, an interpreter that does nothing (``python -c pass``), stands in for it, and the
output says so.

Target: ``rempart --help`` and ``rempart hash`` each under 0.25 s (best of the runs) on 2 cores.

Run: ``make bench`` (or ``python benchmarks/cli_startup.py --runs 10``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

BIN = Path(sys.executable).parent
TARGET_S = 0.25
console = Console()


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall times of one command's runs, or why it could not be timed."""

    times: tuple[float, ...] = ()
    cpu: tuple[float, ...] = ()
    failure: str = ""
    detail: str = ""
    output: str = ""

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def small_png(folder: Path) -> Path:
    """A 64 x 64 PNG of random pixels (no photograph)."""
    rng = random.Random(20261201)
    image = Image.frombytes("RGB", (64, 64), rng.randbytes(64 * 64 * 3))
    path = folder / "small.png"
    image.save(path)
    return path


def time_command(argv: Sequence[str], runs: int, env: Mapping[str, str]) -> Timing:
    """Run ``argv`` once to warm up, then ``runs`` times, timing each from start to exit."""
    times = []
    cpu = []
    output = ""
    for _ in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            return Timing(failure=f"exits {done.returncode}", detail=last)
        times.append(elapsed)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        output = done.stdout
    return Timing(tuple(times[1:]), tuple(cpu[1:]), output=output)


def cell(timing: Timing) -> tuple[str, str, str]:
    """Best and median wall time and least CPU time, in seconds, or the failure."""
    if timing.failure:
        return timing.failure, "", ""
    return f"{timing.best:.3f}", f"{timing.median:.3f}", f"{min(timing.cpu):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command")
    args = parser.parse_args()

    rempart = BIN / "rempart"
    ours_cli = [str(rempart)] if rempart.exists() else [sys.executable, "-m", "rempart"]
    peer = BIN / "threatexchange"
    floor = [sys.executable, "-c", "pass"]

    with tempfile.TemporaryDirectory(prefix="rempart-cli-bench-") as tmp:
        folder = Path(tmp)
        image = str(small_png(folder))
        (folder / "home").mkdir()
        env = {**os.environ, "HOME": str(folder / "home")}  # the peer keeps its state there
        if peer.exists():
            peer_name = "threatexchange"
            peer_commands: dict[str, list[str]] = {
                "--help": [str(peer), "--help"],
                "--version": [str(peer), "--version"],
                "hash": [str(peer), "hash", "--signal-type", "pdq", "photo", image],
            }
        else:
            peer_name = "python -c pass (threatexchange CLI not installed: the floor)"
            peer_commands = dict.fromkeys(("--help", "--version", "hash"), floor)
        rows = []
        for name, ours_argv in (
            ("--help", [*ours_cli, "--help"]),
            ("--version", [*ours_cli, "--version"]),
            ("hash", [*ours_cli, "hash", image]),
        ):
            ours = time_command(ours_argv, args.runs, env)
            theirs = time_command(peer_commands[name], args.runs, env)
            rows.append((name, ours, theirs))
        floor_timing = time_command(floor, args.runs, env)

    table = Table(
        "command",
        "rempart best s",
        "median",
        "CPU",
        "peer best s",
        "median",
        "CPU",
        "ratio (best)",
        title=f"CLI start-up, {args.runs} runs each, {os.cpu_count()} cores",
    )
    for name, ours, theirs in rows:
        timed = not (ours.failure or theirs.failure)
        ratio = f"{ours.best / theirs.best:.2f}" if timed else ""
        table.add_row(name, *cell(ours), *cell(theirs), ratio)
    table.add_row("(python -c pass)", *cell(floor_timing), "", "", "", "")
    console.print(table)
    console.print(f"Peer: {peer_name}. Rempart: {' '.join(ours_cli)}.", highlight=False)
    for name, ours, theirs in rows:
        for side, timing in (("rempart", ours), ("peer", theirs)):
            if timing.failure:
                console.print(
                    f"Not timed: {side} {name} {timing.failure}: {timing.detail}", highlight=False
                )

    hashes = {name: (ours, theirs) for name, ours, theirs in rows}["hash"]
    if peer.exists() and not (hashes[0].failure or hashes[1].failure):
        ours_pdq = json.loads(hashes[0].output)["pdq"]
        peer_pdq = hashes[1].output.split()[-1]
        agree = "agree" if ours_pdq == peer_pdq else f"DIFFER ({ours_pdq} vs {peer_pdq})"
        console.print(f"PDQ of the test image: the two hashes {agree}.", highlight=False)
    for name, ours, _ in rows:
        if name != "--version" and not ours.failure:
            verdict = "met" if ours.best < TARGET_S else "MISSED"
            console.print(
                f"Target {name} under {TARGET_S} s: {verdict} ({ours.best:.3f} s).",
                highlight=False,
            )


if __name__ == "__main__":
    main()
