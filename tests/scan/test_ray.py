"""``rempart scan --engine ray`` on a Ray started by this module (2 CPUs, loopback): the same
records as the local engine, every file exactly once when an actor or the driver is killed
mid-job, and a GPU refused where the cluster has none."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rempart.errors import MediaError, MediaErrorCode
from rempart.hashing import FileHashes, hash_path
from rempart.matching.banks import Banks
from rempart.matching.banks.formats import HashListFormat, Record
from rempart.media import MediaFailure
from rempart.policy import load_policy
from rempart.scan import ScanJob
from rempart.scan.fingerprint import run_fingerprint
from rempart.scan.output import read_previous_shards
from rempart.scan.ray_engine import LOOPBACK, TEST_HOLD, RayJudge, ScannerRecipe
from rempart.store import Store
from tests.cli.invoke import run
from tests.images import encode, gradient

os.environ.update(LOOPBACK)  # before Ray is imported: its processes on loopback only
ray = pytest.importorskip(
    "ray", reason="the ray extra is not installed: pip install 'rempart[ray]'"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray of 2 CPUs in a temporary folder; its address, for a second driver."""
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's sockets live there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ray's own deprecations, not ours
        ray.init(
            num_cpus=2,
            num_gpus=1,  # declared, not there: for the check that onnxruntime has CUDA
            include_dashboard=False,
            object_store_memory=200 * 1024 * 1024,
            logging_level=logging.ERROR,
            log_to_driver=False,
            _temp_dir=folder,
        )
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command run in a test: its own, empty data folder."""
    return {"REMPART_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def photos(tmp_path: Path, testdata: Path) -> Path:
    """Two photos of people, a C2PA-signed image, a bridge photo a bank will hold, and a
    truncated file."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(testdata / "faces" / "obama.jpg", folder / "a.jpg")
    shutil.copy(testdata / "pdq" / "bridge-mods" / "aaa-orig.jpg", folder / "b.jpg")
    shutil.copy(testdata / "faces" / "biden.jpg", folder / "c.jpg")
    shutil.copy(testdata / "provenance" / "C.jpg", folder / "d.jpg")
    (folder / "e.jpg").write_bytes(encode(gradient(300, 200), "JPEG")[:500])
    return folder


@pytest.fixture
def bridges(tmp_path: Path, testdata: Path) -> list[str]:
    """The 12 bridge photos and their edits: a job of several batches."""
    folder = tmp_path / "bridges"
    folder.mkdir()
    for photo in sorted((testdata / "pdq" / "bridge-mods").glob("*.jpg")):
        shutil.copy(photo, folder / photo.name)
    return sorted(str(path) for path in folder.iterdir())


@pytest.fixture
def hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder where an actor (given a batch from the fifth file on) or the driver (once
    four records are written) writes its pid and waits for ``go``."""
    folder = tmp_path / "hold"
    folder.mkdir()
    monkeypatch.setenv(TEST_HOLD, str(folder))
    return folder


def records(path: Path) -> list[dict[str, Any]]:
    header, *lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert set(header) == {"rempart_scan"}
    return lines


def held_pid(hold: Path, *, seconds: float = 120) -> int:
    """The pid of the first process holding."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = sorted(hold.glob("*.pid"))
        if found:
            return int(found[0].stem)
        time.sleep(0.05)
    raise AssertionError("no process held")


def test_ray_gives_the_records_of_the_local_engine(
    cluster: str, env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    assert run(env, "bank", "create", "known")[0] == 0
    code, hashes, _ = run(env, "hash", str(photos / "b.jpg"))
    assert run(env, "bank", "import", "known", "-", "--format", "jsonl", stdin=hashes)[0] == 0
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    report = tmp_path / "report.html"
    assert run(env, "scan", str(photos), "--out", str(local))[0] == 1  # the truncated file
    code, _, err = run(
        env,
        "scan",
        str(photos),
        "--engine",
        "ray",
        "--address",
        cluster,
        "--out",
        str(remote),
        "--report",
        str(report),
    )
    assert code == 1, err
    expected, got = records(local), records(remote)
    assert [Path(r["path"]).name for r in got] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    assert got == expected, "verdicts, signals and hashes as the local engine gives them"
    assert got[1]["verdict"]["action"] == "block"
    assert any(s["name"] == "bank.match" for s in got[1]["signals"])
    assert got[4]["error"]["code"] == "truncated"
    header = json.loads(remote.read_text(encoding="utf-8").splitlines()[0])
    assert header == json.loads(local.read_text(encoding="utf-8").splitlines()[0])
    assert "known-image" in report.read_text(encoding="utf-8")


def test_a_killed_actor_is_restarted_and_every_file_judged_once(
    cluster: str, env: dict[str, str], bridges: list[str], hold: Path, tmp_path: Path
) -> None:
    recipe = ScannerRecipe.of(
        os.environ,
        f"sqlite:///{tmp_path / 'none.db'}",
        load_policy("default"),
        ["provenance"],
        batch_size=2,
    )
    (hold / "actor").touch()
    killed: list[int] = []

    def kill_one() -> None:
        pid = held_pid(hold)
        (hold / "go").touch()  # the actor that takes its batch over does not hold
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_one)
    killer.start()
    out = tmp_path / "shards"
    unread = MediaFailure("gone", MediaError(MediaErrorCode.PERMISSION_DENIED, "gone: denied"))
    job = ScanJob(
        RayJudge(recipe, actors=2),
        [*bridges[:3], unread, *bridges[3:]],  # what a walk could not read, passed on
        out=out,
        out_format="parquet",
        fingerprint=run_fingerprint(recipe.build()),
    )
    outcome = job.run()
    killer.join(timeout=10)
    assert killed, "an actor was killed mid-job"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    previous = read_previous_shards(out, load_policy("default").ref)
    paths = [record["path"] for record in previous.records.values()]
    assert paths == [*bridges[:3], "gone", *bridges[3:]], "every file once, in order"
    assert outcome.summary.new == len(bridges) + 1


def test_a_killed_driver_resumes(
    cluster: str, env: dict[str, str], bridges: list[str], hold: Path, tmp_path: Path
) -> None:
    (hold / "driver").touch()
    out = tmp_path / "out.jsonl"
    folder = str(Path(bridges[0]).parent)
    args = ["scan", folder, "-d", "provenance", "--engine", "ray", "--address", cluster]
    args += ["--actors", "2", "--out", str(out)]
    environ = {**os.environ, **env, "REMPART_RAY_BATCH_SIZE": "2"}
    driver = subprocess.Popen(
        [sys.executable, "-m", "rempart", *args],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert held_pid(hold) == driver.pid
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    (hold / "go").touch()
    before = records(out)
    assert len(before) == 4, "killed mid-job, after four lines"
    code, _, err = run({**env, "REMPART_RAY_BATCH_SIZE": "2"}, *args, "--resume")
    assert code == 0, err
    after = records(out)
    assert after[: len(before)] == before, "the lines written before the kill are kept"
    assert [record["path"] for record in after] == bridges, "every file once, in order"
    assert f"{len(before)} already in the output" in err


def test_a_gpu_is_refused_where_onnxruntime_has_no_cuda(
    cluster: str, env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    code, _, err = run(
        env, "scan", str(photos), "--engine", "ray", "--gpu", "--out", str(out), "-d", "provenance"
    )
    assert code == 2
    assert "--gpu: the onnxruntime on the cluster's GPU nodes has no CUDA" in err
    assert not out.exists(), "refused before any work"


def test_a_ray_of_its_own_without_a_gpu_refuses_gpu(
    env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    """No --address: the command starts a Ray of its own on this machine, which has no GPU."""
    out = tmp_path / "out.jsonl"
    environ = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    args = ["scan", str(photos), "--engine", "ray", "--gpu", "--out", str(out), "-d", "provenance"]
    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's sockets live there
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rempart", *args],
            env={**environ, **env, "RAY_TMPDIR": folder},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 2, done.stderr
    assert "--gpu: the Ray cluster has no GPU" in done.stderr
    assert not out.exists(), "refused before any work"


def test_urls_are_listed_on_the_driver_and_read_by_the_actors(
    cluster: str, env: dict[str, str], photos: Path, tmp_path: Path
) -> None:
    """A URL goes through pyarrow's filesystem for its scheme (``file://`` here, as ``s3://``
    would where pyarrow has S3 and its credentials)."""
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert run(env, "scan", str(photos), "-d", "provenance", "--out", str(local))[0] == 1
    url = f"file://{photos}"
    code, _, err = run(
        env, "scan", url, "-d", "provenance", "--engine", "ray", "--out", str(remote)
    )
    assert code == 1, err
    expected = json.loads(json.dumps(records(local)).replace(json.dumps(str(photos))[1:-1], url))
    assert records(remote) == expected, "the local records, each under its URL"
    assert records(remote)[0]["path"] == f"{url}/a.jpg"
    code, _, err = run(env, "scan", url, "-d", "provenance")
    assert code == 2
    assert "URLs are read by --engine ray only" in err


def test_actors_match_the_banks_of_postgresql(
    cluster: str, postgres_url: str, photos: Path, tmp_path: Path
) -> None:
    """Every node reads the banks from the database the driver names."""
    bank = f"ray-{tmp_path.name[-12:]}".replace("_", "-")
    store = Store.open(postgres_url)
    try:
        banks = Banks(store)
        banks.create(bank)
        hashes = hash_path(str(photos / "b.jpg"))
        assert isinstance(hashes, FileHashes)
        pdq = hashes.pdq
        banks.import_records(bank, [Record(1, pdq)], origin="test", fmt=HashListFormat.HEX)
    finally:
        store.close()
    env = {"REMPART_DATA_DIR": str(tmp_path / "data"), "REMPART_DATABASE_URL": postgres_url}
    out = tmp_path / "ray.jsonl"
    args = ["scan", str(photos), "-d", "provenance", "--bank", bank, "--engine", "ray"]
    code, _, err = run(env, *args, "--out", str(out))
    assert code == 1, err
    verdicts = {Path(r["path"]).name: r.get("verdict", {}).get("action") for r in records(out)}
    assert verdicts == {"a.jpg": "allow", "b.jpg": "block", "c.jpg": "allow", "d.jpg": "allow"} | {
        "e.jpg": None
    }
    gc.collect()  # a connection the scan left open fails this test, not a later one
