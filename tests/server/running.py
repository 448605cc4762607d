"""A real ``rempart serve`` process on a free loopback port, for the server tests and the
load benchmark: started with its own data folder (and database), stopped or killed at will."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVE = [sys.executable, "-c", "from rempart.cli import main; main()", "serve"]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningServer:
    """One server process; ``url`` is its base URL."""

    data_dir: Path
    database_url: str
    workers: int = 1
    extra_env: Mapping[str, str] = field(default_factory=dict)
    args: Sequence[str] = ()  # more options for rempart serve (--desk)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment the server runs with (also right for ``rempart`` commands)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMPART_")}
        env.update(
            REMPART_DATA_DIR=str(self.data_dir),
            REMPART_DATABASE_URL=self.database_url,
            **self.extra_env,
        )
        return env

    def start(self, *, ready: bool = True, timeout: float = 60) -> RunningServer:
        """Start the process and wait until it answers (and, with ``ready``, has loaded)."""
        log = open(self.data_dir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*SERVE, "--port", str(self.port), "--workers", str(self.workers), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        probe = "/readyz" if ready else "/healthz"
        # Each new connection may reach any worker: with several, ask until enough answers in
        # a row say ready that every worker is all but sure to have answered.
        needed, answered = (1 if self.workers == 1 else 16 * self.workers), 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                ok = httpx.get(self.url + probe, timeout=2).status_code == 200
            except httpx.TransportError:
                ok = False
            answered = answered + 1 if ok else 0
            if answered >= needed:
                return self
            if not ok:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready in {timeout} s:\n{self.log()}")

    def alive(self) -> bool:
        """Whether the process runs and answers /healthz."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            return httpx.get(self.url + "/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), as a deployment would."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Kill at once (SIGKILL): no cleanup, as a crash or a power cut."""
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, number)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        """What the server printed."""
        path = self.data_dir / f"server-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, key: str | None = None, **options: object) -> httpx.Client:
        """An HTTP client for the server, sending ``key`` as a bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **options)  # type: ignore[arg-type]
