"""What Rempart reads of a model file: its format, metadata, tensors' places, a pickle's
imports and strings, and the warnings its damaged values gave; never a weight, never a pickle
run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "MODEL_SUFFIXES",
    "STORAGE_DTYPE",
    "FingerprintMode",
    "LfsPointer",
    "ModelCard",
    "ModelFile",
    "ModelFormat",
    "Sidecars",
    "Tensor",
]

DEFAULT_MAX_HEADER_BYTES: Final = 100_000_000
"""The largest header read, in bytes: the safetensors library's own limit."""

MODEL_SUFFIXES: Final = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")
"""The names a folder's model files have (a file named on the command line is read whatever
its name: the format comes from its bytes)."""


STORAGE_DTYPE: Final = "storage"
"""The dtype of a PyTorch zip's "tensors": its storages (``*/data/<key>``), whose dtype the
pickle holds; their shape is their size in bytes."""


class ModelFormat(StrEnum):
    """How a model file is written, as its bytes say."""

    SAFETENSORS = "safetensors"
    PYTORCH = "pytorch"  # a zip whose */data.pkl pickles the tensors' places
    PICKLE = "pickle"  # a raw (legacy) pickle
    GGUF = "gguf"
    LFS_POINTER = "lfs_pointer"  # Git LFS's stand-in: judged on its card


class FingerprintMode(StrEnum):
    """How much of each tensor the fingerprint reads: three slices, every byte, or none."""

    SAMPLED = "sampled"
    FULL = "full"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Tensor:
    """One tensor's name, dtype and shape, and where its bytes lie in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LfsPointer:
    """A Git LFS pointer's object id (``sha256:<hex>``) and the size it declares."""

    oid: str
    size: int


@dataclass(frozen=True)
class ModelFile:
    """A model file as read: ``metadata`` is a safetensors header's ``__metadata__`` (values
    that are JSON decoded) or GGUF's key/values; ``imports`` and ``strings`` are a pickle's
    globals (``module.name``) and string constants; ``warnings`` name the values that could
    not be read."""

    format: ModelFormat
    size: int
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tensors: tuple[Tensor, ...] = ()
    imports: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    lfs: LfsPointer | None = None
    warnings: tuple[str, ...] = ()
    fingerprint: str | None = None


@dataclass(frozen=True)
class ModelCard:
    """A model card (``README.md``): its YAML front matter and its body."""

    front_matter: Mapping[str, Any]
    body: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sidecars:
    """The files beside a model that speak of it: the nearest ``README.md`` and the
    same-stem ``.civitai.info``, when there are any."""

    card: str | None = None
    sidecar: str | None = None
