"""The fingerprint: names, order, offsets, metadata and one-element tensors never count; each
tensor's bytes do (all of them in ``full``, three slices in ``sampled``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rempart.modelfile import FingerprintMode, ModelFormat, read_model
from tests.modelfile.files import (
    KOHYA_METADATA,
    gguf_bytes,
    lora_tensors,
    pickle_running,
    pytorch_zip,
    write_safetensors,
)

SAMPLED, FULL, NONE = FingerprintMode.SAMPLED, FingerprintMode.FULL, FingerprintMode.NONE


def both(path: Path) -> tuple[str | None, str | None]:
    return read_model(path).fingerprint, read_model(path, fingerprint=FULL).fingerprint


def peft_names(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same LoRA under PEFT's names, alphas folded into a config (left out), reordered."""
    renamed = {}
    for name, array in reversed(tensors.items()):
        if name.endswith(".alpha"):
            continue
        block, _, kind = name.partition(".")
        renamed[f"base_model.model.{block}.{kind.replace('lora_down', 'lora_A')}"] = array
    return renamed


def test_the_fingerprints_have_their_mode_s_prefix(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "a.safetensors", lora_tensors())
    sampled, full = both(path)
    assert sampled is not None
    assert sampled.startswith("s1:")
    assert len(sampled) == 3 + 64
    assert full is not None
    assert full.startswith("f1:")
    assert len(full) == 3 + 64
    assert read_model(path, fingerprint=NONE).fingerprint is None


def test_renamed_reordered_restamped_copies_without_alphas_keep_both_fingerprints(
    tmp_path: Path,
) -> None:
    tensors = lora_tensors()
    original = write_safetensors(tmp_path / "a.safetensors", tensors, KOHYA_METADATA)
    stripped = write_safetensors(tmp_path / "b.safetensors", tensors)
    renamed = write_safetensors(tmp_path / "c.safetensors", peft_names(tensors), {"x": "y"})
    assert both(original) == both(stripped) == both(renamed)


def test_other_weights_give_other_fingerprints(tmp_path: Path) -> None:
    one = write_safetensors(tmp_path / "a.safetensors", lora_tensors(0))
    two = write_safetensors(tmp_path / "b.safetensors", lora_tensors(1))
    assert set(both(one)).isdisjoint(both(two))


def test_another_dtype_or_shape_of_the_same_bytes_is_another_fingerprint(tmp_path: Path) -> None:
    array = np.arange(4096, dtype=np.float32)
    one = write_safetensors(tmp_path / "a.safetensors", {"w": array})
    two = write_safetensors(tmp_path / "b.safetensors", {"w": array.reshape(64, 64)})
    three = write_safetensors(tmp_path / "c.safetensors", {"w": array.view(np.int32)})
    assert len({both(one), both(two), both(three)}) == 3


def test_one_byte_changed_inside_a_large_tensor_changes_only_the_full_fingerprint(
    tmp_path: Path,
) -> None:
    tensors = {"big": np.random.default_rng(0).standard_normal(100_000).astype(np.float32)}
    path = write_safetensors(tmp_path / "a.safetensors", tensors)
    before = both(path)
    tensor = read_model(path).tensors[0]
    data = bytearray(path.read_bytes())
    data[tensor.start + 1000] ^= 0xFF  # past the first slice, far from the middle one
    changed = tmp_path / "b.safetensors"
    changed.write_bytes(bytes(data))
    after = both(changed)
    assert after[0] == before[0]
    assert after[1] != before[1]
    data[tensor.start + 10] ^= 0xFF  # inside the first slice: both change
    changed.write_bytes(bytes(data))
    assert set(both(changed)).isdisjoint(before)


def test_a_model_of_one_element_tensors_only_has_no_fingerprint(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "a.safetensors", {"alpha": np.array(1.0)})
    assert both(path) == (None, None)


def test_gguf_tensors_are_fingerprinted(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {"blk.0.attn_q.weight": rng.standard_normal((32, 64)), "scale": np.ones(1)}
    one = tmp_path / "a.gguf"
    one.write_bytes(gguf_bytes({"general.name": "a"}, tensors))
    two = tmp_path / "b.gguf"
    two.write_bytes(gguf_bytes({"general.name": "b"}, {"renamed": tensors["blk.0.attn_q.weight"]}))
    assert both(one) == both(two)
    assert None not in both(one)


def test_pytorch_storages_are_fingerprinted_and_raw_pickles_are_not(tmp_path: Path) -> None:
    weights = np.arange(1000, dtype=np.float32).tobytes()
    one = tmp_path / "a.pt"
    one.write_bytes(pytorch_zip({"0": weights, "1": b"\0" * 4}))
    two = tmp_path / "b.pt"
    two.write_bytes(pytorch_zip({"7": weights}, top="other"))
    assert both(one) == both(two)
    assert None not in both(one)
    raw = tmp_path / "c.pt"
    raw.write_bytes(pickle_running("true", protocol=2))
    model = read_model(raw)
    assert (model.format, model.fingerprint) == (ModelFormat.PICKLE, None)


@pytest.mark.parametrize("size", [2, 767, 768, 769, 5000])
def test_a_tensor_of_up_to_768_bytes_is_read_whole_when_sampled(tmp_path: Path, size: int) -> None:
    array = np.random.default_rng(size).integers(0, 255, size, dtype=np.uint8)
    sampled, full = both(write_safetensors(tmp_path / "a.safetensors", {"w": array}))
    assert sampled is not None
    assert full is not None
    assert (sampled[3:] == full[3:]) is (size <= 768)  # the same bytes hashed, or fewer
