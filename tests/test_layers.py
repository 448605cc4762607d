"""The layers DESIGN.md draws hold: every module imports first in a fresh interpreter (no
import cycle hides behind an import order), and the import-linter contract in pyproject.toml
(which ``make lint`` runs) describes the package as it is."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rempart

SRC = Path(rempart.__file__).parent
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages([str(SRC)], prefix="rempart.")
    if ".migrations" not in info.name and info.name != "rempart.__main__"
)


def import_alone(module: str) -> tuple[str, str]:
    """Import ``module`` first thing in a new interpreter: its error output, if it failed."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return module, done.stderr if done.returncode else ""


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    assert len(MODULES) > 60
    with ThreadPoolExecutor(max_workers=4) as pool:
        failed = {module: err for module, err in pool.map(import_alone, MODULES) if err}
    assert not failed, "\n".join(f"{m}:\n{e.strip().splitlines()[-1]}" for m, e in failed.items())


def test_the_layer_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--config", str(SRC.parents[1] / "pyproject.toml")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=SRC.parents[1],
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
