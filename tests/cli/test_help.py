"""Every command's ``--help``, rendered at 80 columns as a terminal shows it: nothing the help
declares is lost, defaults and examples are shown, and nothing runs past the margin."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from rempart.cli import app

WIDTH = 80
ROOT = typer.main.get_command(app)


# Typer bundles its own click: commands and parameters are told apart by what they have.
Command = Any


def _commands(
    group: Command = ROOT, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Command]]:
    """Every command a user can find from ``rempart --help`` down, hidden ones left out."""
    found = [(path, group)]
    if hasattr(group, "commands"):
        for name, command in sorted(group.commands.items()):
            if not command.hidden:
                found += _commands(command, (*path, name))
    return found


COMMANDS = _commands()
LEAVES = [(path, command) for path, command in COMMANDS if not hasattr(command, "commands")]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    return result.stdout


def _words(text: str) -> str:
    return " ".join(text.split())


def _id(item: tuple[tuple[str, ...], Command]) -> str:
    return " ".join(item[0]) or "rempart"


@pytest.mark.parametrize("item", COMMANDS, ids=_id)
def test_help_fits_80_columns_and_keeps_every_declared_word(
    item: tuple[tuple[str, ...], Command],
) -> None:
    path, command = item
    shown = _help(path)
    assert max(len(line) for line in shown.splitlines()) <= WIDTH
    # Rich markup once ate "[default: ...]" and anything else in brackets.
    for param in command.params:
        declared = getattr(param, "help", None)
        if declared and not getattr(param, "hidden", False):
            assert _words(declared) in _words(shown), (param.name, declared)


@pytest.mark.parametrize("item", LEAVES, ids=_id)
def test_every_option_that_takes_a_value_says_what_and_its_default(
    item: tuple[tuple[str, ...], Command],
) -> None:
    path, command = item
    shown = _help(path)
    for param in command.params:
        if param.param_type_name != "option" or param.hidden or param.is_flag:
            continue
        # A placeholder a person understands (NAME, FILE, N), not a Python type.
        longest = max(param.opts, key=len)
        python_type = r"<(str|int|float|path|list\[|int range|float range)"
        assert not re.search(rf"{re.escape(longest)} {python_type}", shown), param.opts
        if param.required or (param.multiple and not param.default):
            continue
        declared = param.help or ""
        if param.default is None:
            assert "[default:" in declared, f"{param.opts}: say what leaving it out does"
        else:
            options = shown[shown.index("\nOptions:") :]
            row = options[options.index(longest) :]
            assert "[default:" in row.split("\n  -", 1)[0], param.opts


@pytest.mark.parametrize("item", LEAVES, ids=_id)
def test_every_command_shows_examples_that_run_it(
    item: tuple[tuple[str, ...], Command],
) -> None:
    path, _ = item
    shown = _help(path)
    assert "Examples:" in shown
    examples = shown.split("Examples:", 1)[1].split("\n\n", 1)[0].strip().splitlines()
    invocation = " ".join(("rempart", *path))
    assert examples
    assert all(invocation in line for line in examples)  # alone, or at the end of a pipe
