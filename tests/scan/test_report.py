"""The HTML report: valid, inert, escaped, and holding mosaics only."""

from __future__ import annotations

import os

import html5lib

from rempart.policy import load_policy
from rempart.scan import FlaggedItem, ScanSummary, render_report

HOSTILE = '<img src=x onerror="alert(1)">&amp;.png'


def flagged_record(path: str) -> dict[str, object]:
    verdict = load_policy("strict").decide([]).to_json()
    verdict["action"] = "block"
    verdict["reasons"] = [
        {
            "rule": "any-nudity",
            "action": "block",
            "category": "adult_nudity",
            "text": "</td><script>alert(2)</script>",
            "signals": [{"name": "nudity.exposed.anus", "score": 0.9, "value": "<b>"}],
        }
    ]
    return {"path": path, "sha256": "ab" * 32, "verdict": verdict}


def test_every_text_from_outside_is_escaped() -> None:
    summary = ScanSummary(load_policy("strict").ref, population=3)
    record = flagged_record(HOSTILE)
    summary.add(record)
    html = render_report(summary, [FlaggedItem(record)])
    html5lib.HTMLParser(strict=True).parse(html)
    assert "<script" not in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;.png" in html
    assert "&lt;b&gt;" in html


def test_the_table_says_how_many_more_the_output_holds() -> None:
    summary = ScanSummary(load_policy("default").ref, population=5)
    records = [flagged_record(f"{i}.jpg") for i in range(5)]
    for record in records:
        summary.add(record)
    html = render_report(summary, [FlaggedItem(records[0]), FlaggedItem(records[1])])
    assert "3 more flagged items are in the JSON Lines output" in html
    assert "no thumbnail" in html, "items without a mosaic say so"


def test_a_clean_scan_says_nothing_was_flagged() -> None:
    summary = ScanSummary(load_policy("default").ref, population=1)
    verdict = load_policy("default").decide([]).to_json()
    summary.add({"path": "a.jpg", "sha256": "00" * 32, "verdict": verdict})
    html = render_report(summary, [])
    html5lib.HTMLParser(strict=True).parse(html)
    assert "No image was flagged." in html
    assert "No image fell under any category." in html
    assert "Prevalence" not in html, "only a sample gets prevalence"


def test_a_name_with_a_newline_or_bytes_that_are_not_utf8_is_shown_escaped() -> None:
    summary = ScanSummary(load_policy("strict").ref, population=2)
    records = [flagged_record("dump/new\nline.png"), flagged_record(os.fsdecode(b"dump/\xff.png"))]
    for record in records:
        summary.add(record)
    html = render_report(summary, [FlaggedItem(record) for record in records])
    html.encode("utf-8")  # the page is valid UTF-8 whatever the names
    assert "<code>dump/new\\nline.png</code>" in html
    assert "<code>dump/\\xff.png</code>" in html


def test_a_signal_value_from_a_hostile_file_is_shown_escaped() -> None:
    """A pickle's import holds what its bytes say: a lone surrogate, a line break."""
    summary = ScanSummary(load_policy("strict").ref, population=1)
    record = flagged_record("model.pt")
    record["verdict"]["reasons"][0]["signals"][0]["value"] = "os.sys\ud800tem\n"  # type: ignore[index]
    summary.add(record)
    html = render_report(summary, [FlaggedItem(record)])
    html.encode("utf-8")  # the page is valid UTF-8 whatever the file held
    assert "os.sys\\ud800tem\\n" in html
