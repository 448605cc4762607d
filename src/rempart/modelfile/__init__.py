"""Model files: the only package in Rempart that opens them, and the files beside them.

The format comes from the bytes: safetensors (an 8-byte length, then a JSON header read in one
bounded read), PyTorch pickles (raw, or zipped as ``*/data.pkl``), GGUF (its header's
key/values) and Git LFS pointers. No tensor is loaded and nothing is unpickled: a pickle is
read opcode by opcode. Anything wrong raises ``ModelFileError`` with a ``MediaError`` code.
"""

from typing import Final

from rempart.errors import MediaErrorCode, ModelFileError
from rempart.modelfile.cards import (
    CARD_NAME,
    MAX_CARD_BYTES,
    MAX_SIDECAR_BYTES,
    SIDECAR_SUFFIX,
    beside,
    read_card,
    read_sidecar,
    read_text_file,
)
from rempart.modelfile.model import (
    DEFAULT_MAX_HEADER_BYTES,
    MODEL_SUFFIXES,
    STORAGE_DTYPE,
    FingerprintMode,
    LfsPointer,
    ModelCard,
    ModelFile,
    ModelFormat,
    Sidecars,
    Tensor,
)
from rempart.modelfile.read import parse_model, read_model

__all__ = [
    "CARD_NAME",
    "DEFAULT_MAX_HEADER_BYTES",
    "ERROR_CODES",
    "MAX_CARD_BYTES",
    "MAX_SIDECAR_BYTES",
    "MODEL_SUFFIXES",
    "SIDECAR_SUFFIX",
    "STORAGE_DTYPE",
    "FingerprintMode",
    "LfsPointer",
    "ModelCard",
    "ModelFile",
    "ModelFileError",
    "ModelFormat",
    "Sidecars",
    "Tensor",
    "beside",
    "parse_model",
    "read_card",
    "read_model",
    "read_sidecar",
    "read_text_file",
]

ERROR_CODES: Final = (
    MediaErrorCode.NOT_FOUND,
    MediaErrorCode.UNREADABLE,
    MediaErrorCode.EMPTY,
    MediaErrorCode.TOO_LARGE,
    MediaErrorCode.UNSUPPORTED_FORMAT,
    MediaErrorCode.TRUNCATED,
    MediaErrorCode.CORRUPT,
)
"""The codes a ``ModelFileError`` carries (the problem types ``model-<code>``)."""
