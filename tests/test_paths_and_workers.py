"""The folder walk and the ordered thread pool."""

from __future__ import annotations

import base64
import gc
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.media import MediaFailure
from rempart.walk import (
    SKIP_NOT_MEDIA,
    FileKind,
    Walk,
    json_line,
    looks_like_image,
    looks_like_video,
    path_fields,
    printable,
)
from rempart.workers import BULK_GC_THRESHOLD, fewer_collections, ordered_map


def test_the_walk_is_sorted_skips_hidden_files_and_gives_missing_files_as_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.jpg", "a.jpg", ".hidden", "sub/c.jpg"):
        (tmp_path / name).write_bytes(b"\xff\xd8\xff\xe0")
    flat = list(Walk([str(tmp_path), "missing.jpg"]))
    assert [Path(p).name for p in flat if isinstance(p, str)] == ["a.jpg", "b.jpg", "missing.jpg"]
    deep = list(Walk([str(tmp_path)], recursive=True))
    assert [Path(p).name for p in deep if isinstance(p, str)] == ["a.jpg", "b.jpg", "c.jpg"]


def test_a_name_that_is_not_utf8_is_written_losslessly() -> None:
    path = os.fsdecode(b"dump/caf\xe9.png")  # Latin-1, as an old camera names it
    fields = path_fields(path)
    assert fields["path"] == "dump/caf\\xe9.png"
    assert base64.b64decode(fields["path_bytes"]) == b"dump/caf\xe9.png"
    assert path_fields("dump/café.png") == {"path": "dump/café.png"}
    line = json_line({"path": path, "error": {"code": "x", "message": f"{path}: bad"}})
    line.encode("utf-8")  # valid UTF-8, whatever the name
    assert line.endswith("\n")
    record = json.loads(line)
    assert list(record) == ["path", "path_bytes", "error"]


def test_printable_keeps_a_name_on_one_line() -> None:
    assert printable("a\nb\r\t\x1b[31m.png") == "a\\nb\\r\\t\\x1b[31m.png"
    assert printable("x\u202egnp.exe") == "x\\u202egnp.exe"  # no right-to-left trick
    assert printable(os.fsdecode(b"\xff.png")) == "\\xff.png"
    assert printable("été 🌅.jpg") == "été 🌅.jpg"


@pytest.mark.parametrize(
    ("head", "image"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", True),
        (b"\x89PNG\r\n\x1a\n", True),
        (b"GIF89a", True),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        (b"II*\x00", True),
        (b"BM", True),
        (b"\x00\x00\x00\x1cftypavif", True),
        (b"\x00\x00\x00\x18ftypheic", True),
        (b"\x00\x00\x00\x18ftypisom", False),  # an MP4 video
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", False),
        (b"%PDF-1.7", False),
        (b"", False),
    ],
)
def test_images_are_known_by_their_first_bytes(head: bytes, image: bool) -> None:
    assert looks_like_image(head) is image


@pytest.mark.parametrize(
    ("head", "video"),
    [
        (b"\x00\x00\x00\x18ftypisom", True),
        (b"\x00\x00\x00\x14ftypqt  ", True),
        (b"\x00\x00\x00\x08wide\x00\x00", True),  # QuickTime's leading atom
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", True),  # Matroska/WebM
        (b"RIFF\x00\x00\x00\x00AVI LIST", True),
        (b"\x00\x00\x00\x1cftypavif", False),  # an AVIF image
        (b"\x00\x00\x00\x18ftypheic", False),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", False),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", False),
        (b"", False),
    ],
)
def test_videos_are_known_by_their_first_bytes(head: bytes, video: bool) -> None:
    assert looks_like_video(head) is video


def test_a_media_walk_gives_images_and_videos_and_counts_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom")
    (tmp_path / "c.txt").write_bytes(b"notes")
    walk = Walk([str(tmp_path)], kind=FileKind.MEDIA)
    assert [Path(str(item)).name for item in walk] == ["a.png", "b.mp4"]
    assert walk.skipped == {SKIP_NOT_MEDIA: 1}
    images = Walk([str(tmp_path)])
    assert [Path(str(item)).name for item in images] == ["a.png"]


def test_each_folder_is_walked_once_and_a_loop_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "a" / "again").symlink_to("b")
    (tmp_path / "a" / "b" / "top").symlink_to("../..")
    walk = Walk([str(tmp_path)], recursive=True, follow_links=True)
    items = list(walk)
    files = [item for item in items if isinstance(item, str)]
    assert [Path(p).name for p in files] == ["x.png"]
    (loop,) = [item for item in items if isinstance(item, MediaFailure)]
    assert (Path(loop.path).name, loop.error.code) == ("top", "link_loop")
    assert walk.skipped_note() == "skipped: a folder reached again through a link (1)"


def test_ordered_map_keeps_order_and_runs_in_parallel() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def slow(item: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01 * (item % 3))
        with lock:
            active -= 1
        return item * 2

    assert list(ordered_map(slow, range(30), jobs=3)) == [i * 2 for i in range(30)]
    assert peak > 1


def test_ordered_map_reads_input_lazily() -> None:
    consumed = 0

    def items() -> Iterator[int]:
        nonlocal consumed
        for i in range(10_000):
            consumed += 1
            yield i

    results = ordered_map(lambda i: i, items(), jobs=2)
    assert next(results) == 0
    assert consumed <= 2 * 4 + 1


def test_ordered_map_refuses_zero_jobs() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(ordered_map(str, [1], jobs=0))


def test_fewer_collections_lasts_until_the_last_block_on_any_thread_ends() -> None:
    before = gc.get_threshold()
    assert before[0] < BULK_GC_THRESHOLD
    inside, release = threading.Event(), threading.Event()

    def other_block() -> None:
        with fewer_collections():
            inside.set()
            release.wait(10)

    other = threading.Thread(target=other_block)
    with fewer_collections():
        assert gc.get_threshold() == (BULK_GC_THRESHOLD, *before[1:])
        other.start()
        assert inside.wait(10)
    assert gc.get_threshold()[0] == BULK_GC_THRESHOLD  # the other thread's block goes on
    release.set()
    other.join(10)
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failure in the block")
    assert gc.get_threshold() == before


@pytest.mark.parametrize("young", [0, 10 * BULK_GC_THRESHOLD])
def test_fewer_collections_keeps_what_the_application_chose(young: int) -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(young, *before[1:])
        with fewer_collections():
            assert gc.get_threshold()[0] == young
        with fewer_collections():
            gc.set_threshold(7, 7, 7)  # the application's, meanwhile
        assert gc.get_threshold() == (7, 7, 7)
    finally:
        gc.set_threshold(*before)
