"""Provenance: C2PA manifests, IPTC digital source types, generator metadata and Stable
Diffusion's invisible watermarks, as signals.

Signals (score 1 for what is declared; a watermark's score is its bit agreement):

- ``provenance.c2pa.manifest``: a manifest is present; ``value`` its validation state.
- ``provenance.c2pa.ai_generated``: the manifest declares a synthetic digital source type.
- ``provenance.c2pa.tampered``: the content or claim changed after signing.
- ``provenance.iptc.source_type`` and ``provenance.iptc.ai_generated``: the same, from XMP.
- ``provenance.generator``: a generator's metadata; ``value`` the generator, the prompt in
  ``evidence``.
- ``provenance.watermark.sd``: a Stable Diffusion watermark; ``value`` which one.
- ``provenance.<part>.error``: that part of the metadata is there but unreadable
  (``provenance.container.error``: a video's container could not be opened again).

A video's container (``detect_video``) gives the C2PA and generator signals, from an MP4's or
AVI's manifest and the container's metadata tags.

None of these, absent, says an image is real: metadata is stripped by any re-encode and the
watermark by any resize.

The watermark is read from the image's top rows at full resolution (``WATERMARK_BAND_PIXELS``
of them, ``Media.decode_band``), which carry the whole message; the detector reads none of the
run's shared pixels (``max_side`` 0), so it never makes a run decode images at full size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

from rempart.detectors.picture import Picture
from rempart.detectors.protocol import error_signal
from rempart.errors import C2paError, MediaError, import_extra
from rempart.media import Media, exif_tags
from rempart.provenance.c2pa import read_c2pa
from rempart.provenance.generators import read_generator_metadata
from rempart.provenance.iptc import SYNTHETIC_SOURCE_TYPES, digital_source_types
from rempart.provenance.watermark import WatermarkReading, read_watermarks
from rempart.signals import Signal
from rempart.video import Video, container_tags

__all__ = ["WATERMARK_BAND_PIXELS", "ProvenanceDetector", "read_band_watermarks"]

WATERMARK_BAND_PIXELS: Final = 512 * 512
"""Pixels of the top band the watermark is read from (``Media.decode_band``). A 512 x 512
output, the smallest the reference pipelines write, is read whole; a larger one from about as
many 8 x 8 blocks (4,096: 30 votes for each bit of the 136-bit message). That finds marks
after a quality-95 JPEG from 512 to 4000 pixels a side, where a quarter of it missed a
1216 x 832 one; ``benchmarks/watermark_fpr.py`` measures both error rates this way."""

_NAME: Final = "provenance"


class ProvenanceDetector:
    """Everything an image declares, or hides in its pixels, about being generated."""

    name = _NAME
    max_side = 0  # reads no shared pixels: the watermark's band is decoded on its own

    @property
    def version(self) -> str:
        """c2pa-python's version, and this module's readers."""
        c2pa = import_extra("c2pa", extra="provenance", detector=_NAME)
        return f"c2pa-python-{c2pa.__version__}+iptc+generators+dwtdct-band-2"

    def detect(self, pictures: Sequence[Picture]) -> list[list[Signal]]:
        """Read every picture's metadata and watermark."""
        version = self.version
        return [self._signals(picture, version) for picture in pictures]

    def _signals(self, picture: Picture, version: str) -> list[Signal]:
        return [
            *self._c2pa(picture.media.data, picture.media.format, version),
            *self._iptc(picture, version),
            *self._generators(picture, version),
            *self._watermark(picture, version),
        ]

    def detect_video(self, video: Video) -> list[Signal]:
        """A video's container: its C2PA manifest (MP4 and AVI), and generator metadata in its
        tags (read as an image's text chunks are: a generator that writes its prompt or
        workflow under the keys it uses in PNG is found). Its frames carry no EXIF or XMP
        here, and Stable Diffusion's watermark is an image's, so neither is read."""
        version = self.version
        try:
            tags = container_tags(video)
        except MediaError as exc:
            return [_error("provenance.container", version, "container_unreadable", exc.message)]
        with _opened_source(video.source) as source:
            signals = self._c2pa(source, video.format, version)
        # Matroska stores tag names upper-case; generators' keys are read as PNG has them.
        text = {**{key.lower(): value for key, value in tags.items()}, **tags}
        return [*signals, *self._generator_signals(text, None, version)]

    def _c2pa(self, data: bytes | IO[bytes], media_format: str, version: str) -> list[Signal]:
        try:
            report = read_c2pa(data, media_format)
        except C2paError as exc:
            return [_error("provenance.c2pa", version, "c2pa_unreadable", str(exc))]
        if report is None:
            return []
        evidence = {
            "claim_generator": report.claim_generator,
            "validation_state": report.validation_state,
            "failure_codes": report.failure_codes,
        }
        signals = [
            _declared(
                "provenance.c2pa.manifest",
                version,
                value=report.validation_state,
                evidence={**evidence, "source_types": report.source_types},
            )
        ]
        signals += [
            _declared("provenance.c2pa.ai_generated", version, value=term, evidence=evidence)
            for term in report.source_types
            if term in SYNTHETIC_SOURCE_TYPES
        ]
        if report.tamper_codes:
            signals.append(
                _declared(
                    "provenance.c2pa.tampered",
                    version,
                    value=report.tamper_codes[0],
                    evidence=evidence,
                )
            )
        return signals

    def _iptc(self, picture: Picture, version: str) -> list[Signal]:
        xmp = picture.media.metadata.xmp
        terms = digital_source_types(xmp) if xmp else []
        signals = [_declared("provenance.iptc.source_type", version, value=term) for term in terms]
        signals += [
            _declared("provenance.iptc.ai_generated", version, value=term)
            for term in terms
            if term in SYNTHETIC_SOURCE_TYPES
        ]
        return signals

    def _generators(self, picture: Picture, version: str) -> list[Signal]:
        signals: list[Signal] = []
        exif = None
        if picture.media.metadata.exif:
            try:
                exif = exif_tags(picture.media.metadata.exif)
            except MediaError as exc:
                signals.append(_error("provenance.exif", version, "exif_unreadable", exc.message))
        return signals + self._generator_signals(picture.media.metadata.text, exif, version)

    def _generator_signals(
        self, text: Mapping[str, str], exif: Mapping[int, object] | None, version: str
    ) -> list[Signal]:
        """Generator metadata in text chunks (or a video's tags) and EXIF, as signals."""
        found, problems = read_generator_metadata(text, exif)
        signals = [
            _declared(
                "provenance.generator", version, value=item.generator, evidence=item.evidence()
            )
            for item in found
        ]
        signals += [
            _error("provenance.generator", version, "generator_metadata_unreadable", problem)
            for problem in problems
        ]
        return signals

    def _watermark(self, picture: Picture, version: str) -> list[Signal]:
        try:
            readings = read_band_watermarks(picture.media)
        except MediaError as exc:
            return [_error("provenance.watermark", version, "undecodable", exc.message)]
        return [
            _declared(
                "provenance.watermark.sd",
                version,
                score=reading.agreement,
                value=reading.mark,
                evidence={
                    "agreement": round(reading.agreement, 4),
                    "channel_order": reading.channel_order,
                    "depth": reading.depth,
                },
            )
            for reading in readings
            if reading.found
        ]


def read_band_watermarks(media: Media) -> list[WatermarkReading]:
    """Every known mark read from the top ``WATERMARK_BAND_PIXELS`` of ``media`` as stored
    (what the detector reports from); raises ``MediaError`` when they cannot be decoded."""
    band = media.decode_band(WATERMARK_BAND_PIXELS)
    rgb = np.asarray(band if band.mode == "RGB" else band.convert("RGB"))
    # MIN_SIDE applies to the whole image; its shorter side is the same upright or as stored.
    return read_watermarks(rgb, image_size=(media.width, media.height))


@contextmanager
def _opened_source(source: bytes | Path) -> Iterator[bytes | IO[bytes]]:
    """A video's bytes, or its file open for reading; an unreadable file gives no manifest
    (the container was just read, so it is gone or moved: nothing to report on)."""
    if isinstance(source, bytes):
        yield source
        return
    try:
        stream = source.open("rb")
    except OSError:
        yield b""
        return
    with stream:
        yield stream


def _declared(
    name: str,
    version: str,
    *,
    value: str,
    evidence: Mapping[str, Any] | None = None,
    score: float = 1.0,
) -> Signal:
    return Signal(name, score, _NAME, version, value=value, evidence=evidence or {})


def _error(prefix: str, version: str, code: str, message: str) -> Signal:
    return error_signal(prefix, detector=_NAME, version=version, code=code, message=message)
