"""rempart.desk.tasks: a round of the desk's background work re-checks what is due and purges
nothing that is not; a second worker on the same lock file leaves the work to the first; the
thread stops cleanly (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from rempart.config import load_settings
from rempart.desk import AgeAnswer, Desk, ItemInput, Notices
from rempart.desk.evidence import Evidence
from rempart.desk.fetch import Fetched, Fetcher, HttpFetcher, Method
from rempart.desk.recheck import Rechecker
from rempart.desk.tasks import DeskTasks, TasksReport
from rempart.store.schema import desk_items
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    NOW,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    make_notices_fixture,
)
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.smtp import smtp_server_fixture  # noqa: F401


def notified(desk: Desk, notices: Notices, site: Site, path: str) -> int:
    """An item in a notice delivered by hand, its URL then the local server's."""
    case = desk.report(AgeAnswer.ADULT, [ItemInput(url=f"https://forms.test{path}")]).case
    draft = notices.draft(case.number, "uk-form", REVIEWER)
    notices.record_delivery(draft.reference, REVIEWER, at=NOW, how="the platform's web form")
    item_id = case.items[0].id
    with desk.store.write() as connection:
        connection.execute(
            update(desk_items).where(desk_items.c.id == item_id).values(url=site.url(path))
        )
    return item_id


def tasks(desk: Desk, site: Site, lock: Path) -> DeskTasks:
    fetcher = HttpFetcher(allow=[site.allow], clock=desk.clock)
    return DeskTasks(
        rechecker=Rechecker(desk, fetcher),
        evidence=Evidence(desk, fetcher),
        lock=lock,
    )


def states(desk: Desk, *item_ids: int) -> list[str]:
    with desk.store.read() as connection:
        rows = connection.execute(select(desk_items.c.id, desk_items.c.state)).all()
    found = dict(rows)
    return [found[item_id] for item_id in item_ids]


def test_a_round_checks_what_is_due_and_one_worker_runs_it(
    desk: Desk,
    make_notices: Callable[..., Notices],
    site: Site,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    notices = make_notices()
    site.serve("/p/1", b"gone", status=404)
    site.serve("/p/2", b"<p>still here</p>")
    first, second = (notified(desk, notices, site, path) for path in ("/p/1", "/p/2"))
    lock = tmp_path / "run" / "desk-tasks.lock"
    one, other = tasks(desk, site, lock), tasks(desk, site, lock)
    try:
        with caplog.at_level(logging.INFO, logger="rempart.desk.tasks"):
            assert one.run_once() == TasksReport(checked=2, removed=1, purged=0)
        assert sorted(r.path for r in site.requests) == ["/p/1", "/p/2"]
        assert states(desk, first, second) == ["removed", "received"]
        assert "2 URLs checked (1 removals verified), 0 captures purged" in caplog.text
        assert "/p/" not in caplog.text
        assert "127.0.0.1" not in caplog.text
        assert other.run_once() is None, "the other worker leaves the work to the first"
        assert one.run_once() == TasksReport(), "nothing due: nothing done"
        assert len(site.requests) == 2
    finally:
        one.close()
    # The lock released, the other worker takes over.
    assert other.run_once() == TasksReport()
    other.close()


def test_the_thread_runs_rounds_and_stops(
    desk: Desk, make_notices: Callable[..., Notices], site: Site, tmp_path: Path
) -> None:
    checked = threading.Event()
    site.serve("/p/1", b"gone", status=404)
    item = notified(desk, make_notices(), site, "/p/1")
    worker = tasks(desk, site, tmp_path / "desk-tasks.lock")
    assert worker.rechecker is not None
    worker.rechecker = Rechecker(desk, _Noting(worker.rechecker.fetcher, checked), hours=6)
    worker.delay = 0
    worker.start()
    try:
        assert checked.wait(30), "the thread made the check"
    finally:
        worker.close()
    assert worker._thread is not None
    assert not worker._thread.is_alive()
    assert states(desk, item) == ["removed"]


def test_a_full_round_is_followed_by_the_next_at_once(
    desk: Desk,
    make_notices: Callable[..., Notices],
    site: Site,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rempart.desk.tasks.MAX_CHECKS", 1)
    notices = make_notices()
    site.serve("/p/1", b"gone", status=404)
    site.serve("/p/2", b"gone", status=404)
    items = [notified(desk, notices, site, path) for path in ("/p/1", "/p/2")]
    worker = tasks(desk, site, tmp_path / "desk-tasks.lock")
    worker.delay, worker.interval = 0, 3600  # a second round only if it goes on at once
    worker.start()
    try:
        for _ in range(300):
            if states(desk, *items) == ["removed", "removed"]:
                break
            threading.Event().wait(0.1)
    finally:
        worker.close()
    assert states(desk, *items) == ["removed", "removed"]


class _Noting:
    """A fetcher that says when it fetched."""

    def __init__(self, inner: Fetcher, fetched: threading.Event) -> None:
        self.inner = inner
        self.fetched = fetched

    def fetch(self, url: str, *, method: Method = "GET", max_bytes: int | None = None) -> Fetched:
        try:
            return self.inner.fetch(url, method=method, max_bytes=max_bytes)
        finally:
            self.fetched.set()


def test_the_settings_leave_checks_out_at_zero_hours(desk: Desk, tmp_path: Path) -> None:
    settings = load_settings({"REMPART_DATA_DIR": str(tmp_path), "REMPART_DESK_RECHECK_HOURS": "0"})
    rechecker = Rechecker.from_settings(settings, desk)
    evidence = Evidence.from_settings(settings, desk)
    off = DeskTasks.from_settings(settings, rechecker=rechecker, evidence=evidence)
    assert off.rechecker is None
    assert off.evidence is evidence
    assert off.lock == tmp_path / "run" / "desk-tasks.lock"
    on = DeskTasks.from_settings(
        load_settings({"REMPART_DATA_DIR": str(tmp_path)}), rechecker=rechecker, evidence=None
    )
    assert on.rechecker is rechecker


@pytest.mark.parametrize("serving", [True, False], ids=["serve --desk", "serve"])
def test_a_worker_runs_the_tasks_only_where_it_serves_the_desk(
    tmp_path: Path, serving: bool
) -> None:
    from rempart.server import create_app
    from rempart.server.services import Services
    from tests.server.desk.conftest import desk_settings

    app = create_app(desk_settings(tmp_path / "data"), desk=serving)
    seen: list[Services] = []

    async def lifetime() -> None:
        async with app.router.lifespan_context(app):
            services = app.state.services
            seen.append(services)
            assert services.evidence is not None
            assert services.rechecker is not None
            assert (services.tasks is not None) == serving
            if services.tasks is not None:
                assert services.tasks._thread is not None
                assert services.tasks._thread.is_alive()

    asyncio.run(lifetime())
    [services] = seen
    if services.tasks is not None:
        assert services.tasks._thread is not None
        assert not services.tasks._thread.is_alive(), "stopped with the worker"
