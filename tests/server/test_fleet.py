"""Several ``rempart serve`` on one PostgreSQL (docs/fleet.md): a change posted to one server
reaches the others at once, woken by PostgreSQL's notifications, and each says in ``/readyz``
how far it has applied the change logs, which is what the tests wait for (never a fixed
sleep). And a server's workers share a client's connections, whatever the client does."""

from __future__ import annotations

import secrets
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import text
from uvicorn.config import STARTUP_FAILURE

from rempart.access.keys import ApiKeys, Role
from rempart.server.launch import reuseport_sockets
from rempart.store import Store
from tests.server.conftest import new_postgres_database
from tests.server.running import RunningServer

DEADLINE = 30.0  # the longest a test waits for a change to show: far longer than it takes
CONNECTIONS = 16  # opened at once, by each of ROUNDS rounds: with SO_REUSEPORT's hash, a
ROUNDS = 4  # round all on one of two workers comes about once in 8,000 runs


def random_hash() -> str:
    return secrets.token_hex(32)


def readyz(server: RunningServer) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(server.url + "/readyz", timeout=10).json()
    return body


def wanted(database: str) -> dict[str, int]:
    """The position each server must reach to have applied every change made so far: the
    newest bank change, and keys created plus revoked (as ``/readyz`` counts them)."""
    store = Store.open(database, migrate=False)
    try:
        with store.read() as connection:
            banks = int(connection.scalar(text("SELECT max(seq) FROM bank_changes")) or 0)
        keys = sum(1 if key.active else 2 for key in ApiKeys(store).list())
    finally:
        store.close()
    return {"banks": banks, "keys": keys}


def wait_for_position(servers: list[RunningServer], database: str) -> None:
    """Until every server's ``/readyz`` shows it has applied every change made so far."""
    want = wanted(database)
    end = time.monotonic() + DEADLINE
    for server in servers:
        while True:
            position = readyz(server)["position"]
            if all(position[log] >= seq for log, seq in want.items()):
                break
            if time.monotonic() > end:
                pytest.fail(f"{server.url} is at {position}, not {want}, after {DEADLINE} s")
            time.sleep(0.02)


def matches_in(server: RunningServer, key: str, bank: str, hash_hex: str) -> bool:
    with server.client(key) as client:
        response = client.post("/v1/match", json={"hashes": [hash_hex]})
    assert response.status_code == 200, response.text
    return any(match["bank"] == bank for match in response.json()["results"][0]["matches"])


@pytest.fixture(scope="module")
def database(postgres_url: str) -> str:
    return new_postgres_database(postgres_url)


@pytest.fixture(scope="module")
def admin_key(database: str) -> str:
    store = Store.open(database)
    try:
        return ApiKeys(store).create(Role.ADMIN, name="fleet admin").secret
    finally:
        store.close()


@pytest.fixture(scope="module")
def fleet(
    database: str, admin_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RunningServer]]:
    """Three servers, each with its data folder, on one PostgreSQL database; their poll an
    hour apart, so that only a notification can bring them a change in time."""
    servers = [
        RunningServer(
            tmp_path_factory.mktemp(f"server{number}"),
            database,
            extra_env={"REMPART_FOLLOW_SECONDS": "3600"},
        )
        for number in range(3)
    ]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_a_withdrawal_posted_to_one_stops_matching_on_all(
    fleet: list[RunningServer], database: str, admin_key: str
) -> None:
    first, second, _ = fleet
    bank, hash_hex = f"fleet-{secrets.token_hex(3)}", random_hash()
    with first.client(admin_key) as admin:
        assert admin.post("/v1/banks", json={"name": bank}).status_code == 201
        added = admin.post(f"/v1/banks/{bank}/hashes", json={"hash": hash_hex})
        assert added.status_code == 201, added.text
    wait_for_position(fleet, database)
    assert all(matches_in(server, admin_key, bank, hash_hex) for server in fleet)

    with second.client(admin_key) as admin:
        withdrawn = admin.post(f"/v1/banks/{bank}/withdraw", json={"hashes": [hash_hex]})
        assert withdrawn.json()["withdrawn"] == 1, withdrawn.text
    wait_for_position(fleet, database)
    assert not any(matches_in(server, admin_key, bank, hash_hex) for server in fleet)


def test_a_revoked_key_is_refused_on_all(
    fleet: list[RunningServer], database: str, admin_key: str
) -> None:
    first, _, third = fleet
    with first.client(admin_key) as admin:
        created = admin.post("/v1/keys", json={"role": "platform", "name": "fleet platform"})
    assert created.status_code == 201, created.text
    key_id, secret = created.json()["key_id"], created.json()["secret"]
    wait_for_position(fleet, database)
    for server in fleet:
        with server.client(secret) as platform:
            assert platform.post("/v1/match", json={"hashes": [random_hash()]}).status_code == 200

    with third.client(admin_key) as admin:
        assert admin.delete(f"/v1/keys/{key_id}").status_code == 200
    wait_for_position(fleet, database)
    for server in fleet:
        with server.client(secret) as platform:
            refused = platform.post("/v1/match", json={"hashes": [random_hash()]})
        assert refused.status_code == 401, refused.text


def test_readyz_says_the_position_and_the_worker(fleet: list[RunningServer]) -> None:
    body = readyz(fleet[0])
    assert body["status"] == "ready"
    assert set(body["position"]) == {"banks", "persons", "keys"}
    assert body["worker"] == 0


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of two workers (on SQLite: which worker accepts is the database's concern
    nowhere)."""
    running = RunningServer(tmp_path, f"sqlite:///{tmp_path / 'rempart.db'}", workers=2)
    running.start()
    yield running
    running.stop()


def open_at_once(port: int, count: int) -> list[socket.socket]:
    """``count`` connections opened together: every handshake started before any completes,
    so that they wait in the kernel together for a worker to accept them."""
    opened = []
    for _ in range(count):
        connection = socket.socket()
        connection.setblocking(False)
        connection.connect_ex(("127.0.0.1", port))
        opened.append(connection)
    for connection in opened:
        connection.settimeout(30)  # blocking again, the handshake finishes on first use
    return opened


def workers_answering(
    connections: list[socket.socket], statuses: tuple[bytes, ...] = (b"200",)
) -> Counter[int]:
    """How many of ``connections`` each worker answers ``/readyz`` on, each answer with one
    of ``statuses``."""
    request = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    answered: Counter[int] = Counter()
    try:
        for connection in connections:
            connection.sendall(request)
        for connection in connections:
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
            head, _, body = response.partition(b"\r\n\r\n")
            assert head[len(b"HTTP/1.1 ") :][:3] in statuses, response
            answer = httpx.Response(200, content=body).json()
            assert "banks" in answer["position"]  # loading (503) or not
            answered[answer["worker"]] += 1
    finally:
        for connection in connections:
            connection.close()
    return answered


def test_connections_opened_at_once_reach_both_workers(two_workers: RunningServer) -> None:
    # With one socket shared by the workers, the first to wake often accepted all 16 (about
    # half the rounds on this machine): every round reaching both was then rare.
    for _ in range(ROUNDS):
        answered = workers_answering(open_at_once(two_workers.port, CONNECTIONS))
        assert set(answered) == {0, 1}, answered
        assert sum(answered.values()) == CONNECTIONS


def worker_processes(server: RunningServer) -> list[psutil.Process]:
    """The worker processes of a server of several (spawned by its supervisor)."""
    assert server.process is not None
    children = psutil.Process(server.process.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def test_a_dead_worker_is_replaced_on_its_socket(two_workers: RunningServer) -> None:
    killed = worker_processes(two_workers)[0]
    killed.kill()
    killed.wait(timeout=30)
    # Opened while one worker is dead: those the kernel gives its socket wait for the
    # replacement, and are answered (503 while its index loads); none is refused.
    opened = open_at_once(two_workers.port, CONNECTIONS)
    answered = workers_answering(opened, statuses=(b"200", b"503"))
    assert set(answered) == {0, 1}, answered
    assert killed.pid not in {worker.pid for worker in worker_processes(two_workers)}
    assert len(worker_processes(two_workers)) == 2
    two_workers.stop()  # SIGTERM: the workers finish, and the server exits normally
    assert two_workers.process is not None
    assert two_workers.process.returncode == 0, two_workers.log()


def test_a_port_taken_by_another_server_is_refused() -> None:
    # Another server's workers listening with SO_REUSEPORT: joining them would split its
    # connections with ours, unseen. Ours must fail to start instead, as on any taken port.
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(SystemExit) as exited:
            reuseport_sockets("127.0.0.1", other.getsockname()[1], 2)
    assert exited.value.code == STARTUP_FAILURE
    sockets = reuseport_sockets("127.0.0.1", 0, 2)  # a free port: one socket per worker
    try:
        assert len({sock.getsockname() for sock in sockets}) == 1
    finally:
        for sock in sockets:
            sock.close()
