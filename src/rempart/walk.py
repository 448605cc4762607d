"""Walking a dump: the one way every command turns the paths a person types into files.

A dump is hostile: link loops, links out of the tree, FIFOs that hang whoever opens them,
unreadable files, names that are not UTF-8 or hold newlines. The walk never follows a link out
of the tree or round a loop (``follow_links`` follows them, with loop detection), never opens
anything but a regular file, and gives each entry it cannot use as a ``MediaFailure`` with a
code (``dangling_link``, ``link_loop``, ``not_regular``, ``permission_denied``) so that the run
records it and goes on. Inside folders, files that are not of the ``kind`` asked for (images by
their first bytes, videos too with ``FileKind.MEDIA``, model files by their names' suffixes)
are skipped and counted (``all_files``
gives them to the reader, which says why); a file named on the command line is always given,
so that its record says what is wrong with it.

Names are kept as the operating system gave them (``str`` with surrogate escapes for bytes
that are not UTF-8); ``path_fields`` and ``printable`` turn one into what an output can hold.
"""

from __future__ import annotations

import base64
import errno
import importlib.util
import json
import os
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeAlias

from rempart.errors import MediaError, MediaErrorCode
from rempart.media import STDIN, MediaFailure
from rempart.video import EBML_MAGIC

__all__ = [
    "SKIP_NOT_IMAGE",
    "SKIP_NOT_MEDIA",
    "SKIP_NOT_MODEL",
    "FileKind",
    "Walk",
    "WalkItem",
    "item_path",
    "json_line",
    "looks_like_image",
    "looks_like_video",
    "media_kind",
    "path_fields",
    "path_key",
    "printable",
    "starts_as_video",
]

WalkItem: TypeAlias = str | MediaFailure
"""A file to read, or an entry of the walk that cannot be read, and why."""

SKIP_NOT_IMAGE: Final = "not an image"
SKIP_NOT_MEDIA: Final = "not an image or video"
SKIP_NOT_MODEL: Final = "not a model file"
SKIP_LINK_OUT: Final = "a link out of the tree (-L follows it)"
SKIP_LINK_FOLDER: Final = "a link to a folder (-L follows it)"
SKIP_SEEN_FOLDER: Final = "a folder reached again through a link"

_HEAD_BYTES: Final = 16
# What each format of ``media.FORMATS`` starts with (WEBP and ISO-BMFF are checked apart).
_MAGIC: Final = (
    b"\xff\xd8\xff",  # JPEG (and MPO)
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)
# The major brands of AVIF and HEIF files (ISO-BMFF), not those of MP4 or QuickTime videos,
# which a dump holds by the thousand and Rempart does not read.
_ISO_BRANDS: Final = frozenset(
    (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
)
# QuickTime files may start with a box other than ``ftyp`` (ISO/IEC 14496-12 and QuickTime's
# top-level atoms); an MP4 always starts with ``ftyp``.
_ISO_BOXES: Final = frozenset((b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"))
# Unicode's line and paragraph separators and the bidirectional controls: they break a row
# or reorder what a person reads, as control characters do.
_INVISIBLE: Final = frozenset("\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def looks_like_image(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts as an image format Rempart decodes does."""
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _ISO_BRANDS


def looks_like_video(head: bytes) -> bool:
    """Whether ``head`` starts as a container of ``video.FORMATS`` does: an ISO-BMFF file
    whose brand is not an image's (MP4, MOV, 3GP), Matroska/WebM (EBML's magic) or AVI.
    Only the first bytes are read; the probe decides whether the video is one Rempart reads."""
    if head[4:8] in _ISO_BOXES:
        return head[4:8] != b"ftyp" or head[8:12] not in _ISO_BRANDS
    if head.startswith(EBML_MAGIC):
        return True
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def starts_as_video(item: WalkItem) -> bool:
    """Whether ``item`` is a file that starts as a video (``looks_like_video``); False for
    standard input, a failure of the walk or a file that cannot be read, which then go the
    image's way, whose reader says why they cannot be used."""
    if isinstance(item, MediaFailure) or item == STDIN:
        return False
    try:
        return looks_like_video(_read_head(item, _HEAD_BYTES))
    except OSError:
        return False


class FileKind(StrEnum):
    """What files a folder gives: images (by their first bytes, whatever their names), images
    and videos (``MEDIA``, likewise) or model files (by their names: a model file's bytes
    start with a length, a zip or a pickle, as many other files do)."""

    IMAGES = "images"
    MEDIA = "media"
    MODELS = "models"


def media_kind() -> FileKind:
    """What a folder gives a command that reads images and videos: both when the ``video``
    extra (PyAV) is installed, else images only, so that without it a folder's videos are
    skipped as files that are not images rather than each failing."""
    return FileKind.MEDIA if importlib.util.find_spec("av") is not None else FileKind.IMAGES


@dataclass
class Walk:
    """The files under ``paths``, in a stable order, as ``WalkItem``s; iterate once.

    ``recursive`` descends into sub-folders; ``follow_links`` follows links to files and
    folders wherever they point (loops are recorded, each folder walked once); ``kind``: the
    files a folder gives; ``all_files`` gives every regular file inside folders, not only those
    of that kind. After the walk, ``skipped`` counts what was left out, by reason.
    """

    paths: Iterable[str]
    recursive: bool = False
    follow_links: bool = False
    all_files: bool = False
    kind: FileKind = FileKind.IMAGES
    skipped: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[WalkItem]:
        for path in self.paths:
            yield from self._named(path)

    def skipped_note(self) -> str:
        """``skipped: not an image (12), a link to a folder (-L follows it) (1)``, or
        nothing when nothing was skipped."""
        if not self.skipped:
            return ""
        return "skipped: " + ", ".join(f"{why} ({n:,})" for why, n in self.skipped.items())

    def _named(self, path: str) -> Iterator[WalkItem]:
        """A path typed on the command line: a link there is followed (as ``find -H``)."""
        if path == STDIN:
            yield path
            return
        try:
            info = os.stat(path)
            if stat.S_ISREG(info.st_mode):
                _read_head(path, 0)  # only to know that it can be read
        except OSError as exc:
            missing = exc.errno == errno.ENOENT and not os.path.lexists(path)
            # A missing file is given as named: the reader's record says so, as before.
            yield path if missing else MediaFailure(path, _error(exc, path))
            return
        if stat.S_ISDIR(info.st_mode):
            root = os.path.realpath(path)
            yield from self._folder(path, root, {_node(info)}, set())
        elif stat.S_ISREG(info.st_mode):
            yield path
        else:
            yield _not_regular(path, info.st_mode)

    def _folder(
        self, folder: str, root: str, ancestors: set[tuple[int, int]], seen: set[tuple[int, int]]
    ) -> Iterator[WalkItem]:
        """The files of ``folder``; ``ancestors`` are the folders on the way down (a link to
        one is a loop), ``seen`` every folder walked (each is walked once)."""
        try:
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError as exc:
            yield MediaFailure(folder, _error(exc, folder))
            return
        for entry in entries:
            if not entry.name.startswith("."):
                yield from self._entry(entry, root, ancestors, seen)

    def _entry(
        self,
        entry: os.DirEntry[str],
        root: str,
        ancestors: set[tuple[int, int]],
        seen: set[tuple[int, int]],
    ) -> Iterator[WalkItem]:
        path = entry.path
        try:
            if entry.is_symlink():
                yield from self._link(path, root, ancestors, seen)
            elif entry.is_dir(follow_symlinks=False):
                if self.recursive:
                    info = entry.stat(follow_symlinks=False)
                    yield from self._subfolder(path, info, root, ancestors, seen)
            elif entry.is_file(follow_symlinks=False):
                yield from self._file(path)
            else:
                yield _not_regular(path, entry.stat(follow_symlinks=False).st_mode)
        except OSError as exc:
            yield MediaFailure(path, _error(exc, path))

    def _link(
        self, path: str, root: str, ancestors: set[tuple[int, int]], seen: set[tuple[int, int]]
    ) -> Iterator[WalkItem]:
        """A link inside a folder: recorded when it leads nowhere or round a loop; followed
        when it stays in the tree, or anywhere with ``follow_links``."""
        info = os.stat(path)  # OSError: dangling, a loop, or no permission (the caller records)
        if stat.S_ISDIR(info.st_mode):
            if not self.recursive:
                return
            if not self.follow_links:
                self.skipped[SKIP_LINK_FOLDER] += 1
            elif _node(info) in ancestors:
                message = f"{printable(path)}: a link to a folder above it; not followed again"
                yield MediaFailure(path, MediaError(MediaErrorCode.LINK_LOOP, message))
            else:
                yield from self._subfolder(path, info, root, ancestors, seen)
        elif not stat.S_ISREG(info.st_mode):
            yield _not_regular(path, info.st_mode)
        elif self.follow_links or _inside(os.path.realpath(path), root):
            yield from self._file(path)
        else:
            self.skipped[SKIP_LINK_OUT] += 1

    def _subfolder(
        self,
        path: str,
        info: os.stat_result,
        root: str,
        ancestors: set[tuple[int, int]],
        seen: set[tuple[int, int]],
    ) -> Iterator[WalkItem]:
        node = _node(info)
        if node in seen:
            self.skipped[SKIP_SEEN_FOLDER] += 1
            return
        seen.add(node)
        yield from self._folder(path, root, ancestors | {node}, seen)

    def _file(self, path: str) -> Iterator[WalkItem]:
        """A regular file inside a folder: given when it is of the walk's kind (or always,
        with ``all_files``). An image's first bytes are read without blocking: the file may
        have been swapped for a FIFO since the folder was listed."""
        if self.all_files:
            yield path
        elif self.kind is FileKind.MODELS:
            from rempart.modelfile import MODEL_SUFFIXES  # a scan of images never loads it

            if path.lower().endswith(MODEL_SUFFIXES):
                yield path
            else:
                self.skipped[SKIP_NOT_MODEL] += 1
        elif self.kind is FileKind.MEDIA:
            head = _read_head(path, _HEAD_BYTES)
            if looks_like_image(head) or looks_like_video(head):
                yield path
            else:
                self.skipped[SKIP_NOT_MEDIA] += 1
        elif looks_like_image(_read_head(path, _HEAD_BYTES)):
            yield path
        else:
            self.skipped[SKIP_NOT_IMAGE] += 1


def item_path(item: WalkItem) -> str:
    """The path of a walk item, whether a file to read or a failure."""
    return item if isinstance(item, str) else item.path


def path_key(path: str) -> bytes:
    """The raw bytes of a path as the operating system names it: what identifies a file when
    its name is not text (``--resume`` keys records by it)."""
    return os.fsencode(path)


def path_fields(path: str) -> dict[str, str]:
    """The ``path`` of a record, and ``path_bytes`` (base64 of the raw name) when the name is
    not UTF-8: ``path`` then shows each byte that is not as ``\\xNN``. Lossless either way."""
    raw = path_key(path)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "path": raw.decode("utf-8", "backslashreplace"),
            "path_bytes": base64.b64encode(raw).decode("ascii"),
        }


def printable(text: str) -> str:
    """``text`` safe on one line of a table, a CSV row, a terminal or a page: bytes that are
    not UTF-8 as ``\\xNN``, control characters, line separators and bidirectional controls
    as escapes, so that no name can break a row or pass for another."""
    text = _text(text)
    if text.isprintable() and not _INVISIBLE.intersection(text):
        return text
    return "".join(_escape(char) for char in text)


def _text(text: str) -> str:
    """``text`` with the surrogates that stand for bytes that are not UTF-8 as ``\\xNN``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return os.fsencode(text).decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _escape(char: str) -> str:
    if char == "\\":
        return char
    if char in "\n\r\t":
        return repr(char)[1:-1]
    if char in _INVISIBLE or unicodedata.category(char) in ("Cc", "Cs"):
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    return char


def _read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of ``path``, opened without blocking (a FIFO put in place of
    a file since it was listed gives nothing rather than hanging the walk)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        return os.read(descriptor, size) if size else b""
    finally:
        os.close(descriptor)


def _node(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _not_regular(path: str, mode: int) -> MediaFailure:
    """A FIFO, socket or device: opening one may hang or act on hardware, so it never is."""
    if stat.S_ISFIFO(mode):
        kind = "a FIFO (- reads standard input)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "not a regular file"
    message = f"{printable(path)}: {kind}; not opened"
    return MediaFailure(path, MediaError(MediaErrorCode.NOT_REGULAR, message))


def _error(exc: OSError, path: str) -> MediaError:
    """Why the walk could not reach ``path``, as a coded error."""
    name = printable(path)
    if exc.errno == errno.ELOOP:
        return MediaError(MediaErrorCode.LINK_LOOP, f"{name}: a link loop; not followed")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR) and os.path.islink(path):
        return MediaError(MediaErrorCode.DANGLING_LINK, f"{name}: a link to nothing")
    if exc.errno == errno.ENOENT:
        return MediaError(MediaErrorCode.NOT_FOUND, f"{name}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return MediaError(
            MediaErrorCode.PERMISSION_DENIED, f"{name}: permission denied; check its mode"
        )
    return MediaError(MediaErrorCode.UNREADABLE, f"{name}: {exc.strerror or exc}")


def json_line(record: dict[str, Any]) -> str:
    """``record`` as a line of JSON Lines, as every output writes it: its ``path`` as
    ``path_fields`` gives it, and any text holding bytes that are not UTF-8 (a message naming
    such a file) with them as ``\\xNN``, so that the line is valid UTF-8 whatever the names in
    the dump. The record is serialised once, again only when it holds such bytes."""
    fields = path_fields(record["path"]) if isinstance(record.get("path"), str) else {}
    out = {**fields, **{key: value for key, value in record.items() if key != "path"}}
    line = json.dumps(out, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(_clean(out), ensure_ascii=False)
    return line + "\n"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
