"""Turn the paths a person types into the files to process.

A file is taken as named (even if it does not exist, so that the run reports it); a folder
gives its files, and with ``recursive`` those of its sub-folders too, in sorted order.
Hidden files and folders (names starting with a dot) are skipped inside folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

__all__ = ["expand_paths"]


def expand_paths(paths: Iterable[str], *, recursive: bool = False) -> Iterator[str]:
    """Yield every file to process, in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            yield from _folder_files(path, recursive)
        else:
            yield path


def _folder_files(folder: str, recursive: bool) -> Iterator[str]:
    entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            yield entry.path
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _folder_files(entry.path, recursive)
