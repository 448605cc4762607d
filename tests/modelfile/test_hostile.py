"""Hostile model files: each gives its code, never another exception, and no pickle runs."""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rempart.modelfile import DEFAULT_MAX_HEADER_BYTES, ModelFileError, parse_model, read_model
from rempart.modelfile.pickles import read_zip
from tests.modelfile.files import (
    gguf_bytes,
    global_pickle,
    pickle_running,
    pytorch_zip,
    safetensors_bytes,
    torch_data_pkl,
    write_safetensors,
)

ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def code_of(
    data: bytes, tmp_path: Path, *, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
) -> str:
    """The code ``read_model`` gives the file."""
    path = tmp_path / "hostile.bin"
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as caught:
        read_model(path, max_header_bytes=max_header_bytes)
    return caught.value.code.value


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"\x00" * 4, "unsupported_format"),
        (b"hello world, not a model", "unsupported_format"),
        (safetensors_bytes({"t": ENTRY}, length=10_000), "truncated"),
        (safetensors_bytes({"t": ENTRY}, length=2**63), "too_large"),
        (safetensors_bytes(b"{not json}"), "corrupt"),
        (safetensors_bytes(b'{"a": 1' + b"\xff" * 3 + b"}"), "corrupt"),
        (safetensors_bytes(b"{" + b"[" * 100_000 + b"]" * 100_000 + b"}"), "corrupt"),
        (safetensors_bytes(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "corrupt"),
        (safetensors_bytes({"t": {**ENTRY, "data_offsets": [0, 8]}}), "corrupt"),  # no data
        (
            safetensors_bytes({"a": ENTRY, "b": {**ENTRY, "data_offsets": [4, 12]}}, b"\0" * 12),
            "corrupt",
        ),  # overlapping
        (safetensors_bytes({"t": {**ENTRY, "shape": [2**62, 2**62]}}, b"\0" * 8), "corrupt"),
        (b"\x80\x02" + b"\x8c\x02os" * 3, "truncated"),  # a pickle cut off
        (b"\x80\x04\xff\xff\xff", "corrupt"),  # not an opcode
        (b"\x80\x02X\xff\xff\xff\x7f", "truncated"),  # a string longer than the file
        (b"PK\x03\x04" + b"\0" * 40, "truncated"),  # a zip with no directory
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 2**60), "corrupt"),  # absurd key/value count
        (b"GGUF" + struct.pack("<IQQ", 3, 2**62, 0), "corrupt"),  # absurd tensor count
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1000), "truncated"),  # a count the file lacks
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**63) + b"\0" * 16, "corrupt"),
        (b"GGUF" + struct.pack("<I", 3), "truncated"),
        (
            b"GGUF" + struct.pack("<IQQQsIQ", 3, 0, 1, 1, b"a", 8, 3) + b"xy",
            "truncated",
        ),  # a string value cut off
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_hostile_bytes_give_their_code(data: bytes, code: str, tmp_path: Path) -> None:
    assert code_of(data, tmp_path) == code
    # The same bytes as a header alone: the same code, or read (it may lack only its data).
    assert parse_code(data) in (code, None)


def parse_code(data: bytes) -> str | None:
    try:
        parse_model(data)
    except ModelFileError as error:
        return error.code.value
    return None


def test_a_header_over_the_limit_is_too_large(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "a.safetensors", {"w": np.zeros(4)}, {"x": "y" * 5000})
    with pytest.raises(ModelFileError) as caught:
        read_model(path, max_header_bytes=1000)
    assert caught.value.code.value == "too_large"
    assert "REMPART_MODEL_MAX_HEADER_BYTES" in caught.value.message
    gguf = gguf_bytes({"tokens": ["x" * 100] * 100}, {})
    assert code_of(gguf, tmp_path, max_header_bytes=1000) == "too_large"
    long_pickle = b"\x80\x02" + b"N0" * 3000 + b"."  # NONE, POP, ...: 6,000 bytes
    assert code_of(long_pickle, tmp_path, max_header_bytes=1000) == "too_large"


def test_a_pickle_within_the_limit_followed_by_more_bytes_is_read(tmp_path: Path) -> None:
    data = global_pickle("os", "system") + b"\0" * 5000
    path = write_bytes(tmp_path / "p.pt", data)
    assert read_model(path, max_header_bytes=1000).imports == ("os.system",)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_pickle_that_would_run_a_command_never_runs(tmp_path: Path, protocol: int) -> None:
    """``os.system("touch <marker>")``, through GLOBAL (protocol 2) and STACK_GLOBAL (4),
    raw and zipped: read, imports found, and the marker never made."""
    marker = tmp_path / "ran"
    payload = pickle_running(f"touch {marker}", protocol=protocol)
    raw = write_bytes(tmp_path / "raw.ckpt", payload)
    zipped = write_bytes(tmp_path / "zip.pt", pytorch_zip({"0": b"\0" * 8}, data_pkl=payload))
    for path in (raw, zipped):
        model = read_model(path)
        assert {"posix.system", "nt.system"} & set(model.imports)
        parse_model(path.read_bytes())
    assert not marker.exists()


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    """A data.pkl of 200 MB of one byte, compressed to a few hundred KB."""
    path = tmp_path / "bomb.pt"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("archive/data.pkl", "w") as member,
    ):
        for _ in range(200):
            member.write(b"\0" * (1 << 20))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError) as caught:
        read_model(path)
    assert caught.value.code.value == "too_large"


def test_a_zip_that_lies_about_its_size_is_read_no_further_than_the_cap(tmp_path: Path) -> None:
    pkl = torch_data_pkl() + b"\0" * 100_000
    data = bytearray(pytorch_zip({"0": b"\0" * 8}, data_pkl=pkl))
    # Write 10 as data.pkl's size in its local header and in the central directory.
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        index = data.find(signature)
        data[index + at : index + at + 4] = struct.pack("<I", 10)
    code = code_of(bytes(data), tmp_path, max_header_bytes=1000)
    assert code in ("corrupt", "truncated")


def test_a_zip_whose_storage_lies_past_the_end_is_truncated(tmp_path: Path) -> None:
    data = pytorch_zip({"0": b"\1" * 4096})
    index = data.find(b"PK\x01\x02", data.find(b"archive/data/0"))
    assert index > 0
    # Keep the directory, drop the storage's bytes: the directory now points past the end.
    start = data.find(b"archive/data/0")
    cut = data[: start + 20] + data[start + 20 + 4096 :]
    assert code_of(cut, tmp_path) in ("truncated", "corrupt")


def test_files_that_cannot_be_opened_give_their_codes(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError) as caught:
        read_model(tmp_path / "missing.safetensors")
    assert caught.value.code.value == "not_found"
    with pytest.raises(ModelFileError) as caught:
        read_model(tmp_path)
    assert caught.value.code.value == "unreadable"
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError) as caught:
        read_model(fifo)  # refused, not waited on
    assert caught.value.code.value == "unreadable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_permission_is_unreadable(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "a.safetensors", {"w": np.zeros(4)})
    path.chmod(0)
    try:
        with pytest.raises(ModelFileError) as caught:
            read_model(path)
        assert caught.value.code.value == "unreadable"
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


class _ZipEnd:
    """A 4 GiB source of zeros, but for a zip end record at its end that declares a central
    directory of almost all of it (a sparse file costs nothing to make so)."""

    size = 1 << 32

    def __init__(self) -> None:
        self.largest = 0
        self.end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, self.size - 32, 10, 0)

    def read(self, offset: int, length: int) -> bytes:
        self.largest = max(self.largest, length)
        assert length < 1 << 28, f"a read of {length:,} bytes"
        tail = self.size - len(self.end)
        data = bytearray(max(0, min(length, self.size - offset)))
        for at in range(max(offset, tail), offset + len(data)):
            data[at - offset] = self.end[at - tail]
        return bytes(data)


def test_a_zip_directory_declared_gigabytes_long_is_too_large_not_allocated() -> None:
    source = _ZipEnd()
    with pytest.raises(ModelFileError) as caught:
        read_zip(source, max_header_bytes=DEFAULT_MAX_HEADER_BYTES, whole=True)
    assert caught.value.code.value == "too_large"
    assert source.largest < 1 << 28
