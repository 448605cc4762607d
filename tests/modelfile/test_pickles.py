"""PyTorch files, zipped and raw, read opcode by opcode: their imports are the ones picklescan
finds on the same files, their strings are kept, their storages located; nothing runs."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from picklescan.scanner import scan_file_path  # type: ignore[import-untyped]

from rempart.modelfile import STORAGE_DTYPE, ModelFileError, ModelFormat, pickles, read_model
from rempart.modelfile.pickles import MAX_IMPORTS, MAX_STRING_CHARS, MAX_STRINGS, scan_pickles
from tests.modelfile.files import (
    Runs,
    global_pickle,
    pickle_running,
    pytorch_zip,
    torch_data_pkl,
)

TORCH_IMPORTS = ("torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "collections.OrderedDict")


def picklescan_globals(path: Path) -> set[str]:
    """The oracle: the globals picklescan finds in the file."""
    return {f"{found.module}.{found.name}" for found in scan_file_path(str(path)).globals}


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_pytorch_zip_gives_its_imports_strings_and_storages(tmp_path: Path) -> None:
    weights = np.arange(16, dtype=np.float32).tobytes()
    path = write(tmp_path / "model.pt", pytorch_zip({"0": weights, "1": weights[:8]}))
    model = read_model(path)
    assert model.format is ModelFormat.PYTORCH
    assert model.size == path.stat().st_size
    assert model.imports == TORCH_IMPORTS
    assert {"0", "1", "storage", "cpu"} <= set(model.strings)
    assert [(t.name, t.dtype, t.shape) for t in model.tensors] == [
        ("0", STORAGE_DTYPE, (64,)),
        ("1", STORAGE_DTYPE, (8,)),
    ]
    data = path.read_bytes()
    assert data[model.tensors[0].start : model.tensors[0].end] == weights
    assert set(model.imports) == picklescan_globals(path)


def test_the_top_folder_may_have_any_name(tmp_path: Path) -> None:
    path = write(tmp_path / "m.pt", pytorch_zip({"0": b"\0" * 16}, top="lora_v2"))
    assert read_model(path).imports == TORCH_IMPORTS


def test_a_zip_without_data_pkl_is_not_a_pytorch_file(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelFileError, match=r"data\.pkl") as caught:
        read_model(path)
    assert caught.value.code.value == "unsupported_format"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_raw_pickle_that_would_run_code_gives_the_import(tmp_path: Path, protocol: int) -> None:
    path = write(tmp_path / "m.ckpt", pickle_running("echo hi", protocol=protocol))
    model = read_model(path)
    assert model.format is ModelFormat.PICKLE
    assert model.fingerprint is None
    assert "posix.system" in model.imports or "nt.system" in model.imports
    assert "echo hi" in model.strings
    assert set(model.imports) == picklescan_globals(path)


def test_global_and_inst_imports_match_picklescan(tmp_path: Path) -> None:
    inst = b"\x80\x02(X\x01\x00\x00\x00aisubprocess\nPopen\n."  # INST: protocol 0's call
    cases = {
        "global": global_pickle("builtins", "eval"),
        "inst": inst,
        "zip": pytorch_zip({"0": b"\0" * 8}, data_pkl=global_pickle("os", "system")),
    }
    for name, data in cases.items():
        path = write(tmp_path / f"{name}.pt", data)
        assert set(read_model(path).imports) == picklescan_globals(path), name
    assert read_model(tmp_path / "inst.pt").imports == ("subprocess.Popen",)


def test_a_legacy_file_s_pickles_are_all_read(tmp_path: Path) -> None:
    """A legacy ``torch.save``: the magic number, the protocol, the system info, then the data
    pickle, then the storages' keys, then raw bytes."""
    parts = [pickle.dumps(p, protocol=2) for p in (0x1950A86A20F9469CFC6C, 1001, {"le": True})]
    data = b"".join(parts) + torch_data_pkl() + pickle.dumps(["0"], protocol=2) + b"\0" * 64
    path = write(tmp_path / "legacy.pth", data)
    model = read_model(path)
    assert model.format is ModelFormat.PICKLE
    assert model.imports == TORCH_IMPORTS
    assert set(model.imports) == picklescan_globals(path)


def test_a_stack_global_of_computed_operands_is_an_unknown_import() -> None:
    # Two non-string pushes (ints), then STACK_GLOBAL: what it imports is computed.
    data = b"\x80\x04K\x01K\x02\x93."
    assert scan_pickles(data).imports == ("unknown.unknown",)
    # A memo lookup of a string counts as that string.
    data = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93."
    assert scan_pickles(data).imports == ("os.system",)


def test_past_a_full_memo_what_the_memo_gives_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickle of millions of memo operations fills no memory: past ``MAX_MEMO`` entries
    none is kept, and a string got from the memo is no longer trusted."""
    monkeypatch.setattr(pickles, "MAX_MEMO", 100)
    strings = b"\x8c\x02os\x94\x8c\x06system\x94"  # memo 0 and 1
    lookup = b"h\x00h\x01\x93."  # BINGET 0, BINGET 1, STACK_GLOBAL
    assert scan_pickles(b"\x80\x04" + strings + lookup).imports == ("os.system",)
    filled = b"\x80\x04" + strings + b"N\x94" * 200 + lookup
    assert scan_pickles(filled).imports == ("unknown.unknown",)


def test_imports_are_bounded_and_those_past_the_bound_are_unknown() -> None:
    names = [f"m{i}.n{i}" for i in range(MAX_IMPORTS + 5)] + ["os.system"]
    data = b"\x80\x02" + b"".join(b"c%s\n%s\n0" % tuple(n.encode().split(b".")) for n in names)
    imports = scan_pickles(data + b"N.").imports
    assert len(imports) == MAX_IMPORTS + 1
    assert imports[-1] == "unknown.unknown"


def test_strings_are_bounded_in_number_and_length() -> None:
    many = pickle.dumps([f"s{i}" for i in range(MAX_STRINGS + 50)] + ["x" * 10_000], protocol=4)
    strings = scan_pickles(many).strings
    assert len(strings) == MAX_STRINGS
    long = scan_pickles(pickle.dumps(["x" * 10_000], protocol=4)).strings
    assert long == ("x" * MAX_STRING_CHARS,)


def test_a_pickle_larger_than_the_first_read_is_read_whole(tmp_path: Path) -> None:
    strings: list[object] = [f"{i:0>1000}" for i in range(3000)]
    data = pickle.dumps([*strings, Runs("true")], protocol=2)  # 3 MB, the import last
    path = write(tmp_path / "big.pt", data)
    assert {"posix.system", "nt.system"} & set(read_model(path).imports)


def test_a_second_pickle_cut_by_the_limit_is_a_warning(tmp_path: Path) -> None:
    second = pickle.dumps([f"{i:0>100}" for i in range(100)], protocol=2)
    path = write(tmp_path / "two.pt", global_pickle("os", "system") + second)
    model = read_model(path, max_header_bytes=1000)
    assert model.imports == ("os.system",)
    assert model.warnings == ("pickle: a pickle runs on past the header limit, unread",)
    assert read_model(path).warnings == ()
