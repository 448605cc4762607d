"""Fuzz target ``platforms``: a deployment's platform file, as ``REMPART_DESK_PLATFORMS`` and
``rempart desk platforms --check`` read it (``PlatformBook.load`` of a folder holding it),
then each of its platforms found by a URL on its first domain. Only ``PlatformFileError``
may escape: a bad file is named with its line, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rempart.desk.platforms import PlatformBook
from rempart.errors import PlatformFileError

# One folder for the whole run, the file rewritten for each input: the loader reads a folder.
_FOLDER = tempfile.TemporaryDirectory(prefix="rempart-fuzz-platforms-")
_FILE = Path(_FOLDER.name) / "platforms.yaml"


def fuzz_one(data: bytes) -> None:
    """Load ``data`` as a platform file beside the built-in ones; look its platforms up."""
    _FILE.write_bytes(data)
    try:
        book = PlatformBook.load(Path(_FOLDER.name))
    except PlatformFileError:
        return
    for platform in book.platforms.values():
        found = book.for_url(f"https://www.{platform.domains[0]}/p/1")
        assert found is not None
        assert found.covers(platform.domains[0])
