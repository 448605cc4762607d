"""Safetensors files as kohya writes them: the header read, the metadata's JSON decoded, the
tensors located; damaged values are warnings, not errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rempart.modelfile import ModelFileError, ModelFormat, parse_model, read_model
from tests.modelfile.files import (
    KOHYA_METADATA,
    lora_tensors,
    safetensors_bytes,
    write_safetensors,
)


def test_a_kohya_lora_gives_its_metadata_decoded_and_its_tensors(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "lora.safetensors", lora_tensors(), KOHYA_METADATA)
    model = read_model(path)
    assert model.format is ModelFormat.SAFETENSORS
    assert model.size == path.stat().st_size
    assert model.metadata["ss_output_name"] == "subject_v1"
    tags = {"10_subject": {"subject": 40, "nude": 12, "smile": 3}}
    assert model.metadata["ss_tag_frequency"] == tags
    assert model.metadata["ss_datasets"][0]["subsets"][0]["class_tokens"] == "subject woman"
    assert model.metadata["ss_num_train_images"] == "40"  # not JSON-looking: kept as written
    assert model.warnings == ()
    names = {tensor.name: tensor for tensor in model.tensors}
    down = names["lora_unet_down_blocks_0_attn1_to_q.lora_down.weight"]
    assert (down.dtype, down.shape, down.end - down.start) == ("F16", (8, 64), 8 * 64 * 2)
    assert names["lora_unet_down_blocks_0_attn1_to_q.alpha"].shape == ()
    # The offsets are the file's: the bytes there are the tensor's.
    data = path.read_bytes()
    expected = lora_tensors()["lora_unet_down_blocks_0_attn1_to_q.lora_down.weight"].tobytes()
    assert data[down.start : down.end] == expected


def test_a_value_that_does_not_decode_is_a_warning_naming_its_key(tmp_path: Path) -> None:
    metadata = {**KOHYA_METADATA, "ss_tag_frequency": '{"10_subject": {"nude": 3', "x": "[1, 2]"}
    model = read_model(write_safetensors(tmp_path / "a.safetensors", lora_tensors(), metadata))
    assert model.metadata["ss_tag_frequency"] == '{"10_subject": {"nude": 3'
    assert model.metadata["x"] == [1, 2]
    assert len(model.warnings) == 1
    assert model.warnings[0].startswith("ss_tag_frequency: not JSON")


def test_a_value_nested_too_deep_stays_a_string_with_a_warning(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    shallow_but_over = "[" * 100 + "]" * 100
    metadata = {"ss_tag_frequency": deep, "ss_datasets": shallow_but_over}
    model = read_model(write_safetensors(tmp_path / "a.safetensors", lora_tensors(), metadata))
    assert model.metadata == metadata
    assert sorted(w.split(":")[0] for w in model.warnings) == ["ss_datasets", "ss_tag_frequency"]
    assert all("nested" in warning for warning in model.warnings)


def test_metadata_values_that_are_not_strings_are_kept_with_a_warning() -> None:
    data = safetensors_bytes({"__metadata__": {"a": 1, "b": "x", "c": [[["deep"]]]}})
    model = parse_model(data)
    assert model.metadata == {"a": 1, "b": "x"}
    assert model.warnings == ("a: not a string (int)", "c: not a string (list); left out")
    assert model.tensors == ()


def test_metadata_that_is_not_an_object_is_a_warning() -> None:
    model = parse_model(safetensors_bytes({"__metadata__": ["a"]}))
    assert model.metadata == {}
    assert model.warnings == ("__metadata__: not an object (list)",)


def test_an_unknown_dtype_is_a_warning_and_the_tensor_is_kept() -> None:
    header = {"t": {"dtype": "F128", "shape": [2], "data_offsets": [0, 32]}}
    model = parse_model(safetensors_bytes(header, b"\0" * 32))
    assert model.tensors[0].dtype == "F128"
    assert model.tensors[0].end - model.tensors[0].start == 32
    assert model.warnings[0].startswith("t: unknown dtype")


def test_the_endpoint_reads_a_header_alone_and_its_tensors_may_lie_past_it(
    tmp_path: Path,
) -> None:
    path = write_safetensors(tmp_path / "lora.safetensors", lora_tensors(), KOHYA_METADATA)
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    model = parse_model(data[:header_end])
    assert model.metadata == read_model(path).metadata
    assert model.size == len(data)  # what the header says the file holds
    assert model.fingerprint is None
    assert [t.name for t in model.tensors] == [t.name for t in read_model(path).tensors]


def test_a_sub_byte_dtype_is_sized_in_bits() -> None:
    header = {"t": {"dtype": "F4", "shape": [2, 3], "data_offsets": [0, 3]}}
    tensor = parse_model(safetensors_bytes(header, b"\0" * 3)).tensors[0]
    assert tensor.end - tensor.start == 3


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "needs 8 bytes"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "before it begins"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "not a list of whole"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [0]}, "not two whole numbers"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [True, 4]}, "not two whole numbers"),
        ({"shape": [1], "data_offsets": [0, 4]}, "no dtype"),
        ("F32", "not an object"),
        ({"dtype": "F32", "shape": [10**400], "data_offsets": [0, 4]}, "past 2"),
        ({"dtype": "U8", "shape": [2**32] * 100_000, "data_offsets": [0, 8]}, "overflows"),
        ({"dtype": "U8", "shape": [4], "data_offsets": [2**64 - 2, 2**64 + 2]}, "past 2\\*\\*64"),
        ({"dtype": "U8", "shape": [10**4299], "data_offsets": [0, 10**4299]}, "past 2"),
        ({"dtype": "U8", "shape": [0, 2**64], "data_offsets": [0, 0]}, "past 2"),
    ],
)
def test_a_tensor_entry_that_cannot_be_is_corrupt(entry: object, words: str) -> None:
    with pytest.raises(ModelFileError, match=words) as caught:
        parse_model(safetensors_bytes({"t": entry}, b"\0" * 8))
    assert caught.value.code.value == "corrupt"


def test_the_metadata_of_a_real_writer_round_trips_whatever_its_json(tmp_path: Path) -> None:
    tags = {f"{n}_folder": {f"tag {i}": i for i in range(50)} for n in range(3)}
    metadata = {"ss_tag_frequency": json.dumps(tags), "ssmd_cover_images": json.dumps(["x"])}
    tensors = {"w": np.zeros((4, 4), dtype=np.float32)}
    model = read_model(write_safetensors(tmp_path / "a.safetensors", tensors, metadata))
    assert model.metadata["ss_tag_frequency"] == tags
    assert model.metadata["ssmd_cover_images"] == ["x"]
