"""What one server worker holds: the store, the match index, the gate, the scanner, the keys
and the audit writer, and the thread that keeps them in step with the database.

The match index loads on a thread at start (``/readyz`` says 503 until it has), then follows
the bank change log every second, as do the key table and the protected-persons registry: a
withdrawal, a revoked key or a new person takes effect on every worker within seconds.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import func, select

from rempart.audit import AuditWriter
from rempart.banks import BankMatcher, Banks
from rempart.config import Settings
from rempart.detectors import Detector, default_registry
from rempart.detectors.identity import Gallery, IdentityDetector
from rempart.gate import Gate, GateDetectors
from rempart.keys import ApiKeys
from rempart.persons import ProtectedPersons
from rempart.policy import Policy, load_policy
from rempart.scan import Scanner
from rempart.server import metrics
from rempart.server.auth import Authenticator
from rempart.server.batching import MatchBatcher
from rempart.server.problems import Problem
from rempart.store import Store
from rempart.store.schema import person_embeddings, protected_persons
from rempart.text import PromptAnalyser

__all__ = ["Services"]

_LOG = logging.getLogger(__name__)
FOLLOW_SECONDS: Final = 1.0


@dataclass
class Services:
    """Everything a request handler uses, built once per worker."""

    settings: Settings
    store: Store
    workers: int = 1
    policy: Policy = field(init=False)
    banks: Banks = field(init=False)
    persons: ProtectedPersons = field(init=False)
    keys: ApiKeys = field(init=False)
    auth: Authenticator = field(init=False)
    audit: AuditWriter = field(init=False)
    gate: Gate = field(init=False)
    matcher: BankMatcher | None = None
    load_error: str | None = None
    _scanner: Scanner | None = None
    _batcher: MatchBatcher | None = None
    _gallery: Gallery = field(default_factory=Gallery)
    _registry_version: tuple[int | str, ...] = ()
    _identities: list[IdentityDetector] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _build_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.policy = load_policy(self.settings.policy)
        self.banks = Banks(self.store)
        self.persons = ProtectedPersons(self.store)
        self.keys = ApiKeys(self.store)
        self.auth = Authenticator(
            self.keys, default_rate=self.settings.api_rate_limit, workers=self.workers
        )
        self.audit = AuditWriter(self.store)
        self.gate = Gate(self.policy, detectors=self._gate_detectors, limits=self.settings.media)
        self._follow_registry()

    def start(self) -> None:
        """Load the match index on one thread; follow the database every second on another,
        from the start, so that a revoked key is refused even while the index loads."""
        for target, name in ((self._load, "index-loader"), (self._follow, "follower")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def ready(self) -> bool:
        """Whether the match index is loaded."""
        return self.matcher is not None

    @property
    def batcher(self) -> MatchBatcher:
        """The match index, searched a batch of requests at a time; ``Problem("not-ready")``
        while it loads."""
        if self._batcher is None:
            self._batcher = MatchBatcher(self.require_matcher())
        return self._batcher

    def require_matcher(self) -> BankMatcher:
        """The match index, or ``Problem("not-ready")`` while it loads."""
        if self.matcher is None:
            detail = self.load_error or "the hash banks are loading; retry in a few seconds"
            raise Problem("not-ready", detail, headers={"Retry-After": "2"})
        return self.matcher

    @property
    def scanner(self) -> Scanner:
        """The scanner: bank matching and every detector installed, built on first use (once,
        however many requests ask at the same time)."""
        with self._build_lock:
            if self._scanner is None:
                self._scanner = Scanner(
                    self._detectors(),
                    self.policy,
                    matcher=self.require_matcher(),
                    limits=self.settings.media,
                )
            return self._scanner

    def _detectors(self) -> list[Detector]:
        registry = default_registry(self.settings, gallery=self.gallery)
        installed = [registry.create(n) for n in registry.names if registry.missing(n) is None]
        self._identities += [d for d in installed if isinstance(d, IdentityDetector)]
        return installed

    def _gate_detectors(self) -> GateDetectors:
        detectors = GateDetectors.default(
            self.settings, gallery=self.gallery, matcher=self.require_matcher()
        )
        if detectors.identity is not None:
            self._identities.append(detectors.identity)
        return detectors

    def gallery(self) -> Gallery:
        """The protected persons' embeddings, as last read."""
        return self._gallery

    def _load(self) -> None:
        """Load the match index, retrying (up to a minute apart) until it loads."""
        wait = 1.0
        while self.matcher is None and not self._stop.is_set():
            try:
                matcher = BankMatcher(self.store, refresh_interval=None)
            except Exception as exc:  # reported by /readyz; the worker stays up to say so
                self.load_error = f"the hash banks could not be loaded: {exc}"
                _LOG.exception("loading the match index failed; retrying in %.0f s", wait)
                self._stop.wait(wait)
                wait = min(60.0, wait * 2)
                continue
            # What is loaded now lives as long as the worker: keep the collector off it, so
            # that its full passes stay short under load.
            gc.freeze()
            self.matcher, self.load_error = matcher, None

    def _follow(self) -> None:
        while not self._stop.wait(FOLLOW_SECONDS):
            self.follow()

    def follow(self) -> None:
        """Apply bank changes, re-read keys, and reload the registry if it changed."""
        for step in (self._follow_banks, self.auth.reload, self._follow_registry):
            try:
                step()
            except Exception:  # a database hiccup: try again next second
                _LOG.exception("following the database failed")

    def _follow_banks(self) -> None:
        if self.matcher is not None:
            self.matcher.refresh()
            metrics.INDEX_HASHES.set(len(self.matcher))

    def _follow_registry(self) -> None:
        with self.store.read() as connection:
            embeddings = connection.execute(
                select(func.count(), func.coalesce(func.max(person_embeddings.c.id), 0))
            ).one()
            people, renamed = connection.execute(
                select(
                    func.count(protected_persons.c.id),
                    func.max(protected_persons.c.names_updated_at),
                )
            ).one()
        # Enrolling raises the highest embedding id; removing lowers the counts; renaming
        # moves the latest time names were set.
        current = (int(embeddings[0]), int(embeddings[1]), int(people), str(renamed))
        if current == self._registry_version:
            return
        self._gallery = self.persons.gallery()
        self.gate.analyser = PromptAnalyser(persons=self.persons.names())
        for identity in self._identities:
            identity.forget_gallery()
        self._registry_version = current

    def close(self) -> None:
        """Stop following, commit the audit queue, close the gate and the database."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.audit.close()
        self.gate.close()
        self.store.close()
