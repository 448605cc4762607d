"""Run ``rempart`` in-process as a user would from a shell."""

from __future__ import annotations

from typer.testing import CliRunner

from rempart.cli import app

runner = CliRunner()


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``rempart ARGS`` with ``env`` and ``stdin``: its exit status, stdout and stderr."""
    result = runner.invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.stdout, result.stderr
