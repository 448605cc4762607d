"""PyTorch's pickles, read opcode by opcode (``pickletools.genops``), never unpickled: the
globals they import (``GLOBAL``, ``INST``, ``STACK_GLOBAL``) and their string constants. A
raw (legacy) pickle is read from a bounded in-memory copy; a zip's ``*/data.pkl`` is read
with a cap whatever its directory declares, and its storages ``*/data/<key>`` are located."""

from __future__ import annotations

import io
import pickletools
import struct
import zipfile
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from rempart.errors import MediaErrorCode, ModelFileError
from rempart.modelfile.model import STORAGE_DTYPE, ModelFile, ModelFormat, Tensor
from rempart.modelfile.source import Source, corrupt, too_large, truncated

__all__ = [
    "MAX_IMPORTS",
    "MAX_MEMO",
    "MAX_STRINGS",
    "MAX_STRING_CHARS",
    "UNKNOWN",
    "PickleScan",
    "is_pickle",
    "is_zip",
    "read_pickle",
    "read_zip",
    "scan_pickles",
]

MAX_STRINGS: Final = 10_000
"""String constants kept of a pickle (the first ones)."""
MAX_STRING_CHARS: Final = 4096
"""Characters kept of each string constant."""
MAX_IMPORTS: Final = 10_000
"""Distinct imports kept of a pickle (a model's imports a few dozen): past them, one more,
``unknown.unknown``, stands for the rest."""
MAX_MEMO: Final = 1_000_000
"""Memo entries followed (a model of 10,000 tensors puts under 100,000): past them, a value
got from the memo is unknown, so that a pickle of memo operations cannot fill the memory."""
UNKNOWN: Final = "unknown"
"""The module or name of a ``STACK_GLOBAL`` whose operand is not a constant string (the
pickle computes what it imports, which is never innocent), or of the imports past
``MAX_IMPORTS``."""

_STRING_OPS: Final = frozenset(
    {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
    }
)
_MEMO_PUT: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
_MEMO_GET: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
# What genops says when the bytes end inside a pickle (pickletools' readers).
_ENDED: Final = ("exhausted", "remain", "not enough data", "no newline found")
_FIRST_WINDOW_BYTES: Final = 1 << 20
_ZIP_SEARCH_BYTES: Final = 1 << 17
_ZIP_LOCAL_HEADER: Final = struct.Struct("<4s22xHH")  # signature ... name length, extra length


def is_pickle(head: bytes) -> bool:
    """A pickle of protocol 2 to 5 (``PROTO``), as ``torch.save`` writes a legacy file."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def is_zip(head: bytes) -> bool:
    """A zip's first local header."""
    return head[:4] == b"PK\x03\x04"


@dataclass
class _Scan:
    """What the opcodes read so far hold: imports, strings, the memo's and the stack's last
    string values (None: a value that is not a constant string)."""

    imports: dict[str, None] = field(default_factory=dict)
    strings: dict[str, None] = field(default_factory=dict)
    memo: dict[int, str | None] = field(default_factory=dict)
    memo_full: bool = False
    pushed: deque[str | None] = field(default_factory=lambda: deque(maxlen=2))

    def op(self, name: str, arg: object) -> None:
        if name in _STRING_OPS and isinstance(arg, str):
            self.pushed.append(arg)
            if len(self.strings) < MAX_STRINGS:
                self.strings.setdefault(arg[:MAX_STRING_CHARS])
        elif name in _MEMO_PUT:
            # Once full, MEMOIZE's keys are no longer known: no value got is trusted.
            self.memo_full = self.memo_full or len(self.memo) >= MAX_MEMO
            key = len(self.memo) if name == "MEMOIZE" else arg
            if isinstance(key, int) and not self.memo_full:
                self.memo[key] = self.pushed[-1] if self.pushed else None
        elif name in _MEMO_GET:
            got = self.memo.get(arg) if isinstance(arg, int) else None
            self.pushed.append(None if self.memo_full else got)
        elif name in ("GLOBAL", "INST") and isinstance(arg, str):
            module, _, attribute = arg.partition(" ")
            self._import(f"{module}.{attribute}")
            self.pushed.append(None)
        elif name == "STACK_GLOBAL":
            pair = tuple(self.pushed) if len(self.pushed) == 2 else (None, None)
            self._import(f"{pair[0] or UNKNOWN}.{pair[1] or UNKNOWN}")
            self.pushed.append(None)
        elif name not in ("PROTO", "FRAME"):  # neither touches the stack
            self.pushed.append(None)

    def _import(self, name: str) -> None:
        if len(self.imports) < MAX_IMPORTS or name in self.imports:
            self.imports.setdefault(name)
        else:
            self.imports.setdefault(f"{UNKNOWN}.{UNKNOWN}")


@dataclass(frozen=True, slots=True)
class PickleScan:
    """What the pickles in some bytes import and hold; ``cut``: the bytes ended inside a
    pickle (``whole``: the first one was read to its STOP)."""

    imports: tuple[str, ...]
    strings: tuple[str, ...]
    whole: bool
    cut: bool


def scan_pickles(data: bytes) -> PickleScan:
    """The imports and strings of the pickles one after the other in ``data`` (a legacy torch
    file holds several, then raw bytes, where the reading stops). ``corrupt`` when the first
    is not a pickle."""
    scan = _Scan()
    stream = io.BytesIO(data)
    whole = cut = False
    while stream.tell() < len(data):
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                scan.op(opcode.name, arg)
        except Exception as exc:  # genops raises ValueError, UnicodeDecodeError... on bad bytes
            cut = any(words in str(exc) for words in _ENDED)
            if not whole and not cut:
                raise corrupt(f"the pickle cannot be read: {type(exc).__name__}: {exc}") from exc
            break  # what follows the pickles (a legacy file's storages) is not a pickle
        whole = True
    return PickleScan(tuple(scan.imports), tuple(scan.strings), whole, cut)


def read_pickle(source: Source, *, max_header_bytes: int) -> ModelFile:
    """A raw pickle (a legacy ``torch.save`` file): its first MiB, then eight times as much
    while a pickle runs on past what was read, up to ``max_header_bytes``."""
    window = min(source.size, max_header_bytes, _FIRST_WINDOW_BYTES)
    while True:
        found = scan_pickles(source.read(0, window))
        limit = min(source.size, max_header_bytes)
        if not found.cut or window >= limit:
            break
        window = min(limit, window * 8)
    if found.cut and not found.whole:
        if window < source.size:
            raise too_large("pickle", max_header_bytes)
        raise truncated("the pickle ends before its STOP opcode")
    # A later pickle cut by the limit, not by the file's end, may import more past it.
    past_limit = found.cut and window < source.size
    warnings = ("pickle: a pickle runs on past the header limit, unread",) if past_limit else ()
    return ModelFile(
        format=ModelFormat.PICKLE,
        size=source.size,
        imports=found.imports,
        strings=found.strings,
        warnings=warnings,
    )


def read_zip(source: Source, *, max_header_bytes: int, whole: bool) -> ModelFile:
    """A PyTorch zip: the imports and strings of its ``*/data.pkl`` and the places of its
    storages. ``whole``: the source is the whole file (else the storages are not located)."""
    try:
        with zipfile.ZipFile(_SourceFile(source, max_header_bytes)) as archive:
            members = archive.infolist()
            pkl = next((m for m in members if _is_data_pkl(m.filename)), None)
            if pkl is None:
                raise ModelFileError(
                    MediaErrorCode.UNSUPPORTED_FORMAT,
                    "a zip without a */data.pkl: not a PyTorch file",
                )
            if pkl.file_size > max_header_bytes:
                raise too_large(f"data.pkl ({pkl.file_size:,} bytes)", max_header_bytes)
            with archive.open(pkl) as stream:
                data = stream.read(max_header_bytes + 1)
            if len(data) > max_header_bytes:
                raise too_large("data.pkl", max_header_bytes)
            top = pkl.filename.split("/")[0]
            storages = (
                [_storage(source, m, top) for m in members if _is_storage(m.filename, top)]
                if whole
                else []
            )
    except (ModelFileError, MemoryError):
        raise
    except EOFError as exc:
        raise truncated(f"the zip ends inside a member ({exc})") from exc
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc):
            raise truncated("the zip has no directory at its end") from exc
        raise corrupt(f"the zip cannot be read: {exc}") from exc
    except Exception as exc:  # zipfile and zlib raise anything on damaged bytes
        raise corrupt(f"the zip cannot be read: {type(exc).__name__}: {exc}") from exc
    found = scan_pickles(data)
    if not found.whole:
        raise truncated("data.pkl ends before its STOP opcode")
    return ModelFile(
        format=ModelFormat.PYTORCH,
        size=source.size,
        tensors=tuple(storages),
        imports=found.imports,
        strings=found.strings,
    )


def _is_data_pkl(name: str) -> bool:
    top, _, rest = name.partition("/")
    return bool(top) and rest == "data.pkl"


def _is_storage(name: str, top: str) -> bool:
    prefix = f"{top}/data/"
    return name.startswith(prefix) and "/" not in name[len(prefix) :] and name != prefix


def _storage(source: Source, member: zipfile.ZipInfo, top: str) -> Tensor:
    """A storage's place: the bytes after its local header (stored as is, as torch writes
    them; a compressed one is fingerprinted by its compressed bytes)."""
    if not 0 <= member.header_offset < source.size:
        raise corrupt(f"the zip's directory puts {member.filename!r} outside the file")
    header = source.read(member.header_offset, _ZIP_LOCAL_HEADER.size)
    if len(header) < _ZIP_LOCAL_HEADER.size:
        raise truncated(f"the zip member {member.filename!r} is past the end")
    signature, name_length, extra_length = _ZIP_LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise corrupt(f"the zip member {member.filename!r} has no local header")
    start = member.header_offset + _ZIP_LOCAL_HEADER.size + name_length + extra_length
    end = start + member.compress_size
    if end > source.size:
        raise truncated(f"the zip member {member.filename!r} ends past the end of the file")
    key = member.filename[len(top) + len("/data/") :]
    return Tensor(key, STORAGE_DTYPE, (member.file_size,), start, end)


class _SourceFile(io.RawIOBase):
    """A source as the seekable file ``zipfile`` reads; a read over the header limit (a
    central directory its end record declares gigabytes long) is refused before a buffer is
    allocated for it."""

    def __init__(self, source: Source, max_header_bytes: int) -> None:
        self.source = source
        self.position = 0
        self.limit = max_header_bytes

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.source.size}
        self.position = max(0, base[whence] + offset)
        return self.position

    def read(self, size: int = -1) -> bytes:
        wanted = self.source.size - self.position if size < 0 else size
        data = self.source.read(self.position, self._bounded(wanted))
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(self.position, self._bounded(len(buffer)))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def _bounded(self, size: int) -> int:
        # zipfile looks for the end record in the last 64 KiB, whatever the limit.
        if size > self.limit + _ZIP_SEARCH_BYTES:
            raise too_large(f"zip directory or member ({size:,} bytes)", self.limit)
        return size
