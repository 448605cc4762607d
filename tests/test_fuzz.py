"""The fuzz targets (fuzz/targets/): every seed of the corpus replays without a crash, and a
short property per target feeds it random bytes and mutations of its seeds.

A crash is anything but a ``RempartError`` escaping a target's ``fuzz_one``; ``make fuzz``
searches far longer, and its reproducers join the corpus, which this file replays.
"""

from __future__ import annotations

import random
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutate import mutate
from fuzz.targets import corpus_files, load, names

TARGETS = names()
SEEDS = [(name, path) for name in TARGETS for path in corpus_files(name)]
# A hundred examples per target keep the file near ten seconds on two cores.
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@pytest.fixture(autouse=True)
def as_deployed() -> Iterator[None]:
    """Library warnings as a deployment sees them (printed, not raised as the suite's
    ``filterwarnings = error`` would), so that a target behaves here as under ``make fuzz``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_targets_are_found_and_each_has_seeds() -> None:
    assert "media" in TARGETS
    assert "policy" in TARGETS
    assert "platforms" in TARGETS
    assert [name for name in TARGETS if not corpus_files(name)] == []


@pytest.mark.parametrize(("name", "path"), SEEDS, ids=[f"{n}/{p.name}" for n, p in SEEDS])
def test_every_seed_replays(name: str, path: Path) -> None:
    load(name)(path.read_bytes())


@pytest.mark.parametrize("name", TARGETS)
@PROPERTY
@given(data=st.binary(max_size=2048))
def test_random_bytes_never_crash(name: str, data: bytes) -> None:
    load(name)(data)


@pytest.mark.parametrize("name", TARGETS)
@PROPERTY
@given(pick=st.integers(min_value=0), rng=st.randoms(use_true_random=False))
def test_mutated_seeds_never_crash(name: str, pick: int, rng: random.Random) -> None:
    seeds = corpus_files(name)
    load(name)(mutate(seeds[pick % len(seeds)].read_bytes(), rng))


def test_mutations_change_their_seed_and_are_reproducible() -> None:
    seed = bytes(range(64))
    first = [mutate(seed, random.Random(n)) for n in range(20)]
    assert first == [mutate(seed, random.Random(n)) for n in range(20)]
    assert sum(out != seed for out in first) >= 18


def test_the_runner_fuzzes_a_target_and_reports() -> None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "fuzz/run.py", "--engine", "random", "--seconds", "1", "policy"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no crash found" in done.stdout
    unknown = subprocess.run(
        [sys.executable, "fuzz/run.py", "no-such-target"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert unknown.returncode == 2
