"""``rempart scan``'s engine and output flags without a cluster: Parquet output (written,
resumed, reported), and what is refused before any work: Ray not installed, a GPU where
ONNX Runtime has no CUDA, Parquet without a folder."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from rempart.policy import load_policy
from rempart.scan.output import ParquetShards, read_previous_shards, record_of, row_of
from tests.cli.invoke import run
from tests.images import encode, gradient

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")


@pytest.fixture
def folder(tmp_path: Path, testdata: Path) -> Path:
    """Three bridge photos and a truncated file."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name in ("aaa-orig.jpg", "blur-a-lot.jpg", "high-contrast.jpg"):
        shutil.copy(testdata / "pdq" / "bridge-mods" / name, folder / name)
    (folder / "z.jpg").write_bytes(encode(gradient(300, 200), "JPEG")[:500])
    return folder


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def shard_records(folder: Path) -> list[dict[str, Any]]:
    rows = [
        row
        for shard in sorted(folder.glob("part-*.parquet"))
        for row in pq.read_table(shard).to_pylist()
    ]
    return [record_of(row) for row in rows]


def test_parquet_holds_the_records_of_json_lines(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    lines, shards, report = tmp_path / "out.jsonl", tmp_path / "shards", tmp_path / "r.html"
    assert run(env, "scan", str(folder), "-d", "provenance", "--out", str(lines))[0] == 1
    code, _, err = run(
        env, "scan", str(folder), "-d", "provenance", "--out", str(shards), "--format",
        "parquet", "--report", str(report),
    )  # fmt: skip
    assert code == 1, err
    assert [path.name for path in shards.iterdir()] == ["part-00000.parquet"]
    table = pq.read_table(shards / "part-00000.parquet")
    assert table.num_rows == 4
    assert {"path", "sha256", "pdq", "width", "verdict", "signals", "error"} <= set(
        table.column_names
    )
    assert json.loads(table.schema.metadata[b"rempart_scan"])["policy"]["name"] == "default"
    assert shard_records(shards) == jsonl_records(lines), "the same fields, row for row"
    assert "<html" in report.read_text(encoding="utf-8").lower()


def test_parquet_resumes_from_its_whole_shards(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    args = ("scan", str(folder), "-d", "provenance", "--out", str(shards), "--format", "parquet")
    assert run(env, *args)[0] == 1
    complete = shard_records(shards)
    # A run killed after its first shard: that shard, and one it had not finished.
    first = shards / "part-00000.parquet"
    table = pq.read_table(first)
    pq.write_table(table.slice(0, 2), first)
    (shards / ".part-00001.parquet.partial").write_bytes(b"PAR1 cut short")
    code, _, err = run(env, *args, "--resume")
    assert code == 1
    assert "2 already in the output" in err
    assert sorted(path.name for path in shards.iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ], "the partial shard is gone; the rest is a new shard"
    assert shard_records(shards) == complete, "every file once"
    code, _, err = run(env, *args, "--resume")
    assert "4 already in the output" in err
    assert len(list(shards.glob("part-*.parquet"))) == 2, "nothing judged twice"


def test_a_damaged_shard_is_refused_naming_it(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    shards = tmp_path / "shards"
    args = ("scan", str(folder), "-d", "provenance", "--out", str(shards), "--format", "parquet")
    assert run(env, *args)[0] == 1
    shard = shards / "part-00000.parquet"
    table = pq.read_table(shard)
    # A row whose nested field is not JSON, in an otherwise valid Parquet file.
    broken = table.set_column(
        table.column_names.index("verdict"), "verdict", pa.array(["{not json"] * len(table))
    )
    pq.write_table(broken.replace_schema_metadata(table.schema.metadata), shard)
    before = shard.read_bytes()
    code, _, err = run(env, *args, "--resume")
    assert code == 2
    assert "part-00000.parquet:1: not a scan record" in err
    assert "Traceback" not in err
    assert shard.read_bytes() == before, "nothing changed"


def test_a_shard_is_full_at_shard_rows(tmp_path: Path) -> None:
    policy = load_policy("default").ref
    record = {"path": "a.jpg", "error": {"code": "truncated", "message": "cut"}}
    shards = ParquetShards(tmp_path / "out", {"policy": policy.to_json()}, rows=3)
    for number in range(7):
        shards.add({**record, "path": f"{number}.jpg"})
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 2, "written when full"
    shards.close()
    previous = read_previous_shards(tmp_path / "out", policy)
    assert (previous.shards, len(previous.records)) == (3, 7)


def test_a_name_that_is_not_utf8_survives_a_row() -> None:
    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    back = record_of(row_of({"path": name, "error": {"code": "truncated", "message": "m"}}))
    assert back["path_bytes"] == "Y2Fm6S5qcGc="
    assert back["error"] == {"code": "truncated", "message": "m"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "parquet"), "--format parquet needs --out DIR"),
        (("--format", "parquet", "--out", "-"), "--format parquet needs --out DIR"),
    ],
)
def test_parquet_needs_a_folder(
    env: dict[str, str], folder: Path, args: tuple[str, ...], message: str
) -> None:
    code, _, err = run(env, "scan", str(folder), *args)
    assert code == 2
    assert message in err


def test_parquet_refuses_a_file_as_its_folder(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    code, _, err = run(env, "scan", str(folder), "--out", str(taken), "--format", "parquet")
    assert code == 2
    assert "is a file; --format parquet writes a folder" in err
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("flag", [("--address", "auto"), ("--actors", "2")])
def test_ray_flags_need_the_ray_engine(
    env: dict[str, str], folder: Path, flag: tuple[str, str]
) -> None:
    code, _, err = run(env, "scan", str(folder), *flag)
    assert code == 2
    assert f"{flag[0]} is for --engine ray" in err


def test_engine_ray_without_ray_says_which_extra(
    env: dict[str, str], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code, _, err = run(env, "scan", str(folder), "--engine", "ray")
    assert code == 2
    assert "--engine ray needs the 'ray' extra" in err
    assert "pip install 'rempart[ray]'" in err


def test_cuda_is_refused_where_onnxruntime_has_none(
    env: dict[str, str], folder: Path, tmp_path: Path
) -> None:
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    out = tmp_path / "out.jsonl"
    for how in ({"REMPART_ONNX_PROVIDER": "cuda"}, {}):
        flags = () if how else ("--gpu",)
        code, _, err = run({**env, **how}, "scan", str(folder), "--out", str(out), *flags)
        assert code == 2
        assert "REMPART_ONNX_PROVIDER=cuda, but the onnxruntime installed here has no CUDA" in err
        assert not out.exists(), "refused before any work"


def test_an_unknown_onnx_provider_is_refused(env: dict[str, str], folder: Path) -> None:
    code, _, err = run({**env, "REMPART_ONNX_PROVIDER": "tpu"}, "scan", str(folder))
    assert code == 2
    assert "REMPART_ONNX_PROVIDER='tpu' is not one of auto, cpu, cuda" in err


def test_the_onnx_provider_setting_chooses_the_sessions_providers() -> None:
    ort = pytest.importorskip("onnxruntime")
    from rempart.detectors.onnx import provider_names

    assert provider_names("cpu") == ["CPUExecutionProvider"]
    auto = provider_names("auto")
    assert auto[-1] == "CPUExecutionProvider"
    assert set(auto) <= set(ort.get_available_providers())


def test_engine_ray_refuses_standard_input(env: dict[str, str]) -> None:
    pytest.importorskip("ray", reason="the ray extra is not installed")
    code, _, err = run(env, "scan", "-", "--engine", "ray", "-d", "provenance")
    assert code == 2
    assert "- (standard input) is not one" in err


def test_results_are_given_in_order_once_each_and_none_lost() -> None:
    from rempart.errors import EngineError
    from rempart.scan.ray_engine import in_order

    rows = [(2, b"c"), (0, b"a"), (2, b"c"), (1, b"b"), (0, b"a"), (5, b"f"), (1, b"b")]
    assert list(in_order(rows, [0, 1, 2, 5])) == [(0, b"a"), (1, b"b"), (2, b"c"), (5, b"f")]
    given = in_order([(0, b"a"), (2, b"c")], [0, 1, 2])
    assert next(given) == (0, b"a")
    with pytest.raises(EngineError, match="without the result of file 1"):
        next(given)


def test_urls_are_the_schemes_pyarrow_reads() -> None:
    from rempart.scan.ray_engine import is_url

    assert is_url("s3://bucket/key.jpg")
    assert is_url("file:///tmp/a.jpg")
    assert not is_url("/tmp/a.jpg")
    assert not is_url("notes://a.jpg"), "a local folder named notes:"


@pytest.mark.parametrize(
    ("row", "metadata"),
    [
        ({"path": "a.jpg", "verdict": "{not json"}, None),
        ({"path": "a.jpg", "verdict": "[1, 2]"}, None),
        ({"path": "a.jpg", "error": "{}", "other": "5"}, None),
        ({"path": "a.jpg", "error": "{}"}, b"{not json"),
    ],
)
def test_a_hostile_shard_is_refused_with_a_clear_error(
    tmp_path: Path, row: dict[str, Any], metadata: bytes | None
) -> None:
    """A shard that pyarrow reads but whose cells or metadata are not what Rempart writes is
    a ``ScanOutputError`` (exit 2 on the command line), never a traceback."""
    import pyarrow as pa

    from rempart.errors import ScanOutputError
    from rempart.scan.fingerprint import HEADER_KEY

    out = tmp_path / "out"
    out.mkdir()
    table = pa.Table.from_pylist([row])
    if metadata is not None:
        table = table.replace_schema_metadata({HEADER_KEY.encode(): metadata})
    pq.write_table(table, out / "part-00000.parquet")
    with pytest.raises(ScanOutputError, match="cannot resume"):
        read_previous_shards(out, load_policy("default").ref)


def test_a_shard_name_without_a_number_does_not_stop_a_resume(tmp_path: Path) -> None:
    policy = load_policy("default").ref
    out = tmp_path / "out"
    shards = ParquetShards(out, {"policy": policy.to_json()})
    shards.add({"path": "a.jpg", "error": {"code": "truncated", "message": "cut"}})
    shards.close()
    shutil.copy(out / "part-00000.parquet", out / "part-copy.parquet")
    previous = read_previous_shards(out, policy)
    again = ParquetShards(out, {"policy": policy.to_json()}, previous)
    assert again._next == 1


def test_a_ray_cluster_refused_leaves_no_database_connection_open(
    env: dict[str, str], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--engine ray`` against a cluster that cannot run the scan exits 2 with the reason,
    and closes the bank store it opened first (its connections, a PostgreSQL server's)."""
    pytest.importorskip("ray", reason="ray is not installed")
    from rempart.errors import EngineError
    from rempart.scan.ray_engine import RayJudge
    from rempart.store import Store

    Store.open(f"sqlite:///{Path(env['REMPART_DATA_DIR']) / 'rempart.db'}").close()
    closed: list[Store] = []
    close = Store.close

    def recording_close(self: Store) -> None:
        closed.append(self)
        close(self)

    def refuse(self: RayJudge) -> None:
        raise EngineError("--gpu: the Ray cluster has no GPU")

    monkeypatch.setattr(Store, "close", recording_close)
    monkeypatch.setattr(RayJudge, "connect", refuse)
    code, _, err = run(env, "scan", str(folder), "--engine", "ray", "--address", "auto")
    assert code == 2, err
    assert "the Ray cluster has no GPU" in err
    assert closed, "the bank store was left open"


def test_a_recipe_shows_no_setting_in_its_repr() -> None:
    ray_engine = pytest.importorskip("rempart.scan.ray_engine")
    recipe = ray_engine.ScannerRecipe(
        {"REMPART_DATABASE_URL": "postgresql+psycopg://rempart:s3cret@db/rempart"},
        load_policy("default"),
        ("bank",),
    )
    assert "s3cret" not in repr(recipe)
    assert "s3cret" not in repr(ray_engine.RayJudge(recipe))
