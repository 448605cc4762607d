"""rempart.desk.tsa against a real local RFC 3161 authority (tests/desk/tsa_server.py, signing
with an EC key, then an RSA one): a granted token is checked and dated; a refusal, a token for
another digest or another request, a bad signature and every transport failure are refused."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest
from asn1crypto import cms

from rempart.desk.tsa import request_timestamp, timestamp_time
from rempart.errors import EvidenceRefusedError, FetchError
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.tsa_server import GEN_TIME, Authority, Mode, authority_fixture  # noqa: F401

DIGEST = hashlib.sha256(b"a capture's WARC file").digest()


def test_a_granted_token_is_for_the_digest_and_gives_the_authority_s_time(
    authority: Authority,
) -> None:
    token = request_timestamp(authority.url, DIGEST)
    assert timestamp_time(token, DIGEST) == GEN_TIME
    assert cms.ContentInfo.load(token)["content_type"].native == "signed_data"
    (query,) = authority.queries
    assert query["version"].native == "v1"
    assert query["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert query["message_imprint"]["hashed_message"].native == DIGEST
    assert query["cert_req"].native is True
    assert query["nonce"].native > 0
    assert authority.content_types == ["application/timestamp-query"]


def test_each_request_has_its_own_nonce(authority: Authority) -> None:
    request_timestamp(authority.url, DIGEST)
    request_timestamp(authority.url, DIGEST)
    first, second = (query["nonce"].native for query in authority.queries)
    assert first != second


def test_granted_with_modifications_is_granted(authority: Authority) -> None:
    authority.mode = "grant-with-mods"
    assert timestamp_time(request_timestamp(authority.url, DIGEST), DIGEST) == GEN_TIME


@pytest.mark.parametrize(
    ("mode", "why"),
    [
        ("rejection", "refused: rejection bad request"),
        ("wrong-imprint", "another digest"),
        ("wrong-nonce", "not for this request"),
        ("bad-signature", "signature does not verify"),
        ("no-certificate", "does not carry its signer's certificate"),
        ("not-a-response", "not a TimeStampResp"),
        ("server-error", "answered 500"),
        ("redirect", "answered 302"),
        ("huge", "larger than 1048576 bytes"),
    ],
)
def test_an_authority_that_does_not_grant_a_good_token_is_refused(
    authority: Authority, mode: Mode, why: str
) -> None:
    authority.mode = mode
    with pytest.raises(FetchError, match=why) as refused:
        request_timestamp(authority.url, DIGEST)
    assert refused.value.url == authority.url
    assert authority.paths == ["/tsa"]  # a redirect is not followed


def test_no_authority_listening_is_a_fetch_error(site: Site) -> None:
    url = site.url("/tsa")
    site.close()
    with pytest.raises(FetchError, match="did not answer"):
        request_timestamp(url, DIGEST, timeout=5)


def test_a_bad_address_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="did not answer"):
        request_timestamp("ftp://127.0.0.1/tsa", DIGEST)


def test_timestamp_time_refuses_a_token_for_another_digest_or_none(authority: Authority) -> None:
    token = request_timestamp(authority.url, DIGEST)
    with pytest.raises(EvidenceRefusedError, match="another digest"):
        timestamp_time(token, hashlib.sha256(b"other").digest())
    for broken in (b"", b"\x30\x03\x02\x01\x01", token[: len(token) // 2], b"\xff" * 40):
        with pytest.raises(EvidenceRefusedError, match="cannot be read"):
            timestamp_time(broken, DIGEST)
    flipped = bytearray(token)
    flipped[token.index(DIGEST) + 5] ^= 1  # the imprint itself: another digest
    with pytest.raises(EvidenceRefusedError, match="another digest"):
        timestamp_time(bytes(flipped), DIGEST)


def test_a_token_altered_after_signing_is_refused(authority: Authority) -> None:
    token = request_timestamp(authority.url, DIGEST)
    at = token.index(b"20261202093102Z")  # the TSTInfo's genTime, inside the signed content
    altered = token[:at] + b"20251202093102Z" + token[at + 15 :]
    with pytest.raises(EvidenceRefusedError, match="signed digest is not its content's"):
        timestamp_time(altered, DIGEST)


def test_an_authority_s_password_goes_as_basic_auth_never_in_a_log(
    authority: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    digest = hashlib.sha256(b"a capture").digest()
    secret = authority.url.replace("http://", "http://desk:s3cret@", 1)
    with caplog.at_level(logging.DEBUG):
        request_timestamp(secret, digest)
    expected = "Basic " + base64.b64encode(b"desk:s3cret").decode()
    assert authority.authorizations == [expected]
    assert "s3cret" not in caplog.text
    assert caplog.records  # httpx did log the request, without the password


def test_a_digest_that_is_not_sha256_is_refused_before_asking() -> None:
    with pytest.raises(EvidenceRefusedError, match="32 bytes"):
        request_timestamp("http://127.0.0.1:9/tsa", b"short")
    with pytest.raises(EvidenceRefusedError, match="32 bytes"):
        timestamp_time(b"", b"short")
