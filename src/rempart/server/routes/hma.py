"""HMA 2.x compatibility (``rempart serve --hma-compat``): the paths, parameter names and
response shapes of Meta's Hasher-Matcher-Actioner (OpenMediaMatch), answered by Rempart's own
banks, match index and hashing, behind Rempart's API keys and roles.

An HMA client changes only its base URL and its key (a Rempart key, sent as HMA deployments
send theirs: ``Authorization: Bearer <key>``). What Rempart does not do answers 501 with HMA's
error shape, ``{"message": ...}``, saying why and what to use instead; docs/hma.md maps every
endpoint. Facts about HMA's API (paths, names, shapes) come from facebook/ThreatExchange,
hasher-matcher-actioner/src/OpenMediaMatch/blueprints (matching.py, hashing.py, curation.py)
and schemas/curation.py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from rempart.errors import BankError, MalformedBodyError, RempartError
from rempart.gate.request import read_json
from rempart.hashing import FileHashes, hash_media, pack
from rempart.hashing.files import file_digests
from rempart.matching.banks import Bank, BankMatch, match_images
from rempart.matching.banks.formats import (
    IMAGE,
    MD5,
    PYTX_KINDS,
    SHA256,
    ExportRow,
    check_digest,
)
from rempart.media import load_bytes
from rempart.server.auth import Permission, require
from rempart.server.middleware import problem_answer
from rempart.server.problems import Problem, error_problem
from rempart.server.routes.common import audit, decoding, media_type, runtime, services

__all__ = ["HMA_PATHS", "FormFile", "read_form_file", "router"]

HMA_PATHS: Final = ("/m/", "/h/", "/c/")
"""The path prefixes HMA's API lives under: matching, hashing, curation."""

PDQ: Final = "pdq"
SIGNAL_TYPES: Final = (PDQ, "video_md5", "video_sha256")
"""The signal types this server looks up, as HMA names them: PDQ hashes and exact digests."""
# HMA's content types (the multipart field name of an upload).
PHOTO: Final = "photo"
VIDEO: Final = "video"
_NO_FETCH: Final = (
    "Rempart's server fetches no URL given by a client (it would reach whatever address the "
    "URL names); upload the file instead: POST it as multipart/form-data with the field "
    "named 'photo' or 'video'"
)
HMA_DELETED: Final = "hma: deleted"
"""The reason an entry deleted through HMA's API is withdrawn with (and the one reason an
HMA add reinstates)."""
MAX_CONTENT_ID: Final = 2**63 - 1
"""The largest content id (a bank entry's id, a 64-bit signed integer in the database)."""
MAX_FORM_PARTS: Final = 64
"""Parts an upload may hold: HMA's has one file (and perhaps a few plain fields)."""
_MAX_BOUNDARY: Final = 70  # RFC 2046's longest boundary
_MAX_PART_HEAD: Final = 16 * 1024  # bytes of one part's headers
_EXCHANGES: Final = (
    "exchanges are configured and fetched with the CLI, not this API: rempart exchange "
    "add NAME --type {stopncii,ncmec,threatexchange,tat} ..., rempart exchange fetch, "
    "rempart exchange status (see docs/exchanges.md and docs/hma.md)"
)


class HmaError(HTTPException):
    """An answer in HMA's error shape, ``{"message": ...}``, with its status."""


def _not_implemented(reason: str) -> HmaError:
    return HmaError(501, f"not supported by Rempart: {reason}")


def _bad(reason: str) -> HmaError:
    return HmaError(400, reason)


class _HmaRoute(APIRoute):
    """Every error of an HMA route carries HMA's ``message``: an HMA answer is
    ``{"message": ...}`` alone; one of Rempart's problems (a role refused, an index still
    loading) stays a problem document, with ``message`` added (``problem_answer``, which also
    writes the middlewares' refusals of HMA paths: no key, a rate limit, a body too large), so
    that clients of either API read it. The status and headers (Retry-After) stay."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HmaError as exc:
                return JSONResponse(
                    {"message": exc.detail}, status_code=exc.status_code, headers=exc.headers
                )
            except Problem as exc:
                return problem_answer(request.scope, exc)
            except RempartError as exc:
                return problem_answer(request.scope, error_problem(exc))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
                where = ".".join(str(part) for part in first["loc"])
                return JSONResponse({"message": f"{where}: {first['msg']}"}, status_code=400)

        return handle


router = APIRouter(tags=["hma"], route_class=_HmaRoute)


# ---- what several endpoints share ----


def _flag(value: str | None, name: str, default: bool = False) -> bool:
    """HMA's booleans: true/1 or false/0."""
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise _bad(f"invalid boolean parameter {name} - prefer true/false")


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise _bad(f"{name} is required")
    return value


def _bank_names(value: str | None) -> set[str] | None:
    """The ``banks`` parameter: comma-separated names to restrict to; None: all."""
    return {name for name in value.split(",") if name} if value else None


def _signal_type(name: str) -> str:
    """``pdq``, or the digest algorithm (``md5``, ``sha256``) of the exact entries an HMA
    signal type is held as (``PYTX_KINDS``); 400 or 501 otherwise."""
    kind = PYTX_KINDS.get(name)
    if kind is not None:
        return PDQ if kind == IMAGE else kind
    if name in ("vpdq", "tmk"):
        raise _not_implemented(
            f"a lone {name} signal cannot be looked up; upload the video to /v1/match/video"
        )
    raise _bad(f"No such SignalType '{name}'")


def _digest(value: str, algorithm: str) -> str:
    """``value`` as an exact entry holds it (``check_digest``); 400 when it is no digest."""
    try:
        return check_digest(algorithm, value)
    except BankError as exc:
        raise _bad(f"invalid signal: {exc}") from None


async def _lookup(request: Request, signal: str, signal_type: str) -> list[BankMatch]:
    """The bank entries ``signal`` matches, as ``/v1/match`` finds them (PDQ through the
    batcher, each bank's threshold), handed to the desk's watch."""
    found_services = services(request)
    matcher = found_services.runtime.require_matcher()
    kind = _signal_type(signal_type)
    if kind == PDQ:
        try:
            packed = pack([signal.strip()])
        except ValueError as exc:
            raise _bad(f"invalid signal: {exc}") from None
        (matches,) = await found_services.batcher.match(packed)
    else:
        matches = matcher.match_digest(kind, _digest(signal, kind))
    _watched(request, matches)
    return matches


def _watched(request: Request, matches: Iterable[BankMatch]) -> None:
    """Hand ``matches`` to the desk's watch, as every /v1 check does."""
    key = getattr(request.state, "key", None)
    runtime(request).watch.observe(matches, key_id=key.key_id if key is not None else None)


def _in_banks(matches: Sequence[BankMatch], wanted: set[str] | None) -> list[BankMatch]:
    return [m for m in matches if wanted is None or m.bank in wanted]


def _by_bank(matches: Sequence[BankMatch]) -> dict[str, list[dict[str, Any]]]:
    """HMA's lookup shape: ``{bank: [{"bank_content_id", "distance"}]}``; HMA gives the
    distance as text (its similarity info's ``pretty_str``)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        grouped.setdefault(match.bank, []).append(_content_match(match))
    return grouped


def _content_match(match: BankMatch) -> dict[str, Any]:
    return {"bank_content_id": match.entry_id, "distance": str(match.distance)}


def _bank_json(bank: Bank) -> dict[str, Any]:
    """HMA's BankConfig: ``{"name", "matching_enabled_ratio"}``; a Rempart bank is on or
    off, so the ratio is 1.0 or 0.0."""
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def _enabled(body: dict[str, Any]) -> bool | None:
    """``enabled_ratio`` (0 or 1) or ``enabled`` of an HMA bank body; None when neither."""
    ratio = body.get("enabled_ratio")
    if ratio is not None:
        try:
            value = float(ratio)
        except (TypeError, ValueError):
            raise _bad(f"Invalid float: '{ratio}'") from None
        if value not in (0.0, 1.0):
            raise _not_implemented(
                "a bank matches always or never (enabled_ratio 1 or 0): Rempart has no "
                "sampled matching"
            )
        return value == 1.0
    if "enabled" in body:
        return _flag(str(body["enabled"]), "enabled")
    return None


async def _json_object(request: Request) -> dict[str, Any]:
    """The body's JSON object, read as /v1 reads JSON (``read_json``: 400 for a body that is
    not JSON or is beyond the parser, nested thousands deep)."""
    try:
        body = read_json(await request.body() or b"null")
    except MalformedBodyError as exc:
        raise _bad(str(exc)) from None
    if not isinstance(body, dict):
        raise _bad("this endpoint expects a json object payload")
    return body


# ---- uploads (multipart/form-data, as HMA's clients send files) ----


@dataclass(frozen=True, slots=True)
class FormFile:
    """The one file of an HMA upload: its field name (``photo`` or ``video``) and bytes."""

    field: str
    data: bytes


def read_form_file(content_type: str, body: bytes) -> FormFile:
    """The single file of a ``multipart/form-data`` body, as HMA takes uploads (one file, its
    field named by its content type), its bytes as sent (RFC 7578). ``ValueError`` for
    anything else: not multipart, no file, several files, over ``MAX_FORM_PARTS`` parts.
    The body is cut at its boundaries by ``bytes.find`` (time linear in its size, whatever
    its bytes); only each part's headers, a few KiB at most, go through a header parser."""
    boundary = _boundary(content_type)
    files: list[FormFile] = []
    for count, (head, start, end) in enumerate(_form_parts(boundary, body), start=1):
        if count > MAX_FORM_PARTS:
            raise ValueError(f"the form holds over {MAX_FORM_PARTS} parts; send the file alone")
        name = _file_field(head)
        if name is None:
            continue  # a plain form field, not a file
        if files:
            raise ValueError("Only one file allowed per request")
        files.append(FormFile(name, body[start:end]))
    if not files:
        raise ValueError("Missing multipart/form-data file upload")
    return files[0]


def _boundary(content_type: str) -> bytes:
    """The ``boundary`` of a ``multipart/form-data`` Content-Type (RFC 2046: 1 to 70
    characters, none of them ``;``)."""
    media, *parameters = content_type.split(";")
    if media.strip().lower() != "multipart/form-data":
        raise ValueError("send the file as multipart/form-data")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary":
            boundary = value.strip().strip('"')
            if not 0 < len(boundary) <= _MAX_BOUNDARY:
                raise ValueError(f"the multipart boundary must be 1 to {_MAX_BOUNDARY} characters")
            return boundary.encode("latin-1", errors="replace")
    raise ValueError("the multipart Content-Type names no boundary")


def _form_parts(boundary: bytes, body: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Each part of ``body``: its header block, and where its content starts and ends in
    ``body`` (RFC 2046: parts between ``CRLF--boundary`` lines, the last one closed by
    ``--boundary--``; what comes before the first and after the last is ignored)."""
    first = b"--" + boundary
    separator = b"\r\n" + first
    if body.startswith(first):
        position = len(first)
    elif (found := body.find(separator)) >= 0:
        position = found + len(separator)
    else:
        raise ValueError("the body is not multipart/form-data: no boundary line")
    while not body.startswith(b"--", position):  # "--" closes the last part
        line_end = body.find(b"\r\n", position, position + 1024)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise ValueError("a multipart boundary line is malformed or cut short")
        start = line_end + 2
        end = body.find(separator, start)
        if end < 0:
            raise ValueError("the multipart body is cut short: no closing boundary")
        if body.startswith(b"\r\n", start):  # a part without headers
            yield b"", start + 2, end
        else:
            head_end = body.find(b"\r\n\r\n", start, min(end, start + _MAX_PART_HEAD))
            if head_end < 0:
                raise ValueError("a multipart part has no blank line after its headers")
            yield body[start:head_end], head_end + 4, end
        position = end + len(separator)


def _file_field(head: bytes) -> str | None:
    """The field name of a part whose headers (``head``) make it a file (a ``form-data``
    disposition with a ``filename``, as HMA's Flask takes files); None for any other part."""
    part = BytesHeaderParser(policy=policy.HTTP).parsebytes(head)
    disposition = part.get("content-disposition", "")
    name = part.get_param("name", header="content-disposition")
    if not str(disposition).lower().startswith("form-data") or not isinstance(name, str):
        return None
    if part.get_param("filename", header="content-disposition") is None:
        return None
    return name


async def _upload(request: Request) -> FormFile:
    """The upload's file, parsed off the event loop (a body of up to
    ``REMPART_API_MAX_BODY_BYTES``); 400 for a body that is not one file."""
    if request.query_params.get("url"):
        raise _not_implemented(_NO_FETCH)
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    try:
        upload = await run_in_threadpool(read_form_file, content_type, body)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    if upload.field not in (PHOTO, VIDEO):
        raise _bad(f"no such content_type: '{upload.field}'")
    if not upload.data:
        raise _bad("the uploaded file is empty")
    return upload


async def _file_digests(data: bytes) -> tuple[str, str]:
    """The MD5 and SHA-256 of an upload, computed off the event loop."""
    sha256, md5 = await run_in_threadpool(file_digests, data)
    return md5, sha256


def _wanted_types(request: Request, available: Sequence[str]) -> list[str]:
    """The ``types`` parameter (comma-separated signal types) over ``available``."""
    asked = request.query_params.get("types")
    if asked is None:
        return list(available)
    chosen = [name.strip() for name in asked.split(",") if name.strip()]
    for name in chosen:
        if name not in available:
            raise _bad(f"signal type '{name}' doesn't exist or is disabled")
    if not chosen:
        raise _bad("empty signal type selection")
    return chosen


async def _hash_photo(request: Request, data: bytes) -> FileHashes:
    limits = runtime(request).settings.media
    async with decoding(request, [data]):
        return await run_in_threadpool(
            lambda: hash_media(load_bytes(data, limits=limits), path="", dihedral=False)
        )


async def _signals(request: Request, upload: FormFile) -> dict[str, str]:
    """HMA's ``{signal type: value}`` for an upload: a photo's PDQ hash, a video's MD5
    (Rempart bans whole videos by vPDQ through /v1; HMA's vpdq string is not produced)."""
    if upload.field == PHOTO:
        wanted = _wanted_types(request, [PDQ])
        hashes = await _hash_photo(request, upload.data)
        return {PDQ: hashes.pdq} if PDQ in wanted else {}
    _wanted_types(request, ["video_md5"])
    md5, _ = await _file_digests(upload.data)
    return {"video_md5": md5}


# ---- hashing: /h ----


@router.get("/h/hash", dependencies=[Depends(require(Permission.HASH))])
async def hash_url(request: Request) -> JSONResponse:
    """HMA's hash of a URL's content: Rempart fetches no client-given URL (501)."""
    _required(request, "url")
    raise _not_implemented(_NO_FETCH)


@router.post("/h/hash", dependencies=[Depends(require(Permission.HASH))])
async def hash_upload(request: Request) -> JSONResponse:
    """``{"pdq": hex}`` for a photo, ``{"video_md5": hex}`` for a video."""
    signals = await _signals(request, await _upload(request))
    audit(request, outcome="hashed")
    return JSONResponse(signals)


# ---- matching: /m ----


@router.get("/m/raw_lookup", dependencies=[Depends(require(Permission.MATCH))])
async def raw_lookup(request: Request) -> JSONResponse:
    """``{"matches": [bank_content_id, ...]}``, or with ``include_distance=true``
    ``{"matches": [{"bank_content_id", "distance"}]}``; ``banks`` restricts to those."""
    signal = _required(request, "signal")
    signal_type = _required(request, "signal_type")
    with_distance = _flag(request.query_params.get("include_distance"), "include_distance")
    wanted = _bank_names(request.query_params.get("banks"))
    matches = _in_banks(await _lookup(request, signal, signal_type), wanted)
    audit(request, outcome=f"{len(matches)} matches")
    if with_distance:
        return JSONResponse({"matches": [_content_match(m) for m in matches]})
    return JSONResponse({"matches": [m.entry_id for m in matches]})


@router.get("/m/lookup", dependencies=[Depends(require(Permission.MATCH))])
async def lookup(request: Request) -> JSONResponse:
    """``{bank: [{"bank_content_id", "distance"}]}`` for ``signal`` and ``signal_type``;
    a ``url`` is not fetched (501)."""
    if request.query_params.get("url"):
        raise _not_implemented(_NO_FETCH)
    signal = request.query_params.get("signal")
    signal_type = request.query_params.get("signal_type")
    if not signal or not signal_type:
        raise _bad("Either url or both signal and signal_type are required")
    wanted = _bank_names(request.query_params.get("banks"))
    matches = _in_banks(await _lookup(request, signal, signal_type), wanted)
    audit(request, outcome=f"{len(matches)} matches")
    return JSONResponse(_by_bank(matches))


@router.post("/m/lookup", dependencies=[Depends(require(Permission.MATCH))])
async def lookup_upload(request: Request) -> JSONResponse:
    """``{signal type: {bank: [{"bank_content_id", "distance"}]}}`` for an uploaded photo
    (``pdq``, matched as /v1/match/image matches it) or video (``video_md5``); an exact entry
    matched by the file's own digest comes under ``<content>_md5`` or ``<content>_sha256``."""
    upload = await _upload(request)
    wanted = _bank_names(request.query_params.get("banks"))
    matcher = runtime(request).require_matcher()
    md5, sha256 = await _file_digests(upload.data)
    if upload.field == PHOTO:
        _wanted_types(request, [PDQ])
        hashes = await _hash_photo(request, upload.data)
        (found,) = match_images(matcher, [hashes])
        matches = found.matches
    else:
        _wanted_types(request, ["video_md5"])
        matches = matcher.match_file_digests(md5, sha256)
    _watched(request, matches)
    result: dict[str, Any] = {PDQ: {}} if upload.field == PHOTO else {"video_md5": {}}
    for match in _in_banks(matches, wanted):
        signal_type = {md5: f"{upload.field}_md5", sha256: f"{upload.field}_sha256"}.get(
            match.hash, PDQ
        )
        result.setdefault(signal_type, {}).setdefault(match.bank, []).append(_content_match(match))
    audit(request, outcome=f"{len(matches)} matches", detail={"sha256": sha256})
    return JSONResponse(result)


@router.get("/m/index/status", dependencies=[Depends(require(Permission.MATCH))])
async def index_status(request: Request) -> JSONResponse:
    """``{signal type: {"present", "built_to", "size"}}``: the match index's state. HMA's
    ``built_to`` is a time; Rempart's is the bank change-log position the index has applied
    (-1 while it loads). ``size``: PDQ hashes in the index; active MD5 or SHA-256 entries."""
    matcher = runtime(request).matcher
    types = list(SIGNAL_TYPES)
    limit = request.query_params.get("signal_type")
    if limit is not None:
        if limit not in types:
            raise _bad(f"No such signal type '{limit}'")
        types = [limit]
    # One query for every bank's active entries, whatever the number of banks.
    counts = await run_in_threadpool(runtime(request).banks.active_counts)
    status: dict[str, Any] = {}
    for name in types:
        if matcher is None:
            status[name] = {"present": False, "built_to": -1, "size": 0}
            continue
        size = len(matcher) if name == PDQ else counts[PYTX_KINDS[name]]
        status[name] = {"present": True, "built_to": matcher.seq, "size": size}
    return JSONResponse(status)


@router.post(
    "/m/compare", dependencies=[Depends(require(Permission.MATCH))], include_in_schema=False
)
async def compare(request: Request) -> JSONResponse:
    """Not supported: compare two hashes client-side (PDQ: Hamming distance)."""
    raise _not_implemented("hash comparison; compute the Hamming distance of two PDQ hashes")


# ---- curation: /c ----


@router.get("/c/banks", dependencies=[Depends(require(Permission.BANKS_READ))])
async def list_banks(request: Request) -> JSONResponse:
    """``[{"name", "matching_enabled_ratio"}]``."""
    found = await run_in_threadpool(runtime(request).banks.list)
    return JSONResponse([_bank_json(bank) for bank in found])


@router.post("/c/banks", dependencies=[Depends(require(Permission.BANKS_ADMIN))])
async def create_bank(request: Request) -> JSONResponse:
    """201 with the bank; 403 when the name is taken (as HMA answers)."""
    body = await _json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise _bad("name is required")
    enabled = _enabled(body)
    banks_app = runtime(request).banks
    try:
        bank = await run_in_threadpool(
            lambda: banks_app.create(name, enabled=True if enabled is None else enabled)
        )
    except RempartError as exc:
        if error_problem(exc).kind.slug == "bank-exists":
            raise HmaError(403, "Bank already exists") from None
        raise HmaError(400, str(exc)) from None
    audit(request, target=name, outcome="created", now=True)
    return JSONResponse(_bank_json(bank), status_code=201)


async def _bank(request: Request, name: str) -> Bank:
    try:
        return await run_in_threadpool(runtime(request).banks.get, name)
    except RempartError as exc:
        if error_problem(exc).status_code == 404:
            raise HmaError(404, f"bank '{name}' not found") from None
        raise


@router.get("/c/bank/{bank_name}", dependencies=[Depends(require(Permission.BANKS_READ))])
async def get_bank(request: Request, bank_name: str) -> JSONResponse:
    """``{"name", "matching_enabled_ratio"}``; 404 when there is none."""
    return JSONResponse(_bank_json(await _bank(request, bank_name)))


@router.put("/c/bank/{bank_name}", dependencies=[Depends(require(Permission.BANKS_ADMIN))])
async def update_bank(request: Request, bank_name: str) -> JSONResponse:
    """Turn a bank's matching on or off (``enabled`` or ``enabled_ratio`` 1/0); a rename
    is not supported (501): bank names are what matches and audit entries cite."""
    body = await _json_object(request)
    await _bank(request, bank_name)
    if body.get("name") not in (None, bank_name):
        raise _not_implemented("renaming a bank; create a new bank and import its list")
    enabled = _enabled(body)
    banks_app = runtime(request).banks
    bank = await run_in_threadpool(lambda: banks_app.update(bank_name, enabled=enabled))
    audit(request, target=bank_name, outcome="updated", detail={"enabled": enabled}, now=True)
    return JSONResponse(_bank_json(bank))


@router.delete("/c/bank/{bank_name}", dependencies=[Depends(require(Permission.BANKS_ADMIN))])
async def delete_bank(request: Request, bank_name: str) -> JSONResponse:
    """Not supported (501): Rempart keeps every bank and entry on record."""
    raise _not_implemented(
        "deleting a bank: Rempart keeps banks and their entries on record; stop it matching "
        'with PUT {"enabled": false}, or withdraw its entries (DELETE .../content/<id>)'
    )


def _content_id(content_id: int) -> int:
    """``content_id`` when an entry may have it (0 to ``MAX_CONTENT_ID``); else 404, as HMA
    answers an unknown id (the database could not even be asked)."""
    if not 0 <= content_id <= MAX_CONTENT_ID:
        raise HmaError(404, f"content '{content_id}' not found")
    return content_id


def _entry_signals(entry: ExportRow) -> dict[str, str]:
    """An entry's signals as HMA names them."""
    if entry.kind == IMAGE:
        return {PDQ: entry.hash}
    if entry.kind == MD5:
        return {"video_md5": entry.hash}
    if entry.kind == SHA256:
        return {"video_sha256": entry.hash}
    # A video: its file's digests where known (its vPDQ features have no HMA string here).
    found = {"video_md5": entry.md5, "video_sha256": entry.sha256}
    return {name: value for name, value in found.items() if value}


@router.get(
    "/c/bank/{bank_name}/content/{content_id}",
    dependencies=[Depends(require(Permission.BANKS_READ))],
)
async def get_content(request: Request, bank_name: str, content_id: int) -> JSONResponse:
    """HMA's BankContentResponse: ``{"id", "disable_until_ts", "collab_metadata",
    "original_media_uri", "bank"}``, with ``signals`` when ``include_signals=true``; 404 for
    an entry withdrawn or an id no entry can have."""
    bank = await _bank(request, bank_name)
    banks_app = runtime(request).banks
    entry = await run_in_threadpool(banks_app.entry, bank.name, _content_id(content_id))
    if entry is None or entry.withdrawn_at is not None:
        raise HmaError(404, f"content '{content_id}' not found")
    record: dict[str, Any] = {
        "id": entry.entry_id,
        "disable_until_ts": 0,  # HMA's "enabled"; a withdrawn entry is not found at all
        # HMA's exchange provenance (exchange name: fetch keys); Rempart's entries name theirs
        # in their source_ref, read through /v1.
        "collab_metadata": {},
        "original_media_uri": None,
        "bank": _bank_json(bank),
    }
    if entry.note:
        record["note"] = entry.note
    if _flag(request.query_params.get("include_signals"), "include_signals"):
        record["signals"] = _entry_signals(entry)
    return JSONResponse(record)


@router.put(
    "/c/bank/{bank_name}/content/{content_id}",
    dependencies=[Depends(require(Permission.BANKS_ADMIN))],
)
async def update_content(request: Request, bank_name: str, content_id: int) -> JSONResponse:
    """Not supported (501): an entry matches until it is withdrawn, not until a time."""
    raise _not_implemented(
        "disabling an entry until a time; withdraw it (DELETE) and add it again later"
    )


@router.delete(
    "/c/bank/{bank_name}/content/{content_id}",
    dependencies=[Depends(require(Permission.BANKS_WITHDRAW))],
)
async def delete_content(request: Request, bank_name: str, content_id: int) -> JSONResponse:
    """``{"deleted": n}``: the entry is withdrawn (it stops matching at once on every server
    and stays on record, as /v1/banks/{name}/withdraw does); 404 for an id no entry can have."""
    await _bank(request, bank_name)
    _content_id(content_id)
    banks_app = runtime(request).banks
    report = await run_in_threadpool(
        lambda: banks_app.withdraw(bank_name, entry_ids=[content_id], reason=HMA_DELETED)
    )
    audit(
        request,
        target=bank_name,
        outcome=f"{report.withdrawn} withdrawn",
        detail={"entry_id": content_id},
        now=True,
    )
    return JSONResponse({"deleted": report.withdrawn})


@router.post("/c/bank/{bank_name}/content", dependencies=[Depends(require(Permission.BANKS_ADD))])
async def add_content(request: Request, bank_name: str) -> JSONResponse:
    """Bank an uploaded photo (its PDQ hash) or video (its MD5): ``{"id", "signals"}``."""
    bank = await _bank(request, bank_name)
    if not request.query_params.get("url") and not media_type(request).startswith("multipart/"):
        raise _bad("Neither `url` nor multipart file upload was received")
    signals = await _signals(request, await _upload(request))
    return await _add_signals(request, bank, signals)


@router.post("/c/bank/{bank_name}/signal", dependencies=[Depends(require(Permission.BANKS_ADD))])
async def add_signal(request: Request, bank_name: str) -> JSONResponse:
    """Bank a hash given as ``{signal type: value}``: ``{"id", "signals"}``."""
    bank = await _bank(request, bank_name)
    body = await _json_object(request)
    if not all(isinstance(value, str) for value in body.values()):
        raise _bad("each signal must be a string")
    return await _add_signals(request, bank, body)


async def _add_signals(request: Request, bank: Bank, signals: dict[str, str]) -> JSONResponse:
    if not signals:
        raise _bad("No signals given")
    if len(signals) > 1:
        raise _not_implemented(
            "several signals as one content item: a Rempart entry holds one hash; send "
            "one signal a request"
        )
    ((signal_type, value),) = signals.items()
    kind = _signal_type(signal_type)
    banks_app = runtime(request).banks
    if kind == PDQ:
        try:
            stored = pack([value.strip()])
        except ValueError as exc:
            raise _bad(f"Invalid {signal_type} signal: {exc}") from None
        hex_value = value.strip().lower() if len(stored) == 1 else ""
        entry_kind = IMAGE
    else:
        hex_value = _digest(value, kind)
        entry_kind = kind

    def add() -> str:
        # An add undoes an HMA delete: the hash is reinstated, in the same transaction, and
        # matches again on every server. A withdrawal of another kind (a moderator's, an
        # exchange's deletion at source) is not this API's to undo, as /v1's add does not.
        with banks_app.store.write() as connection:
            if entry_kind == IMAGE:
                report = banks_app.add(bank.name, hex_value, connection=connection)
            else:
                report = banks_app.add_digest(bank.name, kind, hex_value, connection=connection)
            if not report.already_withdrawn:
                return "added"
            if banks_app.reinstate_hashes(
                bank.name, [hex_value], reason=HMA_DELETED, connection=connection
            ):
                return "reinstated"
            raise HmaError(
                409,
                "this hash was withdrawn from the bank by a moderator or at its source, not "
                "deleted through this API: it stays withdrawn (Rempart keeps such decisions)",
            )

    outcome = await run_in_threadpool(add)
    entry = await run_in_threadpool(banks_app.find, bank.name, entry_kind, hex_value)
    entry_id = None if entry is None else entry.entry_id
    audit(request, target=bank.name, outcome=outcome, detail={"entry_id": entry_id}, now=True)
    return JSONResponse({"id": entry_id, "signals": {signal_type: hex_value}})


@router.get("/c/signal_type", dependencies=[Depends(require(Permission.BANKS_READ))])
async def signal_types(request: Request) -> JSONResponse:
    """``[{"name", "enabled_ratio"}]``: the signal types this server looks up."""
    return JSONResponse([{"name": name, "enabled_ratio": 1.0} for name in SIGNAL_TYPES])


@router.get("/c/content_type", dependencies=[Depends(require(Permission.BANKS_READ))])
async def content_types(request: Request) -> JSONResponse:
    """``[{"name", "enabled"}]``: photo and video uploads are taken."""
    return JSONResponse([{"name": PHOTO, "enabled": True}, {"name": VIDEO, "enabled": True}])


async def _exchanges(request: Request) -> JSONResponse:
    raise _not_implemented(_EXCHANGES)


for _path in (
    "/c/exchanges",
    "/c/exchanges/apis",
    "/c/exchanges/api/{api_name}",
    "/c/exchange/{exchange_name}",
    "/c/exchange/{exchange_name}/status",
):
    router.add_api_route(
        _path,
        _exchanges,
        methods=["GET", "POST", "PUT", "DELETE"],
        include_in_schema=False,
        dependencies=[Depends(require(Permission.BANKS_READ))],
        summary="HMA's exchanges: not supported here (501); use rempart exchange",
    )
