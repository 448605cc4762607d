"""The bytes a model is read from: a file, read by offset on one open descriptor, or the first
bytes of one (the endpoint's), behind one interface; and the cursor the variable-length
headers (GGUF) are read through, bounded by the header limit."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from rempart.errors import MediaErrorCode, ModelFileError

__all__ = [
    "BytesSource",
    "Cursor",
    "FileSource",
    "Source",
    "corrupt",
    "opened",
    "too_large",
    "truncated",
]

_CHUNK_BYTES: Final = 1 << 20


class Source(Protocol):
    """Bytes by offset; ``size``: how many there are (the file's size, or the bytes given)."""

    size: int

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end)."""
        ...


class BytesSource:
    """Bytes already in memory: the first bytes of a file, as the endpoint receives them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        """A slice of the bytes."""
        return self.data[offset : offset + length]


class FileSource:
    """An open file, read with ``os.pread``: no shared position, no buffer of its own."""

    def __init__(self, fd: int, size: int, name: str) -> None:
        self.fd = fd
        self.size = size
        self.name = name

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``, in as many reads as the OS needs."""
        parts: list[bytes] = []
        while length > 0:
            try:
                part = os.pread(self.fd, min(length, _CHUNK_BYTES), offset)
            except OSError as exc:
                raise ModelFileError(
                    MediaErrorCode.UNREADABLE, f"{self.name}: {exc.strerror or exc}"
                ) from exc
            if not part:
                break
            parts.append(part)
            offset += len(part)
            length -= len(part)
        return b"".join(parts)


class Cursor:
    """Reads a header front to back in 1 MiB slices of ``source``; refuses to read past the
    source's end (``truncated``) or past ``limit`` bytes (``too_large``)."""

    def __init__(self, source: Source, *, limit: int, what: str) -> None:
        self.source = source
        self.limit = limit
        self.what = what
        self.position = 0
        self._buffer = b""
        self._buffer_at = 0

    @property
    def remaining(self) -> int:
        """Bytes left in the source after the position."""
        return self.source.size - self.position

    def take(self, length: int) -> bytes:
        """The next ``length`` bytes."""
        end = self.position + length
        if end > self.source.size:
            raise truncated(f"{self.what} ends at byte {self.source.size:,}, inside its header")
        if end > self.limit:
            raise too_large(f"{self.what} header", self.limit)
        start = self.position - self._buffer_at
        if start < 0 or start + length > len(self._buffer):
            self._buffer_at = self.position
            self._buffer = self.source.read(self.position, max(length, _CHUNK_BYTES))
            start = 0
            if len(self._buffer) < length:
                raise truncated(f"{self.what} ended while being read")
        self.position = end
        return self._buffer[start : start + length]

    def skip(self, length: int) -> None:
        """Move past ``length`` bytes without keeping them."""
        end = self.position + length
        if end > self.source.size:
            raise truncated(f"{self.what} ends at byte {self.source.size:,}, inside its header")
        if end > self.limit:
            raise too_large(f"{self.what} header", self.limit)
        self.position = end


def truncated(message: str) -> ModelFileError:
    """A ``truncated`` error: the bytes end before what they declare does."""
    return ModelFileError(MediaErrorCode.TRUNCATED, f"{message}; the file was cut off")


def corrupt(message: str) -> ModelFileError:
    """A ``corrupt`` error: what the bytes declare cannot be."""
    return ModelFileError(MediaErrorCode.CORRUPT, message)


def too_large(what: str, limit: int) -> ModelFileError:
    """A ``too_large`` error naming the setting that raises the limit."""
    return ModelFileError(
        MediaErrorCode.TOO_LARGE,
        f"the {what} is over the limit of {limit:,} bytes; "
        "raise REMPART_MODEL_MAX_HEADER_BYTES to read it",
    )


@contextmanager
def opened(path: str | os.PathLike[str]) -> Iterator[tuple[int, int]]:
    """A regular file opened for reading, and its size; the OS's errors as ``not_found`` or
    ``unreadable`` (a folder, a pipe, no permission). Non-blocking, so that a FIFO named as a
    model is refused instead of waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as exc:
        raise ModelFileError(MediaErrorCode.NOT_FOUND, f"{path}: no such file") from exc
    except PermissionError as exc:
        raise ModelFileError(
            MediaErrorCode.UNREADABLE, f"{path}: permission denied; check the file's mode"
        ) from exc
    except OSError as exc:
        raise ModelFileError(MediaErrorCode.UNREADABLE, f"{path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ModelFileError(MediaErrorCode.UNREADABLE, f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(MediaErrorCode.UNREADABLE, f"{path}: not a regular file")
        yield fd, info.st_size
    finally:
        os.close(fd)
