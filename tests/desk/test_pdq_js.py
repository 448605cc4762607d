"""PDQ in the browser (src/rempart/desk/web/static/pdq.js) against rempart.hashing.pdq: the
same bits on the same pixels, and close to ``rempart hash`` from the file itself, through the
browser's own decode; and report.js, which puts the hashes (never the photo) into the form."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from rempart.hashing import hamming, pack, pdq_hash
from rempart.hashing.files import FileHashes, hash_media
from rempart.hashing.pdq import MIN_QUALITY, PdqHash, _dct16
from rempart.media import load_bytes
from tests.desk.browser import Site, browser_fixture, site_fixture  # noqa: F401
from tests.images import encode, gradient, jpeg_with_orientation, skimage_rgb

if TYPE_CHECKING:  # Playwright may be absent: the fixtures then skip
    from playwright.sync_api import Browser, FilePayload, Page


def distance(a: str, b: str) -> int:
    return int(hamming(pack([a]), pack([b]))[0])


def shared_images(testdata: Path) -> list[Path]:
    folder = testdata / "pdq"
    return sorted(p for p in folder.rglob("*") if p.suffix in (".jpg", ".png"))


def rempart_hash(data: bytes) -> FileHashes:
    """What ``rempart hash`` prints for a file with these bytes."""
    return hash_media(load_bytes(data), path="-")


def full_decode_hash(data: bytes) -> PdqHash:
    """The Python hash of the whole decode (upright, RGB, alpha dropped): the browser's input."""
    return pdq_hash(np.asarray(load_bytes(data).decode()))


@pytest.fixture(scope="module")
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """The test page of tests/desk/pages/hash.html, which loads report.js."""
    opened = site.open(browser, "/pages/hash.html")
    yield opened
    opened.context.close()


def hash_files(page: Page, site: Site, files: dict[str, bytes], **options: bool) -> list[Any]:
    """The worker's answers for these files, posted as ``{file}``, in order."""
    messages = [{"url": site.put(name, data), "name": name} for name, data in files.items()]
    return list(
        page.evaluate("([messages, options]) => hashAll(messages, options)", [messages, options])
    )


def hash_pixels(page: Page, site: Site, rgb: np.ndarray, *, name: str = "pixels") -> Any:
    """The worker's answer for Pillow's pixels, posted as ``{pixels, width, height}``."""
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    url = site.put(f"{name}.rgba", np.ascontiguousarray(rgba).tobytes())
    message = {"url": url, "width": rgb.shape[1], "height": rgb.shape[0]}
    return page.evaluate("(message) => hashAll([message])", message)[0]


def test_pillows_pixels_give_the_python_hash_on_every_shared_image(
    page: Page, site: Site, testdata: Path
) -> None:
    paths = shared_images(testdata)
    assert len(paths) >= 29
    for path in paths:
        rgb = np.asarray(load_bytes(path.read_bytes()).decode().convert("RGB"))
        expected = pdq_hash(rgb)
        answer = hash_pixels(page, site, rgb, name=path.name)
        if expected.quality < MIN_QUALITY:
            assert answer["code"] == "low_quality", (path.name, answer)
            continue
        assert answer["ok"], (path.name, answer)
        assert (answer["hash"], answer["quality"]) == (expected.hex, expected.quality), path.name


# Small images: a 4 x 4 picture blown up (smooth, like a photo) plus random noise.
small_images = st.builds(
    lambda shape, blobs, seed: _blend(shape, blobs, np.random.default_rng(seed)),
    st.tuples(st.integers(5, 80), st.integers(5, 80)),
    arrays(np.uint8, (4, 4, 3)),
    st.integers(0, 2**32 - 1),
)


def _blend(shape: tuple[int, int], blobs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    big = np.asarray(Image.fromarray(blobs).resize((width, height), Image.Resampling.BILINEAR))
    noise = rng.integers(-20, 21, (height, width, 3))
    blended: np.ndarray = np.clip(big + noise, 0, 255).astype(np.uint8)
    return blended


def settled_bits(rgb: np.ndarray) -> np.ndarray:
    """Which of the 256 bits float rounding cannot decide: those whose DCT coefficient is not
    within 1e-4 of the largest from the median. A side of 8 pixels, say, is blown up to 64 in
    blocks of 8, where the frequency-8 and -16 coefficients are exactly zero in theory: which
    of those pass the median is rounding's choice, as between any two float32 codes."""
    block, _ = _dct16(rgb)  # the module's own coefficients, before the median
    flat = block.ravel()  # bit k is coefficient k
    median = np.partition(flat, 127)[127]
    settled: np.ndarray = np.abs(flat - median) > 1e-4 * np.abs(flat).max()
    return settled


def bits(hex_hash: str) -> np.ndarray:
    """Bit k of a hash (k = 0..255; the hex form is big-endian)."""
    value = int(hex_hash, 16)
    return np.array([(value >> k) & 1 == 1 for k in range(256)])


@settings(max_examples=60, deadline=None)
@given(rgb=small_images)
def test_pixels_of_small_generated_images_within_2_bits(
    page: Page, site: Site, rgb: np.ndarray
) -> None:
    expected = pdq_hash(rgb)
    answer = hash_pixels(page, site, rgb)
    if not answer["ok"]:
        assert answer["code"] == "low_quality", answer
        assert expected.quality < MIN_QUALITY
        return
    assert abs(answer["quality"] - expected.quality) <= 1
    differing = bits(answer["hash"]) != bits(expected.hex)
    assert (differing & settled_bits(rgb)).sum() <= 2


def test_files_within_4_bits_of_rempart_hash_on_shared_images(
    page: Page, site: Site, testdata: Path
) -> None:
    files = {path.name: path.read_bytes() for path in shared_images(testdata)}
    answers = dict(zip(files, hash_files(page, site, files), strict=True))
    compared = 0
    for name, data in files.items():
        expected = rempart_hash(data)
        if expected.quality < 80:
            continue
        answer = answers[name]
        assert answer["path"] == "webgl2", (name, answer)
        assert distance(answer["hash"], expected.pdq) <= 4, name
        compared += 1
    assert compared >= 25


def test_12_megapixel_jpegs_close_to_the_full_decode_and_to_rempart_hash(
    page: Page, site: Site
) -> None:
    files = {
        f"{name}.jpg": encode(
            Image.fromarray(skimage_rgb(name)).resize((4000, 3000), Image.Resampling.BICUBIC),
            "JPEG",
            quality=90,
        )
        for name in ("astronaut", "coffee")
    }
    for (name, data), answer in zip(files.items(), hash_files(page, site, files), strict=True):
        assert (answer["width"], answer["height"]) == (4000, 3000), answer
        assert distance(answer["hash"], full_decode_hash(data).hex) <= 2, name
        assert distance(answer["hash"], rempart_hash(data).pdq) <= 10, name


def test_exif_orientation_is_applied(page: Page, site: Site) -> None:
    image = gradient(300, 200, seed=3)
    data = jpeg_with_orientation(image, 6)  # shown rotated by 90 degrees clockwise
    (answer,) = hash_files(page, site, {"rotated.jpg": data})
    assert (answer["width"], answer["height"]) == (200, 300)
    upright = rempart_hash(data).pdq
    assert distance(answer["hash"], upright) <= 2
    as_stored = pdq_hash(np.asarray(image)).hex
    assert distance(answer["hash"], as_stored) > 31  # the test tells the two apart


def transparent_png() -> tuple[bytes, np.ndarray]:
    """An RGBA PNG whose left half is fully transparent over a picture, and its RGB."""
    rgb = np.asarray(gradient(256, 256, seed=5))
    alpha = np.full((256, 256), 255, np.uint8)
    alpha[:, :128] = 0
    return encode(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"), rgb


def test_transparent_png_hashes_its_unpremultiplied_pixels(page: Page, site: Site) -> None:
    data, rgb = transparent_png()
    expected = pdq_hash(rgb).hex
    assert rempart_hash(data).pdq == expected
    (webgl,) = hash_files(page, site, {"transparent.png": data})
    assert webgl["path"] == "webgl2"
    assert webgl["hash"] == expected
    # A 2D canvas premultiplies: the transparent half reads as black, far from the hash.
    (canvas,) = hash_files(page, site, {"transparent.png": data}, webgl=False)
    assert canvas["path"] == "canvas"
    assert distance(canvas["hash"], expected) > 31


def test_the_canvas_fallback_agrees_on_an_opaque_photo(page: Page, site: Site) -> None:
    data = encode(gradient(300, 200, seed=7), "PNG")
    (answer,) = hash_files(page, site, {"opaque.png": data}, webgl=False)
    assert answer["path"] == "canvas"
    assert answer["hash"] == rempart_hash(data).pdq


def swapped_primaries_profile() -> bytes:
    """An ICC v2 RGB display profile whose red and blue primaries are swapped: an image shown
    through it has its reds and blues exchanged."""

    def fixed(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))  # s15Fixed16Number

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + fixed(x) + fixed(y) + fixed(z)

    gamma = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2)
    tags = [
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),  # sRGB's blue (D50)
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    start = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for signature, data in tags:
        table += signature + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", start + len(body))
        + bytes(4)
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + xyz(0.9642, 1.0, 0.8249)[8:]
        + bytes(48)
    )
    return header + table + body


def test_an_icc_profile_is_not_applied(page: Page, site: Site) -> None:
    # Different pictures in red and blue: swapping them changes the luma's picture.
    red, blue = (np.asarray(gradient(300, 200, seed=seed))[..., 0] for seed in (1, 2))
    rgb = np.dstack([red, np.full_like(red, 128), blue])
    profile = swapped_primaries_profile()
    data = encode(Image.fromarray(rgb), "JPEG", quality=95, icc_profile=profile)
    expected = rempart_hash(data).pdq
    (answer,) = hash_files(page, site, {"tagged.jpg": data})
    assert distance(answer["hash"], expected) <= 2
    shown = page.evaluate("(url) => hashAsShown(url)", site.put("tagged.jpg", data))
    assert distance(shown["hash"], expected) > 31  # the browser honours the profile on screen


def test_refusals(page: Page, site: Site) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")  # the heif extra, which make test installs
    heic = io.BytesIO()
    pillow_heif.from_pillow(gradient(64, 64)).save(heic, quality=90)
    flat = encode(Image.new("RGB", (300, 200), (128, 128, 128)), "PNG")
    undecodable, plain = hash_files(page, site, {"photo.heic": heic.getvalue(), "flat.png": flat})
    assert undecodable["code"] == "undecodable"
    assert "rempart report" in undecodable["message"]
    assert plain["code"] == "low_quality"


def test_the_page_fills_the_form_with_hashes_only(page: Page, site: Site) -> None:
    photos = {
        "one.png": encode(gradient(120, 90, seed=1), "PNG"),
        "flat.png": encode(Image.new("RGB", (64, 64), 90), "PNG"),
        "two.jpg": encode(gradient(90, 120, seed=2), "JPEG"),
    }
    chosen: list[FilePayload] = [
        {"name": name, "mimeType": "", "buffer": data} for name, data in photos.items()
    ]
    page.set_input_files("#photos", files=chosen)
    page.wait_for_function(
        "() => { const text = document.getElementById('status').innerText;"
        " return text !== '' && !text.includes('working'); }"
    )
    assert page.locator("#status").inner_text().splitlines() == [
        "one.png: done",
        "flat.png: low quality",
        "two.jpg: done",
    ]
    fields = page.evaluate("() => [...new FormData(document.getElementById('report'))]")
    expected = [rempart_hash(photos[name]) for name in ("one.png", "two.jpg")]
    assert fields == [
        ["url", ""],
        ["pdq", expected[0].pdq],
        ["quality", str(expected[0].quality)],
        ["pdq", expected[1].pdq],
        ["quality", str(expected[1].quality)],
    ]
    assert page.evaluate("() => document.getElementById('photos').name") == ""
    assert page.evaluate("() => document.getElementById('photos').form") is None


def test_a_worker_that_does_not_load_leaves_no_photo_waiting(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.route("**/pdq.js", lambda route: route.fulfill(status=404))
    page.goto(site.url + "/pages/hash.html")
    photo: FilePayload = {
        "name": "one.png",
        "mimeType": "",
        "buffer": encode(gradient(64, 64, seed=3), "PNG"),
    }
    done = (
        "() => { const text = document.getElementById('status').innerText;"
        " return text !== '' && !text.includes('working'); }"
    )
    for _ in range(2):  # a second choice is answered too: a new worker is tried
        page.set_input_files("#photos", files=[])
        page.set_input_files("#photos", files=[photo])
        page.wait_for_function(done)
        status = page.locator("#status").inner_text().strip()
        assert status == "one.png: undecodable, use rempart report"
    fields = page.evaluate("() => [...new FormData(document.getElementById('report'))]")
    assert fields == [["url", ""]]
    page.context.close()
