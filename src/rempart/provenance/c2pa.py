"""C2PA manifests, read with c2pa-python (the Content Authenticity Initiative's c2pa-rs).

Remote manifests are never fetched (``verify.remote_manifest_fetch`` off) and neither is OCSP:
reading an upload must not make Rempart call an address the uploader chose. What is reported:
the active manifest's validation state, its claim generator, every ``digitalSourceType`` its
actions declare, and whether a validation code says the content changed after signing.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass, field
from typing import IO, Any, Final

from rempart.errors import C2paError, import_extra
from rempart.provenance.iptc import source_type

__all__ = ["TAMPER_CODES", "C2paError", "C2paReport", "read_c2pa"]

MIME_TYPES: Final = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "avif": "image/avif",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "avi": "video/avi",
}
"""Rempart's image and video formats that can carry a C2PA manifest (BMP and Matroska
cannot)."""

TAMPER_CODES: Final = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
        "assertion.hashedURI.mismatch",
        "claimSignature.mismatch",
    }
)
"""C2PA validation codes (C2PA 2.1, section 15) meaning the asset or the claim changed after
it was signed."""

_SETTINGS: Final = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


@dataclass(frozen=True, slots=True)
class C2paReport:
    """What an image's active C2PA manifest says.

    Attributes:
        validation_state: c2pa-rs's verdict: ``Invalid``, ``Valid`` (intact, signer not on a
            trust list) or ``Trusted``.
        claim_generator: the software that made the claim.
        source_types: the IPTC digital source types its actions declare (bare terms).
        failure_codes: validation codes reporting a failure, in order.
    """

    validation_state: str
    claim_generator: str | None
    source_types: list[str] = field(default_factory=list)
    failure_codes: list[str] = field(default_factory=list)

    @property
    def tamper_codes(self) -> list[str]:
        """The failure codes saying the content or the claim changed after signing (none when
        it is intact)."""
        return [code for code in self.failure_codes if code in TAMPER_CODES]


def read_c2pa(data: bytes | IO[bytes], media_format: str) -> C2paReport | None:
    """The active manifest's report, None when the image or video carries none; ``C2paError``
    when one is there but unreadable. ``data``: the bytes, or a file open for reading (a
    video is never read whole into memory for this)."""
    mime = MIME_TYPES.get(media_format)
    if mime is None:
        return None
    c2pa = import_extra("c2pa", extra="provenance", detector="provenance")
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        reader = c2pa.Reader.try_create(mime, stream, context=_context())
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state() or "Unknown"
    except c2pa.C2paError as exc:
        raise C2paError(f"the C2PA manifest is unreadable: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise C2paError(f"the C2PA manifest is malformed: {exc}") from exc
    return _report(store, str(state))


@functools.cache
def _context() -> Any:
    c2pa = import_extra("c2pa", extra="provenance", detector="provenance")
    return c2pa.Context.from_dict(_SETTINGS)


def _report(store: dict[str, Any], state: str) -> C2paReport:
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest")) or {}
    source_types: list[str] = []
    for assertion in active.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            declared = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(declared, str) and source_type(declared) not in source_types:
                source_types.append(source_type(declared))
    failures = [
        str(status.get("code"))
        for status in store.get("validation_status") or []
        if isinstance(status, dict) and status.get("code")
    ]
    generator = active.get("claim_generator")
    if not generator and active.get("claim_generator_info"):
        generator = " ".join(
            f"{info.get('name', '')}/{info.get('version', '')}".strip("/")
            for info in active["claim_generator_info"]
            if isinstance(info, dict)
        )
    return C2paReport(
        validation_state=state,
        claim_generator=str(generator) if generator else None,
        source_types=source_types,
        failure_codes=failures,
    )
