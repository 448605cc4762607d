"""The runtime of a long-running process (a server worker today; a desk or a fleet node later):
the apps built once, and a thread that keeps them in step with the database.

The match index loads on a thread at start (``ready`` is false, and ``require_matcher`` raises
``NotReadyError``, until it has), then follows the bank change log every second, as it does the
protected persons: a withdrawal or a newly enrolled person takes effect within seconds, and on
PostgreSQL at once, as its notification wakes the follower (``rempart.store.notify``). The
desk's ``watch``, which every match is handed to, follows the desk's banks and writes the
sightings it counted on the same beat. Other things to follow (an HTTP server's API keys) join
with ``also_follow``.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from rempart.config import Settings
from rempart.desk.watch import Watch
from rempart.detectors import DetectorRegistry, default_registry
from rempart.errors import NotReadyError
from rempart.gallery import Gallery
from rempart.gate import Gate, GateDetectors
from rempart.matching.banks import BankMatcher, Banks
from rempart.matching.banks.snapshot import IndexSnapshots
from rempart.persons import ProtectedPersons
from rempart.policy import Policy, load_policy
from rempart.scan import Scanner
from rempart.store import Store, StoreError
from rempart.store.notify import ChangeListener
from rempart.text import PersonName

__all__ = ["Runtime"]

SNAPSHOT_CHECK_SECONDS: Final = 10.0
_LOG = logging.getLogger(__name__)
# The longest the follower waits for a notification at a time, so that ``close`` stops it
# within this; and the longest it waits before listening again after the connection failed.
_LISTEN_SLICE: Final = 0.25
_RELISTEN_MAX: Final = 30.0


class Runtime:
    """The store, the policy, the detectors, the match index, the gate and the scanner of one
    process, and what keeps them current."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        policy: Policy | None = None,
        detectors: DetectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.policy = policy or load_policy(settings.policy)
        self.banks = Banks(store)
        self.persons = ProtectedPersons(store)
        self.watch = Watch(store)
        self.detectors = detectors or default_registry(settings, gallery=self.gallery)
        self.matcher: BankMatcher | None = None
        self.load_error: str | None = None
        self._gallery = Gallery()
        self._names: list[PersonName] = []
        self._persons_seen = -1
        self._followers: list[Callable[[], None]] = [
            self._follow_banks,
            self._follow_persons,
            self._follow_watch,
        ]
        self._stop = threading.Event()
        self.listening = threading.Event()  # set while PostgreSQL's notifications wake us
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._scanner: Scanner | None = None
        self.gate = Gate(
            self.policy,
            persons=self.person_names,
            detectors=lambda: GateDetectors.from_registry(
                self.detectors, matcher=self.require_matcher()
            ),
            limits=settings.media,
            video_limits=settings.video,
            prompt_ms=settings.gate_prompt_ms,
        )
        self._follow_persons()

    def also_follow(self, step: Callable[[], None]) -> None:
        """Run ``step`` every second too, after the banks and the persons."""
        self._followers.append(step)

    def start(self) -> None:
        """Load the match index on one thread; follow the database on another, from the
        start, so that what follows (a revoked key) applies even while the index loads."""
        for target, name in ((self._load, "index-loader"), (self._follow, "follower")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def positions(self) -> dict[str, int]:
        """How far this process has applied the change logs: ``banks``, the last entry of
        the bank change log in its match index (-1 while the index loads); ``persons``, the
        last entry of the persons' change log it read (0 before any)."""
        matcher = self.matcher
        return {
            "banks": matcher.seq if matcher is not None else -1,
            "persons": max(0, self._persons_seen),
        }

    @property
    def ready(self) -> bool:
        """Whether the match index is loaded."""
        return self.matcher is not None

    def require_matcher(self) -> BankMatcher:
        """The match index, or ``NotReadyError`` while it loads."""
        if self.matcher is None:
            raise NotReadyError(
                self.load_error or "the hash banks are loading; retry in a few seconds"
            )
        return self.matcher

    @property
    def scanner(self) -> Scanner:
        """The scanner: bank matching and every detector installed, built on first use (once,
        however many threads ask at the same time)."""
        with self._lock:
            if self._scanner is None:
                self._scanner = Scanner.from_registry(
                    self.detectors,
                    self.policy,
                    matcher=self.require_matcher(),
                    limits=self.settings.media,
                    video_limits=self.settings.video,
                )
            return self._scanner

    def gallery(self) -> Gallery:
        """The protected persons' embeddings, as last read."""
        return self._gallery

    def person_names(self) -> list[PersonName]:
        """The protected persons' names, as last read."""
        return self._names

    def follow(self) -> None:
        """Apply bank changes, reload the persons if they changed, write the desk's sightings,
        and run what else follows; a step that fails (a database hiccup) is logged and tried
        again next time."""
        for step in self._followers:
            try:
                step()
            except Exception:  # the next second tries again; the worker stays up
                _LOG.exception("following the database failed")

    def close(self) -> None:
        """Stop following, write the sightings counted since, close the gate and the
        database."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        try:
            self.watch.close()
        except Exception:  # the database went first; closing goes on
            _LOG.exception("writing the desk's last sightings failed")
        self.gate.close()
        self.store.close()

    def _load(self) -> None:
        """Load the match index, from its snapshot when a valid one is there (then replaying
        the changes since), retrying (up to a minute apart) until it loads; then keep the
        snapshot current on this thread."""
        snapshots = (
            IndexSnapshots(
                self.settings.data_dir, every_changes=self.settings.index_snapshot_changes
            )
            if self.settings.index_snapshots
            else None
        )
        wait = 1.0
        while self.matcher is None and not self._stop.is_set():
            try:
                matcher = (
                    snapshots.load(self.store)
                    if snapshots
                    else BankMatcher(self.store, refresh_interval=None)
                )
            except Exception as exc:  # reported by ``load_error``; the process stays up
                self.load_error = f"the hash banks could not be loaded: {exc}"
                _LOG.exception("loading the match index failed; retrying in %.0f s", wait)
                self._stop.wait(wait)
                wait = min(60.0, wait * 2)
                continue
            # What is loaded now lives as long as the process: keep the collector off it, so
            # that its full passes stay short under load.
            gc.freeze()
            self.matcher, self.load_error = matcher, None
        if snapshots is not None and self.matcher is not None:
            self._keep_snapshot(snapshots, self.matcher)

    def _keep_snapshot(self, snapshots: IndexSnapshots, matcher: BankMatcher) -> None:
        """Write the index snapshot when due (at once after a rebuild), until stopped; a
        failed write is logged and tried again later."""
        while not self._stop.is_set():
            if snapshots.due(matcher):
                try:
                    snapshots.write(matcher)
                except Exception:  # the index in memory is unaffected
                    _LOG.exception("writing the index snapshot failed")
            self._stop.wait(SNAPSHOT_CHECK_SECONDS)

    def _follow(self) -> None:
        """``follow`` every ``follow_seconds``, and at once when PostgreSQL notifies a change
        (``rempart.store.notify``); should listening fail, polling goes on and listening is
        tried again later, when the changes missed meanwhile are applied at once."""
        period = self.settings.follow_seconds
        notify = self.settings.follow_notify
        listener: ChangeListener | None = None
        relisten_at, relisten_wait = 0.0, 1.0
        next_follow = time.monotonic() + period
        try:
            while not self._stop.is_set():
                now, woken = time.monotonic(), False
                if notify and listener is None and now >= relisten_at:
                    try:
                        listener = ChangeListener.open(self.store)
                    except StoreError as exc:
                        _LOG.warning(
                            "cannot listen for changes (%s); polling every %.1f s, "
                            "listening again in %.0f s",
                            exc,
                            period,
                            relisten_wait,
                        )
                        relisten_at = now + relisten_wait
                        relisten_wait = min(_RELISTEN_MAX, relisten_wait * 2)
                    else:
                        notify = listener is not None  # False: SQLite, which cannot notify
                        woken = notify  # what changed while not listening applies now
                        if listener is not None:
                            relisten_wait = 1.0
                            self.listening.set()
                if not woken:
                    wait = max(0.0, next_follow - time.monotonic())
                    if listener is not None:
                        try:
                            woken = listener.wait(min(wait, _LISTEN_SLICE)) > 0
                        except StoreError as exc:
                            _LOG.warning("%s; polling until listening again", exc)
                            self.listening.clear()
                            listener.close()
                            listener, relisten_at = None, time.monotonic() + relisten_wait
                    else:
                        if notify:  # until it is time to listen again
                            wait = min(wait, max(0.0, relisten_at - time.monotonic()))
                        self._stop.wait(wait)
                if self._stop.is_set():
                    break
                if woken or time.monotonic() >= next_follow:
                    self.follow()
                    next_follow = time.monotonic() + period
        finally:
            self.listening.clear()
            if listener is not None:
                listener.close()

    def _follow_banks(self) -> None:
        if self.matcher is not None:
            self.matcher.refresh()

    def _follow_watch(self) -> None:
        self.watch.refresh()
        self.watch.flush()

    def _follow_persons(self) -> None:
        seen = self.persons.changes()
        if seen != self._persons_seen:
            self._gallery = self.persons.gallery()
            names = self.persons.names()
            if names != self._names:  # a new photo of someone changes no name
                self._names = names
            self._persons_seen = seen
            _ = self.gate.analyser  # the new prompt reader is built here, not in a request
