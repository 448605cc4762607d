"""Start the HTTP service: refuse to listen beyond loopback while no API key exists (and, with
the desk, over plain HTTP), then run ``workers`` processes of the app under uvicorn, leaving
nothing behind when they stop.

With several workers each listens on a socket of its own, all bound to the same port with
``SO_REUSEPORT``: the kernel spreads new connections over them by a hash of each connection's
addresses, so that a client opening many connections at once reaches every worker (with one
shared socket, the worker that wakes first could accept them all while the others idle)."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import sys
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from rempart.access.keys import ApiKeys
from rempart.config import Settings
from rempart.errors import ConfigError
from rempart.server.app import DESK_ENV, WORKERS_ENV
from rempart.server.metrics import MULTIPROCESS_ENV
from rempart.server.protocol import HeaderDeadline
from rempart.server.routes.health import WORKER_ENV
from rempart.store import Store

__all__ = [
    "NO_KEY_WARNING",
    "Tls",
    "check_desk",
    "check_exposure",
    "is_loopback",
    "metrics_folder",
    "reuseport_sockets",
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
            _Workers(config, sockets=reuseport_sockets(config.host, config.port, workers)).run()
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


def reuseport_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets bound to ``host``:``port`` with ``SO_REUSEPORT``, one per worker (a
    worker listens on its own). Exits with uvicorn's start-up failure when the port is taken,
    by anything, a server of ours included: two servers must not share a port unseen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound: list[socket.socket] = []
    try:
        if port:  # taken? A socket without SO_REUSEPORT cannot bind where any other is
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the one the first socket got, for all
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in bound:
            sock.close()
        logging.getLogger("uvicorn.error").error(exc)
        sys.exit(STARTUP_FAILURE)
    where = f"[{host}]" if family == socket.AF_INET6 else host
    logging.getLogger("uvicorn.error").info(
        "Uvicorn running on %s:%d with %d workers, a socket each (Press CTRL+C to quit)",
        where,
        port,
        count,
    )
    return bound


class _Worker(Process):
    """A worker process of uvicorn's supervisor, which knows its number (``WORKER_ENV``) and
    serves the listening socket of that number only."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], number: int):
        self.number = number
        super().__init__(config, sockets)

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        """In the new process: say which worker this is, then serve."""
        os.environ[WORKER_ENV] = str(self.number)
        super().target(sockets)


class _Workers(Multiprocess):
    """uvicorn's supervisor (signals, graceful stop, health checks), but worker ``n`` serves
    socket ``n`` of ``sockets``. The sockets stay open in this process: a worker that dies is
    replaced on the same socket, and the connections the kernel queued on it while it was
    down are served by its replacement, none refused."""

    def init_processes(self) -> None:
        """Start a worker per socket."""
        self.processes = [self._start(number) for number in range(len(self.sockets))]

    def keep_subprocess_alive(self) -> None:
        """Replace a worker that died or stopped answering; stop the server when one failed
        to start (the next would fail the same way)."""
        for number, worker in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if worker.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            worker.kill()
            worker.join()
            if worker.exitcode == STARTUP_FAILURE:
                _LOG.error("worker %d [%s] failed to start; stopping", number, worker.pid)
                self.should_exit.set()
                return
            _LOG.info("worker %d [%s] died; starting another on its socket", number, worker.pid)
            self.processes[number] = self._start(number)

    def restart_all(self) -> None:
        """SIGHUP: replace each worker in turn; its socket queues connections meanwhile."""
        for number, worker in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            worker.terminate()
            worker.join()
            self.processes[number] = self._start(number)

    def handle_ttin(self) -> None:
        """SIGTTIN would add a worker: not with a socket per worker (restart with more)."""
        _LOG.warning("the number of workers is fixed while serving: restart with --workers N")

    handle_ttou = handle_ttin

    def _start(self, number: int) -> _Worker:
        worker = _Worker(self.config, [self.sockets[number]], number)
        worker.start()
        return worker
