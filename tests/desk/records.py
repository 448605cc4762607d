"""Notice records for the tests: everything a notice can hold, in English or French, with or
without the person depicted's identity and signature."""

from __future__ import annotations

from datetime import UTC, datetime

from rempart.desk.notice_model import (
    BONA_FIDE,
    GOOD_FAITH,
    Identity,
    Nature,
    NoticeItem,
    NoticeRecord,
    Notifier,
    Signature,
    StatementOfReasons,
)

__all__ = ["EXPLANATION", "a_record", "urls"]

EXPLANATION = (
    "Intimate images of the person depicted, published without their consent; "
    "she asked for their removal through us."
)


def urls(count: int) -> tuple[str, ...]:
    """``count`` distinct item URLs on example.com (one with a query string to keep exact)."""
    return tuple(f"https://example.com/p/{n}?from=feed&x=1" for n in range(1, count + 1))


def a_record(
    *,
    language: str = "en",
    count: int = 3,
    victim: bool = True,
    association: bool = True,
    item_urls: tuple[str, ...] | None = None,
) -> NoticeRecord:
    """A sent NCII notice to Example Social under the DSA and TAKE IT DOWN: by an association
    (its signatory signs) or the deployment (the victim signs, when ``victim``)."""
    notifier = (
        Notifier(
            "association",
            "Stop Fisha",
            "contact@stopfisha.example",
            "Arcom",
            "M-7",
            "Jeanne Martin",
        )
        if association
        else Notifier("deployment", "Rempart Desk", "desk@rempart.example")
    )
    signed = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    signature = (
        Signature("Jeanne Martin", "authorized", signed)
        if association
        else Signature("Alice Dupont", "victim", signed)
        if victim
        else None
    )
    return NoticeRecord(
        reference="N-12",
        language=language,
        platform="example-social",
        platform_title="Example Social",
        jurisdictions=("eu-dsa", "us-take-it-down"),
        nature=Nature.NCII,
        legal_ground="Code pénal, art. 226-2-1",
        explanation=EXPLANATION,
        items=tuple(NoticeItem(n, url) for n, url in enumerate(item_urls or urls(count), start=1)),
        notifier=notifier,
        statements=(BONA_FIDE.id, GOOD_FAITH.id),
        sor=StatementOfReasons(
            decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
            illegal_content_legal_ground="Code pénal, art. 226-2-1",
            illegal_content_explanation=EXPLANATION,
            category="STATEMENT_CATEGORY_CYBER_VIOLENCE",
            category_specification=("KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",),
            content_type=("CONTENT_TYPE_IMAGE",),
            source_type="SOURCE_TRUSTED_FLAGGER",
        ),
        drafted_at=datetime(2026, 12, 1, 21, 8, 1, tzinfo=UTC),
        sent_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
        victim=Identity("Alice Dupont", "alice@example.org")
        if victim and not association
        else None,
        signature=signature,
    )
