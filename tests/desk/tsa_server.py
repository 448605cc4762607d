"""A real RFC 3161 timestamp authority for the desk's tests: the standard library's
``ThreadingHTTPServer`` on 127.0.0.1, reading each ``TimeStampReq`` with asn1crypto and
answering a ``TimeStampResp`` whose token is a CMS ``SignedData`` over a ``TSTInfo``, signed
with a fresh self-signed EC key (made with cryptography). ``mode`` makes it misbehave::

    from tests.desk.tsa_server import Authority, authority_fixture  # noqa: F401

    def test_it(authority: Authority) -> None:
        token = request_timestamp(authority.url, digest)
        authority.mode = "rejection"  # or "wrong-imprint", "wrong-nonce", "bad-signature", ...
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

import pytest
from asn1crypto import algos, cms, core, tsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["GEN_TIME", "Authority", "Mode", "authority_fixture"]

GEN_TIME = datetime(2026, 12, 2, 9, 31, 2, tzinfo=UTC)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Mode = Literal[
    "grant",
    "grant-with-mods",
    "rejection",
    "wrong-imprint",
    "wrong-nonce",
    "bad-signature",
    "no-certificate",
    "not-a-response",
    "server-error",
    "redirect",
    "huge",
]


def _certificate(key: PrivateKey) -> bytes:
    """A self-signed certificate for timestamping (critical extended key usage), DER."""
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Rempart test TSA")])
    built = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(GEN_TIME - timedelta(days=1))
        .not_valid_after(GEN_TIME + timedelta(days=365))
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.DER)


def _without_token(status: tsp.PKIStatusInfo) -> bytes:
    """A ``TimeStampResp`` holding only its status, as RFC 3161 answers a refusal (asn1crypto's
    class would insist on a token)."""
    return bytes(core.Sequence(contents=status.dump()).dump())


class Authority:
    """The authority: ``url`` to POST to, ``mode`` to set, ``queries`` it received."""

    def __init__(self, *, key: Literal["ec", "rsa"] = "ec") -> None:
        self.key: PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if key == "ec"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.certificate = x509.Certificate.load(_certificate(self.key))
        self.mode: Mode = "grant"
        self.queries: list[tsp.TimeStampReq] = []
        self.content_types: list[str] = []
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self._serial = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                authority.paths.append(self.path)
                authority.authorizations.append(self.headers.get("Authorization"))
                authority.content_types.append(self.headers.get("Content-Type", ""))
                status, body, extra = authority.answer(query)
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)  # a client may stop reading a "huge" answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def answer(self, query: bytes) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
        """The HTTP status, body and extra headers for one query, as ``mode`` says."""
        if self.mode == "server-error":
            return 500, b"down", ()
        if self.mode == "redirect":
            return 302, b"", (("Location", self.url + "/elsewhere"),)
        if self.mode == "huge":
            return 200, b"\x30" * (1024 * 1024 + 10), ()
        if self.mode == "not-a-response":
            return 200, b"<html>not a timestamp</html>", ()
        request = tsp.TimeStampReq.load(query)
        self.queries.append(request)
        if self.mode == "rejection":
            status = {
                "status": "rejection",
                "status_string": ["bad request"],
                "fail_info": {"bad_request"},
            }
            return 200, _without_token(tsp.PKIStatusInfo(status)), ()
        granted = "granted_with_mods" if self.mode == "grant-with-mods" else "granted"
        response = tsp.TimeStampResp(
            {"status": {"status": granted}, "time_stamp_token": self.token(request)}
        )
        return 200, response.dump(), ()

    def token(self, request: tsp.TimeStampReq) -> cms.ContentInfo:
        """A ``TimeStampToken`` for ``request`` (altered as ``mode`` says)."""
        self._serial += 1
        imprint = request["message_imprint"].native
        if self.mode == "wrong-imprint":
            imprint["hashed_message"] = hashlib.sha256(b"something else").digest()
        nonce = request["nonce"].native
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": "1.3.6.1.4.1.99999.1",
                "message_imprint": imprint,
                "serial_number": self._serial,
                "gen_time": GEN_TIME,
                "nonce": nonce + 1 if self.mode == "wrong-nonce" else nonce,
            }
        )
        content = info.dump()
        attributes = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
                {"type": "signing_time", "values": [cms.Time({"utc_time": GEN_TIME})]},
            ]
        )
        signature = self._sign(
            b"other bytes" if self.mode == "bad-signature" else attributes.dump()
        )
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": self.certificate.issuer,
                            "serial_number": self.certificate.serial_number,
                        }
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": attributes,
                "signature_algorithm": algos.SignedDigestAlgorithm(
                    {
                        "algorithm": "sha256_ecdsa"
                        if isinstance(self.key, ec.EllipticCurvePrivateKey)
                        else "sha256_rsa"
                    }
                ),
                "signature": signature,
            }
        )
        certificates = [] if self.mode == "no-certificate" else [self.certificate]
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": cms.ParsableOctetString(content),
                },
                "certificates": certificates,
                "signer_infos": [signer],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed})

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="authority", params=["ec", "rsa"])
def authority_fixture(request: pytest.FixtureRequest) -> Iterator[Authority]:
    """A fresh local timestamp authority for one test, signing with an EC key, then RSA."""
    authority = Authority(key=request.param)
    try:
        yield authority
    finally:
        authority.close()
