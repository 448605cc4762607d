"""IPTC ``DigitalSourceType`` declared in an image's XMP packet.

The IPTC Photo Metadata Standard's ``Iptc4xmpExt:DigitalSourceType`` holds a term of the IPTC
Digital Source Type vocabulary (``http://cv.iptc.org/newscodes/digitalsourcetype/``), written
as an attribute or as an element, often with a ``rdf:resource``. The packet is searched as
text, never handed to an XML parser: an XMP packet is attacker-controlled and an entity bomb
is cheap.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["AI_SOURCE_TYPES", "SYNTHETIC_SOURCE_TYPES", "digital_source_types", "source_type"]

VOCABULARY: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/"

AI_SOURCE_TYPES: Final = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"}
)
"""Terms that declare generative AI made or changed the image."""

SYNTHETIC_SOURCE_TYPES: Final = AI_SOURCE_TYPES | {"algorithmicMedia", "compositeSynthetic"}
"""Terms that declare the image, or part of it, was synthesised rather than captured."""

_TERM: Final = re.compile(
    # An element <ns:DigitalSourceType>term</...> (perhaps wrapping an rdf: element), an element
    # with rdf:resource="term", or an attribute ns:DigitalSourceType="term"; never a closing tag.
    rb"(?:<(?:[\w-]+:)?DigitalSourceType"
    rb"(?:\s*>\s*(?:<rdf:[^>]{0,200}?(?:resource\s*=\s*[\"'])?)?|\s+rdf:resource\s*=\s*[\"'])"
    rb"|[\s\"'](?:[\w-]+:)?DigitalSourceType\s*=\s*[\"'])\s*"
    rb"(?:https?://cv\.iptc\.org/newscodes/digitalsourcetype/)?([A-Za-z]{3,64})",
    re.IGNORECASE,
)
_MAX_PACKET: Final = 4 * 1024 * 1024


def digital_source_types(xmp: bytes) -> list[str]:
    """Every ``DigitalSourceType`` term the packet declares, in order, without repeats."""
    found: list[str] = []
    for match in _TERM.finditer(xmp[:_MAX_PACKET]):
        term = match.group(1).decode("ascii")
        if term not in found:
            found.append(term)
    return found


def source_type(value: str) -> str:
    """The bare term of a Digital Source Type URI (C2PA writes the full URI)."""
    return value.removeprefix(VOCABULARY).rsplit("/", 1)[-1]
