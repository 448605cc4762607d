"""Model files: the only package in Rempart that opens them, and the files beside them.

The format comes from the bytes: safetensors (an 8-byte length, then a JSON header read in one
bounded read), PyTorch pickles (raw, or zipped as ``*/data.pkl``), GGUF (its header's
key/values) and Git LFS pointers. No tensor is loaded and nothing is unpickled: a pickle is
read opcode by opcode. Anything wrong raises ``ModelFileError`` with a ``MediaError`` code.
"""

from rempart.errors import ModelFileError
from rempart.modelfile.model import (
    DEFAULT_MAX_HEADER_BYTES,
    MODEL_SUFFIXES,
    FingerprintMode,
    LfsPointer,
    ModelCard,
    ModelFile,
    ModelFormat,
    Sidecars,
    Tensor,
)

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "MODEL_SUFFIXES",
    "FingerprintMode",
    "LfsPointer",
    "ModelCard",
    "ModelFile",
    "ModelFileError",
    "ModelFormat",
    "Sidecars",
    "Tensor",
]
