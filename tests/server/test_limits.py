"""Hostile clients against a server of the test's own: uploads that decode to gigabytes, bodies
and headers that never finish, a burst of first requests, a server stopped or killed. Each
starts ``rempart serve`` with the settings it needs (short timeouts, several workers)."""

from __future__ import annotations

import contextlib
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from rempart.access.keys import ApiKeys, Role
from rempart.store import Store
from tests.server.running import RunningServer

GIB = 1024**3


def make_key(server: RunningServer, role: Role = Role.ADMIN) -> str:
    """A key created in the server's database before it starts."""
    store = Store.open(server.database_url)
    try:
        return ApiKeys(store).create(role, name="limits").secret
    finally:
        store.close()


def served(tmp_path: Path, **env: str) -> RunningServer:
    return RunningServer(tmp_path, f"sqlite:///{tmp_path / 'rempart.db'}", extra_env=env)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[list[RunningServer]]:
    """Servers a test starts itself, killed at its end whatever happened."""
    started: list[RunningServer] = []
    yield started
    for running in started:
        running.kill()


# --- memory -----------------------------------------------------------------------------------


def flat_png(width: int, height: int) -> bytes:
    """An RGBA PNG of one colour: a few hundred kilobytes that decode to width x height x 4
    bytes (12000 x 12000: 576 MB), within the default pixel limit."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((200, 120, 40, 255)) * width
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


class TreeMemory:
    """The resident memory of a process and its children, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> int:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_concurrent_decompression_heavy_uploads_stay_within_the_budget(
    tmp_path: Path, own_server: list[RunningServer]
) -> None:
    server = served(tmp_path)
    server.workers = 2
    key = make_key(server)
    own_server.append(server.start())
    png = flat_png(12000, 12000)
    assert len(png) < 700_000
    assert server.process is not None
    with TreeMemory(server.process.pid) as memory:
        baseline = memory.now()

        def upload(_: int) -> httpx.Response:
            with server.client(key) as client:
                return client.post("/v1/hash", content=png, headers={"Content-Type": "image/png"})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(upload, range(8)))
        time.sleep(1)  # the workers trim their heaps as each decode ends
        after = memory.now()
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 503}, [answer.text for answer in answers]
    assert 200 in statuses, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["type"] == "urn:rempart:problem:overloaded"
            assert int(answer.headers["retry-after"]) >= 1
    hashed = {answer.json()["pdq"] for answer in answers if answer.status_code == 200}
    assert len(hashed) == 1  # the same image, the same hash, however busy the server
    print(
        f"baseline {baseline / GIB:.2f} GiB, peak {memory.peak / GIB:.2f} GiB, "
        f"after {after / GIB:.2f} GiB, statuses {statuses}"
    )
    # Unbudgeted, eight such decodes at once take a worker past 8 GiB.
    assert memory.peak - baseline < 2.5 * GIB
    assert after - baseline < 0.5 * GIB
    assert server.alive()
