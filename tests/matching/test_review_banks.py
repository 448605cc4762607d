"""Review banks: their matches say so, become ``bank.reported`` signals and send a scan to
review; a confirmed copy of the hash, in a bank that is not for review, blocks (each test runs
on SQLite and on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from rempart.detectors.banks import BankDetector, bank_matches
from rempart.detectors.picture import Picture
from rempart.hashing import pack
from rempart.matching.banks import BankMatch, BankMatcher, Banks
from rempart.media import load_bytes
from rempart.policy import Action, load_policy
from rempart.scan import Scanner, ScanResult
from rempart.signals import Signal
from rempart.store import Store
from tests.images import encode, gradient

HASH = "ab" * 32


def test_a_match_in_a_review_bank_says_review(store: Store) -> None:
    banks = Banks(store)
    banks.create("ncii")
    banks.add("ncii", HASH)
    matcher = BankMatcher(store, refresh_interval=None)
    banks.create("desk-adult", source="desk", review=True)
    banks.add("desk-adult", HASH)
    matcher.refresh()  # a review bank made after the index loaded is followed too
    (found,) = matcher.match(pack([HASH]))
    by_bank = {match.bank: match for match in found}
    assert by_bank["desk-adult"].review
    assert not by_bank["ncii"].review
    assert by_bank["desk-adult"].to_json(variant=False)["review"] is True
    assert "review" not in by_bank["ncii"].to_json(variant=False)
    assert len(BankMatcher(store)) == 2


def test_a_match_reads_back_from_its_json() -> None:
    for match in (
        BankMatch("desk-minor", 7, HASH, 3, "rotate90", review=True),
        BankMatch("ncii", 8, HASH, 0),
    ):
        assert BankMatch.from_json(match.to_json()) == match
    assert BankMatch.from_json(BankMatch("x", 1, HASH, 0).to_json(variant=False)).variant is None


def test_the_detector_reports_review_matches_and_reads_them_back(store: Store) -> None:
    picture = Picture(load_bytes(encode(gradient(320, 240, seed=5), "PNG")))
    pdq = picture.hashes().pdq
    banks = Banks(store)
    banks.create("desk-adult", source="desk", review=True)
    banks.add("desk-adult", pdq)
    banks.create("known")
    banks.add("known", pdq)
    (signals,) = BankDetector(BankMatcher(store)).detect([picture])
    assert {(s.name, s.value) for s in signals} == {
        ("bank.reported", "desk-adult"),
        ("bank.match", "known"),
    }
    stranger = Signal("bank.match", 1.0, "plugin", "1", value="x", evidence={"bank": "x"})
    found = bank_matches([*signals, signals[0], stranger])
    assert sorted((m.bank, m.review) for m in found) == [("desk-adult", True), ("known", False)]


def test_a_reported_image_scans_as_review_and_blocks_once_confirmed(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "copy.png"
    path.write_bytes(encode(gradient(320, 240, seed=9), "PNG"))
    pdq = Picture(load_bytes(path.read_bytes())).hashes().pdq
    banks = Banks(store)
    banks.create("desk-adult", source="desk", review=True)
    banks.add("desk-adult", pdq)
    matcher = BankMatcher(store, refresh_interval=0)
    scanner = Scanner([], load_policy("default"), matcher=matcher)

    (result,) = scanner.scan([str(path)])
    assert isinstance(result, ScanResult)
    assert result.verdict.action is Action.REVIEW
    assert [r.rule for r in result.verdict.reasons] == ["reported-image"]

    banks.create("desk-adult-confirmed", source="desk")
    banks.add("desk-adult-confirmed", pdq)
    (result,) = scanner.scan([str(path)])
    assert isinstance(result, ScanResult)
    assert result.verdict.action is Action.BLOCK
    assert {r.rule for r in result.verdict.reasons} == {"known-image", "reported-image"}
