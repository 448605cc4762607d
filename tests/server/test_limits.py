"""Hostile clients against a server of the test's own: uploads that decode to gigabytes, bodies
and headers that never finish, a burst of first requests, a server stopped or killed. Each
starts ``rempart serve`` with the settings it needs (short timeouts, several workers)."""

from __future__ import annotations

import contextlib
import socket
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


# --- timeouts ---------------------------------------------------------------------------------


def read_until_closed(connection: socket.socket, timeout: float) -> tuple[bytes, float]:
    """What the server sends before it closes the connection, and how long that took."""
    started = time.monotonic()
    connection.settimeout(timeout)
    received = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started


def upload_headers(key: str) -> bytes:
    """The headers of a PNG upload of 100,000 bytes, none of which follow yet."""
    return (
        b"POST /v1/hash HTTP/1.1\r\nHost: rempart\r\nContent-Type: image/png\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100000\r\n\r\n"
    )


def test_a_stalled_body_and_stalled_headers_are_cut_at_their_timeouts(
    tmp_path: Path, own_server: list[RunningServer]
) -> None:
    server = served(tmp_path, REMPART_API_BODY_TIMEOUT="1", REMPART_API_HEADER_TIMEOUT="1")
    key = make_key(server)
    own_server.append(server.start())
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(upload_headers(key) + b"\x89PNG\r\n\x1a\n")
        answer, took = read_until_closed(connection, timeout=20)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"urn:rempart:problem:request-timeout" in answer
    assert took < 10
    # Headers begun and never finished: 408, and the connection closed.
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"GET /v1/banks HTTP/1.1\r\nHost: rempart\r\nX-Slow: ")
        answer, took = read_until_closed(connection, timeout=20)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < 10
    # A connection that sends nothing at all is closed too.
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        answer, took = read_until_closed(connection, timeout=20)
    assert took < 10
    with server.client(key) as client:  # and the server serves on
        assert client.get("/v1/banks").status_code == 200


def test_a_trickling_body_is_cut(tmp_path: Path, own_server: list[RunningServer]) -> None:
    server = served(tmp_path, REMPART_API_BODY_TIMEOUT="1")
    key = make_key(server)
    own_server.append(server.start())
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(upload_headers(key))
        started = time.monotonic()
        answer = b""
        connection.settimeout(0.3)
        while time.monotonic() - started < 15 and not answer:
            try:  # a byte every 0.3 s: never idle for the timeout, far under 16 KiB/s
                connection.sendall(b"x")
                answer = connection.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        answer += read_until_closed(connection, timeout=5)[0]
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"bytes a second" in answer


# --- keys -------------------------------------------------------------------------------------


def burst(server: RunningServer, key: str, count: int) -> list[int]:
    """``count`` requests with ``key`` at once, each on its own connection; their statuses."""
    barrier = threading.Barrier(count)

    def one(_: int) -> int:
        with server.client(key) as client:
            barrier.wait()
            return client.get("/v1/banks").status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_first_requests_with_a_valid_key_share_one_check(
    tmp_path: Path, own_server: list[RunningServer]
) -> None:
    server = served(tmp_path)
    key = make_key(server, Role.PLATFORM)
    own_server.append(server.start())
    # A freshly started worker has checked no key yet: twenty requests arrive at once.
    assert burst(server, key, 20) == [200] * 20
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    statuses = burst(server, forged, 20)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(429) >= 10, statuses  # failed attempts still count, shared or not
    assert burst(server, key, 5) == [200] * 5


# --- leaving nothing behind -------------------------------------------------------------------


def test_a_server_leaves_nothing_behind(tmp_path: Path, own_server: list[RunningServer]) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    server = served(data, TMPDIR=str(temporary))
    server.workers = 2
    make_key(server)
    own_server.append(server.start())
    run = data / "run"
    (killed,) = run.glob("metrics-*")
    assert killed.name == f"metrics-{server.process.pid}"  # type: ignore[union-attr]
    server.kill()
    assert killed.exists()  # a killed server cleans nothing...
    server.start()
    assert not killed.exists()  # ...the next start does
    assert len(list(run.glob("metrics-*"))) == 1
    server.stop()
    assert server.process is not None
    assert server.process.returncode == 0, server.log()[-3000:]
    assert not list(run.glob("metrics-*"))
    # One worker: SIGTERM ends it normally, as a deployment's restart does.
    server.workers = 1
    server.start()
    server.stop()
    assert server.process.returncode == 0, server.log()[-3000:]
    assert not list(run.glob("metrics-*"))
    assert not list(temporary.iterdir())
