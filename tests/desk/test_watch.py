"""rempart.desk.watch: matches of desk entries become sightings on the items that claim them
(each test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from rempart.desk import FixedClock, ItemState
from rempart.desk import watch as watch_module
from rempart.desk.states import check_item_move
from rempart.desk.watch import MOVES, Watch
from rempart.hashing import pack
from rempart.matching.banks import BankMatch, BankMatcher, Banks
from rempart.store import Store
from tests.desk.watched import (
    case_state,
    desk_bank,
    entry_id,
    events,
    item,
    last_sighting,
    sightings,
    watched_item,
)

H1, H2, H3 = (f"{i:02x}" * 32 for i in (0x11, 0x22, 0x33))
START = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def match(entry: int, bank: str = "desk-adult") -> BankMatch:
    return BankMatch(bank=bank, entry_id=entry, hash=H1, distance=0, review=True)


def test_a_match_of_a_watched_hash_sights_its_item(store: Store) -> None:
    desk_bank(store, "desk-adult")
    Banks(store).create("stopncii", source="stopncii")
    watched = watched_item(store, [entry_id(store, "desk-adult", H1)], pdq=H1)
    other = entry_id(store, "stopncii", H2)
    before = last_sighting(store)
    clock = FixedClock(START)
    watch = Watch(store, clock=clock)
    assert len(watch) == 1

    # Through the real matcher, as the endpoints get them: a desk entry and one that is not.
    matcher = BankMatcher(store)
    found = [m for ms in matcher.match(pack([H1, H2, H1])) for m in ms]
    assert {m.entry_id for m in found} == {watched.entry_id, other}
    assert watch.observe(found, key_id="platform1") == 2
    clock.advance(timedelta(seconds=5))
    assert watch.observe([match(watched.entry_id)], key_id=None) == 1
    assert sightings(store, before) == [], "nothing is written before a flush"

    assert watch.flush() == 3
    rows = sightings(store, before)
    assert [(r["entry_id"], r["key_id"], r["count"]) for r in rows] == [
        (watched.entry_id, "platform1", 2),
        (watched.entry_id, None, 1),
    ]
    row = item(store, watched.item_id)
    assert (row["state"], row["sightings"]) == ("sighted", 3)
    assert row["last_sighted_at"].replace(tzinfo=UTC) == START + timedelta(seconds=5)
    (event,) = events(store, watched.item_id)
    assert (event["actor"], event["kind"], event["from_state"], event["to_state"]) == (
        "system",
        "sighting",
        "watching",
        "sighted",
    )
    assert event["case_id"] == watched.case_id

    # Seen again: counted, but no second move and no second event.
    watch.observe([match(watched.entry_id)], key_id="platform1")
    assert watch.flush() == 1
    assert item(store, watched.item_id)["sightings"] == 4
    assert len(events(store, watched.item_id)) == 1
    assert watch.flush() == 0, "a flush with nothing counted writes nothing"
    assert len(sightings(store, before)) == 3


@pytest.mark.parametrize(
    ("state", "after"),
    [
        ("watching", "sighted"),
        ("closed", "reappeared"),
        ("removed", "reappeared"),
        ("sighted", "sighted"),
        ("reappeared", "reappeared"),
        ("on_hold", "on_hold"),
    ],
)
def test_what_a_sighting_moves(store: Store, state: str, after: str) -> None:
    desk_bank(store, "desk-adult")
    watched = watched_item(store, [entry_id(store, "desk-adult", H1)], state=state)
    watch = Watch(store)
    watch.observe([match(watched.entry_id)], key_id=None)
    watch.flush()
    row = item(store, watched.item_id)
    assert (row["state"], row["sightings"]) == (after, 1)
    moves = [(e["from_state"], e["to_state"]) for e in events(store, watched.item_id)]
    assert moves == ([] if state == after else [(state, after)])


def test_every_move_a_sighting_makes_is_one_the_states_allow() -> None:
    for state, to in MOVES.items():
        check_item_move(ItemState(state), to)


def test_a_copy_back_reopens_a_closed_case(store: Store) -> None:
    desk_bank(store, "desk-adult")
    entry = entry_id(store, "desk-adult", H1)
    closed = watched_item(store, [entry], state="removed", case_state="closed")
    open_case = watched_item(store, [entry], state="closed", case_state="acting")
    watch = Watch(store)
    watch.observe([match(entry)], key_id="k")
    watch.flush()
    assert (case_state(store, closed.case_id), case_state(store, open_case.case_id)) == (
        "in_review",
        "acting",
    )
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in events(store, closed.item_id)] == [
        ("sighting", "removed", "reappeared"),
        ("reopened", "closed", "in_review"),
    ]
    assert item(store, open_case.item_id)["state"] == "reappeared"


def test_a_withdrawn_item_is_left_alone_but_another_claim_is_sighted(store: Store) -> None:
    desk_bank(store, "desk-adult")
    entry = entry_id(store, "desk-adult", H1)
    withdrawn = watched_item(store, [entry], state="withdrawn")
    other_case = watched_item(store, [entry])
    watch = Watch(store)
    watch.observe([match(entry)], key_id=None)
    watch.flush()
    left = item(store, withdrawn.item_id)
    assert (left["state"], left["sightings"]) == ("withdrawn", 0)
    assert events(store, withdrawn.item_id) == []
    assert item(store, other_case.item_id)["state"] == "sighted"


def test_an_item_in_two_desk_banks_counts_a_match_once(store: Store) -> None:
    desk_bank(store, "desk-adult")
    desk_bank(store, "desk-adult-confirmed", review=False)
    reported = entry_id(store, "desk-adult", H1)
    confirmed = entry_id(store, "desk-adult-confirmed", H1)
    watched = watched_item(store, [reported, confirmed])
    watch = Watch(store)
    assert len(watch) == 2
    found = [m for ms in BankMatcher(store).match(pack([H1])) for m in ms]
    assert {m.entry_id for m in found} == {reported, confirmed}
    assert watch.observe(found, key_id="k") == 2
    watch.flush()
    assert item(store, watched.item_id)["sightings"] == 1


def test_refresh_follows_the_desk_banks_only(store: Store) -> None:
    watch = Watch(store)
    assert len(watch) == 0
    assert watch.refresh() == 0
    desk_bank(store, "desk-minor", category="child_sexual_abuse")
    Banks(store).create("local")
    first = entry_id(store, "desk-minor", H1)
    entry_id(store, "local", H2)
    watch.refresh()
    assert len(watch) == 1
    assert watch.observe([match(first, "desk-minor")], key_id=None) == 1

    second = entry_id(store, "desk-minor", H3)
    Banks(store).withdraw("desk-minor", entry_ids=[first], reason="withdrawn by the victim")
    watch.refresh()
    assert len(watch) == 1
    assert watch.observe([match(first, "desk-minor")], key_id=None) == 0
    assert watch.observe([match(second, "desk-minor")], key_id=None) == 1
    assert watch.refresh() == 0, "nothing new"
    assert len(Watch(store)) == 1, "a new watch loads what the old one followed to"


def test_a_failed_write_keeps_the_counts_for_the_next_flush(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk_bank(store, "desk-adult")
    watched = watched_item(store, [entry_id(store, "desk-adult", H1)])
    watch = Watch(store)
    watch.observe([match(watched.entry_id)] * 2, key_id="k")

    def broken(*args: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr(watch_module, "_write", broken)
        with pytest.raises(RuntimeError, match="went away"):
            watch.flush()
    watch.observe([match(watched.entry_id)], key_id="k")
    assert watch.flush() == 3
    assert item(store, watched.item_id)["sightings"] == 3


def test_the_queue_is_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    desk_bank(store, "desk-adult")
    entries = [entry_id(store, "desk-adult", h) for h in (H1, H2, H3)]
    before = last_sighting(store)
    monkeypatch.setattr(watch_module, "MAX_PENDING", 2)
    watch = Watch(store)
    for entry in entries:
        watch.observe([match(entry)], key_id="k")
    watch.observe([match(entries[0])], key_id="k")  # a pair already counted still counts
    assert watch.dropped == 1
    assert watch.flush() == 3
    assert sorted((r["entry_id"], r["count"]) for r in sightings(store, before)) == [
        (entries[0], 2),
        (entries[1], 1),
    ]


def test_observing_from_many_threads_loses_nothing(store: Store) -> None:
    desk_bank(store, "desk-adult")
    watched = watched_item(store, [entry_id(store, "desk-adult", H1)])
    watch = Watch(store)
    keys = [f"key{i}" for i in range(8)]
    flushed: list[int] = []
    done = threading.Event()

    def observe(key: str) -> None:
        for _ in range(500):
            watch.observe([match(watched.entry_id)], key_id=key)

    def flush() -> None:  # flushes racing the observers lose nothing either
        while not done.is_set():
            flushed.append(watch.flush())

    flusher = threading.Thread(target=flush)
    flusher.start()
    threads = [threading.Thread(target=observe, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    flusher.join()
    watch.close()
    assert item(store, watched.item_id)["sightings"] == 8 * 500
