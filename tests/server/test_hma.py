"""``rempart serve --hma-compat`` against a plain HTTP client written from HMA 2.x's docs and
sources (OpenMediaMatch's blueprints matching.py, hashing.py, curation.py): HMA's paths,
parameter names and response shapes, an HMA key sent the way HMA deployments take it
(``Authorization: Bearer``), here a Rempart key; 501 with a reason for what Rempart does not
do; and no HMA path at all without the flag."""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rempart.access.keys import ApiKeys, Role
from rempart.server.middleware import JSON_LIMIT
from rempart.store import Store
from tests.images import encode, gradient
from tests.server.running import RunningServer


class HmaClient:
    """What an HMA integration does, with nothing but urllib: GETs with query parameters,
    JSON bodies, multipart uploads whose field names the content type (``photo``)."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        json_body: Any = None,
        upload: tuple[str, bytes] | None = None,
        raw: tuple[str, bytes] | None = None,
    ) -> tuple[int, Any]:
        """``(status, parsed JSON body)``; ``raw``: a body as is, with its content type."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers: dict[str, str] = {}
        data: bytes | None = None
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if upload is not None:
            boundary = secrets.token_hex(8)
            field, content = upload
            data = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                    f'filename="upload.png"\r\nContent-Type: image/png\r\n\r\n'
                ).encode()
                + content
                + f"\r\n--{boundary}--\r\n".encode()
            )
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        if raw is not None:
            headers["Content-Type"], data = raw
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body)
            except ValueError:
                return error.code, body.decode(errors="replace")


def eventually(check: Callable[[], Any], what: str, deadline: float = 10.0) -> Any:
    """``check()``'s first truthy answer: the index follows the database within seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {deadline} s: {what}")


def unsupported(answer: tuple[int, Any], *words: str) -> None:
    status, body = answer
    assert status == 501, body
    assert body["message"].startswith("not supported by Rempart")
    for word in words:
        assert word in body["message"]


@pytest.fixture(scope="module")
def hma(hma_server: RunningServer) -> RunningServer:
    """The module's server, started with --hma-compat (tests/server/conftest.py)."""
    return hma_server


@pytest.fixture(scope="module")
def admin(hma: RunningServer, keys: dict[str, str]) -> HmaClient:
    return HmaClient(hma.url, keys["admin"])


@pytest.fixture(scope="module")
def platform(hma: RunningServer, keys: dict[str, str]) -> HmaClient:
    return HmaClient(hma.url, keys["platform"])


def new_bank(admin: HmaClient) -> str:
    name = f"HMA_BANK_{secrets.token_hex(3).upper()}"
    status, body = admin.call("POST", "/c/banks", json_body={"name": name})
    assert status == 201, body
    assert body == {"name": name, "matching_enabled_ratio": 1.0}
    return name


def photo(seed: int) -> bytes:
    return encode(gradient(256, 256, seed=seed), "PNG")


# --- keys and roles --------------------------------------------------------------------------


def test_hma_paths_need_a_rempart_key_and_the_right_role(
    hma: RunningServer, keys: dict[str, str]
) -> None:
    for key in (None, "not-a-key", f"rmp_{'0' * 12}_{secrets.token_urlsafe(32)}"):
        anonymous = HmaClient(hma.url, key)
        for method, path in (
            ("GET", "/m/raw_lookup?signal=00&signal_type=pdq"),
            ("GET", "/c/banks"),
            ("POST", "/h/hash"),
            ("GET", "/c/exchanges"),
            ("GET", "/m/index/status"),
        ):
            status, body = anonymous.call(method, path)
            assert status == 401, (key, path, body)
    monitor = HmaClient(hma.url, keys["monitor"])
    status, body = monitor.call(
        "GET", "/m/raw_lookup", {"signal": secrets.token_hex(32), "signal_type": "pdq"}
    )
    assert status == 403, body
    assert "monitor" in body["message"]  # HMA's field, beside the problem's detail
    # A platform looks up and reads, but may not curate.
    platform = HmaClient(hma.url, keys["platform"])
    assert platform.call("GET", "/c/banks")[0] == 200
    assert platform.call("POST", "/c/banks", json_body={"name": "BY_PLATFORM"})[0] == 403
    assert HmaClient(hma.url, keys["admin"]).call("GET", "/c/bank/BY_PLATFORM")[0] == 404


def test_without_hma_compat_the_paths_do_not_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rempart.db'}"
    store = Store.open(url)
    try:
        key = ApiKeys(store).create(Role.ADMIN, name="admin").secret
    finally:
        store.close()
    plain = RunningServer(tmp_path, url).start()
    try:
        client = HmaClient(plain.url, key)
        for method, path in (
            ("GET", "/m/raw_lookup?signal=00&signal_type=pdq"),
            ("GET", "/c/banks"),
            ("POST", "/h/hash"),
            ("GET", "/m/index/status"),
        ):
            assert client.call(method, path)[0] == 404, path
        assert client.call("GET", "/v1/banks")[0] == 200
    finally:
        plain.stop()
    # The setting alone (as a deployment's environment gives it) turns them on.
    configured = RunningServer(tmp_path, url, extra_env={"REMPART_HMA_COMPAT": "1"}).start()
    try:
        assert HmaClient(configured.url, key).call("GET", "/c/banks") == (200, [])
    finally:
        configured.stop()


# --- banks -----------------------------------------------------------------------------------


def test_banks_are_created_listed_read_and_switched_as_hma_does(admin: HmaClient) -> None:
    name = new_bank(admin)
    status, body = admin.call("POST", "/c/banks", json_body={"name": name})
    assert (status, body) == (403, {"message": "Bank already exists"})
    status, listed = admin.call("GET", "/c/banks")
    assert status == 200
    assert {"name": name, "matching_enabled_ratio": 1.0} in listed
    assert admin.call("GET", f"/c/bank/{name}") == (
        200,
        {"name": name, "matching_enabled_ratio": 1.0},
    )
    assert admin.call("GET", "/c/bank/NO_SUCH_BANK") == (
        404,
        {"message": "bank 'NO_SUCH_BANK' not found"},
    )
    assert admin.call("PUT", f"/c/bank/{name}", json_body={"enabled": False}) == (
        200,
        {"name": name, "matching_enabled_ratio": 0.0},
    )
    assert admin.call("PUT", f"/c/bank/{name}", json_body={"enabled_ratio": 1}) == (
        200,
        {"name": name, "matching_enabled_ratio": 1.0},
    )
    unsupported(admin.call("PUT", f"/c/bank/{name}", json_body={"enabled_ratio": 0.5}), "sampled")
    unsupported(admin.call("PUT", f"/c/bank/{name}", json_body={"name": "RENAMED"}), "renaming")
    unsupported(admin.call("DELETE", f"/c/bank/{name}"), "enabled")
    assert admin.call("GET", f"/c/bank/{name}")[0] == 200  # nothing deleted
    disabled = f"OFF_{secrets.token_hex(3).upper()}"
    assert admin.call("POST", "/c/banks", json_body={"name": disabled, "enabled": False}) == (
        201,
        {"name": disabled, "matching_enabled_ratio": 0.0},
    )
    status, body = admin.call("POST", "/c/banks", json_body={"enabled": True})
    assert (status, body) == (400, {"message": "name is required"})


# --- content, hashing and lookups -----------------------------------------------------------


def test_an_uploaded_photo_is_banked_hashed_looked_up_and_deleted(
    admin: HmaClient, platform: HmaClient
) -> None:
    bank = new_bank(admin)
    other = new_bank(admin)
    image = photo(seed=11)
    status, added = admin.call("POST", f"/c/bank/{bank}/content", upload=("photo", image))
    assert status == 200, added
    assert set(added) == {"id", "signals"}
    assert isinstance(added["id"], int)
    pdq = added["signals"]["pdq"]
    assert len(pdq) == 64
    content_id = added["id"]

    # /h/hash gives the same signal for the same file.
    assert platform.call("POST", "/h/hash", upload=("photo", image)) == (200, {"pdq": pdq})

    def raw(**extra: str) -> Any:
        status, body = platform.call(
            "GET", "/m/raw_lookup", {"signal": pdq, "signal_type": "pdq", **extra}
        )
        assert status == 200, body
        return body

    assert eventually(lambda: raw() == {"matches": [content_id]}, "the raw lookup matches")
    assert raw(include_distance="true") == {
        "matches": [{"bank_content_id": content_id, "distance": "0"}]
    }
    assert raw(banks=other) == {"matches": []}
    near = f"{int(pdq, 16) ^ 0b1011:064x}"  # 3 bits off: within the default threshold
    status, body = platform.call(
        "GET", "/m/raw_lookup", {"signal": near, "signal_type": "pdq", "include_distance": "1"}
    )
    assert body == {"matches": [{"bank_content_id": content_id, "distance": "3"}]}
    assert platform.call("GET", "/m/lookup", {"signal": pdq, "signal_type": "pdq"}) == (
        200,
        {bank: [{"bank_content_id": content_id, "distance": "0"}]},
    )
    assert platform.call("POST", "/m/lookup", upload=("photo", image)) == (
        200,
        {"pdq": {bank: [{"bank_content_id": content_id, "distance": "0"}]}},
    )
    assert platform.call("POST", f"/m/lookup?banks={other}", upload=("photo", image)) == (
        200,
        {"pdq": {}},
    )

    # The content item, as HMA's BankContentResponse.
    status, content = platform.call(
        "GET", f"/c/bank/{bank}/content/{content_id}", {"include_signals": "true"}
    )
    assert status == 200, content
    assert content == {
        "id": content_id,
        "disable_until_ts": 0,
        "collab_metadata": {},  # always there in HMA's BankContentResponse
        "original_media_uri": None,
        "bank": {"name": bank, "matching_enabled_ratio": 1.0},
        "signals": {"pdq": pdq},
    }
    assert "signals" not in admin.call("GET", f"/c/bank/{bank}/content/{content_id}")[1]

    # A disabled bank stops matching, as HMA's matching_enabled_ratio 0.
    admin.call("PUT", f"/c/bank/{bank}", json_body={"enabled": False})
    assert eventually(lambda: raw() == {"matches": []}, "a disabled bank stops matching")
    admin.call("PUT", f"/c/bank/{bank}", json_body={"enabled": True})
    assert eventually(lambda: raw() == {"matches": [content_id]}, "enabled again")

    # Deleting withdraws: no more match, no content; a second delete deletes nothing.
    assert platform.call("DELETE", f"/c/bank/{bank}/content/{content_id}")[0] == 403
    assert admin.call("DELETE", f"/c/bank/{bank}/content/{content_id}") == (200, {"deleted": 1})
    assert eventually(lambda: raw() == {"matches": []}, "a deleted item stops matching")
    assert admin.call("GET", f"/c/bank/{bank}/content/{content_id}")[0] == 404
    assert admin.call("DELETE", f"/c/bank/{bank}/content/{content_id}") == (200, {"deleted": 0})
    unsupported(
        admin.call(
            "PUT", f"/c/bank/{bank}/content/{content_id}", json_body={"disable_until_ts": 1}
        ),
        "withdraw",
    )


def test_a_signal_is_banked_directly_and_bad_signals_are_refused(
    admin: HmaClient, platform: HmaClient
) -> None:
    bank = new_bank(admin)
    pdq = secrets.token_hex(32)
    status, added = admin.call("POST", f"/c/bank/{bank}/signal", json_body={"pdq": pdq.upper()})
    assert status == 200, added
    assert added["signals"] == {"pdq": pdq}
    assert eventually(
        lambda: (
            platform.call("GET", "/m/raw_lookup", {"signal": pdq, "signal_type": "pdq"})[1]
            == {"matches": [added["id"]]}
        ),
        "a banked signal matches",
    )
    refusals = [
        ("POST", f"/c/bank/{bank}/signal", None, {"pdq": "xyz"}),
        ("POST", f"/c/bank/{bank}/signal", None, {"nosuch": pdq}),
        ("POST", f"/c/bank/{bank}/signal", None, {}),
        ("POST", f"/c/bank/{bank}/signal", None, ["pdq"]),
        ("GET", "/m/raw_lookup", {"signal_type": "pdq"}, None),
        ("GET", "/m/raw_lookup", {"signal": pdq}, None),
        ("GET", "/m/raw_lookup", {"signal": "abc", "signal_type": "pdq"}, None),
        ("GET", "/m/raw_lookup", {"signal": pdq, "signal_type": "nosuch"}, None),
        (
            "GET",
            "/m/raw_lookup",
            {"signal": pdq, "signal_type": "pdq", "include_distance": "x"},
            None,
        ),
        ("GET", "/m/lookup", {"signal": pdq}, None),
        ("POST", "/h/hash", None, None),
        ("GET", "/m/index/status", {"signal_type": "nosuch"}, None),
    ]
    for method, path, params, body in refusals:
        status, answer = admin.call(method, path, params, json_body=body)
        assert status == 400, (path, params, body, answer)
        assert set(answer) == {"message"}, answer
        assert answer["message"]
    assert admin.call("POST", "/c/bank/NO_SUCH_BANK/signal", json_body={"pdq": pdq})[0] == 404
    unsupported(
        admin.call("POST", f"/c/bank/{bank}/signal", json_body={"pdq": pdq, "video_md5": "0" * 32}),
        "one signal",
    )
    status, banked = admin.call("GET", f"/c/bank/{bank}/content/{added['id']}")
    assert status == 200, banked


def test_md5_signals_go_to_exact_hash_entries(admin: HmaClient, platform: HmaClient) -> None:
    bank = new_bank(admin)
    video = b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(256)  # never decoded here
    digest = hashlib.md5(video).hexdigest()
    status, added = admin.call(
        "POST", f"/c/bank/{bank}/signal", json_body={"video_md5": digest.upper()}
    )
    assert status == 200, added
    assert added["signals"] == {"video_md5": digest}
    lookup = {"signal": digest, "signal_type": "video_md5"}
    assert eventually(
        lambda: platform.call("GET", "/m/raw_lookup", lookup)[1] == {"matches": [added["id"]]},
        "an MD5 matches",
    )
    found = [{"bank_content_id": added["id"], "distance": "0"}]
    assert platform.call("GET", "/m/lookup", lookup)[1] == {bank: found}
    # An uploaded video is looked up by its file's MD5, and hashed to it.
    assert platform.call("POST", "/m/lookup", upload=("video", video)) == (
        200,
        {"video_md5": {bank: found}},
    )
    assert platform.call("POST", "/h/hash", upload=("video", video)) == (
        200,
        {"video_md5": digest},
    )
    # A photo banked by its file's MD5 matches as photo_md5, beside its PDQ lookup.
    image = photo(seed=21)
    image_md5 = hashlib.md5(image).hexdigest()
    status, banked = admin.call("POST", f"/c/bank/{bank}/signal", json_body={"md5": image_md5})
    assert status == 200, banked
    status, answer = eventually(
        lambda: (
            (r := platform.call("POST", "/m/lookup", upload=("photo", image)))[1].get("photo_md5")
            and r
        ),
        "a photo's MD5 matches",
    )
    assert answer == {
        "pdq": {},
        "photo_md5": {bank: [{"bank_content_id": banked["id"], "distance": "0"}]},
    }
    status, content = admin.call(
        "GET", f"/c/bank/{bank}/content/{added['id']}", {"include_signals": "true"}
    )
    assert content["signals"] == {"video_md5": digest}
    assert admin.call("DELETE", f"/c/bank/{bank}/content/{added['id']}") == (200, {"deleted": 1})
    assert eventually(
        lambda: platform.call("GET", "/m/raw_lookup", lookup)[1] == {"matches": []},
        "a deleted MD5 stops matching",
    )
    sizes = platform.call("GET", "/m/index/status")[1]
    assert sizes["video_md5"]["size"] >= 1  # the photo's MD5 is still banked
    for bad in ("0" * 31, "g" * 32, "0" * 64):
        status, body = admin.call("POST", f"/c/bank/{bank}/signal", json_body={"video_md5": bad})
        assert status == 400, body


def test_adding_a_deleted_signal_again_reinstates_it(admin: HmaClient, platform: HmaClient) -> None:
    """An HMA add is a decision to match: a hash deleted earlier matches again, under its old
    id, on the PDQ and the MD5 paths."""
    bank = new_bank(admin)
    reinstate(admin, platform, bank, "pdq", secrets.token_hex(32))
    reinstate(admin, platform, bank, "video_md5", secrets.token_hex(16))


def reinstate(
    admin: HmaClient, platform: HmaClient, bank: str, signal_type: str, value: str
) -> None:
    """Add, delete and add again the signal ``value``, checking what matches each time."""

    def matches() -> Any:
        lookup = {"signal": value, "signal_type": signal_type}
        return platform.call("GET", "/m/raw_lookup", lookup)[1]

    status, added = admin.call("POST", f"/c/bank/{bank}/signal", json_body={signal_type: value})
    assert status == 200, added
    content_id = added["id"]
    assert eventually(lambda: matches() == {"matches": [content_id]}, "banked")
    assert admin.call("DELETE", f"/c/bank/{bank}/content/{content_id}") == (200, {"deleted": 1})
    assert eventually(lambda: matches() == {"matches": []}, "deleted")
    status, again = admin.call("POST", f"/c/bank/{bank}/signal", json_body={signal_type: value})
    assert (status, again["id"]) == (200, content_id), again
    assert eventually(lambda: matches() == {"matches": [content_id]}, "matches again")
    assert admin.call("GET", f"/c/bank/{bank}/content/{content_id}")[0] == 200


def test_an_add_never_undoes_a_moderators_withdrawal(admin: HmaClient, platform: HmaClient) -> None:
    bank = new_bank(admin)
    value = secrets.token_hex(32)
    status, added = admin.call("POST", f"/c/bank/{bank}/signal", json_body={"pdq": value})
    assert status == 200, added
    withdrawal = {"hashes": [value], "reason": "false positive (review)"}
    status, body = admin.call("POST", f"/v1/banks/{bank}/withdraw", json_body=withdrawal)
    assert status == 200, body
    status, again = admin.call("POST", f"/c/bank/{bank}/signal", json_body={"pdq": value})
    assert status == 409, again
    assert "withdrawn" in again["message"]
    lookup = {"signal": value, "signal_type": "pdq"}
    assert platform.call("GET", "/m/raw_lookup", lookup)[1] == {"matches": []}
    assert admin.call("GET", f"/c/bank/{bank}/content/{added['id']}")[0] == 404


def test_index_status_and_configuration_read_as_hma_does(
    admin: HmaClient, platform: HmaClient
) -> None:
    status, body = platform.call("GET", "/m/index/status")
    assert status == 200, body
    assert body["pdq"]["present"] is True
    assert isinstance(body["pdq"]["built_to"], int)
    assert isinstance(body["pdq"]["size"], int)
    assert set(body["video_md5"]) == {"present", "built_to", "size"}
    only = platform.call("GET", "/m/index/status", {"signal_type": "pdq"})[1]
    assert set(only) == {"pdq"}
    assert admin.call("GET", "/c/content_type")[1] == [
        {"name": "photo", "enabled": True},
        {"name": "video", "enabled": True},
    ]
    names = [entry["name"] for entry in admin.call("GET", "/c/signal_type")[1]]
    assert names == ["pdq", "video_md5", "video_sha256"]


def test_what_rempart_does_not_do_answers_501_with_the_reason(
    admin: HmaClient, platform: HmaClient
) -> None:
    url = {"url": "http://127.0.0.1:9/image.png"}
    unsupported(platform.call("GET", "/h/hash", url), "upload the file")
    unsupported(platform.call("GET", "/m/lookup", url), "upload the file")
    bank = new_bank(admin)
    unsupported(admin.call("POST", f"/c/bank/{bank}/content", url), "upload the file")
    for method, path in (
        ("GET", "/c/exchanges"),
        ("POST", "/c/exchanges"),
        ("GET", "/c/exchanges/apis"),
        ("GET", "/c/exchange/SOME_EXCHANGE"),
        ("GET", "/c/exchange/SOME_EXCHANGE/status"),
        ("PUT", "/c/exchange/SOME_EXCHANGE"),
    ):
        unsupported(admin.call(method, path), "rempart exchange")
    unsupported(platform.call("POST", "/m/compare", json_body={"pdq": ["0" * 64, "0" * 64]}))
    unsupported(platform.call("GET", "/m/raw_lookup", {"signal": "x", "signal_type": "vpdq"}))


# --- what a hostile or odd client sends ------------------------------------------------------


def test_a_hostile_upload_does_not_stall_the_worker(
    hma: RunningServer, platform: HmaClient
) -> None:
    """32 MiB of line breaks as a video (a MIME parser works line by line: the one read on the
    event loop took seconds over it) is hashed as any video, while the worker goes on
    answering /healthz within a second."""
    video = b"\n" * (32 * 1024 * 1024)
    answers: list[tuple[int, Any]] = []
    uploading = threading.Thread(
        target=lambda: answers.append(platform.call("POST", "/h/hash", upload=("video", video)))
    )
    uploading.start()
    slowest = 0.0
    while uploading.is_alive():
        started = time.monotonic()
        with urllib.request.urlopen(hma.url + "/healthz", timeout=60) as response:
            assert response.status == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.01)
    uploading.join()
    assert answers == [(200, {"video_md5": hashlib.md5(video).hexdigest()})]
    assert slowest < 1.0, f"/healthz took {slowest:.1f} s during the upload"


def test_malformed_uploads_are_400(platform: HmaClient) -> None:
    image = photo(seed=5)
    part = b'Content-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
    bodies = [
        ("multipart/form-data", b"--b\r\n" + part + image + b"\r\n--b--\r\n"),  # no boundary
        ("multipart/form-data; boundary=" + "b" * 100_000, b"x"),
        ("multipart/form-data; boundary=b", b"--b\r\n" + part + image),  # never closed
        ("multipart/form-data; boundary=b", b"--b\r\nno blank line\r\n--b--\r\n"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\n" + part + image + b"\r\n--b\r\n" + part + image + b"\r\n--b--\r\n",
        ),  # two files
        (
            "multipart/form-data; boundary=b",  # a form of many parts, none a file
            b"".join(
                b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n'
                for _ in range(10_000)
            )
            + b"--b--\r\n",
        ),
        ("application/octet-stream", image),
    ]
    for content_type, body in bodies:
        status, answer = platform.call("POST", "/h/hash", raw=(content_type, body))
        assert status == 400, (content_type[:40], answer)
        assert set(answer) == {"message"}, answer
    # A preamble, a plain field and transport padding are no error.
    body = (
        b'preamble\r\n--b  \r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
        b"--b\r\n" + part + image + b"\r\n--b--\r\nepilogue"
    )
    status, answer = platform.call("POST", "/h/hash", raw=("multipart/form-data; boundary=b", body))
    assert status == 200, answer
    assert answer == platform.call("POST", "/h/hash", upload=("photo", image))[1]


def test_content_ids_no_entry_can_have_are_not_found(admin: HmaClient) -> None:
    bank = new_bank(admin)
    for content_id in ("99999999999999999999999", str(2**63), "-1", str(-(2**63) - 1)):
        for method in ("GET", "DELETE"):
            answer = admin.call(method, f"/c/bank/{bank}/content/{content_id}")
            assert answer == (404, {"message": f"content '{content_id}' not found"}), method
    largest = str(2**63 - 1)  # an id an entry may have, which none has
    assert admin.call("GET", f"/c/bank/{bank}/content/{largest}")[0] == 404
    assert admin.call("DELETE", f"/c/bank/{bank}/content/{largest}") == (200, {"deleted": 0})


def test_json_nested_beyond_the_parser_is_a_400(admin: HmaClient, hma: RunningServer) -> None:
    bank = new_bank(admin)
    deep = ("application/json", b"[" * 100_000 + b"]" * 100_000)
    for method, path in (
        ("POST", "/c/banks"),
        ("POST", f"/c/bank/{bank}/signal"),
        ("PUT", f"/c/bank/{bank}"),
    ):
        status, body = admin.call(method, path, raw=deep)
        assert status == 400, (path, body)
        assert set(body) == {"message"}, body
        assert "nested too deep" in body["message"]
    # As /v1 answers the same body.
    status, problem = HmaClient(hma.url, admin.api_key).call("POST", "/v1/banks", raw=deep)
    assert status == 400, problem
    assert admin.call("GET", f"/c/bank/{bank}")[0] == 200  # nothing changed


def declared_too_large(hma: RunningServer, key: str, path: str) -> tuple[int, Any]:
    """POST to ``path`` a JSON body declared a gigabyte long, sending none of it."""
    connection = http.client.HTTPConnection("127.0.0.1", hma.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Authorization", f"Bearer {key}")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(1024**3))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_refusals_before_the_route_carry_hma_message(
    hma: RunningServer, keys: dict[str, str]
) -> None:
    """No key (401) and a body over the limit (413) are answered by middlewares before any
    HMA route: on HMA's paths they carry ``message`` too; on /v1 they stay plain problems."""
    for key in (None, "not-a-key"):
        status, body = HmaClient(hma.url, key).call("GET", "/c/banks")
        assert status == 401, body
        assert body["message"] == body["detail"]
        assert body["type"].endswith("unauthenticated"), body
    status, body = declared_too_large(hma, keys["admin"], "/c/banks")
    assert status == 413, body
    assert body["message"] == body["detail"]
    assert body["limit"] == JSON_LIMIT
    status, body = HmaClient(hma.url, keys["admin"]).call("GET", "/c/no/such/path")
    assert (status, body["message"]) == (404, body["detail"])
    status, body = HmaClient(hma.url, None).call("GET", "/v1/banks")
    assert status == 401
    assert "message" not in body
    status, body = declared_too_large(hma, keys["admin"], "/v1/banks")
    assert status == 413
    assert "message" not in body


def test_every_pytx_digest_type_is_banked_and_looked_up(
    admin: HmaClient, platform: HmaClient
) -> None:
    bank = new_bank(admin)
    # python-threatexchange's names of exact digests, each as HMA's lookups and banks take it.
    for name in ("md5", "photo_md5", "video_md5", "sha256", "photo_sha256", "video_sha256"):
        digest = secrets.token_hex(16 if name.endswith("md5") else 32)
        status, added = admin.call("POST", f"/c/bank/{bank}/signal", json_body={name: digest})
        assert status == 200, (name, added)
        assert added["signals"] == {name: digest}
        lookup = {"signal": digest, "signal_type": name}
        wanted = {"matches": [added["id"]]}

        def matched(lookup: dict[str, str] = lookup, wanted: Any = wanted) -> bool:
            return bool(platform.call("GET", "/m/raw_lookup", lookup)[1] == wanted)

        assert eventually(matched, f"a {name} signal matches")
