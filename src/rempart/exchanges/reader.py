"""An exchange's pages read in a process of their own, ahead of the writes.

python-threatexchange's clients parse each record in Python (StopNCII's with dacite, some
40 µs a record): in the process that writes the bank, the fetch of a long list would take the
parsing's time plus the writing's. Read in another process (started from a fork server that
has the clients imported, so each fetch starts in milliseconds), the two overlap on two cores.
The reader sends each page's signals and checkpoint (JSON) and at most ``PAGES_AHEAD`` pages
wait; it sends only a failure's text (made by ``fetch_error_text``: no secret), never an
exception object. The credential travels to it through the pipe, never in its arguments or
environment.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from rempart.exchanges.clients import (
    FetchedSignal,
    blank_secrets,
    checkpoint_from_json,
    checkpoint_to_json,
    credential_parts,
    fetch_error_text,
    make_api,
    signal_records,
)
from rempart.workers import fewer_collections

__all__ = [
    "PAGES_AHEAD",
    "Page",
    "ReaderError",
    "hiding_credentials",
    "read_pages",
]

PAGES_AHEAD: Final = 64
"""Pages the reader may be ahead of the writes."""
_POLL_S: Final = 1.0

Page = tuple[list[FetchedSignal], dict[str, Any] | None]
"""A page's signals, and the checkpoint after it (``checkpoint_to_json``; None: none yet)."""


class ReaderError(Exception):
    """The reader failed; the message is ``fetch_error_text``'s (no secret)."""


@contextmanager
def read_pages(
    exchange_type: str,
    credentials: str,
    *,
    url: str | None,
    options: Mapping[str, str],
    checkpoint: Mapping[str, Any] | None,
    stop: threading.Event | None = None,
) -> Iterator[Iterator[Page]]:
    """The pages of a fetch from ``checkpoint`` (None: from the start), read in a process of
    their own; it is stopped when the block ends, read to the end or not. ``stop`` set: the
    pages end (within ``_POLL_S``, however slow the exchange), short of the last."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # pytx imported once, not per fetch
    pages: Any = context.Queue(maxsize=PAGES_AHEAD)
    secrets: Any = context.Queue(maxsize=1)
    secrets.put(credentials)
    process = context.Process(
        target=_read,
        args=(pages, secrets, exchange_type, url, dict(options), checkpoint),
        name="rempart-exchange-reader",
        daemon=True,
    )
    process.start()
    try:
        yield _received(pages, process, stop)
    finally:
        if process.is_alive():
            process.terminate()
        process.join(5)
        pages.close()
        pages.cancel_join_thread()
        secrets.close()
        secrets.cancel_join_thread()


class _Redact(logging.Filter):
    """Blanks out, in what a library logs, the credentials of the fetches under way and any
    ``access_token`` in a URL: urllib3 logs each URL it requests at DEBUG (ThreatExchange's
    carries its token) and python-threatexchange's TAT client logs its user name."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: Counter[str] = Counter()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self.lock:
            secrets = list(self.secrets)
        text = record.getMessage()
        redacted = blank_secrets(text, secrets)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True

    @contextmanager
    def hiding(self, credentials: str, exchange_type: str | None) -> Iterator[None]:
        """Blank ``credentials`` (and each of its fields) out while the block runs."""
        parts = set(credential_parts(credentials, exchange_type))
        with self.lock:
            self.secrets.update(parts)
        try:
            yield
        finally:
            with self.lock:
                self.secrets.subtract(parts)
                self.secrets += Counter()  # drops the parts no fetch uses now


_REDACT: Final = _Redact()
# The loggers that have been seen to write a credential: a filter on a logger sees only the
# records made through that logger (pytx's clients log through the root logger).
for _logger in ("", "urllib3.connectionpool", "requests", "threatexchange"):
    logging.getLogger(_logger).addFilter(_REDACT)


def hiding_credentials(credentials: str, exchange_type: str | None = None) -> Any:
    """While the block runs, ``credentials`` (and each of its fields, as ``exchange_type``
    splits it) are blanked out of what python-threatexchange, requests and urllib3 log."""
    return _REDACT.hiding(credentials, exchange_type)


def _received(pages: Any, process: Any, stop: threading.Event | None) -> Iterator[Page]:
    while True:
        if stop is not None and stop.is_set():
            return  # the caller sees the stop; read_pages ends the reader
        try:
            message = pages.get(timeout=_POLL_S)
        except queue.Empty:
            if process.is_alive():
                continue
            try:  # what it sent just before it ended
                message = pages.get(timeout=_POLL_S)
            except queue.Empty:
                raise ReaderError(f"the reader ended ({process.exitcode})") from None
        kind = message[0]
        if kind == "end":
            return
        if kind == "error":
            raise ReaderError(message[1])
        yield [FetchedSignal(*signal) for signal in message[1]], message[2]


def _read(
    pages: Any,
    secrets: Any,
    exchange_type: str,
    url: str | None,
    options: dict[str, str],
    checkpoint: dict[str, Any] | None,
) -> None:
    """The reader process: every page of the fetch, then ``end``; or the failure's text."""
    credentials = secrets.get()
    with hiding_credentials(credentials, exchange_type), fewer_collections():
        try:
            api = make_api(exchange_type, credentials, url=url, options=options)
            start = None if checkpoint is None else checkpoint_from_json(api, checkpoint)
            for delta in api.fetch_iter([], start):
                signals = [
                    (s.key, s.signal_type, s.value, s.withdrawn)
                    for s in signal_records(api, delta.updates)
                ]
                pages.put(("page", signals, checkpoint_to_json(delta.checkpoint)))
            pages.put(("end",))
        except Exception as exc:
            pages.put(("error", fetch_error_text(exc, credentials, exchange_type)))
