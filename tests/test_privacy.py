"""Nothing phones home, nothing lands outside the data folder and the outputs a user names.

Each command runs as a real process with ``HOME``, every ``XDG_*`` folder and ``TMPDIR`` in
empty folders of the test, and an audit hook (``sitecustomize``) that records every file a
Python-level call opens for writing, every folder it makes, and every connection or name
lookup beyond loopback. Native code (onnxruntime's telemetry is C++) is caught by the
folders: they must still be empty afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.images import encode, skimage_rgb
from tests.server.running import free_port

REMPART = [sys.executable, "-c", "from rempart.cli import main; main()"]

# Installed before anything else runs; reports to the file named by the variable below.
AUDIT_HOOK = """
import os, sys

_log = open(os.environ["PRIVACY_AUDIT_LOG"], "a", buffering=1)
_allowed = tuple(os.environ["PRIVACY_ALLOWED"].split(os.pathsep))
_writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_local = ("127.0.0.1", "::1", "localhost", None)


def _outside(path):
    if isinstance(path, int):
        return False
    path = os.path.abspath(os.fsdecode(path))
    return not path.startswith(_allowed)


def _hook(event, args):
    if event == "open" and args[0] is not None:
        path, mode, flags = args
        writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _writes)
        if writes and _outside(path):
            _log.write(f"write {path!r}\\n")
    elif event in ("os.mkdir", "os.rename", "os.replace", "os.symlink") and _outside(args[0]):
        _log.write(f"{event} {args[0]!r}\\n")
    elif event == "socket.connect" and isinstance(args[1], tuple):
        if args[1][0] not in _local:
            _log.write(f"connect {args[1]!r}\\n")
    elif event == "socket.getaddrinfo" and args[0] not in _local:
        _log.write(f"lookup {args[0]!r}\\n")


sys.addaudithook(_hook)
"""


class Sandbox:
    """A home, XDG folders and a temporary folder that must stay empty, a data folder and an
    output folder that may fill, and the environment that points a process at them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.watched = {
            name: root / name for name in ("home", "cache", "config", "share", "state", "tmp")
        }
        self.data = root / "data"
        self.out = root / "out"
        self.log = root / "audit" / "audit.log"
        hook = root / "hook"
        for folder in (*self.watched.values(), self.data, self.out, self.log.parent, hook):
            folder.mkdir()
        (hook / "sitecustomize.py").write_text(AUDIT_HOOK)
        allowed = [str(self.data), str(self.out), str(self.log.parent), "/dev/null"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REMPART_", "XDG_"))}
        env.update(
            HOME=str(self.watched["home"]),
            XDG_CACHE_HOME=str(self.watched["cache"]),
            XDG_CONFIG_HOME=str(self.watched["config"]),
            XDG_DATA_HOME=str(self.watched["share"]),
            XDG_STATE_HOME=str(self.watched["state"]),
            TMPDIR=str(self.watched["tmp"]),
            REMPART_DATA_DIR=str(self.data),
            PYTHONDONTWRITEBYTECODE="1",  # .pyc files are the installation's, not a run's
            PYTHONPATH=os.pathsep.join([str(hook), *sys.path]),
            PRIVACY_AUDIT_LOG=str(self.log),
            PRIVACY_ALLOWED=os.pathsep.join(allowed),
        )
        env.pop("ORT_DISABLE_TELEMETRY", None)  # Rempart must set it itself
        self.env = env

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """``rempart ARGS`` in the sandbox."""
        return subprocess.run(
            [*REMPART, *args], env=self.env, input=stdin, capture_output=True, timeout=300
        )

    def trespasses(self) -> list[str]:
        """What the audit hook saw, and every file left in a folder that must stay empty."""
        seen = self.log.read_text().splitlines() if self.log.exists() else []
        for folder in self.watched.values():
            seen += [f"left {path}" for path in folder.rglob("*")]
        return seen


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def images(sandbox: Sandbox, testdata: Path) -> Path:
    """A folder of benign pictures: two samples and a shared photo of a face, outside the
    sandbox's watched folders."""
    folder = sandbox.root / "images"
    folder.mkdir()
    (folder / "coffee.jpg").write_bytes(encode(Image.fromarray(skimage_rgb("coffee")), "JPEG"))
    (folder / "rocket.png").write_bytes(encode(Image.fromarray(skimage_rgb("rocket")), "PNG"))
    shutil.copy(sorted((testdata / "faces").glob("*.jpg"))[0], folder / "face.jpg")
    return folder


def test_a_scan_with_every_detector_writes_only_its_outputs(sandbox: Sandbox, images: Path) -> None:
    out, report = sandbox.out / "scan.jsonl", sandbox.out / "report.html"
    result = sandbox.run("scan", str(images), "--out", str(out), "--report", str(report))
    assert result.returncode == 0, result.stderr.decode()
    assert len(out.read_text().splitlines()) >= 3
    assert report.stat().st_size > 0
    assert sandbox.trespasses() == []


def test_hash_signals_and_gate_write_nothing(sandbox: Sandbox, images: Path) -> None:
    for args in (
        ("hash", str(images)),
        ("signals", str(images)),
        ("gate", "--prompt", "a watercolour of a harbour", "--output", str(images / "face.jpg")),
    ):
        result = sandbox.run(*args)
        assert result.returncode == 0, (args, result.stderr.decode())
    assert sandbox.trespasses() == []


def test_a_server_started_used_and_stopped_leaves_nothing_outside_its_data(
    sandbox: Sandbox, images: Path
) -> None:
    created = sandbox.run("key", "create", "--role", "admin")
    assert created.returncode == 0, created.stderr.decode()
    key = created.stdout.decode().split()[0]
    port = free_port()
    log = sandbox.root / "server.log"  # written by this process's file, not by the server
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*REMPART, "serve", "--port", str(port), "--workers", "2"],
            env=sandbox.env,
            stdout=subprocess.DEVNULL,
            stderr=output,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            photo = (images / "coffee.jpg").read_bytes()
            headers = {"Content-Type": "image/jpeg"}
            assert client.post("/v1/hash", content=photo, headers=headers).status_code == 200
            assert client.post("/v1/gate", json={"prompt": "a harbour"}).status_code == 200
            assert client.get("/metrics").status_code == 200
        docs = httpx.get(url + "/docs", timeout=10)
        assert "https://" not in docs.text
        assert "http://" not in docs.text.replace(url, "")
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert process.returncode == 0
    assert sandbox.trespasses() == []


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the server exited ({process.returncode}):\n{tail}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")
