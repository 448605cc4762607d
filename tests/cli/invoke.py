"""Run ``rempart`` in-process as a user would from a shell, or in its own process with a
terminal as its standard output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from rempart.cli import app

runner = CliRunner()


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``rempart ARGS`` with ``env`` and ``stdin``: its exit status, stdout and stderr."""
    result = runner.invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.stdout, result.stderr


def ok(env: dict[str, str], *args: str) -> str:
    """``rempart ARGS``'s standard output, once it exited 0."""
    code, out, err = run(env, *args)
    assert code == 0, err
    return out


def jsonl(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    """``rempart ARGS --format jsonl``'s records, once it exited 0."""
    return [json.loads(line) for line in ok(env, *args, "--format", "jsonl").splitlines()]


def desk_environment(
    env: dict[str, str], folder: Path, platforms: str, **settings: str
) -> dict[str, str]:
    """``env`` with the desk's key made, the platform profiles ``platforms`` (YAML) in
    ``folder``/platforms, a notifier, and ``settings`` (``REMPART_...`` variables) besides."""
    profiles = folder / "platforms"
    profiles.mkdir()
    (profiles / "ours.yaml").write_text(platforms, encoding="utf-8")
    made = {
        **env,
        "REMPART_DESK_PLATFORMS": str(profiles),
        "REMPART_DESK_NOTIFIER_NAME": "Rempart test desk",
        "REMPART_DESK_NOTIFIER_EMAIL": "desk@example.org",
        **settings,
    }
    ok(made, "desk", "init")
    return made


def run_on_terminal(env: dict[str, str], *args: str) -> tuple[int, str, bytes]:
    """``rempart ARGS`` in a new process whose standard output is a terminal (a pty): its exit
    status, its stderr, and what it printed to the terminal."""
    terminal, other_end = pty.openpty()
    try:
        shown = subprocess.run(
            [sys.executable, "-c", "from rempart.cli import main; main()", *args],
            env={**os.environ, **env},
            stdout=other_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
        os.set_blocking(terminal, False)
        try:
            printed = os.read(terminal, 1 << 16)
        except BlockingIOError:
            printed = b""
    finally:
        os.close(terminal)
        os.close(other_end)
    return shown.returncode, shown.stderr, printed
