"""Start the HTTP service: refuse to listen beyond loopback while no API key exists (and, with
the desk, over plain HTTP), then run ``workers`` processes of the app under uvicorn, leaving
nothing behind when they stop."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from rempart.access.keys import ApiKeys
from rempart.config import Settings
from rempart.errors import ConfigError
from rempart.server.app import DESK_ENV, WORKERS_ENV
from rempart.server.metrics import MULTIPROCESS_ENV
from rempart.server.protocol import HeaderDeadline
from rempart.store import Store

__all__ = [
    "NO_KEY_WARNING",
    "Tls",
    "check_desk",
    "check_exposure",
    "is_loopback",
    "metrics_folder",
    "serve",
]

_LOG = logging.getLogger(__name__)
NO_KEY_WARNING = (
    "No API key exists yet: every /v1 request will get 401. "
    "Create one with: rempart key create --role admin"
)
_METRICS_PREFIX: Final = "metrics-"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``), reachable from this machine
    only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


def check_exposure(settings: Settings, host: str) -> bool:
    """Whether an API key exists (the database migrated on the way); ``ConfigError`` when none
    does and ``host`` is beyond loopback, where anyone who can reach the port would meet a
    server nobody can use safely."""
    with closing(Store.open(settings.database_url)) as store:
        has_key = ApiKeys(store).has_active()
    if not has_key and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host}: no API key exists, so anyone who can reach "
            "the port would meet a server nobody can use safely. Create one first: "
            "rempart key create --role admin"
        )
    return has_key


@dataclass(frozen=True, slots=True)
class Tls:
    """The certificate (chain) and private key files the server speaks HTTPS with."""

    cert: Path
    key: Path


def check_desk(settings: Settings, host: str, *, tls: Tls | None, proxy: str | None) -> None:
    """Refuse to serve the desk (``ConfigError``) over plain HTTP beyond loopback, where
    victims' secrets and sessions would cross the network readable, and without its key file
    (``DeskKeyError``, which says how to make one)."""
    if not is_loopback(host) and tls is None and proxy is None:
        raise ConfigError(
            f"refusing to serve the desk on {host} over plain HTTP: victims' secrets and "
            "sessions would cross the network readable. Give --tls-cert and --tls-key, or "
            "name the TLS proxy in front with --proxy ADDRESS"
        )
    from rempart.desk import DeskKeys  # the desk extra, needed only with the desk

    DeskKeys.load(settings.desk_key_file)


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    workers: int = 1,
    desk: bool = False,
    tls: Tls | None = None,
    proxy: str | None = None,
) -> None:
    """Run the service until interrupted or terminated (then exit normally, SIGTERM
    included); each worker reads its settings from the environment (``REMPART_*``), as
    ``app_from_environment`` does. ``desk``: with the desk's pages; ``tls``: over HTTPS;
    ``proxy``: the addresses of the TLS proxy in front, whose ``X-Forwarded-*`` headers say
    the scheme and the client."""
    os.environ[WORKERS_ENV] = str(workers)
    os.environ[DESK_ENV] = "1" if desk else "0"
    config = uvicorn.Config(
        "rempart.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HeaderDeadline,
        access_log=False,  # the audit log records every request, with who made it
        server_header=False,
        log_level="info",
        ssl_certfile=tls.cert if tls else None,
        ssl_keyfile=tls.key if tls else None,
        forwarded_allow_ips=proxy,  # None: uvicorn's default, loopback
    )
    with metrics_folder(settings.data_dir, shared=workers > 1):
        if workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server = _Server(config)
            server.run()
            if not server.started:  # the app did not start (its log says why): as uvicorn.run
                raise SystemExit(STARTUP_FAILURE)


@contextmanager
def metrics_folder(data_dir: Path, *, shared: bool) -> Iterator[Path | None]:
    """With several workers (``shared``), the folder where each records its metrics for
    ``/metrics`` to sum: ``<data_dir>/run/metrics-<pid>``, removed when the server stops.
    Folders left by servers that were killed are removed first, whatever ``shared``."""
    run = data_dir / "run"
    for stale in run.glob(_METRICS_PREFIX + "*") if run.is_dir() else ():
        pid = stale.name.removeprefix(_METRICS_PREFIX)
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(stale, ignore_errors=True)
    if not shared:
        yield None
        return
    folder = run / f"{_METRICS_PREFIX}{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not ours to judge
        return True
    return pid != os.getpid()


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM or SIGINT after which it shut down cleanly ends the
    process normally (uvicorn raises the signal again: exit 143, and no cleanup)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's signal handling, forgetting the signals it caught once it has stopped."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()
