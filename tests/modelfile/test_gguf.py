"""GGUF files: the header's typed key/values, the tensor infos at their aligned places."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from rempart.modelfile import ModelFileError, ModelFormat, parse_model, read_model
from rempart.modelfile.gguf import MAX_ARRAY_ITEMS
from tests.modelfile.files import gguf_bytes

METADATA = {
    "general.architecture": "llama",
    "general.name": "subject",
    "general.tags": ["nsfw", "lora"],
    "llama.context_length": 4096,
    "llama.rope.freq_base": 10000.0,
    "general.quantized": True,
}


def test_a_gguf_gives_its_key_values_and_tensors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {"blk.0.attn_q.weight": rng.standard_normal((4, 8)), "norm": np.ones(8)}
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes(METADATA, tensors))
    model = read_model(path)
    assert model.format is ModelFormat.GGUF
    assert model.metadata == METADATA
    assert model.warnings == ()
    first, second = model.tensors
    assert (first.name, first.dtype, first.shape) == ("blk.0.attn_q.weight", "F32", (8, 4))
    assert first.start % 32 == 0
    data = path.read_bytes()
    assert data[first.start : first.end] == tensors["blk.0.attn_q.weight"].astype("<f4").tobytes()
    assert data[second.start : second.end] == np.ones(8, "<f4").tobytes()


def test_the_alignment_key_moves_the_data(tmp_path: Path) -> None:
    metadata = {"general.alignment": 64}
    # Aligned to 64 as the header says, where 32 would put it elsewhere.
    data = gguf_bytes(metadata, {"w": np.zeros(4)}, alignment=64)
    model = parse_model(data)
    assert model.tensors[0].start % 64 == 0


def test_an_array_longer_than_the_bound_keeps_its_first_items_with_a_warning() -> None:
    vocabulary = [f"t{i}" for i in range(MAX_ARRAY_ITEMS + 5)]
    numbers = list(range(MAX_ARRAY_ITEMS + 5))
    model = parse_model(gguf_bytes({"tokens": vocabulary, "ids": numbers, "after": "x"}, {}))
    assert model.metadata["tokens"] == vocabulary[:MAX_ARRAY_ITEMS]
    assert model.metadata["ids"] == numbers[:MAX_ARRAY_ITEMS]
    assert model.metadata["after"] == "x"  # the rest was read past, not lost
    assert len(model.warnings) == 2


def test_version_1_is_refused() -> None:
    with pytest.raises(ModelFileError, match="version 1") as caught:
        parse_model(gguf_bytes({}, {}, version=1))
    assert caught.value.code.value == "corrupt"


def test_a_tensor_past_the_end_of_a_file_is_truncated_but_fine_in_a_header(
    tmp_path: Path,
) -> None:
    data = gguf_bytes({"general.name": "x"}, {"w": np.zeros((64, 64))})
    cut = data[: len(data) - 100]
    assert parse_model(cut).tensors[0].name == "w"
    path = tmp_path / "m.gguf"
    path.write_bytes(cut)
    with pytest.raises(ModelFileError) as caught:
        read_model(path)
    assert caught.value.code.value == "truncated"


def test_an_unknown_value_type_is_corrupt() -> None:
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k"
    with pytest.raises(ModelFileError, match="value type 99") as caught:
        parse_model(data + struct.pack("<I", 99) + b"\0" * 8)
    assert caught.value.code.value == "corrupt"


def test_an_unknown_tensor_type_is_a_warning() -> None:
    data = b"GGUF" + struct.pack("<IQQ", 3, 1, 0)
    data += struct.pack("<Q", 1) + b"w" + struct.pack("<IQIQ", 1, 4, 200, 0)
    model = parse_model(data)
    assert model.tensors[0].dtype == "type200"
    assert model.warnings == ("w: unknown GGML type 200; its size is taken as 0",)
