"""Damaged and hostile files meet ``MediaError`` with a reason, whatever the decoder raises:
the seeds of the media fuzz target (fuzz/corpus/media), later frames over the pixel limit,
and one bad file among good ones in a ``rempart hash`` run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import ImageFile

from fuzz.targets import CORPUS
from rempart.errors import MediaError, MediaErrorCode
from rempart.media import Media, MediaLimits, load_bytes
from tests.images import png_chunk

SEEDS = CORPUS / "media"
LIMITS = MediaLimits(max_pixels=4_000_000)


def seed(name: str) -> bytes:
    return (SEEDS / name).read_bytes()


def failure(data: bytes, limits: MediaLimits = LIMITS) -> MediaError | None:
    """The ``MediaError`` that loading, decoding or reading every frame gave, or None; any
    other exception fails the test."""
    try:
        media = load_bytes(data, limits=limits)
        media.decode()
        for _ in media.frames():
            pass
    except MediaError as exc:
        return exc
    return None


def outcome(data: bytes, limits: MediaLimits = LIMITS) -> str:
    """``ok``, or the code of ``failure(data)`` (``no message`` when it has none to read)."""
    error = failure(data, limits)
    if error is None:
        return "ok"
    return error.code.value if error.message else "no message"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Pillow's TIFF plugin raised TypeError ("Missing dimensions") out of load_bytes.
        ("truncated.tiff", "corrupt"),
        ("tiff-ifd-offset-past-end.tiff", "corrupt"),
        ("tiff-ifd-entries-garbage.tiff", "corrupt"),
        ("truncated-half.jpg", "corrupt"),
        ("truncated-header.png", "corrupt"),
        ("flipped-ihdr-bit-depth.png", "corrupt"),
        ("flipped-sof-precision.jpg", "corrupt"),
        ("truncated.avif", "corrupt"),
        ("flipped-box-size.avif", "corrupt"),
        ("zero-width.png", "corrupt"),
        ("bomb-header-50000x50000.png", "too_many_pixels"),
        ("bomb-header-65535x1.png", "truncated"),
    ],
)
def test_each_damaged_format_is_a_media_error(name: str, expected: str) -> None:
    assert outcome(seed(name)) == expected


@pytest.mark.parametrize("name", ["truncated.heic", "flipped-ftyp-size.heic"])
def test_damaged_heic_is_a_media_error(name: str) -> None:
    if not (SEEDS / name).exists():
        pytest.skip("pillow-heif (the heif extra) was not installed when the corpus was written")
    pytest.importorskip("pillow_heif")
    assert outcome(seed(name)) == "corrupt"


def test_a_file_with_a_known_signature_says_which_format_it_claims() -> None:
    with pytest.raises(MediaError) as caught:
        load_bytes(seed("truncated-header.png"))
    assert "PNG" in caught.value.message
    assert caught.value.code is MediaErrorCode.CORRUPT


def test_every_good_seed_decodes_every_frame() -> None:
    good = sorted(path.name for path in SEEDS.glob("good*"))
    assert len(good) >= 12
    assert {name: outcome(seed(name)) for name in good} == dict.fromkeys(good, "ok")


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        # A frame placed outside the 8x8 screen: Pillow grows the canvas to 4000x4000.
        ("gif-second-frame-4000x4000.gif", "frame 2 declares 4000x4000"),
        # Pillow raised its own DecompressionBombError on the second page.
        ("tiff-second-page-60000x60000.tiff", "frame 2 declares 60000x60000"),
    ],
)
def test_a_later_frame_meets_the_first_frames_pixel_limit(name: str, frame: str) -> None:
    media = load_bytes(seed(name), limits=LIMITS)
    assert (media.width, media.height, media.frame_count) == (8, 8, 2)
    media.decode()  # the first frame is within the limit
    frames = media.frames()
    assert next(frames).size == (8, 8)
    with pytest.raises(MediaError) as caught:
        next(frames)
    assert caught.value.code is MediaErrorCode.TOO_MANY_PIXELS
    assert frame in caught.value.message


@pytest.mark.parametrize(
    "raised", [IndexError("list index out of range"), AssertionError(), RuntimeError("boom")]
)
def test_any_exception_from_a_decoder_becomes_corrupt(
    monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    media = load_bytes(seed("good.png"))

    def fail(self: ImageFile.ImageFile) -> None:
        raise raised

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
    for decode in (media.decode, lambda: list(media.frames())):
        with pytest.raises(MediaError) as caught:
            decode()
        assert caught.value.code is MediaErrorCode.CORRUPT
        assert type(raised).__name__ in caught.value.message
        assert caught.value.__cause__ is raised


@pytest.mark.parametrize("raised", [MemoryError(), KeyboardInterrupt()])
def test_memory_error_and_ctrl_c_go_through(
    monkeypatch: pytest.MonkeyPatch, raised: BaseException
) -> None:
    media: Media = load_bytes(seed("good.png"))

    def fail(self: ImageFile.ImageFile) -> None:
        raise raised

    monkeypatch.setattr(ImageFile.ImageFile, "load", fail)
    with pytest.raises(type(raised)):
        media.decode()


def test_hash_reports_a_bad_tiff_between_good_files_and_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(seed("good.jpg"))
    bad = tmp_path / "bad.tif"
    bad.write_bytes(seed("truncated.tiff"))
    done = subprocess.run(
        [sys.executable, "-m", "rempart", "hash", str(good), str(bad), str(good)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "REMPART_DATA_DIR": str(tmp_path / "data")},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["good.jpg", "bad.tif", "good.jpg"]
    assert records[1]["error"]["code"] == "corrupt"
    assert "TypeError" in records[1]["error"]["message"]
    assert records[0]["sha256"] == records[2]["sha256"]


def test_late_text_chunks_inflate_to_a_bounded_total() -> None:
    # 40 zTXt chunks after the pixels, each 1 MiB inflated under its own keyword: the text
    # read stops at a total budget instead of holding 40 MiB (or gigabytes in a large file).
    png = seed("good.png")
    one = zlib.compress(b"A" * (1 << 20), 9)
    chunks = b"".join(png_chunk(b"zTXt", b"k%d\x00\x00" % i + one) for i in range(40))
    media = load_bytes(png[:-12] + chunks + png[-12:])
    assert 4 << 20 <= sum(map(len, media.metadata.text.values())) <= 8 << 20


# What the fuzzer found (fuzz/corpus/media/crash-<format>-<exception>-<module>-<line>.<ext>):
# each of these exceptions escaped rempart.media before, out of Pillow or pillow-heif.
DECODER_CRASHES = sorted(
    path.name
    for path in SEEDS.glob("crash-*")
    if path.name.split("-")[2] in {"indexerror", "keyerror", "typeerror", "runtimeerror"}
)


@pytest.mark.parametrize("name", DECODER_CRASHES)
def test_what_the_fuzzer_found_is_corrupt_and_names_the_decoders_exception(name: str) -> None:
    if name.endswith(".heic"):
        pytest.importorskip("pillow_heif")
    raised = {"indexerror": "IndexError", "keyerror": "KeyError", "typeerror": "TypeError"}
    error = failure(seed(name))
    assert error is not None
    assert error.code is MediaErrorCode.CORRUPT
    assert raised.get(name.split("-")[2], "RuntimeError") in error.message


def test_a_gif_frame_growing_the_canvas_past_pillows_bomb_limit_is_too_many_pixels() -> None:
    media = load_bytes(seed("crash-gif-decompressionbomberror-image-3575.gif"), limits=LIMITS)
    with pytest.raises(MediaError) as caught:
        list(media.frames())
    assert caught.value.code is MediaErrorCode.TOO_MANY_PIXELS


def test_a_generator_chunk_with_a_5000_digit_integer_is_a_problem_not_a_crash() -> None:
    from rempart.provenance.generators import read_generator_metadata

    for name in ("crash-comfyui-prompt-5000-digit-integer.png",
                 "crash-invokeai-metadata-5000-digit-integer.png"):  # fmt: skip
        found, problems = read_generator_metadata(load_bytes(seed(name)).metadata.text)
        assert found == []
        assert len(problems) == 1
        assert "not valid JSON" in problems[0]
