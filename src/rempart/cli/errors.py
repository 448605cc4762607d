"""How a ``rempart`` command ends: one handler turns every ``RempartError`` into its message
and its exit status (``RempartError.exit_code``), and Ctrl-C into 130 (saying what a scan
wrote and how to resume it)."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from rempart.errors import ExitCode, Interrupted, RempartError

__all__ = ["ExitCode", "RempartGroup", "exit_with"]


class RempartGroup(TyperGroup):
    """The ``rempart`` command group: every command runs inside its one error handler."""

    def invoke(self, ctx: Any) -> Any:  # typer's own copy of click.Context
        """Run the command; a ``RempartError`` prints ``Error: ...`` and exits with its code."""
        try:
            return super().invoke(ctx)
        except RempartError as exc:
            exit_with(exc.describe(), exc.exit_code)
        except KeyboardInterrupt as exc:
            # A run that wrote an output says what it wrote and how to go on (``Interrupted``).
            typer.echo(str(exc) if isinstance(exc, Interrupted) else "Interrupted.", err=True)
            raise typer.Exit(ExitCode.INTERRUPTED) from None


def exit_with(message: str, code: ExitCode) -> NoReturn:
    """Print ``Error: message`` on standard error and exit with ``code``."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)
