"""``Runtime``: what a long-running process holds follows the database without an HTTP server:
the match index loads on its thread, and a person enrolled elsewhere reaches the gate's prompt
reader and the identity gallery at the next ``follow``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from rempart.config import load_settings
from rempart.errors import NotReadyError
from rempart.gallery import EMBEDDING_SIZE
from rempart.matching.banks import BankMatch
from rempart.persons import ProtectedPersons
from rempart.runtime import Runtime
from rempart.store import Store
from tests.desk.watched import desk_bank, entry_id, item, watched_item

PROMPT = "Jane Okonkwo-Larsen topless"  # a sexualised request naming a person


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path)})
    return Runtime(settings, Store.open(settings.database_url))


def test_a_person_enrolled_elsewhere_reaches_the_gate(runtime: Runtime) -> None:
    assert not any(s.name == "text.person" for s in runtime.gate.signals(PROMPT))
    other_process = ProtectedPersons(Store.open(runtime.settings.database_url))
    vector = np.random.default_rng(1).normal(size=EMBEDDING_SIZE).astype(np.float32)
    other_process.enroll("Jane Okonkwo-Larsen", [vector])
    runtime.follow()
    named = [s for s in runtime.gate.signals(PROMPT) if s.name == "text.person"]
    assert [s.value for s in named] == ["Jane Okonkwo-Larsen"]
    assert list(runtime.gallery().names) == ["Jane Okonkwo-Larsen"]
    assert runtime.gate.check(PROMPT).action.value == "block"


def test_the_index_loads_on_its_thread(runtime: Runtime) -> None:
    with pytest.raises(NotReadyError, match="loading"):
        runtime.require_matcher()
    runtime.start()
    try:
        deadline = time.monotonic() + 30
        while not runtime.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(runtime.require_matcher()) == 0
    finally:
        runtime.close()


def test_what_else_follows_runs_each_time(runtime: Runtime) -> None:
    calls: list[int] = []
    runtime.also_follow(lambda: calls.append(1))

    def broken() -> None:
        raise RuntimeError("the database went away")

    runtime.also_follow(broken)  # a failing step is logged; the others still run
    runtime.follow()
    runtime.follow()
    assert calls == [1, 1]


def test_the_watch_follows_the_desk_banks_and_writes_at_each_follow_and_at_close(
    runtime: Runtime,
) -> None:
    store = Store.open(runtime.settings.database_url)
    desk_bank(store, "desk-adult")
    first, second = (
        watched_item(store, [entry_id(store, "desk-adult", f"{i:02x}" * 32)]) for i in (1, 2)
    )
    runtime.follow()  # the new desk entries are watched from here
    runtime.watch.observe([BankMatch("desk-adult", first.entry_id, "01" * 32, 0)], key_id="k")
    runtime.follow()
    assert item(store, first.item_id)["state"] == "sighted"
    runtime.watch.observe([BankMatch("desk-adult", second.entry_id, "02" * 32, 0)], key_id="k")
    runtime.close()
    assert item(store, second.item_id)["state"] == "sighted"
    store.close()
