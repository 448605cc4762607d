"""RFC 3161 timestamps of a capture's SHA-256, from the authority ``REMPART_DESK_TSA_URL``.

A token is accepted when it is a CMS ``SignedData`` holding a ``TSTInfo`` whose message imprint
is the capture's SHA-256 (and, for a fresh request, whose nonce is the request's), and whose
signature verifies with the certificate the token carries: that proves the token is whole and
was signed by the holder of that key. Whether that key belongs to an authority one trusts is
not checked here (no trust store, no chain, no revocation): anyone relying on the token checks
the authority's certificate, e.g. with ``openssl ts -verify``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import httpx
from asn1crypto import cms, core, tsp
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import load_der_x509_certificate

from rempart import __version__
from rempart.errors import EvidenceRefusedError, FetchError

__all__ = ["MAX_ANSWER_BYTES", "request_timestamp", "timestamp_time"]

MAX_ANSWER_BYTES: Final = 1024 * 1024
_GRANTED: Final = frozenset({"granted", "granted_with_mods"})
_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# What asn1crypto raises on DER it cannot parse (it parses lazily, on first access).
_ASN1_ERRORS: Final = (ValueError, TypeError, KeyError, IndexError, OverflowError)


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161's ``TimeStampResp``, whose token is OPTIONAL (absent from a rejection), where
    asn1crypto's ``tsp.TimeStampResp`` requires it."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _check_digest(digest: bytes) -> None:
    if len(digest) != hashlib.sha256().digest_size:
        raise EvidenceRefusedError("a timestamp is asked for a SHA-256 digest (32 bytes)")


def request_timestamp(url: str, digest: bytes, *, timeout: float = 20.0) -> bytes:
    """Ask the authority at ``url`` to timestamp ``digest`` (a SHA-256): the DER
    ``TimeStampToken`` it returned, checked to be for this digest and this request's nonce;
    ``FetchError`` when it fails or answers with something else."""
    _check_digest(digest)
    nonce = secrets.randbits(63) | 1  # positive, never 0
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    answer = _post(url, query, timeout)
    try:
        response = _TimeStampResp.load(answer, strict=True)
        status = response["status"]["status"].native
        text = " ".join(response["status"]["status_string"].native or [])
    except _ASN1_ERRORS as exc:
        raise FetchError(url, "the timestamp authority's answer is not a TimeStampResp") from exc
    if status not in _GRANTED:
        raise FetchError(url, f"the timestamp authority refused: {status} {text[:200]}".rstrip())
    try:
        der: bytes = response["time_stamp_token"].dump()
        answered = _checked_info(der, digest)["nonce"].native
    except EvidenceRefusedError as exc:
        raise FetchError(url, f"the timestamp authority's token: {exc}") from exc
    except _ASN1_ERRORS as exc:
        raise FetchError(url, "the timestamp authority granted no readable token") from exc
    if answered != nonce:
        raise FetchError(url, "the timestamp authority's token is not for this request (nonce)")
    return der


def _post(url: str, query: bytes, timeout: float) -> bytes:
    """POST the query; the answer's body, at most ``MAX_ANSWER_BYTES``, from a 200 only (a
    redirect is an error: the configured address is the authority)."""
    headers = {
        "Content-Type": "application/timestamp-query",
        "Accept": "application/timestamp-reply",
        "User-Agent": f"Rempart/{__version__} (timestamp)",
    }
    try:
        # A user name and password go as Basic auth, not in the URL httpx would log; the
        # address is the operator's, so no proxy from the environment either.
        address = httpx.URL(url)
        auth = (address.username, address.password) if address.username else None
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                address.copy_with(username=None, password=None),
                content=query,
                headers=headers,
                auth=auth,
            ) as answer,
        ):
            if answer.status_code != httpx.codes.OK:
                raise FetchError(url, f"the timestamp authority answered {answer.status_code}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise FetchError(url, f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
            return bytes(body)
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise FetchError(url, f"the timestamp authority did not answer: {exc}") from exc


def timestamp_time(token: bytes, digest: bytes) -> datetime:
    """The time a token says ``digest`` existed; ``EvidenceRefusedError`` when the token is
    not one for this digest."""
    _check_digest(digest)
    try:
        when = _checked_info(token, digest)["gen_time"].native
    except _ASN1_ERRORS as exc:
        raise EvidenceRefusedError("the timestamp token cannot be read") from exc
    if not isinstance(when, datetime):
        raise EvidenceRefusedError("the timestamp token has no time")
    return when.astimezone(UTC)


def _checked_info(token: bytes, digest: bytes) -> tsp.TSTInfo:
    """The ``TSTInfo`` of a token, once its imprint is ``digest`` and its signature verifies
    with the certificate it carries; ``EvidenceRefusedError`` otherwise."""
    try:
        info, signed = _parts(token)
        imprint = info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
    except _ASN1_ERRORS as exc:
        raise EvidenceRefusedError("the timestamp token cannot be read") from exc
    if algorithm != "sha256" or hashed != digest:
        raise EvidenceRefusedError("the timestamp token is for another digest (message imprint)")
    _verify(signed)
    return info


def _parts(token: bytes) -> tuple[tsp.TSTInfo, cms.SignedData]:
    """A token's ``TSTInfo`` and the ``SignedData`` around it (``ValueError`` when it is not
    a ``TimeStampToken``)."""
    content = cms.ContentInfo.load(token)
    if content["content_type"].native != "signed_data":
        raise ValueError("not SignedData")
    signed = content["content"]
    encapsulated = signed["encap_content_info"]
    if encapsulated["content_type"].native != "tst_info":
        raise ValueError("not a TSTInfo")
    info = encapsulated["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise ValueError("not a TSTInfo")
    return info, signed


def _verify(signed: cms.SignedData) -> None:
    """Check the ``SignedData``'s one signer: the message digest it signed is the TSTInfo's,
    and its signature verifies with its certificate in the token."""
    try:
        signer = signed["signer_infos"][0]
        content = signed["encap_content_info"]["content"].contents
        name = signer["digest_algorithm"]["algorithm"].native
        attributes = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
        signed_bytes = signer["signed_attrs"].untag().dump()
        signature = signer["signature"].native
        certificate = _signer_certificate(signed, signer["sid"])
    except _ASN1_ERRORS as exc:
        raise EvidenceRefusedError("the timestamp token's signer cannot be read") from exc
    if name not in _HASHES:
        raise EvidenceRefusedError(f"the timestamp token is signed with {name}, not checked here")
    if attributes.get("message_digest") != hashlib.new(name, content).digest():
        raise EvidenceRefusedError("the timestamp token's signed digest is not its content's")
    if attributes.get("content_type") != "tst_info":
        raise EvidenceRefusedError("the timestamp token's signed content type is not TSTInfo")
    try:
        key: Any = load_der_x509_certificate(certificate).public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), _HASHES[name]())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(_HASHES[name]()))
        else:
            raise EvidenceRefusedError("the timestamp token's key is neither RSA nor EC")
    except InvalidSignature as exc:
        raise EvidenceRefusedError("the timestamp token's signature does not verify") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise EvidenceRefusedError("the timestamp token's certificate cannot be read") from exc


def _signer_certificate(signed: cms.SignedData, sid: cms.SignerIdentifier) -> bytes:
    """The DER certificate of the signer ``sid`` names, among those the token carries."""
    for choice in signed["certificates"] or []:
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.issuer == wanted["issuer"]
                and certificate.serial_number == wanted["serial_number"].native
            ):
                return bytes(certificate.dump())
        elif certificate.key_identifier == sid.chosen.native:
            return bytes(certificate.dump())
    raise EvidenceRefusedError("the timestamp token does not carry its signer's certificate")
