"""Who may call what, against a real server on SQLite and PostgreSQL: API keys (from the CLI
and the API, through their whole life), the role of each endpoint, rate limits, and the audit
log every request leaves."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from rempart.access.keys import Role, parse_key
from rempart.server.auth import PERMISSIONS, Permission
from tests.images import encode, gradient
from tests.server import checks
from tests.server.checks import problem
from tests.server.running import RunningServer

CLI = [sys.executable, "-c", "from rempart.cli import main; main()"]
GUARD_PROMPT = "photo of a 14 year old, nude"
KEY_FIELDS = {"key_id", "name", "role", "rate_limit", "created_at", "revoked_at"}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}  # probes: no key needed

T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------


def unauthenticated(response: httpx.Response) -> None:
    problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def poll(check: Callable[[], T | None], what: str, deadline: float = 5.0) -> T:
    """``check()``'s first truthy answer, within ``deadline`` seconds."""
    return checks.poll(check, what, deadline)


def rempart(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``rempart`` CLI against the server's database."""
    return subprocess.run(
        [*CLI, *args], env=server.env, capture_output=True, text=True, timeout=120, check=False
    )


def key_id(secret: str) -> str:
    found = parse_key(secret)
    assert found is not None, secret
    return found


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def audit_entries(admin: httpx.Client, after: int = 0) -> list[dict[str, Any]]:
    """Every audit entry with an id above ``after``, oldest first."""
    entries: list[dict[str, Any]] = []
    while True:
        response = admin.get("/v1/audit", params={"after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        page = response.json()["entries"]
        if not page:
            return entries
        entries += page
        after = page[-1]["id"]


def last_audit_id(admin: httpx.Client) -> int:
    entries = audit_entries(admin)
    return int(entries[-1]["id"]) if entries else 0


# --- the endpoints and the permission each needs ------------------------------------------------


@dataclass(frozen=True)
class World:
    """What the endpoints' minimal valid requests refer to."""

    bank: str
    image: bytes
    face: str  # base64
    revocable: dict[str, str]  # role -> the id of a key that role's DELETE may revoke


Request = tuple[str, dict[str, Any]]  # (URL, httpx keyword arguments)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint, the permission it needs (or ``also`` one of others), the status of a
    minimal valid request, and how to make that request for a role."""

    method: str
    path: str
    permission: Permission
    ok: int
    request: Callable[[World, str], Request]
    also: tuple[Permission, ...] = ()

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _image(world: World, _role: str) -> dict[str, Any]:
    return {"content": world.image, "headers": {"content-type": "image/png"}}


def _get(path: str) -> Callable[[World, str], Request]:
    return lambda world, role: (path.format(bank=world.bank), {})


# A safetensors file's header that declares no tensor: its 8-byte length, then "{}".
_EMPTY_SAFETENSORS = base64.b64encode((2).to_bytes(8, "little") + b"{}").decode()

ENDPOINTS = [
    Endpoint("GET", "/metrics", Permission.METRICS, 200, _get("/metrics")),
    Endpoint("POST", "/v1/hash", Permission.HASH, 200, lambda w, r: ("/v1/hash", _image(w, r))),
    Endpoint(
        "POST",
        "/v1/match",
        Permission.MATCH,
        200,
        lambda w, r: ("/v1/match", {"json": {"hashes": [secrets.token_hex(32)]}}),
    ),
    Endpoint(
        "POST",
        "/v1/match/image",
        Permission.MATCH,
        200,
        lambda w, r: ("/v1/match/image", _image(w, r)),
    ),
    Endpoint(
        "POST",
        "/v1/match/video",
        Permission.MATCH,
        200,
        lambda w, r: (
            "/v1/match/video",
            {"json": {"vpdq": [f"{secrets.token_hex(32)},100,0.0"]}},
        ),
    ),
    Endpoint("POST", "/v1/scan", Permission.SCAN, 200, lambda w, r: ("/v1/scan", _image(w, r))),
    Endpoint(
        "POST",
        "/v1/gate",
        Permission.GATE,
        200,
        lambda w, r: ("/v1/gate", {"json": {"prompt": "a cat on a sofa"}}),
    ),
    Endpoint(
        "POST",
        "/v1/models/audit",
        Permission.MODELS,
        200,
        lambda w, r: ("/v1/models/audit", {"json": {"header": _EMPTY_SAFETENSORS}}),
    ),
    Endpoint("GET", "/v1/banks", Permission.BANKS_READ, 200, _get("/v1/banks")),
    Endpoint(
        "POST",
        "/v1/banks",
        Permission.BANKS_ADMIN,
        201,
        lambda w, r: ("/v1/banks", {"json": {"name": f"made-by-{r}-{secrets.token_hex(3)}"}}),
    ),
    Endpoint("GET", "/v1/banks/{name}", Permission.BANKS_READ, 200, _get("/v1/banks/{bank}")),
    Endpoint(
        "PATCH",
        "/v1/banks/{name}",
        Permission.BANKS_ADMIN,
        200,
        lambda w, r: (f"/v1/banks/{w.bank}", {"json": {"description": f"patched by {r}"}}),
    ),
    Endpoint(
        "POST",
        "/v1/banks/{name}/hashes",
        Permission.BANKS_ADD,
        201,
        lambda w, r: (f"/v1/banks/{w.bank}/hashes", {"json": {"hash": secrets.token_hex(32)}}),
    ),
    Endpoint(
        "POST",
        "/v1/banks/{name}/import",
        Permission.BANKS_ADMIN,
        200,
        lambda w, r: (
            f"/v1/banks/{w.bank}/import?format=hex",
            {"content": secrets.token_hex(32) + "\n", "headers": {"content-type": "text/plain"}},
        ),
    ),
    Endpoint(
        "GET",
        "/v1/banks/{name}/export",
        Permission.BANKS_EXPORT,
        200,
        _get("/v1/banks/{bank}/export"),
    ),
    Endpoint(
        "POST",
        "/v1/banks/{name}/withdraw",
        Permission.BANKS_WITHDRAW,
        200,
        lambda w, r: (
            f"/v1/banks/{w.bank}/withdraw",
            {"json": {"hashes": [secrets.token_hex(32)], "reason": "test"}},
        ),
    ),
    Endpoint("GET", "/v1/persons", Permission.PERSONS_READ, 200, _get("/v1/persons")),
    Endpoint(
        "POST",
        "/v1/persons",
        Permission.PERSONS_ADMIN,
        201,
        lambda w, r: ("/v1/persons", {"json": {"name": f"Person {r}", "photos": [w.face]}}),
    ),
    Endpoint(
        "DELETE",
        "/v1/persons/{name}",
        Permission.PERSONS_ADMIN,
        404,  # nobody of that name: person-not-found, once the role is allowed
        lambda w, r: (f"/v1/persons/Nobody {r}", {}),
    ),
    Endpoint("GET", "/v1/keys", Permission.KEYS_ADMIN, 200, _get("/v1/keys")),
    Endpoint(
        "POST",
        "/v1/keys",
        Permission.KEYS_ADMIN,
        201,
        lambda w, r: ("/v1/keys", {"json": {"role": "platform", "name": f"made by {r}"}}),
    ),
    Endpoint(
        "DELETE",
        "/v1/keys/{key_id}",
        Permission.KEYS_ADMIN,
        200,
        lambda w, r: (f"/v1/keys/{w.revocable[r]}", {}),
    ),
    Endpoint("GET", "/v1/audit", Permission.AUDIT_READ, 200, _get("/v1/audit")),
]
# The desk's cases: off on this server (no key file), so 503 desk-unavailable once the role is
# allowed; a flagger reads and withdraws its own cases, a reviewer reads all.
_CASE = "/v1/cases/R-AAAAAAAAAA"
_ITEMS = {"json": {"items": [{"url": "https://example.org/a"}]}}
ENDPOINTS += [
    Endpoint(
        "POST",
        "/v1/cases",
        Permission.DESK_REPORT,
        503,
        lambda w, r: ("/v1/cases", {"json": {"age": "adult", **_ITEMS["json"]}}),
    ),
    Endpoint(
        "GET",
        "/v1/cases",
        Permission.DESK_REVIEW,
        503,
        _get("/v1/cases"),
        (Permission.DESK_REPORT,),
    ),
    Endpoint(
        "GET",
        "/v1/cases/{number}",
        Permission.DESK_REVIEW,
        503,
        _get(_CASE),
        (Permission.DESK_REPORT,),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/items",
        Permission.DESK_REPORT,
        503,
        lambda w, r: (f"{_CASE}/items", _ITEMS),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/move",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_CASE}/move", {"json": {"state": "closed"}}),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/items/{item_id}/move",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_CASE}/items/1/move", {"json": {"state": "closed"}}),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/items/{item_id}/confirm",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_CASE}/items/1/confirm", {}),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/withdraw",
        Permission.DESK_REPORT,
        503,
        lambda w, r: (f"{_CASE}/withdraw", {}),
    ),
    Endpoint(
        "POST",
        "/v1/cases/{number}/secret",
        Permission.DESK_REPORT,
        503,
        lambda w, r: (f"{_CASE}/secret", {}),
    ),
]
# The notices: a flagger's on its own cases, a reviewer's on all; 503 here too.
_NUMBER = "R-AAAAAAAAAA"
_NOTICE = "/v1/notices/N-1"
_STAFF = (Permission.DESK_REPORT,)
ENDPOINTS += [
    Endpoint(
        "POST",
        "/v1/notices",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: ("/v1/notices", {"json": {"case": _NUMBER, "platform": "example"}}),
        _STAFF,
    ),
    Endpoint(
        "GET",
        "/v1/notices",
        Permission.DESK_REVIEW,
        503,
        _get(f"/v1/notices?case={_NUMBER}"),
        _STAFF,
    ),
    Endpoint(
        "GET", "/v1/notices/due", Permission.DESK_REVIEW, 503, _get("/v1/notices/due"), _STAFF
    ),
    Endpoint("GET", "/v1/notices/{reference}", Permission.DESK_REVIEW, 503, _get(_NOTICE), _STAFF),
    Endpoint(
        "GET",
        "/v1/notices/{reference}/preview",
        Permission.DESK_REVIEW,
        503,
        _get(f"{_NOTICE}/preview?format=pdf"),
        _STAFF,
    ),
    Endpoint(
        "POST",
        "/v1/notices/{reference}/send",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_NOTICE}/send", {}),
        _STAFF,
    ),
    Endpoint(
        "POST",
        "/v1/notices/{reference}/deliveries",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (
            f"{_NOTICE}/deliveries",
            {"json": {"at": "2026-12-01T10:00:00+00:00", "how": "web form"}},
        ),
        _STAFF,
    ),
    Endpoint(
        "POST",
        "/v1/notices/{reference}/replies",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_NOTICE}/replies", {"json": {"kind": "receipt"}}),
        _STAFF,
    ),
    Endpoint(
        "POST",
        "/v1/notices/{reference}/order",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_NOTICE}/order", {"json": {"reference": "O-1"}}),
        _STAFF,
    ),
    Endpoint(
        "POST",
        "/v1/notices/{reference}/escalations",
        Permission.DESK_REVIEW,
        503,
        lambda w, r: (f"{_NOTICE}/escalations", {"json": {"step": "regulator"}}),
        _STAFF,
    ),
    Endpoint("GET", "/v1/platforms", Permission.DESK_REVIEW, 503, _get("/v1/platforms"), _STAFF),
]
# HMA 2.x's paths (the server here runs with --hma-compat): the lookups need a key that may
# match, curation the bank permissions its /v1 twin needs; what Rempart does not do is 501.
_HMA_BANK = "/c/bank/{bank_name}"
_HMA_CONTENT = "/c/bank/{bank_name}/content/{content_id}"


def _photo(world: World, _role: str) -> dict[str, Any]:
    return {"files": {"photo": ("photo.png", world.image, "image/png")}}


def _hma_signal(world: World, role: str) -> Request:
    return f"/m/raw_lookup?signal={secrets.token_hex(32)}&signal_type=pdq", {}


ENDPOINTS += [
    Endpoint("GET", "/m/raw_lookup", Permission.MATCH, 200, _hma_signal),
    Endpoint(
        "GET",
        "/m/lookup",
        Permission.MATCH,
        200,
        lambda w, r: (f"/m/lookup?signal={secrets.token_hex(32)}&signal_type=pdq", {}),
    ),
    Endpoint("POST", "/m/lookup", Permission.MATCH, 200, lambda w, r: ("/m/lookup", _photo(w, r))),
    Endpoint("GET", "/m/index/status", Permission.MATCH, 200, _get("/m/index/status")),
    Endpoint("GET", "/h/hash", Permission.HASH, 501, _get("/h/hash?url=https://example.org/a")),
    Endpoint("POST", "/h/hash", Permission.HASH, 200, lambda w, r: ("/h/hash", _photo(w, r))),
    Endpoint("GET", "/c/banks", Permission.BANKS_READ, 200, _get("/c/banks")),
    Endpoint(
        "POST",
        "/c/banks",
        Permission.BANKS_ADMIN,
        201,
        lambda w, r: ("/c/banks", {"json": {"name": f"HMA_BY_{r}_{secrets.token_hex(3)}"}}),
    ),
    Endpoint("GET", _HMA_BANK, Permission.BANKS_READ, 200, _get("/c/bank/{bank}")),
    Endpoint(
        "PUT",
        _HMA_BANK,
        Permission.BANKS_ADMIN,
        200,
        lambda w, r: (f"/c/bank/{w.bank}", {"json": {"enabled": True}}),
    ),
    Endpoint("DELETE", _HMA_BANK, Permission.BANKS_ADMIN, 501, _get("/c/bank/{bank}")),
    Endpoint(
        "POST",
        _HMA_BANK + "/content",
        Permission.BANKS_ADD,
        200,
        lambda w, r: (f"/c/bank/{w.bank}/content", _photo(w, r)),
    ),
    Endpoint(
        "POST",
        _HMA_BANK + "/signal",
        Permission.BANKS_ADD,
        200,
        lambda w, r: (f"/c/bank/{w.bank}/signal", {"json": {"pdq": secrets.token_hex(32)}}),
    ),
    # Content 999999999 does not exist: 404 once the role is allowed.
    Endpoint(
        "GET", _HMA_CONTENT, Permission.BANKS_READ, 404, _get("/c/bank/{bank}/content/999999999")
    ),
    Endpoint(
        "PUT",
        _HMA_CONTENT,
        Permission.BANKS_ADMIN,
        501,
        lambda w, r: (f"/c/bank/{w.bank}/content/1", {"json": {"disable_until_ts": 0}}),
    ),
    Endpoint(
        "DELETE",
        _HMA_CONTENT,
        Permission.BANKS_WITHDRAW,
        200,
        _get("/c/bank/{bank}/content/999999999"),
    ),
    Endpoint("GET", "/c/signal_type", Permission.BANKS_READ, 200, _get("/c/signal_type")),
    Endpoint("GET", "/c/content_type", Permission.BANKS_READ, 200, _get("/c/content_type")),
]
ROLES = [role.value for role in Role]


def send(client: httpx.Client, endpoint: Endpoint, world: World, role: str) -> httpx.Response:
    url, options = endpoint.request(world, role)
    return client.request(endpoint.method, url, **options)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(hma_server: RunningServer) -> RunningServer:
    """The server of this module, with HMA's paths too (--hma-compat): the matrix covers them."""
    return hma_server


@pytest.fixture
def admin(server: RunningServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with server.client(keys["admin"]) as client:
        yield client


@pytest.fixture(scope="module")
def world(server: RunningServer, keys: dict[str, str], testdata: Path) -> World:
    with server.client(keys["admin"]) as admin:
        bank = f"matrix-{secrets.token_hex(4)}"
        admin.post("/v1/banks", json={"name": bank}).raise_for_status()
        revocable = {}
        for role in ROLES:
            made = admin.post("/v1/keys", json={"role": "platform", "name": f"for {role}"})
            made.raise_for_status()
            revocable[role] = made.json()["key_id"]
    face = Image.open(testdata / "faces" / "obama.jpg").convert("RGB")
    face.thumbnail((480, 480))
    return World(
        bank=bank,
        image=encode(gradient(), "PNG"),
        face=base64.b64encode(encode(face, "JPEG", quality=90)).decode(),
        revocable=revocable,
    )


# --- authentication --------------------------------------------------------------------------


def test_a_request_without_a_valid_key_is_401(server: RunningServer, keys: dict[str, str]) -> None:
    real = keys["platform"]
    prefix, real_id, _ = real.split("_", 2)
    well_formed_unknown = f"rmp_{'0' * 12}_{secrets.token_urlsafe(32)}"
    wrong_secret = f"{prefix}_{real_id}_{secrets.token_urlsafe(32)}"
    assert parse_key(well_formed_unknown)
    assert parse_key(wrong_secret) == real_id
    presented: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {base64.b64encode(real.encode()).decode()}"},
        {"Authorization": real},  # no scheme
        bearer("rmp_short_key"),
        bearer(real + "x"),
        bearer(real.replace("rmp_", "rmq_")),
        bearer(well_formed_unknown),
        bearer(wrong_secret),
    ]
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for headers in presented:
            unauthenticated(client.get("/v1/banks", headers=headers))
        # The real key, in either case of the scheme, is accepted.
        assert client.get("/v1/banks", headers=bearer(real)).status_code == 200
        assert client.get("/v1/banks", headers={"Authorization": f"bearer {real}"}).is_success
        # A wrong secret tried after the right one is still refused (nothing cached by id).
        unauthenticated(client.get("/v1/banks", headers=bearer(wrong_secret)))


def test_every_endpoint_needs_a_key(server: RunningServer, world: World) -> None:
    with server.client() as client:
        for endpoint in ENDPOINTS:
            unauthenticated(send(client, endpoint, world, "admin"))
        for method, path in PUBLIC:
            assert client.request(method, path).status_code == 200


def test_the_matrix_covers_every_endpoint(server: RunningServer) -> None:
    document = httpx.get(server.url + "/openapi.json", timeout=60).json()
    served = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert served == {(e.method, e.path) for e in ENDPOINTS} | PUBLIC


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_role_matrix(
    server: RunningServer, keys: dict[str, str], world: World, endpoint: Endpoint, role: str
) -> None:
    with server.client(keys[role]) as client:
        response = send(client, endpoint, world, role)
    if not PERMISSIONS[Role(role)].isdisjoint({endpoint.permission, *endpoint.also}):
        assert response.status_code == endpoint.ok, response.text
    else:
        body = problem(response, 403, "forbidden")
        assert role in body["detail"]
        assert endpoint.permission.value in body["detail"]


def test_roles_are_no_broader_than_they_should_be() -> None:
    assert PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Permission.BANKS_ADMIN not in PERMISSIONS[Role.PLATFORM]
    assert Permission.BANKS_ADD not in PERMISSIONS[Role.PLATFORM]
    assert Permission.SCAN not in PERMISSIONS[Role.FLAGGER]
    assert Permission.GATE not in PERMISSIONS[Role.FLAGGER]
    assert Permission.BANKS_ADMIN not in PERMISSIONS[Role.REVIEWER]
    # Only an admin manages keys, the registry and banks; a monitor reads the metrics alone.
    for permission in (Permission.KEYS_ADMIN, Permission.PERSONS_ADMIN, Permission.BANKS_ADMIN):
        assert [role for role in Role if permission in PERMISSIONS[role]] == [Role.ADMIN]
    assert [role for role in Role if Permission.METRICS in PERMISSIONS[role]] == [
        Role.ADMIN,
        Role.MONITOR,
    ]
    assert PERMISSIONS[Role.MONITOR] == {Permission.METRICS}


def test_concrete_refusals_and_an_admin_who_may_do_everything(
    server: RunningServer, keys: dict[str, str], world: World
) -> None:
    with server.client(keys["platform"]) as platform:
        problem(platform.post("/v1/banks", json={"name": "not-by-platform"}), 403, "forbidden")
    with server.client(keys["flagger"]) as flagger:
        problem(
            flagger.post("/v1/scan", content=world.image, headers={"content-type": "image/png"}),
            403,
            "forbidden",
        )
        assert flagger.post(f"/v1/banks/{world.bank}/hashes", json={"hash": "0" * 64}).is_success
    with server.client(keys["reviewer"]) as reviewer:
        problem(
            reviewer.post(
                f"/v1/banks/{world.bank}/import",
                content=secrets.token_hex(32),
                headers={"content-type": "text/plain"},
            ),
            403,
            "forbidden",
        )
        assert reviewer.get("/v1/audit").status_code == 200
    with server.client(keys["admin"]) as admin:
        for endpoint in ENDPOINTS:
            assert send(admin, endpoint, world, "admin").status_code not in (401, 403, 429)
    listed = httpx.get(server.url + "/v1/banks", headers=bearer(keys["admin"]), timeout=60)
    assert "not-by-platform" not in {bank["name"] for bank in listed.json()["banks"]}


# --- a key's life ----------------------------------------------------------------------------


def test_a_key_from_the_cli_works_at_once_is_listed_without_secrets_and_revokes(
    server: RunningServer, admin: httpx.Client
) -> None:
    created = rempart(server, "key", "create", "--role", "platform", "--name", "x")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert created.stdout == secret + "\n"  # the secret, and nothing else, on stdout
    new_id = key_id(secret)
    assert new_id in created.stderr

    with server.client(secret) as client:
        assert client.get("/v1/banks").status_code == 200  # no wait for the server to reload
        problem(client.get("/v1/keys"), 403, "forbidden")  # a platform key, not an admin's

    listed = rempart(server, "key", "list", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    (record,) = [r for r in records if r["key_id"] == new_id]
    assert set(record) == KEY_FIELDS
    assert (record["role"], record["name"], record["revoked_at"]) == ("platform", "x", None)
    assert secret not in listed.stdout
    assert secret.split("_", 2)[2] not in listed.stdout
    assert "argon2" not in listed.stdout

    response = admin.get("/v1/keys")
    assert response.status_code == 200
    (served,) = [k for k in response.json()["keys"] if k["key_id"] == new_id]
    assert set(served) == KEY_FIELDS
    assert served == record
    assert secret.split("_", 2)[2] not in response.text
    assert "argon2" not in response.text
    assert "secret" not in response.text

    revoked = rempart(server, "key", "revoke", new_id)
    assert revoked.returncode == 0, revoked.stderr
    with server.client(secret) as client:
        poll(lambda: client.get("/v1/banks").status_code == 401, "the server refuses the key")
        unauthenticated(client.get("/v1/banks"))
    (served,) = [k for k in admin.get("/v1/keys").json()["keys"] if k["key_id"] == new_id]
    assert served["revoked_at"] is not None


def test_a_key_from_the_api_is_shown_once_and_revokes(
    server: RunningServer, admin: httpx.Client
) -> None:
    response = admin.post("/v1/keys", json={"role": "reviewer", "name": "from the api"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == KEY_FIELDS | {"secret"}
    secret = created["secret"]
    assert key_id(secret) == created["key_id"]
    assert (created["role"], created["name"], created["revoked_at"]) == (
        "reviewer",
        "from the api",
        None,
    )
    with server.client(secret) as client:
        assert client.get("/v1/audit").status_code == 200
    # Never shown again.
    assert secret.split("_", 2)[2] not in admin.get("/v1/keys").text

    deleted = admin.delete(f"/v1/keys/{created['key_id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["revoked_at"] is not None
    assert "secret" not in deleted.json()
    with server.client(secret) as client:
        poll(lambda: client.get("/v1/audit").status_code == 401, "the server refuses the key")
    assert admin.delete(f"/v1/keys/{created['key_id']}").status_code == 200  # harmless twice


def test_key_creation_and_revocation_errors(admin: httpx.Client) -> None:
    problem(admin.delete("/v1/keys/nosuchkey123"), 404, "key-not-found")
    problem(admin.post("/v1/keys", json={"role": "root"}), 422, "invalid-request")
    problem(
        admin.post("/v1/keys", json={"role": "platform", "rate_limit": 0}), 422, "invalid-request"
    )
    problem(admin.post("/v1/keys", json={"name": "no role"}), 422, "invalid-request")


# --- rate limits -----------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_and_other_keys_do_not(
    server: RunningServer, keys: dict[str, str], admin: httpx.Client
) -> None:
    created = rempart(server, "key", "create", "--role", "platform", "--rate", "2")
    assert created.returncode == 0, created.stderr
    slow = created.stdout.strip()
    api = admin.post("/v1/keys", json={"role": "platform", "rate_limit": 2})
    assert api.status_code == 201
    assert api.json()["rate_limit"] == 2
    for secret in (slow, api.json()["secret"]):
        with server.client(secret) as client:
            responses = [client.get("/v1/banks") for _ in range(12)]
            statuses = [response.status_code for response in responses]
            # A burst of twice the rate passes; then the key waits.
            assert statuses[:4] == [200] * 4, statuses
            assert 429 in statuses, statuses
            limited = responses[statuses.index(429)]
            body = problem(limited, 429, "rate-limited")
            assert "2 requests a second" in body["detail"]
            retry_after = int(limited.headers["retry-after"])
            assert 1 <= retry_after <= 2
            # Other keys are unaffected, even while this one is limited.
            with server.client(keys["platform"]) as other:
                assert [other.get("/v1/banks").status_code for _ in range(10)] == [200] * 10
            time.sleep(retry_after)
            assert client.get("/v1/banks").status_code == 200


# --- the audit log ---------------------------------------------------------------------------


def test_every_request_is_audited_without_its_content(
    server: RunningServer, keys: dict[str, str], admin: httpx.Client, world: World
) -> None:
    start = last_audit_id(admin)
    platform_id, flagger_id = key_id(keys["platform"]), key_id(keys["flagger"])
    with server.client(keys["platform"]) as platform:
        assert platform.get(f"/v1/banks/{world.bank}").status_code == 200
        guard = platform.post("/v1/gate", json={"prompt": GUARD_PROMPT})
        assert guard.json()["action"] == "block"
        hashed = platform.post(
            "/v1/hash", content=world.image, headers={"content-type": "image/png"}
        )
        assert hashed.status_code == 200
    with server.client() as anonymous:
        unauthenticated(anonymous.get(f"/v1/banks/{world.bank}"))
    with server.client(keys["flagger"]) as flagger:
        problem(
            flagger.post("/v1/scan", content=world.image, headers={"content-type": "image/png"}),
            403,
            "forbidden",
        )

    def recorded() -> list[dict[str, Any]] | None:
        entries = audit_entries(admin, start)
        routes = {(e["key_id"], e["route"]) for e in entries}
        wanted = {
            (platform_id, "/v1/banks/{name}"),
            (platform_id, "/v1/gate"),
            (platform_id, "/v1/hash"),
            (None, "/v1/banks/{name}"),
            (flagger_id, "/v1/scan"),
        }
        return entries if wanted <= routes else None

    entries = poll(recorded, "the audit log records the requests")
    for entry in entries:
        assert {"id", "at", "key_id", "role", "method", "route", "status", "outcome"} <= set(entry)

    def one(key: str | None, route: str) -> dict[str, Any]:
        (found,) = [e for e in entries if e["key_id"] == key and e["route"] == route]
        return found

    stats = one(platform_id, "/v1/banks/{name}")
    assert (stats["role"], stats["method"], stats["status"]) == ("platform", "GET", 200)
    guarded = one(platform_id, "/v1/gate")
    assert (guarded["method"], guarded["status"], guarded["outcome"]) == ("POST", 200, "block")
    assert guarded["detail"]["rules"] == ["minor-sexualised"]
    hashed_entry = one(platform_id, "/v1/hash")
    assert hashed_entry["outcome"] == "hashed"
    assert hashed_entry["detail"]["sha256"] == hashed.json()["sha256"]
    anonymous_entry = one(None, "/v1/banks/{name}")
    assert (anonymous_entry["role"], anonymous_entry["status"]) == (None, 401)
    refused = one(flagger_id, "/v1/scan")
    assert (refused["role"], refused["status"]) == ("flagger", 403)
    # Neither the prompt nor the image is kept, anywhere in the log.
    everything = json.dumps(audit_entries(admin))
    assert GUARD_PROMPT not in everything
    assert "14 year old" not in everything
    assert base64.b64encode(world.image[:48]).decode() not in everything
    assert world.image[16:48].hex() not in everything

    # Filtered by key: only that key's entries.
    by_key = admin.get("/v1/audit", params={"after": start, "key_id": flagger_id}).json()
    assert by_key["entries"]
    assert {e["key_id"] for e in by_key["entries"]} == {flagger_id}


def test_a_change_is_audited_before_it_is_answered(admin: httpx.Client) -> None:
    start = last_audit_id(admin)
    name = f"audited-{secrets.token_hex(4)}"
    assert admin.post("/v1/banks", json={"name": name}).status_code == 201
    # No polling: a request that changes something commits its entry before answering.
    (entry,) = [e for e in audit_entries(admin, start) if e["route"] == "/v1/banks"]
    assert (entry["method"], entry["status"], entry["target"], entry["outcome"]) == (
        "POST",
        201,
        name,
        "created",
    )
    assert entry["role"] == "admin"
