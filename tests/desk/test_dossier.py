"""A case's dossier, on SQLite and PostgreSQL: a page and its image captured from a real local
web server, then exported to a folder that opens: its PDFs read with pypdf, its WARC with
warcio (each body's SHA-256 the served file's), ``index.json``'s hashes the files', the
folder its owner's alone; a folder not empty, or an actor not a reviewer, is refused with
nothing recorded; a failed write leaves nothing behind; a capture's timestamp token goes with
its WARC."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from rempart.desk import AgeAnswer, Desk, ItemInput, Notices
from rempart.desk import dossier as dossier_module
from rempart.desk.dossier import INDEX, TIMELINE, export_dossier
from rempart.desk.evidence import Evidence
from rempart.desk.evidence_model import Capture, Check, CheckOutcome
from rempart.desk.fetch import HttpFetcher
from rempart.desk.tsa import timestamp_time
from rempart.errors import CaseNotFoundError, EvidenceRefusedError
from tests.desk.noticing import (  # noqa: F401
    NOW,
    OTHER_FLAGGER,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    flat,
    make_notices_fixture,
    pdf_text,
)
from tests.desk.served import Site, site_fixture  # noqa: F401
from tests.desk.smtp import smtp_server_fixture  # noqa: F401
from tests.desk.tsa_server import GEN_TIME, Authority, authority_fixture  # noqa: F401

NOTIFIED = "https://example.org/p/1"  # the test platform "social"
REASON = "complaint to the police, PV 2026/0042"


def _gradient() -> bytes:
    """A benign image: a flat colour gradient, as PNG."""
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


PAGE = b'<!doctype html><html><body><h1>A page</h1><img src="/g.png" alt=""></body></html>'
IMAGE = _gradient()


@pytest.fixture(name="case")
def case_fixture(
    desk: Desk, site: Site, make_notices: Callable[..., Notices]
) -> tuple[str, Notices, Evidence, Capture]:
    """An adult case with a notified URL and a local page, drafted a notice, the page
    captured (with its image)."""
    site.serve("/p", PAGE)
    site.serve("/g.png", IMAGE, "image/png")
    number = desk.report(
        AgeAnswer.ADULT, [ItemInput(url=NOTIFIED), ItemInput(url=site.url("/p"))]
    ).case.number
    items = desk.get(number).items
    notices = make_notices()
    notices.draft(number, "social", REVIEWER, item_ids=[items[0].id])
    evidence = Evidence(desk, HttpFetcher(allow=[site.allow], clock=desk.clock))
    capture = evidence.capture(items[1].id, REVIEWER, reason="before the complaint")
    return number, notices, evidence, capture


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_dossier_opens_and_its_index_holds_each_file_s_hash(
    desk: Desk, case: tuple[str, Notices, Evidence, Capture], tmp_path: Path
) -> None:
    number, notices, evidence, capture = case
    item = desk.get(number).items[0]
    # The notice's own reference: PostgreSQL's ids run on across tests.
    notice_pdf = f"notices/{notices.for_case(number, REVIEWER)[0].reference}.pdf"
    check = Check(item.id, number, NOW, "GET", 404, CheckOutcome.REMOVED)
    out = tmp_path / "dossier"
    made = export_dossier(
        evidence, notices, number, REVIEWER, out, reason=REASON, checks={item.id: check}
    )
    names = {
        TIMELINE,
        INDEX,
        notice_pdf,
        f"captures/{capture.id}.warc",
        f"captures/{capture.id}.manifest.json",
    }
    assert {name for name, _ in made.files} == names
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == names
    # Its owner's alone.
    assert _mode(out) == 0o700
    assert {_mode(p) for p in out.rglob("*") if p.is_dir()} == {0o700}
    assert {_mode(p) for p in out.rglob("*") if p.is_file()} == {0o600}
    # index.json names every other file with its SHA-256 and size.
    index = json.loads((out / INDEX).read_text())
    assert (index["case"], index["reason"], index["exported_by"]) == (number, REASON, "reviewer1")
    assert {entry["name"] for entry in index["files"]} == names - {INDEX}
    for entry in index["files"]:
        data = (out / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    assert dict(made.files)[INDEX] == hashlib.sha256((out / INDEX).read_bytes()).hexdigest()
    # The timeline: the case, the capture's SHA-256, the item's last check, the events.
    timeline = "".join(pdf_text((out / TIMELINE).read_bytes()).split())  # cells wrap
    for shown in (number, capture.sha256, "removed(verified)(GET404)", "evidence-captured"):
        assert shown in timeline
    assert NOTIFIED in pdf_text((out / notice_pdf).read_bytes())
    # The WARC, unsealed: the file the capture's SHA-256 names; each body the served one's.
    warc = (out / f"captures/{capture.id}.warc").read_bytes()
    assert hashlib.sha256(warc).hexdigest() == capture.sha256
    bodies = {
        record.rec_headers.get_header("WARC-Target-URI"): record.content_stream().read()
        for record in ArchiveIterator(io.BytesIO(warc))
        if record.rec_type == "response"
    }
    assert hashlib.sha256(bodies[capture.url]).hexdigest() == hashlib.sha256(PAGE).hexdigest()
    assert IMAGE in bodies.values()
    manifest = json.loads((out / f"captures/{capture.id}.manifest.json").read_text())
    assert manifest == json.loads(json.dumps(dict(capture.manifest)))
    # Recorded: the capture exported, and the dossier, with the reason.
    events = [e for e in desk.events(number) if e.kind in ("evidence-exported", "dossier-exported")]
    assert [(e.kind, e.actor, e.detail["reason"]) for e in events] == [
        ("evidence-exported", "reviewer1", REASON),
        ("dossier-exported", "reviewer1", REASON),
    ]


def test_french_timeline(case: tuple[str, Notices, Evidence, Capture], tmp_path: Path) -> None:
    number, notices, evidence, _ = case
    out = tmp_path / "fr"
    export_dossier(evidence, notices, number, REVIEWER, out, reason=REASON, language="fr")
    text = flat(pdf_text((out / TIMELINE).read_bytes()))
    assert f"Dossier {number}" in text
    assert "Événements, dans l'ordre" in text


def test_a_folder_not_empty_or_an_actor_not_a_reviewer_is_refused_with_nothing_recorded(
    desk: Desk, case: tuple[str, Notices, Evidence, Capture], tmp_path: Path
) -> None:
    number, notices, evidence, _ = case
    before = desk.events(number)
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("kept")
    with pytest.raises(EvidenceRefusedError, match="not empty") as refused:
        export_dossier(evidence, notices, number, REVIEWER, full, reason=REASON)
    assert str(full) in str(refused.value)
    assert [p.name for p in full.iterdir()] == ["mine.txt"]
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(EvidenceRefusedError, match="not a folder"):
        export_dossier(evidence, notices, number, REVIEWER, file, reason=REASON)
    out = tmp_path / "new"
    with pytest.raises(CaseNotFoundError):  # a flagger not holding it: not even its number
        export_dossier(evidence, notices, number, OTHER_FLAGGER, out, reason=REASON)
    with pytest.raises(EvidenceRefusedError, match="reason"):
        export_dossier(evidence, notices, number, REVIEWER, out, reason="")
    assert not out.exists()
    assert desk.events(number) == before


def test_a_failed_write_leaves_nothing_behind(
    case: tuple[str, Notices, Evidence, Capture], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    number, notices, evidence, _ = case
    written: list[Path] = []
    write = dossier_module._write

    def fail_on_the_third(path: Path, data: bytes) -> None:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        write(path, data)
        written.append(path)

    monkeypatch.setattr(dossier_module, "_write", fail_on_the_third)
    made = tmp_path / "made"
    with pytest.raises(EvidenceRefusedError, match="No space"):
        export_dossier(evidence, notices, number, REVIEWER, made, reason=REASON)
    assert not made.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    written.clear()
    with pytest.raises(EvidenceRefusedError, match="No space"):
        export_dossier(evidence, notices, number, REVIEWER, empty, reason=REASON)
    assert empty.is_dir()
    assert list(empty.iterdir()) == []


def test_a_timestamped_capture_s_token_goes_in_the_dossier(
    desk: Desk,
    site: Site,
    authority: Authority,
    make_notices: Callable[..., Notices],
    tmp_path: Path,
) -> None:
    site.serve("/p", PAGE)
    number = desk.report(AgeAnswer.ADULT, [ItemInput(url=site.url("/p"))]).case.number
    fetcher = HttpFetcher(allow=[site.allow], clock=desk.clock)
    evidence = Evidence(desk, fetcher, tsa_url=authority.url)
    capture = evidence.capture(desk.get(number).items[0].id, REVIEWER, reason="before")
    out = tmp_path / "dossier"
    made = export_dossier(evidence, make_notices(), number, REVIEWER, out, reason=REASON)
    token = out / f"captures/{capture.id}.tsr"
    assert timestamp_time(token.read_bytes(), bytes.fromhex(capture.sha256)) == GEN_TIME
    assert dict(made.files)[f"captures/{capture.id}.tsr"] == (
        hashlib.sha256(token.read_bytes()).hexdigest()
    )
    assert "timestamped(RFC3161)" in "".join(pdf_text((out / TIMELINE).read_bytes()).split())
