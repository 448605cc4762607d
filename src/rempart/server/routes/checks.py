"""The checks a platform or generator makes: hash, match, scan, and the generation gate.

Every check that matches images or hashes hands its matches to the desk's watch, with the key
that asked: a copy of a reported image found anywhere shows on the victim's case."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from itertools import chain
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from rempart.detectors.banks import bank_matches
from rempart.gate import FIELDS, MAX_INPUTS, ImageEncoding, parse_gate_request
from rempart.gate.request import read_json
from rempart.hashing import FileHashes, VideoHashes, file_digests, hash_media, hash_video, pack
from rempart.hashing.vpdq import VpdqFeature
from rempart.matching.banks import (
    BankMatch,
    ImageMatch,
    VideoMatches,
    features_from_pytx,
    match_images,
    video_features,
)
from rempart.media import load_bytes
from rempart.policy import Verdict
from rempart.scan import VideoResult
from rempart.server import metrics
from rempart.server.auth import Permission, require
from rempart.server.problems import Problem, invalid_request
from rempart.server.routes.common import (
    IMAGE_BODY,
    MEDIA_BODY,
    VIDEO_BODY,
    audit,
    decoding,
    is_json,
    media_type,
    read_image,
    read_media,
    read_video,
    runtime,
    services,
)
from rempart.video import load_bytes as load_video
from rempart.walk import looks_like_video

router = APIRouter(prefix="/v1", tags=["checks"])

MAX_QUERIES: Final = 1000
MAX_VIDEO_FRAMES: Final = 20_000
"""The most frames a JSON body of vPDQ features may give: 5.5 hours at one frame a second,
about 1.7 MB of JSON, within the server's limit on a JSON body (2 MiB)."""


def _hash_upload(request: Request, data: bytes, dihedral: bool) -> FileHashes:
    limits = runtime(request).settings.media
    return hash_media(load_bytes(data, limits=limits), path="", dihedral=dihedral)


def _hash_image_or_video(request: Request, data: bytes, dihedral: bool) -> FileHashes | VideoHashes:
    """An upload's hashes: vPDQ and digests for a video (told by its first bytes), else the
    image's (``dihedral`` applies to images only)."""
    if looks_like_video(data[:16]):
        limits = runtime(request).settings.video
        return hash_video(load_video(data, limits=limits), path="")
    return _hash_upload(request, data, dihedral)


def _without_path(record: dict[str, Any]) -> dict[str, Any]:
    record.pop("path", None)
    return record


@router.post(
    "/hash",
    summary="Hash an image (PDQ with quality, SHA-256, MD5) or a video (vPDQ, SHA-256, MD5)",
    dependencies=[Depends(require(Permission.HASH))],
    openapi_extra=MEDIA_BODY,
)
async def hash_image(request: Request, dihedral: bool = False) -> JSONResponse:
    """An image: ``{"sha256", "md5", "pdq", "quality"}``, and with ``dihedral=true`` the 8 PDQ
    hashes of its rotations and flips. A video: ``{"kind": "video", "sha256", "md5",
    "duration", "frame_rate", "width", "height", "vpdq": [{"frame_number", "quality", "hash",
    "timestamp"}]}``, one PDQ hash a second. Only the hashes are kept, in the audit log."""
    data = await read_media(request)
    async with decoding(request, [data]):
        hashes = await run_in_threadpool(_hash_image_or_video, request, data, dihedral)
    audit(request, outcome="hashed", detail={"sha256": hashes.sha256})
    return JSONResponse(_without_path(hashes.to_json()))


class MatchRequest(BaseModel):
    """Hashes to look up: plain PDQ hashes, or sets of 8 (an image's rotations and flips,
    as ``/v1/hash?dihedral=true`` and ``rempart hash --dihedral`` give them), and files' MD5
    and SHA-256 hex digests (looked up in the banks' exact entries); at most
    ``MAX_QUERIES`` in all, a set counting as one."""

    hashes: list[str] = Field(default_factory=list, max_length=MAX_QUERIES)
    dihedral: list[Annotated[list[str], Field(min_length=8, max_length=8)]] = Field(
        default_factory=list, max_length=MAX_QUERIES
    )
    md5: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")]] = Field(
        default_factory=list, max_length=MAX_QUERIES
    )
    sha256: list[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]] = Field(
        default_factory=list, max_length=MAX_QUERIES
    )

    @model_validator(mode="after")
    def _at_most_max_queries(self) -> MatchRequest:
        asked = len(self.hashes) + len(self.dihedral) + len(self.md5) + len(self.sha256)
        if asked > MAX_QUERIES:
            raise ValueError(f"at most {MAX_QUERIES} hashes, dihedral sets and digests in all")
        return self


@router.post(
    "/match",
    summary="Match PDQ hashes against the banks",
    dependencies=[Depends(require(Permission.MATCH))],
)
async def match_hashes(request: Request, body: MatchRequest) -> JSONResponse:
    """``{"results": [{"hash", "matches": [{"bank", "entry_id", "hash", "distance"}]}]}``, one
    result per hash asked, in order; for ``dihedral`` sets, ``hash`` is the first of the 8
    and each match says which ``variant`` it matched. Then one per ``md5`` and ``sha256``
    digest, ``{"hash", "kind": "md5"|"sha256", "matches"}``, its matches the exact entries
    holding it (distance 0)."""
    found_services = services(request)
    matcher = runtime(request).require_matcher()
    results: list[dict[str, Any]] = []
    if body.hashes:
        found = await found_services.batcher.match(_packed(body.hashes, "hashes"))
        _watched(request, chain.from_iterable(found))
        results += [_result(h, m, variant=False) for h, m in zip(body.hashes, found, strict=True)]
    if body.dihedral:
        flat = [h for variants in body.dihedral for h in variants]
        queries = _packed(flat, "dihedral").reshape(len(body.dihedral), 8, 4)
        # Up to 8,000 hashes: too long a search to hold the event loop for.
        found = await run_in_threadpool(matcher.match_dihedral, queries)
        _watched(request, chain.from_iterable(found))
        results += [
            _result(v[0], m, variant=True) for v, m in zip(body.dihedral, found, strict=True)
        ]
    for kind, digests in (("md5", body.md5), ("sha256", body.sha256)):
        exact = [matcher.match_digest(kind, digest) for digest in digests]  # dict lookups
        _watched(request, chain.from_iterable(exact))
        results += [
            {**_result(d, m, variant=False), "kind": kind}
            for d, m in zip(digests, exact, strict=True)
        ]
    matched = sum(bool(result["matches"]) for result in results)
    audit(request, outcome=f"{matched} of {len(results)} matched")
    return JSONResponse({"results": results})


def _watched(request: Request, matches: Iterable[BankMatch]) -> None:
    """Hand ``matches`` to the desk's watch, made for the request's key."""
    key = getattr(request.state, "key", None)
    runtime(request).watch.observe(matches, key_id=key.key_id if key is not None else None)


def _packed(hashes: list[str], field: str) -> Any:
    try:
        return pack(hashes)
    except ValueError as exc:
        raise Problem("invalid-request", f"{field}: {exc}") from None


def _result(query: str, matches: list[BankMatch], *, variant: bool) -> dict[str, Any]:
    return {"hash": query.lower(), "matches": [m.to_json(variant=variant) for m in matches]}


@router.post(
    "/match/image",
    summary="Hash an image and match it against the banks",
    dependencies=[Depends(require(Permission.MATCH))],
    openapi_extra=IMAGE_BODY,
)
async def match_image(request: Request, dihedral: bool = False) -> JSONResponse:
    """``{"sha256", "pdq", "quality", "matches"}`` (``"skipped": "low_quality"`` for an image
    too featureless to match); ``dihedral=true`` also matches its rotations and flips."""
    matcher = runtime(request).require_matcher()
    data = await read_image(request)

    def hash_and_match() -> ImageMatch:
        (found,) = match_images(matcher, [_hash_upload(request, data, dihedral)])
        return found

    async with decoding(request, [data]):
        found = await run_in_threadpool(hash_and_match)
    _watched(request, found.matches)
    audit(
        request,
        outcome="matched" if found.matches else "no match",
        detail={"sha256": found.hashes.sha256, "matches": len(found.matches)},
    )
    return JSONResponse(_without_path(found.to_json()))


class VideoMatchRequest(BaseModel):
    """A video's vPDQ features instead of its bytes, as python-threatexchange serialises them
    (a list of ``"<hash>,<quality>,<timestamp>"``, as ``rempart bank export`` writes a
    ``vpdq`` line), and optionally those of its frames mirrored left to right."""

    vpdq: list[Any] = Field(min_length=1, max_length=MAX_VIDEO_FRAMES)
    mirrored: list[Any] | None = Field(default=None, min_length=1, max_length=MAX_VIDEO_FRAMES)


# A video's bytes, or its features as JSON (``VideoMatchRequest``).
_VIDEO_OR_FEATURES: Final[dict[str, Any]] = {
    "requestBody": {
        **VIDEO_BODY["requestBody"],
        "content": {
            **VIDEO_BODY["requestBody"]["content"],
            "application/json": {"schema": VideoMatchRequest.model_json_schema()},
        },
    }
}


@router.post(
    "/match/video",
    summary="Hash a video (vPDQ) and match it against the banks' videos and images",
    dependencies=[Depends(require(Permission.MATCH))],
    openapi_extra=_VIDEO_OR_FEATURES,
)
async def match_video(request: Request, dihedral: bool = False) -> JSONResponse:
    """``{"sha256", "frames", "matches"}``: the banked videos it matches, each with its
    ``query_percent``, ``stored_percent`` and matched ``timestamps`` (vPDQ, each bank's
    thresholds), the banked images found in its frames, with their ``timestamps``, and the
    exact entries its file's MD5 or SHA-256 matches (``"kind": "md5"``, of an upload only);
    ``dihedral=true`` also matches its frames mirrored. A JSON body (``VideoMatchRequest``)
    gives the features instead of the video."""
    matcher = runtime(request).require_matcher()
    if is_json(media_type(request)):
        body = _video_request(await request.body())
        plain, flipped = _features(body.vpdq, "vpdq"), None
        if body.mirrored is not None:
            flipped = _features(body.mirrored, "mirrored")
        # Up to 20,000 frames each way against every candidate: not on the event loop.
        found = await run_in_threadpool(matcher.match_video, plain, mirrored=flipped)
        record: dict[str, Any] = {"frames": len(plain)}
    else:
        data = await read_video(request)
        limits = runtime(request).settings.video

        def hash_and_match() -> tuple[int, VideoMatches, str]:
            features, mirror = video_features(load_video(data, limits=limits), mirrored=dihedral)
            found = matcher.match_video(features, mirrored=mirror)
            sha256, md5 = file_digests(data)
            exact = matcher.match_file_digests(md5, sha256)
            return len(features), replace(found, exact=exact), sha256

        async with decoding(request, [data]):
            frames, found, sha256 = await run_in_threadpool(hash_and_match)
        record = {"sha256": sha256, "frames": frames}
    _watched(request, found.bank_matches)
    matches = found.to_json()
    audit(
        request,
        outcome="matched" if matches else "no match",
        detail={**record, "matches": len(matches)},
    )
    return JSONResponse({**record, "matches": matches})


def _video_request(data: bytes) -> VideoMatchRequest:
    try:
        return VideoMatchRequest.model_validate(read_json(data))
    except ValidationError as exc:
        raise invalid_request(exc.errors()) from None


def _features(value: list[Any], field: str) -> list[VpdqFeature]:
    try:
        return features_from_pytx(value)
    except ValueError as exc:
        raise Problem("invalid-request", f"{field}: {exc}") from None


@router.post(
    "/scan",
    summary="Judge an image or a video: hashes, bank matches, every detector, a verdict",
    dependencies=[Depends(require(Permission.SCAN))],
    openapi_extra=MEDIA_BODY,
)
async def scan_image(request: Request) -> JSONResponse:
    """``{"sha256", "md5", "pdq", "quality", "width", "height", "verdict", "signals"}``, as
    ``rempart scan`` writes each image, under the server's policy (``REMPART_POLICY``); for a
    video (told by its first bytes), ``{"kind": "video", "sha256", "md5", "width", "height",
    "duration", "frames", "flagged_at", "verdict", "signals"}``, a frame a second screened
    and each signal naming its frames' ``timestamps``."""
    found = runtime(request)
    found.require_matcher()
    data = await read_media(request)
    # In the pool: the first scan builds the scanner, which loads the models. A video is
    # charged the frames its decode holds, and screened a frame at a time (``scan_bytes``).
    async with decoding(request, [data]):
        result = await run_in_threadpool(lambda: found.scanner.scan_bytes(data, name="upload"))
    _watched(request, bank_matches(result.signals))
    sha256 = result.sha256 if isinstance(result, VideoResult) else result.hashes.sha256
    _judged(request, "scan", result.verdict, {"sha256": sha256})
    return JSONResponse(_without_path(result.to_json()))


GATE_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "prompt": {"type": "string", "description": FIELDS["prompt"]},
                        "negative_prompt": {
                            "type": ["string", "null"],
                            "description": FIELDS["negative_prompt"],
                        },
                        "inputs": {
                            "type": "array",
                            "maxItems": MAX_INPUTS,
                            "items": {"type": "string", "format": "byte"},
                            "description": FIELDS["inputs"] + " (base64 of each image's bytes)",
                        },
                        "output": {
                            "type": ["string", "null"],
                            "format": "byte",
                            "description": FIELDS["output"] + " (base64)",
                        },
                        "person_photo": {"type": "boolean", "description": FIELDS["person_photo"]},
                        "id": {"description": FIELDS["id"]},
                    },
                }
            }
        },
    }
}
"""The body ``parse_gate_request`` reads, as OpenAPI describes it."""


async def _gate(request: Request) -> JSONResponse:
    """The verdict: ``{"action", "categories", "reasons", "policy"}``, each reason with the
    signals behind it (for the prompt, the text matched and how it was read)."""
    sent = media_type(request)
    if not is_json(sent):
        raise Problem(
            "unsupported-media-type", f"send the request as application/json (got {sent!r})"
        )
    data = read_json(await request.body())
    gate_request = parse_gate_request(data, images=ImageEncoding.BASE64)
    found = runtime(request)
    if gate_request.images:
        found.require_matcher()
    images = (*gate_request.inputs, gate_request.output)
    async with decoding(request, [image for image in images if isinstance(image, bytes)]):
        verdict = await run_in_threadpool(found.gate.check_request, gate_request)
    _watched(request, bank_matches(s for reason in verdict.reasons for s in reason.signals))
    _judged(request, "gate", verdict, {"images": gate_request.images})
    return JSONResponse(verdict.to_json())


_GATE_ROUTE: Final[dict[str, Any]] = {
    "summary": "The generation gate: judge a prompt, its input photos and its output",
    "dependencies": [Depends(require(Permission.GATE))],
    "openapi_extra": GATE_BODY,
}
router.add_api_route("/gate", _gate, methods=["POST"], **_GATE_ROUTE)
# The old path, kept for clients written against it.
router.add_api_route("/guard", _gate, methods=["POST"], include_in_schema=False, **_GATE_ROUTE)


def _judged(request: Request, endpoint: str, verdict: Verdict, detail: dict[str, Any]) -> None:
    """Count the verdict and note it, with its categories and rules, for the audit log."""
    metrics.VERDICTS.labels(endpoint, verdict.action.value).inc()
    audit(
        request,
        outcome=verdict.action.value,
        detail={
            **detail,
            "categories": [category.name for category in verdict.categories],
            "rules": [reason.rule for reason in verdict.reasons],
        },
    )
