"""Evidence on a real database (SQLite and PostgreSQL) from a real local web server: captures
read back with warcio, sealed at rest (no 16 bytes of what was served in the stored blob), only
opened with the key, still opened after a rekey, refused when altered; never a minor's case;
purged by a move to the minor branch, a withdrawal, a reviewer or retention, each recorded, the
SHA-256 kept."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from warcio.archiveiterator import ArchiveIterator

from rempart import __version__
from rempart.config import load_settings
from rempart.desk import (
    SYSTEM,
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    CaseState,
    Desk,
    DeskKeys,
    FixedClock,
    ItemInput,
    PurgeReason,
)
from rempart.desk.evidence import Evidence
from rempart.desk.fetch import HttpFetcher
from rempart.desk.sealed import rekey
from rempart.desk.tsa import timestamp_time
from rempart.errors import (
    CaseInvalidError,
    CaseStateConflictError,
    DeskKeyError,
    EvidenceNotFoundError,
    EvidenceRefusedError,
    FetchError,
    StoreError,
)
from rempart.store import Store
from rempart.store.schema import desk_cases, desk_evidence, desk_evidence_blobs
from tests.desk.noticing import (  # noqa: F401
    ADMIN,
    NOW,
    OTHER_FLAGGER,
    REVIEWER,
    clock_fixture,
    desk_fixture,
)
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.tsa_server import GEN_TIME, Authority, authority_fixture  # noqa: F401

WHY = "complaint to the police, file 2026-117"
DAYS = 365


def noise_png(seed: int, size: int = 64) -> bytes:
    """A benign picture: random coloured noise."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def gradient_jpeg() -> bytes:
    """A benign picture: a smooth gradient."""
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    pixels = np.stack(
        [np.tile(ramp, (96, 1)), np.tile(ramp[:, None], (1, 96)), 128 + 0 * np.tile(ramp, (96, 1))],
        axis=2,
    )
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=90)
    return out.getvalue()


PNG = noise_png(1)
JPEG = gradient_jpeg()
PAGE = (
    b"<!doctype html><html><head><title>A test page</title></head><body>"
    b"<p>report text 4: a page of the test site</p>"
    b'<img src="/img/a.png" alt=""><img src="img/b.jpg"><img src="/img/missing.png">'
    b"</body></html>"
)


@pytest.fixture
def served(site: Site) -> Site:
    """The site with a page embedding two pictures (and one that is gone)."""
    site.serve("/p/1", PAGE)
    site.serve("/img/a.png", PNG, "image/png")
    site.serve("/p/img/b.jpg", JPEG, "image/jpeg")
    return site


@pytest.fixture
def evidence(desk: Desk, site: Site) -> Evidence:
    fetcher = HttpFetcher(allow=[site.allow], clock=desk.clock, purpose="evidence capture")
    return Evidence(desk, fetcher, days=DAYS)


def adult_case(desk: Desk, site: Site, path: str = "/p/1") -> tuple[str, int]:
    """An adult's case with one URL item on the site: its number and the item's id."""
    case = desk.report(AgeAnswer.ADULT, [ItemInput(url=site.url(path))]).case
    return case.number, case.items[0].id


def stored_blob(store: Store, capture_id: int) -> bytes | None:
    with store.read() as connection:
        blob: bytes | None = connection.execute(
            select(desk_evidence_blobs.c.sealed).where(
                desk_evidence_blobs.c.evidence_id == capture_id
            )
        ).scalar()
    return blob


def records(warc: bytes) -> dict[str, Any]:
    """The response records' payloads by target URI, read with warcio."""
    found = {}
    for record in ArchiveIterator(io.BytesIO(warc)):
        if record.rec_type == "response":
            found[record.rec_headers.get_header("WARC-Target-URI")] = record.content_stream().read()
    return found


def kinds(desk: Desk, number: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.kind, e.actor, e.detail) for e in desk.events(number) if "evidence" in e.kind]


def test_a_capture_reads_back_with_warcio(desk: Desk, evidence: Evidence, served: Site) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    assert capture.case == number
    assert capture.item_id == item_id
    assert capture.url == served.url("/p/1")
    assert capture.captured_at == NOW
    assert capture.requested_by == "reviewer1"
    warc = evidence.open(capture.id, REVIEWER, reason=WHY)
    assert hashlib.sha256(warc).hexdigest() == capture.sha256
    assert len(warc) == capture.size
    bodies = records(warc)
    assert bodies[served.url("/p/1")] == PAGE
    assert hashlib.sha256(bodies[served.url("/img/a.png")]).digest() == hashlib.sha256(PNG).digest()
    assert bodies[served.url("/p/img/b.jpg")] == JPEG
    assert served.url("/img/missing.png") not in bodies
    assert capture.manifest["sha256"] == capture.sha256
    assert capture.manifest["timestamp"] is None
    assert capture.manifest["images"]["skipped"] == [
        {"url": served.url("/img/missing.png"), "why": "status 404"}
    ]
    agents = [
        value
        for r in served.requests
        for key, value in r.headers.items()
        if key.lower() == "user-agent"
    ]
    assert len(agents) == len(served.requests) == 4
    assert all(agent.endswith("(evidence capture)") for agent in agents)
    assert evidence.get(capture.id, ADMIN) == capture
    assert evidence.captures(number, REVIEWER) == [capture]
    assert kinds(desk, number) == [
        (
            "evidence-captured",
            "reviewer1",
            {"capture": capture.id, "sha256": capture.sha256, "size": capture.size, "reason": WHY},
        ),
        ("evidence-viewed", "reviewer1", {"capture": capture.id, "reason": WHY}),
    ]


def test_the_stored_blob_is_sealed_and_opens_only_with_the_key(
    desk: Desk, evidence: Evidence, served: Site, tmp_path: Path
) -> None:
    _, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    blob = stored_blob(desk.store, capture.id)
    assert blob is not None
    windows = {blob[i : i + 16] for i in range(len(blob) - 15)}
    for served_file in (PAGE, PNG, JPEG):
        assert not any(served_file[i : i + 16] in windows for i in range(len(served_file) - 15))
    with desk.store.read() as connection:
        row = connection.execute(
            select(desk_evidence).where(desk_evidence.c.id == capture.id)
        ).one()
    assert row.wrapping_key_id == desk.keys.active
    assert row.sha256 == capture.sha256
    # Another deployment's key file: the capture does not open.
    assert desk.keys.path is not None
    other = DeskKeys.create(tmp_path / "other.key")
    assert other.path is not None
    other.path.replace(desk.keys.path)
    with pytest.raises(DeskKeyError, match=f"capture {capture.id}'s data key is wrapped by key"):
        evidence.open(capture.id, REVIEWER, reason=WHY)


def test_a_capture_still_opens_after_a_rekey_drops_the_old_key(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    before = evidence.open(capture.id, REVIEWER, reason=WHY)
    old = desk.keys.active
    assert desk.keys.path is not None
    report = rekey(desk.store, desk.keys.path)
    assert report.cases == 1
    assert report.captures == 1
    assert report.to_json()["captures"] == 1
    assert report.dropped == (old,)
    assert old not in DeskKeys.load(desk.keys.path).keys
    assert evidence.open(capture.id, REVIEWER, reason=WHY) == before
    desk.withdraw(number, ADMIN)  # a purged capture's key is not re-wrapped: it is gone
    assert rekey(desk.store, desk.keys.path).captures == 0


@pytest.mark.parametrize("where", [0, 20, -1])
def test_one_flipped_byte_of_the_stored_blob_is_refused(
    desk: Desk, evidence: Evidence, served: Site, where: int
) -> None:
    _, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    blob = bytearray(stored_blob(desk.store, capture.id) or b"")
    blob[where] ^= 0x01
    with desk.store.write() as connection:
        connection.execute(
            update(desk_evidence_blobs)
            .where(desk_evidence_blobs.c.evidence_id == capture.id)
            .values(sealed=bytes(blob))
        )
    with pytest.raises(DeskKeyError, match=f"capture {capture.id}'s WARC does not open"):
        evidence.open(capture.id, REVIEWER, reason=WHY)
    assert kinds(desk, capture.case)[-1][0] == "evidence-captured"  # the failed reading: none


def test_a_minor_case_is_never_captured_by_the_service_nor_the_database(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    case = desk.report(AgeAnswer.UNDER_18, [ItemInput(url=served.url("/p/1"))]).case
    with pytest.raises(EvidenceRefusedError, match="minor branch is never captured"):
        evidence.capture(case.items[0].id, REVIEWER, reason=WHY)
    assert served.requests == []
    with (
        pytest.raises((StoreError, IntegrityError), match="never captured"),
        desk.store.write() as connection,
    ):
        connection.execute(
            insert(desk_evidence).values(
                case_id=case.id,
                item_id=case.items[0].id,
                url=served.url("/p/1"),
                requested_by="reviewer1",
                captured_at=NOW,
                sha256="0" * 64,
                size=0,
                manifest="{}",
            )
        )
    with desk.store.read() as connection:
        assert connection.execute(select(func.count()).select_from(desk_evidence)).scalar() == 0


def test_moving_to_the_minor_branch_purges_at_once(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    # The database too refuses a minor's case that keeps a capture.
    with (
        pytest.raises((StoreError, IntegrityError), match="only once its captures are purged"),
        desk.store.write() as connection,
    ):
        connection.execute(
            update(desk_cases).where(desk_cases.c.number == number).values(branch="minor")
        )
    assert stored_blob(desk.store, capture.id) is not None
    desk.move_branch(number, Branch.MINOR, REVIEWER, reason="the person was 16")
    assert stored_blob(desk.store, capture.id) is None
    purged = evidence.get(capture.id, REVIEWER)
    assert purged.sha256 == capture.sha256
    assert purged.size == capture.size
    assert purged.purged_at == NOW
    assert purged.purge_reason == PurgeReason.MINOR_BRANCH
    assert purged.purge_due is None
    with desk.store.read() as connection:
        row = connection.execute(
            select(desk_evidence).where(desk_evidence.c.id == capture.id)
        ).one()
    assert row.wrapped_key is None
    assert row.wrapping_key_id is None
    assert kinds(desk, number)[-1] == (
        "evidence-purged",
        "reviewer1",
        {"capture": capture.id, "why": "minor-branch"},
    )
    with pytest.raises(EvidenceRefusedError, match="purged on 2026-12-01 \\(minor-branch\\)"):
        evidence.open(capture.id, REVIEWER, reason=WHY)
    with pytest.raises(EvidenceRefusedError, match="never captured"):
        evidence.capture(item_id, REVIEWER, reason=WHY)


def test_a_withdrawal_purges_the_captures(desk: Desk, evidence: Evidence, served: Site) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    desk.withdraw(number, VICTIM)
    assert stored_blob(desk.store, capture.id) is None
    assert evidence.get(capture.id, REVIEWER).purge_reason == PurgeReason.WITHDRAWN
    assert kinds(desk, number)[-1] == (
        "evidence-purged",
        "victim",
        {"capture": capture.id, "why": "withdrawn"},
    )
    with pytest.raises(EvidenceRefusedError, match="withdrawn"):
        evidence.capture(item_id, REVIEWER, reason=WHY)


def test_retention_purges_on_day_366_and_keeps_what_is_held(
    desk: Desk, evidence: Evidence, served: Site, clock: FixedClock
) -> None:
    number, item_id = adult_case(desk, served)
    kept = evidence.capture(item_id, REVIEWER, reason=WHY)
    gone = evidence.capture(item_id, REVIEWER, reason=WHY)
    open_case, open_item = adult_case(desk, served)
    still_open = evidence.capture(open_item, REVIEWER, reason=WHY)
    assert gone.purge_due is None  # the case is open
    evidence.hold(kept.id, ADMIN, reason="proceedings at the tribunal, RG 26/001")
    clock.advance(timedelta(days=2))
    desk.move(number, CaseState.CLOSED, REVIEWER)
    closed_at = clock.now()
    assert evidence.get(gone.id, REVIEWER).purge_due == closed_at + timedelta(days=DAYS)
    assert evidence.get(kept.id, REVIEWER).purge_due is None  # held

    clock.advance(timedelta(days=DAYS))
    assert evidence.due() == []
    assert evidence.purge_due().purged == ()
    assert stored_blob(desk.store, gone.id) is not None

    clock.advance(timedelta(days=1))
    assert [c.id for c in evidence.due()] == [gone.id]
    assert [c.id for c in evidence.due([open_case])] == []
    report = evidence.purge_due()
    assert report.purged == (gone.id,)
    assert report.held == 1
    assert report.to_json() == {"purged": [gone.id], "held": 1}
    assert stored_blob(desk.store, gone.id) is None
    assert stored_blob(desk.store, kept.id) is not None
    assert stored_blob(desk.store, still_open.id) is not None
    purged = evidence.get(gone.id, REVIEWER)
    assert purged.sha256 == gone.sha256
    assert purged.purge_reason == PurgeReason.RETENTION
    assert purged.purged_at == clock.now()
    assert kinds(desk, number)[-1] == (
        "evidence-purged",
        SYSTEM.label,
        {"capture": gone.id, "why": "retention"},
    )
    assert evidence.purge_due().purged == ()  # once

    # Released, the held capture's retention applies again, from the case's closing.
    evidence.release(kept.id, REVIEWER, reason="the tribunal ruled")
    assert evidence.purge_due().purged == (kept.id,)
    assert [c.purged for c in evidence.captures(number, REVIEWER)] == [True, True]


def test_a_case_that_leaves_closed_stops_the_retention(
    desk: Desk, evidence: Evidence, served: Site, clock: FixedClock
) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    desk.move(number, CaseState.CLOSED, REVIEWER)
    assert evidence.get(capture.id, REVIEWER).purge_due is not None
    desk.move(number, CaseState.IN_REVIEW, REVIEWER)
    assert evidence.get(capture.id, REVIEWER).purge_due is None
    clock.advance(timedelta(days=DAYS + 10))
    assert evidence.purge_due().purged == ()


def test_open_and_export_are_recorded(desk: Desk, evidence: Evidence, served: Site) -> None:
    number, item_id = adult_case(desk, served)
    first = evidence.capture(item_id, REVIEWER, reason=WHY)
    second = evidence.capture(item_id, REVIEWER, reason=WHY)
    third = evidence.capture(item_id, REVIEWER, reason=WHY)
    evidence.purge(second.id, ADMIN, reason="captured twice by mistake")
    exported = evidence.export(number, ADMIN, reason="dossier for the prosecutor")
    assert [capture.id for capture, _ in exported] == [first.id, third.id]
    for capture, warc in exported:
        assert hashlib.sha256(warc).hexdigest() == capture.sha256
    events = kinds(desk, number)
    assert events[3:] == [
        (
            "evidence-purged",
            "admin1",
            {"capture": second.id, "why": "reviewer", "reason": "captured twice by mistake"},
        ),
        (
            "evidence-exported",
            "admin1",
            {"capture": first.id, "reason": "dossier for the prosecutor"},
        ),
        (
            "evidence-exported",
            "admin1",
            {"capture": third.id, "reason": "dossier for the prosecutor"},
        ),
    ]
    dossier = [e for e in desk.events(number) if e.kind == "dossier-exported"]
    assert [(e.actor, e.detail) for e in dossier] == [
        ("admin1", {"captures": [first.id, third.id], "reason": "dossier for the prosecutor"})
    ]
    assert [c.id for c in evidence.captures(number, REVIEWER)] == [third.id, second.id, first.id]


def test_hold_release_and_purge_are_a_reviewer_s_with_a_reason(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    held = evidence.hold(capture.id, REVIEWER, reason="proceedings")
    assert (held.held, held.held_at, held.held_by, held.hold_reason) == (
        True,
        NOW,
        "reviewer1",
        "proceedings",
    )
    with pytest.raises(CaseStateConflictError, match="held already"):
        evidence.hold(capture.id, REVIEWER, reason="again")
    with pytest.raises(CaseStateConflictError, match="held for proceedings: release it first"):
        evidence.purge(capture.id, REVIEWER, reason="no longer needed")
    released = evidence.release(capture.id, REVIEWER, reason="case settled")
    assert not released.held
    assert released.hold_reason is None
    with pytest.raises(CaseStateConflictError, match="not held"):
        evidence.release(capture.id, REVIEWER, reason="again")
    purged = evidence.purge(capture.id, REVIEWER, reason="no longer needed")
    assert purged.purge_reason == PurgeReason.REVIEWER
    for act in (evidence.purge, evidence.hold, evidence.open):
        with pytest.raises(EvidenceRefusedError, match="purged"):
            act(capture.id, REVIEWER, reason="again")
    assert [kind for kind, _, _ in kinds(desk, number)] == [
        "evidence-captured",
        "evidence-held",
        "evidence-released",
        "evidence-purged",
    ]


@pytest.mark.parametrize("actor", [OTHER_FLAGGER, VICTIM, SYSTEM])
def test_only_reviewers_and_admins_touch_evidence(
    desk: Desk, evidence: Evidence, served: Site, actor: Actor
) -> None:
    number, item_id = adult_case(desk, served)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    requests = len(served.requests)
    refused = "only a key of role admin or reviewer may"
    with pytest.raises(CaseInvalidError, match=f"{refused} capture evidence"):
        evidence.capture(item_id, actor, reason=WHY)
    for act in (evidence.open, evidence.hold, evidence.release, evidence.purge):
        with pytest.raises(CaseInvalidError, match=refused):
            act(capture.id, actor, reason=WHY)
    with pytest.raises(CaseInvalidError, match=refused):
        evidence.export(number, actor, reason=WHY)
    with pytest.raises(CaseInvalidError, match=refused):
        evidence.captures(number, actor)
    with pytest.raises(EvidenceNotFoundError, match=f"no capture {capture.id}"):
        evidence.get(capture.id, actor)
    assert len(served.requests) == requests
    assert len(kinds(desk, number)) == 1


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines", "tab\there", "x" * 501])
def test_a_reason_is_one_line_of_1_to_500_characters(
    desk: Desk, evidence: Evidence, served: Site, reason: str
) -> None:
    number, item_id = adult_case(desk, served)
    with pytest.raises(EvidenceRefusedError, match="reason"):
        evidence.capture(item_id, REVIEWER, reason=reason)
    assert served.requests == []
    capture = evidence.capture(item_id, REVIEWER, reason="x" * 500)
    for act in (evidence.open, evidence.hold, evidence.purge):
        with pytest.raises(EvidenceRefusedError, match="reason"):
            act(capture.id, REVIEWER, reason=reason)
    with pytest.raises(EvidenceRefusedError, match="reason"):
        evidence.export(number, REVIEWER, reason=reason)


def test_without_a_key_file_nothing_is_fetched(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    _, item_id = adult_case(desk, served)
    assert desk.keys.path is not None
    desk.keys.path.unlink()
    with pytest.raises(DeskKeyError, match="no desk key file"):
        evidence.capture(item_id, REVIEWER, reason=WHY)
    assert served.requests == []


def test_a_page_that_fails_is_no_capture(desk: Desk, served: Site) -> None:
    _, item_id = adult_case(desk, served, "/big")
    served.serve("/big", b"<p>" + b"x" * 5000)
    small = HttpFetcher(allow=[served.allow], max_bytes=1000, purpose="evidence capture")
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        Evidence(desk, small).capture(item_id, REVIEWER, reason=WHY)
    with desk.store.read() as connection:
        assert connection.execute(select(func.count()).select_from(desk_evidence)).scalar() == 0


def test_images_beyond_the_capture_s_limits_are_listed_not_kept(desk: Desk, served: Site) -> None:
    _, item_id = adult_case(desk, served)
    fetcher = HttpFetcher(allow=[served.allow], purpose="evidence capture")

    def capture(
        max_images: int = 50, max_total: int = 1 << 20
    ) -> tuple[dict[str, Any], dict[str, str]]:
        service = Evidence(desk, fetcher, max_images=max_images, max_total=max_total)
        images = service.capture(item_id, REVIEWER, reason=WHY).manifest["images"]
        return images, {entry["url"]: entry["why"] for entry in images["skipped"]}

    images, skipped = capture(max_images=1)
    assert images["fetched"] == 1
    assert skipped == {}  # the first image only: the page's others are not looked at
    images, skipped = capture(max_total=len(PAGE) + len(PNG) + 10)
    assert images["fetched"] == 1
    assert "larger than 10 bytes" in skipped[served.url("/p/img/b.jpg")]
    assert skipped[served.url("/img/missing.png")] == "status 404"
    images, skipped = capture(max_total=len(PAGE) + len(PNG))
    assert images["fetched"] == 1
    total = len(PAGE) + len(PNG)
    assert skipped == {
        served.url("/p/img/b.jpg"): f"over {total} bytes in all",
        served.url("/img/missing.png"): f"over {total} bytes in all",
    }


def test_an_item_without_a_url_or_unknown(desk: Desk, evidence: Evidence) -> None:
    case = desk.report(AgeAnswer.ADULT, [ItemInput(pdq="ab" * 32, quality=90)]).case
    with pytest.raises(EvidenceRefusedError, match=f"item {case.items[0].id} has no URL"):
        evidence.capture(case.items[0].id, REVIEWER, reason=WHY)
    with pytest.raises(EvidenceNotFoundError, match="no capture 999999"):
        evidence.get(999_999, REVIEWER)


def test_a_capture_is_timestamped_when_an_authority_is_set(
    desk: Desk, served: Site, authority: Authority
) -> None:
    _, item_id = adult_case(desk, served)
    fetcher = HttpFetcher(allow=[served.allow], purpose="evidence capture")
    evidence = Evidence(desk, fetcher, tsa_url=authority.url)
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    assert capture.timestamped
    assert capture.manifest["timestamp"] == GEN_TIME.isoformat()
    with desk.store.read() as connection:
        token = connection.execute(
            select(desk_evidence.c.timestamp_token).where(desk_evidence.c.id == capture.id)
        ).scalar_one()
    assert timestamp_time(token, bytes.fromhex(capture.sha256)) == GEN_TIME

    authority.mode = "rejection"  # the capture is kept; the manifest says why it has no token
    capture = evidence.capture(item_id, REVIEWER, reason=WHY)
    assert not capture.timestamped
    assert capture.manifest["timestamp"] is None
    assert "refused" in capture.manifest["timestamp_error"]
    assert hashlib.sha256(evidence.open(capture.id, REVIEWER, reason=WHY)).hexdigest() == (
        capture.sha256
    )


def test_the_settings_make_the_service(desk: Desk, served: Site, tmp_path: Path) -> None:
    settings = load_settings(
        {
            "REMPART_DATA_DIR": str(tmp_path),
            "REMPART_DESK_FETCH_ALLOW": served.allow,
            "REMPART_DESK_FETCH_MAX_BYTES": "100000",
            "REMPART_DESK_EVIDENCE_DAYS": "30",
        }
    )
    evidence = Evidence.from_settings(settings, desk)
    assert (evidence.days, evidence.tsa_url, evidence.max_total) == (30, None, 400_000)
    _, item_id = adult_case(desk, served)
    evidence.capture(item_id, REVIEWER, reason=WHY)
    agents = {r.headers.get("User-Agent") or r.headers.get("user-agent") for r in served.requests}
    assert agents == {f"Rempart/{__version__} (evidence capture)"}


def test_a_blob_or_a_wrapped_key_moved_to_another_capture_does_not_open(
    desk: Desk, evidence: Evidence, served: Site
) -> None:
    _, item_id = adult_case(desk, served)
    first = evidence.capture(item_id, REVIEWER, reason=WHY)
    second = evidence.capture(item_id, REVIEWER, reason=WHY)
    own, other = evidence_row(desk, first.id), evidence_row(desk, second.id)
    # The second's wrapped key on the first: it is bound to the second's id.
    with desk.store.write() as connection:
        connection.execute(
            update(desk_evidence)
            .where(desk_evidence.c.id == first.id)
            .values(wrapped_key=other.wrapped_key)
        )
    with pytest.raises(DeskKeyError, match=f"capture {first.id}'s data key does not open"):
        evidence.open(first.id, REVIEWER, reason=WHY)
    # The first's own key back, the second's sealed WARC on it: refused.
    with desk.store.write() as connection:
        connection.execute(
            update(desk_evidence)
            .where(desk_evidence.c.id == first.id)
            .values(wrapped_key=own.wrapped_key)
        )
        connection.execute(
            update(desk_evidence_blobs)
            .where(desk_evidence_blobs.c.evidence_id == first.id)
            .values(sealed=stored_blob(desk.store, second.id))
        )
    with pytest.raises(DeskKeyError, match=f"capture {first.id}'s WARC does not open"):
        evidence.open(first.id, REVIEWER, reason=WHY)


def evidence_row(desk: Desk, capture_id: int) -> Any:
    with desk.store.read() as connection:
        return connection.execute(
            select(desk_evidence).where(desk_evidence.c.id == capture_id)
        ).one()


def test_a_timestamp_authority_s_password_stays_out_of_the_manifest(
    desk: Desk, served: Site, authority: Authority
) -> None:
    """The manifest is shown on the case page and exported in the dossier: a failed
    timestamp says why, never the authority's address with its credentials."""
    _, item_id = adult_case(desk, served)
    fetcher = HttpFetcher(allow=[served.allow], purpose="evidence capture")
    secret_url = authority.url.replace("http://", "http://tsa-user:s3cret-pass@", 1)
    authority.mode = "rejection"
    capture = Evidence(desk, fetcher, tsa_url=secret_url).capture(item_id, REVIEWER, reason=WHY)
    assert capture.manifest["timestamp"] is None
    assert "refused" in capture.manifest["timestamp_error"]
    assert "s3cret-pass" not in json.dumps(capture.manifest)
