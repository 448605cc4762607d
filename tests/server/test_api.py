"""API v1's contract, endpoint by endpoint, on SQLite and PostgreSQL.

The app is served in the test process (``InProcessServer``: what it answers, without a socket
or a process; test_durability and test_hostile run real servers). It is shared by the module's
tests: each test names its own banks and persons, and banks only images no other test expects
to be unmatched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from rempart.access.keys import parse_key
from rempart.config import load_settings
from rempart.hashing import DIHEDRAL_NAMES, MATCH_THRESHOLD, hash_media, hash_video
from rempart.media import load_bytes
from rempart.store import Store
from rempart.video import load_bytes as load_video
from tests import videos
from tests.desk.watched import desk_bank, entry_id, events, item, sightings, watched_item
from tests.images import encode, gradient, skimage_rgb
from tests.server import checks
from tests.server.checks import problem
from tests.server.inprocess import InProcessServer

V1_PATHS = {
    "/v1/hash",
    "/v1/match",
    "/v1/match/image",
    "/v1/match/video",
    "/v1/scan",
    "/v1/gate",
    "/v1/banks",
    "/v1/banks/{name}",
    "/v1/banks/{name}/hashes",
    "/v1/banks/{name}/import",
    "/v1/banks/{name}/export",
    "/v1/banks/{name}/withdraw",
    "/v1/persons",
    "/v1/persons/{name}",
    "/v1/keys",
    "/v1/keys/{key_id}",
    "/v1/audit",
    "/v1/models/audit",
    "/v1/cases",
    "/v1/cases/{number}",
    "/v1/cases/{number}/items",
    "/v1/cases/{number}/move",
    "/v1/cases/{number}/items/{item_id}/move",
    "/v1/cases/{number}/items/{item_id}/confirm",
    "/v1/cases/{number}/withdraw",
    "/v1/cases/{number}/secret",
    "/v1/notices",
    "/v1/notices/due",
    "/v1/notices/{reference}",
    "/v1/notices/{reference}/preview",
    "/v1/notices/{reference}/send",
    "/v1/notices/{reference}/deliveries",
    "/v1/notices/{reference}/replies",
    "/v1/notices/{reference}/order",
    "/v1/notices/{reference}/escalations",
    "/v1/platforms",
}
# The server follows the database once a second; changes show within a few seconds.
FOLLOW_DEADLINE = 8.0

T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------


def poll(check: Callable[[], T | None], what: str, deadline: float = FOLLOW_DEADLINE) -> T:
    """``check()``'s first truthy answer, within ``deadline`` seconds."""
    return checks.poll(check, what, deadline)


def unique(prefix: str) -> str:
    """A bank name no other test uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


def person_name() -> str:
    """A made-up two-word name, letters only, that no other test uses."""
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(7))
    return f"Zorbin {letters.capitalize()}"


def random_hash() -> str:
    """A random PDQ hash: about 128 bits from any other, so it matches nothing else."""
    return secrets.token_hex(32)


def flip(hash_hex: str, bits: int) -> str:
    """``hash_hex`` with its first ``bits`` bits flipped."""
    value = int(hash_hex, 16) ^ (((1 << bits) - 1) << (256 - bits))
    return f"{value:064x}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def jpeg(path: Path) -> bytes:
    return path.read_bytes()


def png(image: Image.Image) -> bytes:
    return encode(image, "PNG")


def local_hashes(data: bytes, *, dihedral: bool = False) -> dict[str, Any]:
    """What ``rempart.hashing`` gives for ``data``, in process."""
    record = hash_media(load_bytes(data), path="", dihedral=dihedral).to_json()
    record.pop("path")
    return record


def matches_of(client: httpx.Client, hash_hex: str) -> list[dict[str, Any]]:
    response = client.post("/v1/match", json={"hashes": [hash_hex]})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["results"][0]["matches"]
    return found


def in_bank(client: httpx.Client, hash_hex: str, bank: str) -> list[dict[str, Any]]:
    return [m for m in matches_of(client, hash_hex) if m["bank"] == bank]


def create_bank(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/banks", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def add_hash(client: httpx.Client, bank: str, hash_hex: str) -> None:
    response = client.post(f"/v1/banks/{bank}/hashes", json={"hash": hash_hex})
    assert response.status_code == 201, response.text
    assert response.json()["added"] == 1


def bank_and_wait(client: httpx.Client, bank: str, hash_hex: str) -> None:
    """Add ``hash_hex`` to ``bank`` and wait until the server matches it."""
    add_hash(client, bank, hash_hex)
    poll(lambda: in_bank(client, hash_hex, bank), f"{hash_hex} matches in {bank}")


def import_text(
    client: httpx.Client, bank: str, text: str, fmt: str | None = None
) -> httpx.Response:
    return client.post(
        f"/v1/banks/{bank}/import",
        params={"format": fmt} if fmt else None,
        content=text.encode(),
        headers={"content-type": "text/plain; charset=utf-8"},
    )


def rules_of(verdict: dict[str, Any]) -> list[str]:
    return [reason["rule"] for reason in verdict["reasons"]]


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_app(
    database_url: str, keys: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """The app on each database, served in this process for the module's tests."""
    data_dir = tmp_path_factory.mktemp("data")
    settings = load_settings(
        {"REMPART_DATA_DIR": str(data_dir), "REMPART_DATABASE_URL": database_url}
    )
    running = InProcessServer(settings).start()
    yield running
    running.stop()


@pytest.fixture
def admin(served_app: InProcessServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with served_app.client(keys["admin"]) as client:
        yield client


@pytest.fixture
def platform(served_app: InProcessServer, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with served_app.client(keys["platform"]) as client:
        yield client


@pytest.fixture
def anonymous(served_app: InProcessServer) -> Iterator[httpx.Client]:
    with served_app.client() as client:
        yield client


@pytest.fixture(scope="module")
def labelme(testdata: Path) -> Path:
    """Benign photos of quality 100, distinct from each other; each test banks its own."""
    return testdata / "pdq" / "reg-test-input" / "labelme-subset"


# --- probes, documentation, metrics ----------------------------------------------------------


def test_healthz_and_readyz_need_no_key(anonymous: httpx.Client) -> None:
    health = anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert isinstance(body["hashes"], int)
    assert body["hashes"] >= 0


def test_readyz_counts_the_hashes_of_the_index(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    before = anonymous.get("/readyz").json()["hashes"]
    bank = unique("ready")
    create_bank(admin, bank)
    import_text(admin, bank, f"{random_hash()}\n{random_hash()}\n", "hex").raise_for_status()
    poll(
        lambda: anonymous.get("/readyz").json()["hashes"] == before + 2,
        "readyz counts the 2 new hashes",
    )


def test_openapi_lists_every_v1_path(anonymous: httpx.Client) -> None:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Rempart"
    paths = set(document["paths"])
    assert {p for p in paths if p.startswith("/v1")} == V1_PATHS
    assert {"/healthz", "/readyz", "/metrics"} <= paths
    # The image endpoints document their binary body.
    assert "image/*" in document["paths"]["/v1/scan"]["post"]["requestBody"]["content"]


def test_docs_are_served(anonymous: httpx.Client) -> None:
    response = anonymous.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    assert "/openapi.json" in response.text


def test_docs_load_nothing_from_elsewhere(anonymous: httpx.Client) -> None:
    page = anonymous.get("/docs")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no inline script, no other origin
    # The page names no other origin, and holds no inline script for the policy to refuse.
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text), page.text
    assert not re.search(r"<script>", page.text)
    loaded = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert {"/docs/static/swagger-ui-bundle.js", "/docs/init.js"} <= set(loaded)
    for path in loaded:
        answer = anonymous.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["x-content-type-options"] == "nosniff"
    # The script that starts Swagger UI turns its online validator off.
    assert "validatorUrl: null" in anonymous.get("/docs/init.js").text
    assert anonymous.get("/docs/static/index.html").status_code == 404


def test_metrics_count_requests_for_admin_only(admin: httpx.Client, platform: httpx.Client) -> None:
    assert admin.get("/v1/banks").status_code == 200
    response = admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = [line for line in response.text.splitlines() if not line.startswith("#")]
    assert any(
        line.startswith("rempart_http_requests_total{")
        and 'route="/v1/banks"' in line
        and 'method="GET"' in line
        and 'status="200"' in line
        for line in lines
    ), response.text[:2000]
    problem(platform.get("/metrics"), 403, "forbidden")


# --- banks -----------------------------------------------------------------------------------


def test_create_list_and_describe_a_bank(admin: httpx.Client, platform: httpx.Client) -> None:
    name = unique("create")
    created = create_bank(admin, name, description="from a test", threshold=20)
    assert created["name"] == name
    assert created["description"] == "from a test"
    assert created["threshold"] == 20
    assert created["enabled"] is True
    problem(admin.post("/v1/banks", json={"name": name}), 409, "bank-exists")

    listed = platform.get("/v1/banks")
    assert listed.status_code == 200
    # The listing counts each bank's active images, videos and digests too.
    assert [b for b in listed.json()["banks"] if b["name"] == name] == [
        created | {"images": 0, "videos": 0, "digests": 0}
    ]

    stats = platform.get(f"/v1/banks/{name}")
    assert stats.status_code == 200
    assert stats.json() | {"last_added_at": None} == {
        "name": name,
        "category": "ncii",
        "enabled": True,
        "threshold": 20,
        "active": 0,
        "images": 0,
        "videos": 0,
        "digests": 0,
        "md5": 0,
        "sha256": 0,
        "withdrawn": 0,
        "imports": 0,
        "last_added_at": None,
        "last_withdrawn_at": None,
    }
    problem(platform.get(f"/v1/banks/{unique('missing')}"), 404, "bank-not-found")


@pytest.mark.parametrize("name", ["has space", "-starts-with-dash", "x" * 65, "slash/no", ""])
def test_an_invalid_bank_name_is_refused(admin: httpx.Client, name: str) -> None:
    problem(admin.post("/v1/banks", json={"name": name}), 422, "bank-invalid")
    listed = admin.get("/v1/banks").json()["banks"]
    assert name not in {b["name"] for b in listed}


def test_an_invalid_threshold_is_refused(admin: httpx.Client) -> None:
    problem(
        admin.post("/v1/banks", json={"name": unique("thr"), "threshold": 999}),
        422,
        "invalid-request",
    )


def test_patch_changes_a_bank_and_disabling_it_stops_its_matches(admin: httpx.Client) -> None:
    name = unique("patch")
    create_bank(admin, name, description="before")
    banked = random_hash()
    bank_and_wait(admin, name, banked)

    response = admin.patch(f"/v1/banks/{name}", json={"description": "after", "threshold": 5})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["description"], changed["threshold"], changed["enabled"]) == (
        "after",
        5,
        True,
    )
    # A lower threshold applies: 8 bits off no longer matches.
    poll(lambda: not in_bank(admin, flip(banked, 8), name), "threshold 5 applied")
    assert in_bank(admin, flip(banked, 4), name)

    response = admin.patch(f"/v1/banks/{name}", json={"enabled": False})
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["description"] == "after"  # left out, so left as it was
    poll(lambda: not in_bank(admin, banked, name), "a disabled bank stops matching")
    assert admin.get(f"/v1/banks/{name}").json()["enabled"] is False
    problem(admin.patch(f"/v1/banks/{unique('missing')}", json={}), 404, "bank-not-found")


def test_add_one_hash(admin: httpx.Client) -> None:
    name = unique("add")
    create_bank(admin, name)
    banked = random_hash()
    response = admin.post(
        f"/v1/banks/{name}/hashes",
        json={"hash": banked.upper(), "quality": 90, "source_ref": "case-1", "note": "test"},
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["bank"], report["added"], report["already_present"]) == (name, 1, 0)
    again = admin.post(f"/v1/banks/{name}/hashes", json={"hash": banked})
    assert (again.json()["added"], again.json()["already_present"]) == (0, 1)
    assert admin.get(f"/v1/banks/{name}").json()["active"] == 1
    problem(admin.post(f"/v1/banks/{name}/hashes", json={"hash": "not hex"}), 422, "bank-invalid")
    problem(
        admin.post(f"/v1/banks/{unique('missing')}/hashes", json={"hash": banked}),
        404,
        "bank-not-found",
    )
    exported = admin.get(f"/v1/banks/{name}/export", params={"format": "jsonl"}).text
    (record,) = [json.loads(line) for line in exported.splitlines()]
    assert (record["hash"], record["quality"], record["source_ref"], record["note"]) == (
        banked,
        90,
        "case-1",
        "test",
    )


@pytest.mark.parametrize("fmt", ["hex", "pytx", "jsonl", "csv", None])
def test_import_each_format_and_export_round_trips(admin: httpx.Client, fmt: str | None) -> None:
    name = unique("import")
    create_bank(admin, name)
    hashes = sorted(random_hash() for _ in range(5))
    twice = hashes + hashes  # the second copy of each is already present
    text = {
        "hex": "\n".join(twice),
        "pytx": "\n".join(f"pdq {h}\nurl_md5 {h[:32]}" for h in twice),
        "jsonl": "\n".join(json.dumps({"hash": h, "quality": 80}) for h in twice),
        "csv": "hash,quality\n" + "\n".join(f"{h},70" for h in twice),
        None: "\n".join(f"pdq {h}" for h in twice),  # the format is guessed from line 1
    }[fmt]
    response = import_text(admin, name, text, fmt)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["bank"] == name
    assert report["added"] == 5
    assert report["already_present"] == 5  # the second copy of each
    assert isinstance(report["import_id"], int)
    if fmt == "pytx":
        assert sum(report["skipped"].values()) == 10  # the url_md5 lines
    stats = admin.get(f"/v1/banks/{name}").json()
    assert (stats["active"], stats["imports"]) == (5, 1)

    exported = admin.get(f"/v1/banks/{name}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/plain")
    assert sorted(exported.text.splitlines()) == [f"pdq {h}" for h in hashes]
    as_hex = admin.get(f"/v1/banks/{name}/export", params={"format": "hex"}).text
    assert sorted(as_hex.splitlines()) == hashes
    # What was exported imports as is into another bank.
    copy = unique("copy")
    create_bank(admin, copy)
    assert import_text(admin, copy, exported.text).json()["added"] == 5


def test_an_invalid_line_imports_nothing(admin: httpx.Client) -> None:
    name = unique("invalid")
    create_bank(admin, name)
    good = [random_hash() for _ in range(3)]
    text = f"{good[0]}\n{good[1]}\n\nnot-a-hash\n{good[2]}\n"
    body = problem(import_text(admin, name, text, "hex"), 422, "import-invalid")
    assert body["line"] == 4  # blank lines count
    stats = admin.get(f"/v1/banks/{name}").json()
    assert (stats["active"], stats["imports"]) == (0, 0)
    assert admin.get(f"/v1/banks/{name}/export").text == ""
    problem(import_text(admin, name, good[0], "no-such-format"), 422, "invalid-request")


@pytest.mark.parametrize(
    ("body", "line", "offset"),
    [
        (b"\n" + f'{{"hash": "{"ab" * 32}"}}\n'.encode() + b"\xc3\x28\n", 3, 78),
        (b'{"hash": 1' + b"0" * 5000 + b"}\n", 1, 0),
        (b"[" * 60_000 + b"\n", 1, 0),
        (f'{{"hash": "{"cd" * 32}", "source_ref": "\\ud800"}}'.encode(), 1, 0),
    ],
    ids=["not-utf8", "huge-integer", "deep-nesting", "lone-surrogate"],
)
def test_hostile_bytes_are_refused_with_line_and_offset(
    admin: httpx.Client, body: bytes, line: int, offset: int
) -> None:
    name = unique("hostile")
    create_bank(admin, name)
    for fmt in ("jsonl", "hex", None):
        response = admin.post(
            f"/v1/banks/{name}/import",
            params={"format": fmt} if fmt else None,
            content=body,
            headers={"content-type": "text/plain"},
        )
        assert response.status_code < 500, response.text
        if fmt == "jsonl":
            refused = problem(response, 422, "import-invalid")
            assert (refused["line"], refused["offset"]) == (line, offset)
            assert f"line {line} (byte {offset})" in refused["detail"]
    stats = admin.get(f"/v1/banks/{name}").json()
    assert (stats["active"], stats["imports"]) == (0, 0)


def test_banks_declare_a_category_that_matches_carry(admin: httpx.Client) -> None:
    demo, hotline = unique("demo"), unique("hotline")
    assert create_bank(admin, demo, category="demo")["category"] == "demo"
    created = create_bank(admin, hotline, source="iwf")
    assert (created["source"], created["category"]) == ("iwf", "child_sexual_abuse")
    problem(
        admin.post("/v1/banks", json={"name": unique("x"), "category": "terror"}),
        422,
        "invalid-request",
    )
    hash_hex = random_hash()
    bank_and_wait(admin, demo, hash_hex)
    assert [m["category"] for m in in_bank(admin, hash_hex, demo)] == ["demo"]
    patched = admin.patch(f"/v1/banks/{demo}", json={"category": "sexual_deepfake"})
    assert patched.json()["category"] == "sexual_deepfake"
    poll(
        lambda: [m for m in in_bank(admin, hash_hex, demo) if m["category"] == "sexual_deepfake"],
        "the new category in matches",
    )


def test_import_into_an_unknown_bank_is_404(admin: httpx.Client) -> None:
    problem(import_text(admin, unique("missing"), random_hash(), "hex"), 404, "bank-not-found")


def test_import_wants_text(admin: httpx.Client) -> None:
    name = unique("media")
    create_bank(admin, name)
    response = admin.post(
        f"/v1/banks/{name}/import",
        content=png(gradient()),
        headers={"content-type": "image/png"},
    )
    problem(response, 415, "unsupported-media-type")


def test_export_refuses_an_unknown_format_and_bank(admin: httpx.Client) -> None:
    name = unique("export")
    create_bank(admin, name)
    for fmt in ("stopncii", "xml"):
        problem(
            admin.get(f"/v1/banks/{name}/export", params={"format": fmt}),
            422,
            "invalid-request",
        )
    problem(admin.get(f"/v1/banks/{unique('missing')}/export"), 404, "bank-not-found")


def test_withdraw_by_hash_and_by_entry_id_stops_matching(admin: httpx.Client) -> None:
    name = unique("withdraw")
    create_bank(admin, name)
    first, second, kept = random_hash(), random_hash(), random_hash()
    import_text(admin, name, f"{first}\n{second}\n{kept}\n", "hex").raise_for_status()
    poll(lambda: all(in_bank(admin, h, name) for h in (first, second, kept)), "the hashes match")
    entry_id = in_bank(admin, second, name)[0]["entry_id"]

    by_hash = admin.post(
        f"/v1/banks/{name}/withdraw", json={"hashes": [first, random_hash()], "reason": "test"}
    )
    assert by_hash.status_code == 200, by_hash.text
    report = by_hash.json()
    assert (report["bank"], report["withdrawn"], report["already_withdrawn"]) == (name, 1, 0)
    assert len(report["not_found"]) == 1
    by_id = admin.post(f"/v1/banks/{name}/withdraw", json={"entry_ids": [entry_id]})
    assert by_id.json()["withdrawn"] == 1
    again = admin.post(f"/v1/banks/{name}/withdraw", json={"hashes": [first]})
    assert (again.json()["withdrawn"], again.json()["already_withdrawn"]) == (0, 1)

    poll(
        lambda: not in_bank(admin, first, name) and not in_bank(admin, second, name),
        "withdrawn hashes stop matching",
    )
    assert in_bank(admin, kept, name)
    stats = admin.get(f"/v1/banks/{name}").json()
    assert (stats["active"], stats["withdrawn"]) == (1, 2)
    assert stats["last_withdrawn_at"] is not None
    # Withdrawn entries stay on record, and are exported only when asked for.
    assert admin.get(f"/v1/banks/{name}/export", params={"format": "hex"}).text == kept + "\n"
    everything = admin.get(
        f"/v1/banks/{name}/export", params={"format": "hex", "include_withdrawn": "true"}
    ).text
    assert sorted(everything.splitlines()) == sorted([first, second, kept])

    problem(admin.post(f"/v1/banks/{name}/withdraw", json={}), 422, "invalid-request")
    problem(
        admin.post(f"/v1/banks/{unique('missing')}/withdraw", json={"hashes": [first]}),
        404,
        "bank-not-found",
    )


# --- match -----------------------------------------------------------------------------------


def test_match_answers_each_hash_in_order(admin: httpx.Client, platform: httpx.Client) -> None:
    name = unique("match")
    create_bank(admin, name)
    banked = random_hash()
    bank_and_wait(admin, name, banked)
    entry_id = in_bank(admin, banked, name)[0]["entry_id"]
    near, far, unrelated = flip(banked, 5), flip(banked, MATCH_THRESHOLD + 9), random_hash()

    asked = [unrelated, banked.upper(), near, far]
    response = platform.post("/v1/match", json={"hashes": asked})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["hash"] for r in results] == [h.lower() for h in asked]
    assert results[0]["matches"] == []
    assert results[1]["matches"] == [
        {"bank": name, "category": "ncii", "entry_id": entry_id, "hash": banked, "distance": 0}
    ]
    assert results[2]["matches"] == [
        {"bank": name, "category": "ncii", "entry_id": entry_id, "hash": banked, "distance": 5}
    ]
    assert results[3]["matches"] == []


def test_match_refuses_invalid_hashes(platform: httpx.Client) -> None:
    for hashes in (["zz" * 32], ["abc"], [random_hash() + "00"]):
        problem(platform.post("/v1/match", json={"hashes": hashes}), 422, "invalid-request")
    problem(
        platform.post("/v1/match", json={"dihedral": [[random_hash()] * 7]}),
        422,
        "invalid-request",
    )
    problem(
        platform.post("/v1/match", json={"hashes": [random_hash()] * 1001}),
        422,
        "invalid-request",
    )


def test_a_rotated_image_matches_through_its_dihedral_hashes(
    admin: httpx.Client, platform: httpx.Client
) -> None:
    photo = Image.fromarray(skimage_rgb("coffee"))
    name = unique("dihedral")
    create_bank(admin, name)
    bank_and_wait(admin, name, local_hashes(png(photo))["pdq"])

    rotated = png(photo.transpose(Image.Transpose.ROTATE_90))
    hashed = platform.post(
        "/v1/hash",
        params={"dihedral": "true"},
        content=rotated,
        headers={"content-type": "image/png"},
    )
    assert hashed.status_code == 200, hashed.text
    variants = hashed.json()["dihedral"]
    assert len(variants) == 8
    # The rotated image's own hash is too far from the banked one to match...
    assert not in_bank(platform, hashed.json()["pdq"], name)
    # ...but one of its rotations is the original.
    response = platform.post("/v1/match", json={"dihedral": [variants]})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert result["hash"] == variants[0]
    (found,) = [m for m in result["matches"] if m["bank"] == name]
    assert found["variant"] in DIHEDRAL_NAMES
    assert found["variant"] != "original"
    assert found["distance"] <= MATCH_THRESHOLD


def test_match_image_finds_a_banked_image(
    admin: httpx.Client, platform: httpx.Client, labelme: Path
) -> None:
    data = jpeg(labelme / "q1050.jpg")
    name = unique("image")
    create_bank(admin, name)
    local = local_hashes(data)
    bank_and_wait(admin, name, local["pdq"])

    response = platform.post(
        "/v1/match/image", content=data, headers={"content-type": "image/jpeg"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["pdq"], body["quality"]) == (local["pdq"], local["quality"])
    assert [(m["bank"], m["distance"]) for m in body["matches"]] == [(name, 0)]
    assert "skipped" not in body

    other = png(gradient(seed=7))
    unmatched = platform.post(
        "/v1/match/image", content=other, headers={"content-type": "image/png"}
    )
    assert unmatched.json()["matches"] == []


def test_video_match_finds_a_banked_video_and_a_banked_frame(
    admin: httpx.Client, platform: httpx.Client, testdata: Path
) -> None:
    from rempart.hashing.pdq import pdq_hash
    from rempart.hashing.vpdq import vpdq_hash
    from rempart.matching.banks import features_to_pytx
    from rempart.video import load_bytes as load_video
    from tests import videos

    original = videos.encode(videos.scenes(testdata, ("bridge", "coffee", "rocket")))
    features = list(vpdq_hash(load_video(original)))
    name = unique("videos")
    created = create_bank(admin, name, video_thresholds={"stored_percent": 10})
    assert created["video_thresholds"] == {
        "quality": 50,
        "distance": 31,
        "query_percent": 80.0,
        "stored_percent": 10.0,
    }
    patched = admin.patch(f"/v1/banks/{name}", json={"video_thresholds": {"query_percent": 70}})
    assert patched.json()["video_thresholds"]["query_percent"] == 70.0
    assert patched.json()["video_thresholds"]["stored_percent"] == 10.0
    wrong = admin.patch(f"/v1/banks/{name}", json={"video_thresholds": {"query_percent": 0}})
    problem(wrong, 422, "invalid-request")
    response = import_text(admin, name, f"vpdq {features_to_pytx(features)}\n", "pytx")
    assert (response.status_code, response.json()["added"]) == (200, 1), response.text
    still = videos.decoded(original)[50]  # 5 s: a frame banked as an image
    bank_and_wait(admin, name, pdq_hash(still).hex)
    assert admin.get(f"/v1/banks/{name}").json()["videos"] == 1

    copy = videos.encode(videos.decoded(original), size=(128, 96), options={"crf": "30"})

    def matched() -> httpx.Response | None:
        answer = platform.post(
            "/v1/match/video", content=copy, headers={"content-type": "video/mp4"}
        )
        kinds = [m["kind"] for m in answer.json().get("matches", []) if m["bank"] == name]
        return answer if "video" in kinds else None

    body = poll(matched, "the banked video matches").json()
    assert (body["sha256"], body["frames"]) == (hashlib.sha256(copy).hexdigest(), 12)
    # Other tests' banks may hold the same pictures: only this bank's matches are looked at.
    video, image = [m for m in body["matches"] if m["bank"] == name]
    assert video["kind"] == "video"
    assert video["query_percent"] >= 80
    assert (image["kind"], image["timestamps"]) == ("image", [5.0])

    as_json = platform.post(
        "/v1/match/video", json={"vpdq": json.loads(features_to_pytx(features))}
    )
    assert as_json.status_code == 200, as_json.text
    (mine,) = [m for m in as_json.json()["matches"] if m["bank"] == name and m["kind"] == "video"]
    assert mine["query_percent"] == 100.0
    bad = platform.post("/v1/match/video", json={"vpdq": ["zz,100,0.0"]})
    assert "vpdq: frame 0" in problem(bad, 422, "invalid-request")["detail"]
    not_a_video = platform.post(
        "/v1/match/video", content=b"\x00" * 100, headers={"content-type": "video/mp4"}
    )
    assert 400 <= not_a_video.status_code < 500
    wrong_type = platform.post(
        "/v1/match/video", content=copy, headers={"content-type": "image/png"}
    )
    assert wrong_type.status_code == 415


def test_match_image_skips_a_featureless_image(platform: httpx.Client) -> None:
    flat = png(Image.new("RGB", (128, 128), (90, 140, 200)))
    response = platform.post("/v1/match/image", content=flat, headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["skipped"] == "low_quality"
    assert body["matches"] == []
    assert body["quality"] < 50


def test_image_endpoints_want_an_image_body(platform: httpx.Client) -> None:
    for path in ("/v1/hash", "/v1/match/image", "/v1/scan"):
        problem(platform.post(path, json={"image": "x"}), 415, "unsupported-media-type")
        problem(
            platform.post(path, content=b"", headers={"content-type": "image/png"}),
            422,
            "image-empty",
        )
        body = problem(
            platform.post(path, content=b"not an image", headers={"content-type": "image/png"}),
            415,
            "image-unsupported-format",
        )
        assert body["code"] == "unsupported_format"


# --- hash ------------------------------------------------------------------------------------


def test_hash_gives_what_the_library_gives(platform: httpx.Client, labelme: Path) -> None:
    data = jpeg(labelme / "q2821.jpg")
    response = platform.post("/v1/hash", content=data, headers={"content-type": "image/jpeg"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["md5"] == hashlib.md5(data).hexdigest()
    assert body == local_hashes(data)
    assert "path" not in body
    assert 0 <= body["quality"] <= 100

    dihedral = platform.post(
        "/v1/hash",
        params={"dihedral": "true"},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert dihedral.json() == local_hashes(data, dihedral=True)
    assert dihedral.json()["dihedral"][0] == body["pdq"]


def test_hash_of_a_video_gives_its_vpdq(platform: httpx.Client, testdata: Path) -> None:
    data = videos.encode(videos.scenes(testdata, ("bridge", "coffee"), seconds=2))
    response = platform.post("/v1/hash", content=data, headers={"content-type": "video/mp4"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = hash_video(load_video(data), path="").to_json()
    del expected["path"]
    assert body == expected
    assert body["kind"] == "video"
    assert body["md5"] == hashlib.md5(data).hexdigest()
    assert [f["timestamp"] for f in body["vpdq"]] == [0.0, 1.0, 2.0, 3.0]
    assert all(f["quality"] >= 50 for f in body["vpdq"])
    untyped = platform.post(
        "/v1/hash", content=data, headers={"content-type": "application/octet-stream"}
    )
    assert untyped.json() == body, "told by its bytes, not its Content-Type"


def test_hash_of_a_bad_video_is_refused_with_its_code(
    platform: httpx.Client, testdata: Path
) -> None:
    frames = videos.scenes(testdata, ("bridge",), seconds=1)
    mjpeg = videos.encode(frames, codec="mjpeg", fmt="avi", pix_fmt="yuvj420p")
    body = problem(
        platform.post("/v1/hash", content=mjpeg, headers={"content-type": "video/x-msvideo"}),
        422,
        "video-unsupported-codec",
    )
    assert body["code"] == "unsupported_codec"
    h264 = videos.encode(frames)
    response = platform.post(
        "/v1/hash", content=h264[: len(h264) // 2], headers={"content-type": "video/mp4"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"truncated", "corrupt"}


# --- scan ------------------------------------------------------------------------------------


def test_scan_allows_a_benign_photo(platform: httpx.Client, testdata: Path) -> None:
    data = jpeg(testdata / "pdq" / "bridge-mods" / "square-512x512.jpg")
    response = platform.post("/v1/scan", content=data, headers={"content-type": "image/jpeg"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (512, 512)
    assert body["verdict"]["action"] == "allow"
    assert body["verdict"]["reasons"] == []
    assert body["verdict"]["policy"]["name"] == "default"
    assert isinstance(body["signals"], list)
    assert not [s for s in body["signals"] if s["name"] == "bank.match"]
    assert "path" not in body


def test_scan_blocks_a_banked_image(
    admin: httpx.Client, platform: httpx.Client, labelme: Path
) -> None:
    data = jpeg(labelme / "q0291.jpg")
    name = unique("scan")
    create_bank(admin, name)
    bank_and_wait(admin, name, local_hashes(data)["pdq"])

    response = platform.post("/v1/scan", content=data, headers={"content-type": "image/jpeg"})
    assert response.status_code == 200, response.text
    body = response.json()
    (signal,) = [s for s in body["signals"] if s["name"] == "bank.match"]
    assert signal["value"] == name
    assert signal["evidence"]["distance"] == 0
    # The mandatory known-image rule blocks under every policy.
    assert body["verdict"]["action"] == "block"
    assert "known-image" in rules_of(body["verdict"])


# --- the desk's review banks and watch -------------------------------------------------------


@pytest.fixture(scope="module")
def app_store(database_url: str, served_app: InProcessServer) -> Iterator[Store]:
    """The served app's database, for what only the desk writes (its banks, cases, items)."""
    store = Store.open(database_url)
    yield store
    store.close()


def test_a_reported_hash_matches_for_review_and_is_sighted(
    platform: httpx.Client, keys: dict[str, str], app_store: Store
) -> None:
    bank, hash_hex = unique("desk"), random_hash()
    desk_bank(app_store, bank)
    watched = watched_item(app_store, [entry_id(app_store, bank, hash_hex)], pdq=hash_hex)

    def sighted() -> list[dict[str, Any]] | None:
        found = in_bank(platform, hash_hex, bank)
        return found if item(app_store, watched.item_id)["state"] == "sighted" else None

    (match,) = poll(sighted, "the reported hash matches and its item is sighted")
    assert match["review"] is True
    row = item(app_store, watched.item_id)
    assert row["sightings"] >= 1
    assert row["last_sighted_at"] is not None
    assert [(e["actor"], e["to_state"]) for e in events(app_store, watched.item_id)] == [
        ("system", "sighted")
    ]
    mine = [r for r in sightings(app_store, 0) if r["entry_id"] == watched.entry_id]
    assert {r["key_id"] for r in mine} == {parse_key(keys["platform"])}
    assert sum(r["count"] for r in mine) == row["sightings"]


def test_a_reported_image_scans_as_review_and_blocks_once_confirmed(
    platform: httpx.Client, app_store: Store, labelme: Path
) -> None:
    data = jpeg(labelme / "q0746.jpg")
    pdq = local_hashes(data)["pdq"]
    reported, confirmed = unique("desk"), unique("desk-confirmed")
    desk_bank(app_store, reported)
    desk_bank(app_store, confirmed, review=False)
    watched = watched_item(app_store, [entry_id(app_store, reported, pdq)], state="closed")
    poll(lambda: in_bank(platform, pdq, reported), f"{pdq} matches in {reported}")

    def scan() -> dict[str, Any]:
        response = platform.post("/v1/scan", content=data, headers={"content-type": "image/jpeg"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    body = scan()
    assert body["verdict"]["action"] == "review"
    assert "reported-image" in rules_of(body["verdict"])
    (signal,) = [s for s in body["signals"] if s["name"].startswith("bank.")]
    assert (signal["name"], signal["value"]) == ("bank.reported", reported)
    # The scan was handed to the watch: the closed item's copy is back.
    poll(
        lambda: item(app_store, watched.item_id)["state"] == "reappeared",
        "the closed item reappears",
    )

    entry_id(app_store, confirmed, pdq)
    (match,) = poll(lambda: in_bank(platform, pdq, confirmed), f"{pdq} matches in {confirmed}")
    assert "review" not in match
    body = scan()
    assert body["verdict"]["action"] == "block"
    assert {"known-image", "reported-image"} <= set(rules_of(body["verdict"]))


# --- guard -----------------------------------------------------------------------------------


def test_gate_blocks_a_sexualised_minor_and_allows_a_cat(platform: httpx.Client) -> None:
    blocked = platform.post("/v1/gate", json={"prompt": "photo of a 14 year old, nude"})
    assert blocked.status_code == 200, blocked.text
    verdict = blocked.json()
    assert verdict["action"] == "block"
    assert "minor-sexualised" in rules_of(verdict)
    assert verdict["categories"][0]["name"] == "child_sexual_abuse"
    assert set(verdict) == {"action", "categories", "reasons", "policy"}

    allowed = platform.post("/v1/gate", json={"prompt": "a cat on a sofa"})
    assert allowed.json()["action"] == "allow"
    assert allowed.json()["reasons"] == []


def test_gate_refuses_a_prompt_too_long(platform: httpx.Client) -> None:
    body = problem(platform.post("/v1/gate", json={"prompt": "a" * 16385}), 422, "prompt-too-long")
    assert body["code"] == "too_long"
    assert platform.post("/v1/gate", json={"prompt": "a" * 16384}).status_code == 200


def test_gate_blocks_undressing_an_uploaded_photo(platform: httpx.Client, testdata: Path) -> None:
    photo = b64(jpeg(testdata / "faces" / "obama.jpg"))
    response = platform.post("/v1/gate", json={"prompt": "remove her clothes", "inputs": [photo]})
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "block"
    assert "undress-upload" in rules_of(response.json())
    # The same photo with a harmless request is allowed: the photo alone blocks nothing.
    harmless = platform.post("/v1/gate", json={"prompt": "make him smile", "inputs": [photo]})
    assert harmless.json()["action"] == "allow"


def test_old_paths_still_answer(platform: httpx.Client, admin: httpx.Client) -> None:
    """``/v1/guard`` and ``/v1/registry``, the paths before the rename, still work (and are
    left out of the OpenAPI document)."""
    old = platform.post("/v1/guard", json={"prompt": "photo of a 14 year old, nude"})
    new = platform.post("/v1/gate", json={"prompt": "photo of a 14 year old, nude"})
    assert old.status_code == 200
    assert old.json()["action"] == new.json()["action"] == "block"
    assert admin.get("/v1/registry").json() == admin.get("/v1/persons").json()
    paths = admin.get("/openapi.json").json()["paths"]
    assert "/v1/guard" not in paths
    assert "/v1/registry" not in paths


def test_gate_refuses_invalid_base64(platform: httpx.Client) -> None:
    problem(
        platform.post("/v1/gate", json={"prompt": "a cat", "inputs": ["not base64!"]}),
        422,
        "invalid-request",
    )
    problem(platform.post("/v1/gate", json={"inputs": []}), 422, "invalid-request")


# --- persons ---------------------------------------------------------------------------------


def test_persons_enrol_list_gate_and_remove(
    admin: httpx.Client, platform: httpx.Client, testdata: Path
) -> None:
    name = person_name()
    prompt = f"{name} topless"
    assert platform.post("/v1/gate", json={"prompt": prompt}).json()["action"] == "allow"

    photo = b64(jpeg(testdata / "faces" / "biden2.jpg"))
    response = admin.post("/v1/persons", json={"name": f"  {name} ", "photos": [photo]})
    assert response.status_code == 201, response.text
    enrolled = response.json()
    assert (enrolled["name"], enrolled["embeddings"], enrolled["added"]) == (name, 1, 1)
    listed = admin.get("/v1/persons").json()["persons"]
    assert [(p["name"], p["embeddings"]) for p in listed if p["name"] == name] == [(name, 1)]

    def blocked() -> dict[str, Any] | None:
        verdict: dict[str, Any] = platform.post("/v1/gate", json={"prompt": prompt}).json()
        return verdict if verdict["action"] == "block" else None

    verdict = poll(blocked, "the server reloads the registry")
    assert "real-person-sexualised" in rules_of(verdict)

    removed = admin.delete(f"/v1/persons/{name}")
    assert removed.status_code == 200, removed.text
    assert removed.json()["name"] == name
    assert name not in {p["name"] for p in admin.get("/v1/persons").json()["persons"]}
    problem(admin.delete(f"/v1/persons/{name}"), 404, "person-not-found")
    poll(
        lambda: platform.post("/v1/gate", json={"prompt": prompt}).json()["action"] == "allow",
        "the server forgets a removed person",
    )


def test_registry_aliases_are_read_in_prompts(
    admin: httpx.Client, platform: httpx.Client, testdata: Path
) -> None:
    name = person_name()
    alias = person_name().replace("Zorbin", "Quilla")
    photo = b64(jpeg(testdata / "faces" / "obama3.jpg"))
    body = {"name": name, "photos": [photo], "aliases": [alias], "distinctive": []}
    response = admin.post("/v1/persons", json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["aliases"], response.json()["distinctive"]) == ([alias], [])

    def blocked() -> dict[str, Any] | None:
        found: dict[str, Any] = platform.post("/v1/gate", json={"prompt": f"{alias} nude"}).json()
        return found if found["action"] == "block" else None

    verdict = poll(blocked, "the server reads the alias")
    assert "real-person-sexualised" in rules_of(verdict)
    surname = name.split()[1]
    alone = platform.post("/v1/gate", json={"prompt": f"{surname} nude"}).json()
    assert alone["action"] == "allow", alone  # no part stands alone: "distinctive" is []
    assert admin.delete(f"/v1/persons/{name}").status_code == 200
    bad = {"name": person_name(), "photos": [photo], "aliases": ["\u200b"]}
    problem(admin.post("/v1/persons", json=bad), 422, "person-invalid")
    assert bad["name"] not in {p["name"] for p in admin.get("/v1/persons").json()["persons"]}


def test_enrolment_finds_faces_with_the_configured_finder(
    admin: httpx.Client, served_app: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``REMPART_FACE_DETECTOR`` chooses the finder an enrolment's faces come from, as it does
    the identity detector's in a scan."""
    import rempart.server.routes.persons as route
    from rempart.detectors.faces import DlibFaceFinder
    from rempart.errors import EnrolmentError

    runtime = served_app.app.state.services.runtime
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, face_detector="dlib"))
    finders: list[object] = []

    def enrol(*args: object, identity: Any = None, **kwargs: object) -> object:
        finders.append(identity and identity.finder)
        raise EnrolmentError("Nobody", ["photo 1: not enrolled in this test"])

    monkeypatch.setattr(route, "enrol_photos", enrol)
    photo = b64(png(gradient(64, 64, seed=4)))
    problem(
        admin.post("/v1/persons", json={"name": "Nobody", "photos": [photo]}),
        422,
        "enrolment-failed",
    )
    assert [type(finder) for finder in finders] == [DlibFaceFinder]


def test_enrolment_without_a_face_enrols_nothing(admin: httpx.Client, testdata: Path) -> None:
    name = person_name()
    face = b64(jpeg(testdata / "faces" / "obama2.jpg"))
    no_face = b64(png(gradient(256, 256, seed=3)))
    body = problem(
        admin.post("/v1/persons", json={"name": name, "photos": [face, no_face]}),
        422,
        "enrolment-failed",
    )
    assert len(body["problems"]) == 1
    assert body["problems"][0].startswith("photo 2")
    assert name not in {p["name"] for p in admin.get("/v1/persons").json()["persons"]}
    problem(admin.post("/v1/persons", json={"name": name, "photos": []}), 422, "invalid-request")
    problem(admin.post("/v1/persons", json={"name": " ", "photos": [face]}), 422, "person-invalid")


# --- errors ----------------------------------------------------------------------------------


def test_an_unknown_path_is_a_404_problem(admin: httpx.Client, anonymous: httpx.Client) -> None:
    body = problem(admin.get("/v1/no-such-thing"), 404, "not-found")
    assert body["instance"] == "/v1/no-such-thing"
    problem(anonymous.get("/no-such-thing"), 404, "not-found")
    # Without a key, nothing under /v1 says whether it exists.
    problem(anonymous.get("/v1/no-such-thing"), 401, "unauthenticated")


def test_a_wrong_method_is_a_405_problem(admin: httpx.Client) -> None:
    response = admin.put("/v1/match", json={"hashes": []})
    problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["allow"]
    problem(admin.delete("/v1/audit"), 405, "method-not-allowed")


JSON_ENDPOINTS = (
    "/v1/match",
    "/v1/gate",
    "/v1/guard",
    "/v1/banks",
    "/v1/banks/none/hashes",
    "/v1/banks/none/withdraw",
    "/v1/keys",
    "/v1/persons",
)


def test_json_cut_short_is_a_malformed_body(admin: httpx.Client) -> None:
    for path in JSON_ENDPOINTS:
        body = problem(
            admin.post(path, content=b'{"hashes": [', headers={"content-type": "application/json"}),
            400,
            "malformed-body",
        )
        assert "not valid JSON" in body["detail"], path
    patched = admin.patch(
        "/v1/banks/none", content=b'{"', headers={"content-type": "application/json"}
    )
    problem(patched, 400, "malformed-body")
    problem(
        admin.patch("/v1/banks/none", content=b"{}", headers={"content-type": "text/csv"}),
        415,
        "unsupported-media-type",
    )


def test_json_sent_as_another_type_is_415(admin: httpx.Client) -> None:
    for path in JSON_ENDPOINTS:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            answer = admin.post(
                path, content=b'{"prompt": "a photo"}', headers={"content-type": content_type}
            )
            problem(answer, 415, "unsupported-media-type")
    # JSON's own types, with or without parameters, are read as JSON.
    sent = admin.post(
        "/v1/match",
        content=b'{"hashes": []}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert sent.status_code == 200, sent.text


def test_json_of_the_wrong_shape_is_an_invalid_request(admin: httpx.Client) -> None:
    for path in JSON_ENDPOINTS:
        body = problem(admin.post(path, json=[1, 2]), 422, "invalid-request")
        assert body["errors"], path
    body = problem(admin.post("/v1/gate", json={"prompt": 5}), 422, "invalid-request")
    assert body["errors"][0]["location"] == "body.prompt"
