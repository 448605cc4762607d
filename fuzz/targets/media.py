"""Fuzz target: an image's bytes as every command and endpoint reads them.

``load_bytes`` (format, header, limits, metadata), then the first frame decoded in full and
reduced to luma, its top band (``decode_band``: a JPEG's frame header rewritten, a PNG's
decoder stopped early) at 8 rows and as the watermark reader takes it, every frame, and the
metadata the provenance detector parses (EXIF tags, generator text chunks, XMP). Only
``RempartError`` may escape any of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from rempart.detectors.provenance import read_band_watermarks
from rempart.errors import RempartError
from rempart.media import Media, MediaLimits, exif_tags, load_bytes
from rempart.provenance.generators import read_generator_metadata
from rempart.provenance.iptc import digital_source_types

# Small limits: a fuzzer's inputs are small, and a large decode only slows the search.
LIMITS = MediaLimits(max_bytes=1 << 20, max_pixels=1_000_000, max_frames=16)


def fuzz_one(data: bytes) -> None:
    """Load, decode and read the metadata of ``data``."""
    try:
        media = load_bytes(data, limits=LIMITS)
    except RempartError:
        return
    steps: list[Callable[[], object]] = [
        media.decode,
        lambda: media.decode(min_side=8, luma_only=True),
        lambda: media.decode_band(1),  # 8 rows: any frame taller stops early
        lambda: read_band_watermarks(media),
        lambda: list(media.frames()),
        lambda: _metadata(media),
    ]
    for step in steps:
        with contextlib.suppress(RempartError):  # expected: the step refused the input
            step()


def _metadata(media: Media) -> None:
    exif = exif_tags(media.metadata.exif) if media.metadata.exif else None
    read_generator_metadata(media.metadata.text, exif)
    if media.metadata.xmp:
        digital_source_types(media.metadata.xmp)
