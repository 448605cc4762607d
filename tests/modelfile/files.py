"""Model files written the way their tools write them, for the tests: safetensors through the
safetensors library (with kohya's metadata), PyTorch zips and pickles by hand, opcode by
opcode, and GGUF by a small writer of its layout. No file here is ever loaded or unpickled."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

# A kohya LoRA's metadata: every value a string, the structured ones JSON.
KOHYA_METADATA: dict[str, str] = {
    "ss_output_name": "subject_v1",
    "ss_training_comment": "trained on photos",
    "ss_sd_model_name": "v1-5-pruned.safetensors",
    "ss_network_module": "networks.lora",
    "ss_num_train_images": "40",
    "ss_tag_frequency": json.dumps({"10_subject": {"subject": 40, "nude": 12, "smile": 3}}),
    "ss_dataset_dirs": json.dumps({"10_subject": {"n_repeats": 10, "img_count": 40}}),
    "ss_datasets": json.dumps(
        [{"subsets": [{"class_tokens": "subject woman", "caption_prefix": "photo of"}]}]
    ),
    "modelspec.title": "Subject",
    "modelspec.trigger_phrase": "subject",
}


def lora_tensors(seed: int = 0, *, rows: int = 64, alpha: bool = True) -> dict[str, np.ndarray]:
    """A small LoRA's tensors under kohya's names: down/up pairs and one-element alphas."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for block in ("lora_unet_down_blocks_0_attn1_to_q", "lora_unet_up_blocks_1_attn2_to_k"):
        tensors[f"{block}.lora_down.weight"] = rng.standard_normal((8, rows)).astype(np.float16)
        tensors[f"{block}.lora_up.weight"] = rng.standard_normal((rows, 8)).astype(np.float16)
        if alpha:
            tensors[f"{block}.alpha"] = np.array(8.0, dtype=np.float16)
    return tensors


def write_safetensors(
    path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None
) -> Path:
    save_file(tensors, str(path), metadata=metadata)
    return path


def safetensors_bytes(header: Any, data: bytes = b"", *, length: int | None = None) -> bytes:
    """A safetensors file written by hand: any header (a JSON value or raw bytes), any length."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


# --- pickles, by hand ------------------------------------------------------------------------


def _unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE


def torch_data_pkl(names: tuple[str, ...] = ("weight",)) -> bytes:
    """A ``data.pkl`` as ``torch.save`` writes it (protocol 2): a dict of tensors rebuilt by
    ``torch._utils._rebuild_tensor_v2`` from persistent storages ``('storage', torch.FloatStorage,
    key, 'cpu', size)``."""
    out = b"\x80\x02}q\x00("  # PROTO 2, EMPTY_DICT, BINPUT 0, MARK
    for key, name in enumerate(names):
        out += _unicode(name)
        out += b"ctorch._utils\n_rebuild_tensor_v2\n"  # GLOBAL
        out += b"(("  # MARK (args), MARK (persistent id)
        out += _unicode("storage") + b"ctorch\nFloatStorage\n" + _unicode(str(key))
        out += _unicode("cpu") + b"K\x04tQ"  # BININT1 4, TUPLE, BINPERSID
        out += b"K\x00K\x04\x85K\x01\x85\x89"  # offset 0, size (4,), stride (1,), False
        out += b"ccollections\nOrderedDict\n)RtR"  # OrderedDict(), TUPLE, REDUCE
    return out + b"u."  # SETITEMS, STOP


def pytorch_zip(
    storages: dict[str, bytes], *, data_pkl: bytes | None = None, top: str = "archive"
) -> bytes:
    """A PyTorch zip: ``<top>/data.pkl``, ``<top>/data/<key>`` stored as is, as torch does."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        pkl = data_pkl if data_pkl is not None else torch_data_pkl(tuple(storages))
        archive.writestr(f"{top}/data.pkl", pkl)
        archive.writestr(f"{top}/byteorder", "little")
        for key, data in storages.items():
            archive.writestr(f"{top}/data/{key}", data)
        archive.writestr(f"{top}/version", "3\n")
    return out.getvalue()


class Runs:
    """An object whose pickle would run ``os.system(command)`` when loaded (it never is)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return (os.system, (self.command,))


def pickle_running(command: str, *, protocol: int) -> bytes:
    """A pickle that would run ``command``: protocol 2 imports with GLOBAL, 4 with
    STACK_GLOBAL (its module and name memoised, as ``pickle`` writes them)."""
    return pickle.dumps({"state_dict": Runs(command)}, protocol=protocol)


def global_pickle(module: str, name: str) -> bytes:
    """A protocol-2 pickle that imports ``module.name`` with GLOBAL and calls it."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + _unicode("x") + b"\x85R."


# --- GGUF ------------------------------------------------------------------------------------

_GGUF_SCALARS = {int: (10, "<Q"), float: (12, "<d"), bool: (7, "<?")}


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf_value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, str):
        return 8, _gguf_string(value)
    if isinstance(value, list):
        kind, _ = _gguf_value(value[0])
        items = b"".join(_gguf_value(item)[1] for item in value)
        return 9, struct.pack("<IQ", kind, len(value)) + items
    kind, layout = _GGUF_SCALARS[type(value)]
    return kind, struct.pack(layout, value)


def gguf_bytes(
    metadata: dict[str, Any],
    tensors: dict[str, np.ndarray],
    *,
    version: int = 3,
    counts: tuple[int, int] | None = None,
    alignment: int = 32,
) -> bytes:
    """A GGUF file: key/values, F32 tensor infos, then the aligned data. ``counts`` overrides
    the declared (tensors, key/values)."""
    tensor_count, kv_count = counts or (len(tensors), len(metadata))
    out = b"GGUF" + struct.pack("<IQQ", version, tensor_count, kv_count)
    for key, value in metadata.items():
        kind, raw = _gguf_value(value)
        out += _gguf_string(key) + struct.pack("<I", kind) + raw
    data = b""
    for name, array in tensors.items():
        dims = tuple(reversed(array.shape))  # GGUF lists the innermost dimension first
        out += _gguf_string(name) + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
        out += struct.pack("<IQ", 0, len(data))  # F32, offset in the data
        raw = array.astype("<f4").tobytes()
        data += raw + b"\0" * (-len(raw) % alignment)
    out += b"\0" * (-len(out) % alignment)
    return out + data
