"""A deployment's own detector, installed as a package with an entry point in the group
``rempart.detectors``, is seen alike by ``rempart scan``, ``rempart gate`` and ``rempart serve``.

The package is written to a folder put on ``PYTHONPATH``: a module and a ``.dist-info`` with
its ``entry_points.txt``, which is what installing a wheel leaves, and what
``importlib.metadata`` reads. Its detector reports one constructed ``bank.match`` signal on
every picture (a known image, which the default policy blocks), so that each interface's
output shows it ran.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from rempart.access.keys import ApiKeys, Role
from rempart.detectors import ENTRY_POINT_GROUP, DetectorRegistry
from rempart.errors import DetectorError
from rempart.store import Store
from tests.server.running import RunningServer

PLUGIN = '''
from rempart.signals import Signal


class StampDetector:
    """Says every picture is a known image: a stand-in for a deployment's own model."""

    name = "stamp"
    version = "stamp-1"
    max_side = 256

    def detect(self, pictures):
        return [
            [Signal("bank.match", 1.0, self.name, self.version, value="stamp-bank")]
            for _ in pictures
        ]


class Broken:
    def __init__(self):
        raise RuntimeError("no model file")
'''


def install_plugin(folder: Path, entry: str = "stamp = stamp_detector:StampDetector") -> Path:
    """Write the package into ``folder``, as pip would install it; return ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stamp_detector.py").write_text(PLUGIN)
    info = folder / "stamp_detector-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stamp-detector\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry}\n")
    return folder


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    return install_plugin(tmp_path / "site")


@pytest.fixture
def on_path(plugin_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(plugin_path))
    yield plugin_path
    sys.modules.pop("stamp_detector", None)


def env_with(plugin_path: Path, data_dir: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("REMPART_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_path), env.get("PYTHONPATH")]))
    env["REMPART_DATA_DIR"] = str(data_dir)
    return env


def rempart(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rempart", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_registry_loads_an_entry_point(on_path: Path) -> None:
    registry = DetectorRegistry()
    registry.load_entry_points()
    assert registry.plugins == ["stamp"]
    detector = registry.create("stamp")
    assert (detector.name, detector.max_side) == ("stamp", 256)


def test_a_broken_plugin_is_a_detector_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = install_plugin(tmp_path / "site", entry="stamp = stamp_detector:Broken")
    monkeypatch.syspath_prepend(str(folder))
    registry = DetectorRegistry()
    registry.load_entry_points()
    with pytest.raises(DetectorError, match=r"stamp detector \(stamp_detector:Broken\).*model"):
        registry.create("stamp")
    sys.modules.pop("stamp_detector", None)


def test_a_plugin_cannot_take_a_built_in_name(on_path: Path) -> None:
    registry = DetectorRegistry()
    registry.register("stamp", lambda: None)  # type: ignore[arg-type,return-value]
    registry.load_entry_points()
    assert registry.plugins == []


def test_scan_sees_the_plugin(plugin_path: Path, tmp_path: Path, testdata: Path) -> None:
    image = testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg"
    found = rempart(env_with(plugin_path, tmp_path / "data"), "scan", str(image), "-d", "stamp")
    assert found.returncode == 0, found.stderr
    record = json.loads(found.stdout)
    assert [s["detector"] for s in record["signals"]] == ["stamp"]
    assert record["verdict"]["action"] == "block"


def test_gate_sees_the_plugin(plugin_path: Path, tmp_path: Path, testdata: Path) -> None:
    image = testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg"
    env = env_with(plugin_path, tmp_path / "data")
    found = rempart(env, "gate", "--prompt", "a bridge at dusk", "--output", str(image))
    assert found.returncode == 4, found.stderr  # block
    verdict = json.loads(found.stdout)
    detectors = {s["detector"] for r in verdict["reasons"] for s in r["signals"]}
    assert "stamp" in detectors


def test_serve_sees_the_plugin(plugin_path: Path, tmp_path: Path, testdata: Path) -> None:
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'rempart.db'}"
    with closing(Store.open(url)) as store:
        secret = ApiKeys(store).create(Role.PLATFORM).secret
    env = {"PYTHONPATH": str(plugin_path)}
    server = RunningServer(data_dir, url, extra_env=env).start()
    try:
        image = (testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
        headers = {"Authorization": f"Bearer {secret}"}
        scanned = httpx.post(
            server.url + "/v1/scan",
            content=image,
            headers={**headers, "Content-Type": "image/jpeg"},
            timeout=120,
        )
        assert scanned.status_code == 200, scanned.text
        assert "stamp" in {s["detector"] for s in scanned.json()["signals"]}
        gated = httpx.post(
            server.url + "/v1/gate",
            json={"prompt": "a bridge at dusk", "output": base64.b64encode(image).decode()},
            headers=headers,
            timeout=120,
        )
        assert gated.status_code == 200, gated.text
        assert gated.json()["action"] == "block"
    finally:
        server.stop()
