"""``POST /v1/models/audit``: a hub sends a model's first bytes, its card and its sidecar, as
JSON or multipart, and gets the audit's record; roles, bad bytes and limits."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from safetensors.numpy import save

from rempart.access.keys import ApiKeys, Role
from rempart.config import load_settings
from rempart.store import Store
from tests.server.checks import poll, problem
from tests.server.inprocess import InProcessServer

HEADER_LIMIT = 64 * 1024
DECLARED = {"model": {"name": "portrait lora", "poi": True, "nsfw": True}}
CARD = "---\ntags: [lora, not-for-all-audiences]\nbase_model: sd15\n---\nA LoRA.\n"


def header(metadata: dict[str, str] | None = None, *, padding: int = 0) -> bytes:
    """The first bytes of a safetensors file: its length and JSON header, no weights."""
    weights = np.arange(256, dtype=np.float32).reshape(16, 16)
    data = save({"lora_up.weight": weights}, metadata={**(metadata or {}), "pad": "x" * padding})
    length = int.from_bytes(data[:8], "little")
    return data[: 8 + length]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[InProcessServer, dict[str, str]]]:
    """The app on SQLite, with a key per role and a small header limit."""
    data_dir = tmp_path_factory.mktemp("data")
    database_url = f"sqlite:///{data_dir / 'rempart.db'}"
    store = Store.open(database_url)
    try:
        made = ApiKeys(store)
        keys = {role.value: made.create(role, name=f"test {role.value}").secret for role in Role}
    finally:
        store.close()
    settings = load_settings(
        {
            "REMPART_DATA_DIR": str(data_dir),
            "REMPART_DATABASE_URL": database_url,
            "REMPART_MODEL_MAX_HEADER_BYTES": str(HEADER_LIMIT),
        }
    )
    app = InProcessServer(settings).start()
    yield app, keys
    app.stop()


def client(served: tuple[InProcessServer, dict[str, str]], role: str | None) -> httpx.Client:
    app, keys = served
    return app.client(keys[role] if role else None)


def as_json(
    data: bytes, card: str | None = None, sidecar: Any = None, name: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"header": base64.b64encode(data).decode()}
    if card is not None:
        body["card"] = card
    if sidecar is not None:
        body["sidecar"] = sidecar
    if name is not None:
        body["name"] = name
    return {"json": body}


def as_form(
    data: bytes, card: str | None = None, sidecar: Any = None, name: str | None = None
) -> dict[str, Any]:
    files: dict[str, Any] = {"header": ("header.bin", data, "application/octet-stream")}
    if card is not None:
        files["card"] = ("README.md", card.encode(), "text/markdown")
    if sidecar is not None:
        files["sidecar"] = ("m.civitai.info", json.dumps(sidecar).encode(), "application/json")
    if name is not None:
        files["name"] = (None, name.encode())
    return {"files": files}


@pytest.mark.parametrize("encode", [as_json, as_form], ids=["json", "multipart"])
@pytest.mark.parametrize("role", ["platform", "reviewer", "admin"])
def test_a_declared_model_is_blocked_and_the_record_names_no_file(
    served: tuple[InProcessServer, dict[str, str]], role: str, encode: Any
) -> None:
    with client(served, role) as http:
        response = http.post("/v1/models/audit", **encode(header(), CARD, DECLARED))
    assert response.status_code == 200, response.text
    record = response.json()
    assert set(record) == {"format", "bytes", "verdict", "signals", "warnings"}
    assert record["format"] == "safetensors"
    assert record["verdict"]["action"] == "block"
    assert record["verdict"]["policy"]["name"] == "hub"
    names = {signal["name"] for signal in record["signals"]}
    assert {"model.poi", "model.nsfw"} <= names


def test_a_header_alone_of_a_plain_model_is_allowed(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    with client(served, "platform") as http:
        response = http.post(
            "/v1/models/audit", **as_json(header({"ss_output_name": "watercolour harbour"}))
        )
    assert response.status_code == 200, response.text
    assert response.json()["verdict"]["action"] == "allow"


def test_a_flagger_may_not_and_a_caller_without_a_key_is_401(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    with client(served, "flagger") as http:
        body = problem(http.post("/v1/models/audit", **as_json(header())), 403, "forbidden")
    assert "models" in body["detail"]
    with client(served, None) as http:
        problem(http.post("/v1/models/audit", **as_json(header())), 401, "unauthenticated")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a model file at all, just words",
        (4096).to_bytes(8, "little") + b'{"a": ',
        (100).to_bytes(8, "little") + b"[1, 2, 3]" + b" " * 91,
    ],
    ids=["empty", "text", "cut-short", "not-an-object"],
)
@pytest.mark.parametrize("encode", [as_json, as_form], ids=["json", "multipart"])
def test_bytes_that_are_no_model_get_a_model_problem(
    served: tuple[InProcessServer, dict[str, str]], data: bytes, encode: Any
) -> None:
    with client(served, "platform") as http:
        response = http.post("/v1/models/audit", **encode(data))
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["type"].startswith("urn:rempart:problem:model-"), body
    assert body["code"] in ("empty", "unsupported_format", "truncated", "corrupt")


def test_a_header_over_the_limit_is_413(served: tuple[InProcessServer, dict[str, str]]) -> None:
    big = header(padding=HEADER_LIMIT)
    with client(served, "platform") as http:
        for encode in (as_json, as_form):
            response = http.post("/v1/models/audit", **encode(big))
            assert response.status_code == 413, response.text
        # A header that says it is longer than the limit, without sending it, is refused too.
        declared = (HEADER_LIMIT * 2).to_bytes(8, "little") + b"{}"
        response = http.post("/v1/models/audit", **as_json(declared))
    assert response.status_code == 413, response.text
    assert response.json()["type"] == "urn:rempart:problem:model-too-large"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"header": "not base64!"}, "header"),
        ({"card": "a card but no header"}, "header"),
        ({"header": "", "card": 3}, "card"),
        ({"header": "", "sidecar": ["a list"]}, "sidecar"),
        ({"header": "", "weights": "AAAA"}, "weights"),
        (["a list"], None),
    ],
)
def test_a_malformed_json_body_is_422_naming_the_field(
    served: tuple[InProcessServer, dict[str, str]], body: Any, field: str | None
) -> None:
    with client(served, "platform") as http:
        found = problem(http.post("/v1/models/audit", json=body), 422, "invalid-request")
    location = "body" if field is None else f"body.{field}"
    assert found["errors"][0]["location"] == location


def test_a_multipart_body_without_a_header_part_is_422(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    with client(served, "platform") as http:
        files = {"card": ("README.md", CARD.encode(), "text/markdown")}
        problem(http.post("/v1/models/audit", files=files), 422, "invalid-request")
        boundary = uuid.uuid4().hex
        cut = f"--{boundary}\r\nContent-Disposition: form-data; name=header\r\n\r\nabc".encode()
        response = http.post(
            "/v1/models/audit",
            content=cut,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        problem(response, 422, "invalid-request")


def test_another_content_type_is_415(served: tuple[InProcessServer, dict[str, str]]) -> None:
    with client(served, "platform") as http:
        response = http.post(
            "/v1/models/audit", content=header(), headers={"content-type": "text/plain"}
        )
    problem(response, 415, "unsupported-media-type")


def test_binary_parts_arrive_exactly(served: tuple[InProcessServer, dict[str, str]]) -> None:
    """CR, LF and boundary-like bytes inside the header survive the multipart parser."""
    tricky = {"ss_output_name": "a\r\nb\r\n--x\r\n\r\nc"}
    with client(served, "platform") as http:
        by_form = http.post("/v1/models/audit", **as_form(header(tricky))).json()
        by_json = http.post("/v1/models/audit", **as_json(header(tricky))).json()
    assert by_form == by_json
    assert by_form["format"] == "safetensors"


def test_lone_surrogates_in_the_header_and_sidecar_are_answered_escaped(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    """JSON may escape a lone surrogate: a hostile header's tags and sidecar do."""
    tags = json.dumps({"1_a\udc80": {"nude\ud800": 3}})  # the escapes, as text
    sidecar = {"name": "portrait \ud800", "model": {"poi": True}}
    with client(served, "platform") as http:
        body = as_json(header({"ss_tag_frequency": tags}), None, sidecar)["json"]
        response = http.post(
            "/v1/models/audit",
            content=json.dumps(body).encode(),  # the surrogate as its escape
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        fields = [signal["evidence"].get("field") for signal in response.json()["signals"]]
        assert "ss_tag_frequency/1_a\udc80/nude\ud800" in fields


def test_the_request_log_records_the_verdict(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    app, _ = served
    with client(served, "admin") as http:
        made = http.post("/v1/keys", json={"role": "platform", "name": "log test"}).json()
    with app.client(made["secret"]) as http:
        assert http.post("/v1/models/audit", **as_json(header(), CARD, DECLARED)).is_success

    def logged() -> list[dict[str, Any]]:
        with client(served, "admin") as http:
            query = {"key_id": made["key_id"]}
            found: list[dict[str, Any]] = http.get("/v1/audit", params=query).json()["entries"]
        return found

    (entry,) = poll(logged, "the audit is logged", 8.0)
    assert entry["route"] == "/v1/models/audit"
    assert entry["outcome"] == "block"
    assert entry["detail"]["format"] == "safetensors"
    assert "sexual_deepfake" in entry["detail"]["categories"]


@pytest.mark.parametrize("encode", [as_json, as_form], ids=["json", "multipart"])
def test_the_uploaded_files_name_is_read_as_the_audit_reads_a_files_own(
    served: tuple[InProcessServer, dict[str, str]], encode: Any
) -> None:
    with client(served, "platform") as http:
        named = http.post(
            "/v1/models/audit",
            **encode(header(), name="C:\\uploads\\influencer_nude_v2.safetensors"),
        )
        plain = http.post("/v1/models/audit", **encode(header(), name="style_v2.safetensors"))
    assert named.status_code == plain.status_code == 200, named.text
    signals = {s["name"]: s["evidence"] for s in named.json()["signals"]}
    assert signals["text.likeness"]["field"] == "file name"
    assert signals["text.nudity"]["match"] == "nude"
    assert named.json()["verdict"]["action"] == "review"
    assert plain.json()["signals"] == []


def test_a_name_that_is_not_text_or_too_long_is_422(
    served: tuple[InProcessServer, dict[str, str]],
) -> None:
    with client(served, "platform") as http:
        for name in (7, "x" * 2000):
            body = {"header": base64.b64encode(header()).decode(), "name": name}
            found = problem(http.post("/v1/models/audit", json=body), 422, "invalid-request")
            assert found["errors"][0]["location"] == "body.name"
