"""The desk's background work under ``rempart serve --desk``: notified URLs re-checked as they
fall due, and captures purged once retention ends.

Every server worker builds one, but a lock file in the data folder lets one worker at a time
do the work (the others try again each round, so that another takes over when the first
stops). Its log lines hold counts and error classes only: never a URL, never an error's
message (a database error may quote what it was writing).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rempart.desk.evidence import Evidence
from rempart.desk.evidence_model import CheckOutcome
from rempart.desk.recheck import Rechecker

if TYPE_CHECKING:
    from rempart.config import Settings

__all__ = ["INTERVAL", "DeskTasks", "TasksReport"]

INTERVAL: Final = 300.0
"""Seconds between two rounds."""
START_DELAY: Final = 60.0
"""Seconds after the worker starts before the first round: starting stays quick."""
MAX_CHECKS: Final = 1000
"""Most URLs one round checks (the rest are due the next)."""
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TasksReport:
    """What one round did: URLs checked (removals verified among them), captures purged, and
    the class of each error met (the round goes on to the next task)."""

    checked: int = 0
    removed: int = 0
    purged: int = 0
    errors: tuple[str, ...] = ()


class DeskTasks:
    """Runs rounds on a thread: the removal checks due (one URL at a time, so that stopping
    waits for one fetch at most) then the purges due. ``rechecker`` None: no checks
    (``REMPART_DESK_RECHECK_HOURS=0``)."""

    def __init__(
        self,
        *,
        rechecker: Rechecker | None,
        evidence: Evidence | None,
        lock: Path,
        interval: float = INTERVAL,
        delay: float = START_DELAY,
    ) -> None:
        self.rechecker = rechecker
        self.evidence = evidence
        self.lock = lock
        self.interval = interval
        self.delay = delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held: int | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, rechecker: Rechecker | None, evidence: Evidence | None
    ) -> DeskTasks:
        """The tasks of a worker of ``rempart serve --desk``: its lock in the data folder."""
        return cls(
            rechecker=rechecker if settings.desk_recheck_hours > 0 else None,
            evidence=evidence,
            lock=settings.data_dir / "run" / "desk-tasks.lock",
        )

    def run_once(self) -> TasksReport | None:
        """One round; None when another worker holds the lock (it does the work)."""
        if not self._lock():
            return None
        checked = removed = purged = 0
        errors: list[str] = []
        if self.rechecker is not None:
            try:
                while checked < MAX_CHECKS and not self._stop.is_set():
                    report = self.rechecker.recheck(limit=1)
                    if not report.checks:
                        break
                    checked += len(report.checks)
                    removed += report.count(CheckOutcome.REMOVED)
            except Exception as exc:  # logged by class; the purges still run
                errors.append(type(exc).__name__)
        if self.evidence is not None and not self._stop.is_set():
            try:
                purged = len(self.evidence.purge_due().purged)
            except Exception as exc:  # logged by class; the next round tries again
                errors.append(type(exc).__name__)
        done = TasksReport(checked, removed, purged, tuple(errors))
        if checked or purged or errors:
            _LOG.info(
                "desk tasks: %d URLs checked (%d removals verified), %d captures purged%s",
                checked,
                removed,
                purged,
                f", errors: {', '.join(errors)}" if errors else "",
            )
        return done

    def start(self) -> None:
        """Run rounds on a thread: the first after ``delay``, then every ``interval``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="desk-tasks", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the fetch under way, if any; release the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._held is not None:
            os.close(self._held)  # and with it the lock
            self._held = None

    def _run(self) -> None:
        wait = self.delay
        while not self._stop.wait(wait):
            done = None
            try:
                done = self.run_once()
            except Exception as exc:  # the lock file could not be opened: next round
                _LOG.warning("desk tasks: a round failed (%s)", type(exc).__name__)
            # A round that stopped at its most goes on at once: more is due than one round
            # checks, and waiting would let the schedule fall behind.
            full = done is not None and done.checked >= MAX_CHECKS
            wait = 0.0 if full else self.interval

    def _lock(self) -> bool:
        """Whether this worker holds the lock (taken once, kept until ``close``)."""
        if self._held is not None:
            return True
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        self._held = handle
        return True
