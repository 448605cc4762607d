"""Statements of reasons on a real database (SQLite and PostgreSQL): a decision on the
deployment's own platform makes one statement per item, in the Transparency Database's fields,
with the category, keywords and content type of the case; a refusal or another platform's
decision makes none; each rule broken in turn is refused naming the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rempart.desk import (
    VICTIM,
    AgeAnswer,
    Decision,
    Desk,
    FixedClock,
    ItemInput,
    Nature,
    Notices,
    ReplyKind,
)
from rempart.desk.sor import Statements, check, check_batch, parse
from rempart.errors import NoticeInvalidError, SorInvalidError
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    REVIEWER,
    clock_fixture,
    desk_fixture,
    link,
    make_notices_fixture,
)
from tests.desk.smtp import smtp_server_fixture  # noqa: F401

MakeNotices = Callable[..., Notices]
OWN = """\
version: 1
platforms:
  ours:
    title: Our Service
    domains: [ours.test]
    jurisdictions: [eu-dsa]
    channel:
      email: abuse@ours.test
    language: en
    own: true
"""


@pytest.fixture(name="notices")
def notices_fixture(make_notices: MakeNotices, tmp_path: Path) -> Notices:
    (tmp_path / "platforms" / "own.yaml").write_text(OWN, encoding="utf-8")
    return make_notices()


def decided(
    desk: Desk,
    notices: Notices,
    clock: FixedClock,
    answer: AgeAnswer,
    *items: ItemInput,
    platform: str = "ours",
    nature: Nature | None = None,
    decision: Decision = Decision.REMOVED,
) -> str:
    number = desk.report(answer, list(items)).case.number
    if answer == AgeAnswer.ADULT:
        notices.consent(
            number, VICTIM, name="Vy Ostrander", contact="vy@victim.test", signature="Vy O."
        )
    draft = notices.draft(number, platform, REVIEWER, nature=nature)
    notices.send(draft.reference, REVIEWER)
    clock.advance(timedelta(hours=2))
    notices.reply(draft.reference, REVIEWER, kind=ReplyKind.DECISION, decision=decision)
    return draft.reference


@pytest.mark.parametrize(
    ("answer", "nature", "category", "keyword", "content_type"),
    [
        (
            AgeAnswer.ADULT,
            Nature.NCII,
            "STATEMENT_CATEGORY_CYBER_VIOLENCE",
            "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
            "CONTENT_TYPE_IMAGE",
        ),
        (
            AgeAnswer.ADULT,
            Nature.DEEPFAKE,
            "STATEMENT_CATEGORY_CYBER_VIOLENCE",
            "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE",
            "CONTENT_TYPE_SYNTHETIC_MEDIA",
        ),
        (
            AgeAnswer.UNDER_18,
            None,
            "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
            "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
            "CONTENT_TYPE_IMAGE",
        ),
        (
            AgeAnswer.UNDER_18,
            Nature.CSAM_DEEPFAKE,
            "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
            "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
            "CONTENT_TYPE_SYNTHETIC_MEDIA",
        ),
    ],
)
def test_a_decision_on_our_platform_makes_one_valid_statement_per_item(
    desk: Desk,
    notices: Notices,
    clock: FixedClock,
    answer: AgeAnswer,
    nature: Nature | None,
    category: str,
    keyword: str,
    content_type: str,
) -> None:
    reference = decided(
        desk, notices, clock, answer, link("ours.test", "1"), link("ours.test", "2"), nature=nature
    )
    statements = Statements(notices)
    made = statements.make(reference, REVIEWER)
    assert len(made) == 2
    assert statements.make(reference, REVIEWER) == []  # once per (notice, item)
    for stored in made:
        s = stored.statement
        check(s)
        assert s["category"] == category
        assert s["category_specification"] == [keyword]
        assert content_type in s["content_type"]
        assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
        assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
        assert s["application_date"] == clock.now().date().isoformat()
        text = repr(s)
        assert "Ostrander" not in text
        assert "@" not in text
        assert "ours.test" not in text
    assert len({stored.puid for stored in made}) == 2
    assert [s.puid for s in statements.stored()] == [s.puid for s in made]


def test_generated_imagery_of_a_minor_is_a_minors_nature_only(desk: Desk, notices: Notices) -> None:
    adult = desk.report(AgeAnswer.ADULT, [link("ours.test")]).case.number
    with pytest.raises(NoticeInvalidError) as refused:
        notices.draft(adult, "ours", REVIEWER, nature=Nature.CSAM_DEEPFAKE)
    assert refused.value.element == "nature"
    minor = desk.report(AgeAnswer.UNDER_18, [link("ours.test", "2")]).case.number
    with pytest.raises(NoticeInvalidError) as refused:
        notices.draft(minor, "ours", REVIEWER, nature=Nature.DEEPFAKE)
    assert refused.value.element == "nature"
    draft = notices.draft(minor, "ours", REVIEWER, nature=Nature.CSAM_DEEPFAKE)
    record = notices.record(draft.reference, REVIEWER)
    assert record.nature == Nature.CSAM_DEEPFAKE
    assert record.legal_ground == "Code pénal, art. 227-23"
    assert "generated" in record.explanation


def test_a_refusal_or_another_platforms_decision_makes_no_statement(
    desk: Desk, notices: Notices, clock: FixedClock
) -> None:
    refused = decided(
        desk, notices, clock, AgeAnswer.ADULT, link("ours.test"), decision=Decision.REFUSED
    )
    elsewhere = decided(
        desk, notices, clock, AgeAnswer.ADULT, link("social.test"), platform="social"
    )
    statements = Statements(notices)
    assert statements.make(refused, REVIEWER) == []
    assert statements.make(elsewhere, REVIEWER) == []
    assert statements.stored() == []


def test_a_puid_is_never_reused(desk: Desk, notices: Notices, clock: FixedClock) -> None:
    first = decided(desk, notices, clock, AgeAnswer.ADULT, link("ours.test", "1"))
    second = decided(desk, notices, clock, AgeAnswer.ADULT, link("ours.test", "2"))
    statements = Statements(notices, puids=lambda: "rempart-same")
    statements.make(first, REVIEWER)
    with pytest.raises(SorInvalidError) as refused:
        statements.make(second, REVIEWER)
    assert refused.value.field == "puid"
    assert len(statements.stored()) == 1


def valid() -> dict[str, Any]:
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "illegal_content_legal_ground": "Code pénal, art. 226-2-1",
        "illegal_content_explanation": "Intimate image shared without consent.",
        "content_type": ["CONTENT_TYPE_IMAGE"],
        "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "category_specification": ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "The service removed the image.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "rempart-0123abcd",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"decision_facts": None}, "decision_facts"),
        ({"decision_facts": "x" * 5001}, "decision_facts"),
        (
            {"decision_visibility": ["DECISION_VISIBILITY_OTHER"]},
            "decision_visibility_other",
        ),
        ({"decision_visibility": None}, "decision_visibility"),
        ({"decision_visibility": ["REMOVED"]}, "decision_visibility"),
        ({"illegal_content_explanation": None}, "illegal_content_explanation"),
        ({"illegal_content_explanation": "x" * 2001}, "illegal_content_explanation"),
        ({"illegal_content_legal_ground": "x" * 501}, "illegal_content_legal_ground"),
        ({"content_type": ["CONTENT_TYPE_OTHER"]}, "content_type_other"),
        ({"category": "STATEMENT_CATEGORY_NOPE"}, "category"),
        ({"category_specification": ["nope"]}, "category_specification"),
        ({"content_date": "1999-12-31"}, "content_date"),
        ({"application_date": "2019-12-31"}, "application_date"),
        ({"application_date": "2026-13-01"}, "application_date"),
        ({"automated_detection": "yes"}, "automated_detection"),
        ({"automated_decision": None}, "automated_decision"),
        ({"source_type": None}, "source_type"),
        ({"source_identity": "Assoc"}, "source_identity"),
        ({"puid": "has space"}, "puid"),
        ({"puid": "a" * 501}, "puid"),
        ({"puid": None}, "puid"),
        ({"decision_facts": "Write to ada@example.org."}, "decision_facts"),
        ({"decision_facts": "Call +33 6 12 34 56 78."}, "decision_facts"),
        ({"decision_facts": "Case R-ABCDE12345."}, "decision_facts"),
    ],
)
def test_each_rule_broken_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    check(valid())
    statement = valid()
    for key, value in change.items():
        if value is None:
            del statement[key]
        else:
            statement[key] = value
    with pytest.raises(SorInvalidError) as refused:
        check(statement)
    assert refused.value.field == field


def test_a_sealed_value_in_free_text_is_refused() -> None:
    statement = valid() | {"decision_facts": "Reported by Vy Ostrander."}
    with pytest.raises(SorInvalidError) as refused:
        check(statement, forbidden=["vy ostrander"])
    assert refused.value.field == "decision_facts"


def test_a_batch_names_the_statement_and_holds_at_most_100() -> None:
    batch = [valid() | {"puid": f"p-{i}"} for i in range(101)]
    with pytest.raises(SorInvalidError) as refused:
        check_batch(batch)
    assert refused.value.field == "statements"
    check_batch(batch[:100])
    broken = copy.deepcopy(batch[:3])
    del broken[2]["decision_facts"]
    with pytest.raises(SorInvalidError) as refused:
        check_batch(broken)
    assert refused.value.field == "statements[2].decision_facts"
    with pytest.raises(SorInvalidError) as refused:
        check_batch([valid(), valid()])
    assert refused.value.field == "statements[1].puid"


def test_parse_reads_one_statement_or_a_batch() -> None:
    assert parse('{"puid": "a"}') == [{"puid": "a"}]
    assert parse('{"statements": [{"puid": "a"}]}') == [{"puid": "a"}]
    for text in ("[1]", "nope", '{"statements": 3}'):
        with pytest.raises(SorInvalidError) as refused:
            parse(text)
        assert refused.value.field == "statements"
