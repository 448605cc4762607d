"""Notices on a real database (SQLite and PostgreSQL), sent to a real mail server (aiosmtpd on
loopback): each mail and its PDF read back carry every element the platform's jurisdictions
require; a missing one is refused by name and nothing is sent; an association's notice holds
no trace of the victim; a failed send leaves a draft that the retry sends once."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

import rempart.desk.render
from rempart.access.keys import ApiKeys
from rempart.access.roles import Role
from rempart.desk import (
    VICTIM,
    Actor,
    AgeAnswer,
    ClockStatus,
    Decision,
    Desk,
    EscalationStep,
    FixedClock,
    ItemInput,
    ItemState,
    Nature,
    Notices,
    NoticeState,
    ReplyKind,
    staff,
)
from rempart.desk.notice_model import BONA_FIDE, ESCALATION_LADDER, GOOD_FAITH, NoticeRecord
from rempart.desk.render import Rendered
from rempart.errors import (
    CaseInvalidError,
    CaseNotFoundError,
    CaseStateConflictError,
    DeliveryFailedError,
    NoticeInvalidError,
    NoticeNotFoundError,
)
from rempart.store.schema import desk_events, desk_notices
from tests.desk.noticing import (  # noqa: F401 (fixtures)
    ADMIN,
    MANDATE,
    NOTIFIER_EMAIL,
    NOTIFIER_NAME,
    NOW,
    OTHER_FLAGGER,
    REVIEWER,
    clock_fixture,
    desk_fixture,
    link,
    mail_text,
    make_notices_fixture,
    pdf_of,
    pdf_text,
)
from tests.desk.smtp import SmtpServer, smtp_server_fixture  # noqa: F401

MakeNotices = Callable[..., Notices]
# Distinctive strings: found anywhere they should not be, they can only have come from here.
VICTIM_NAME = "Zelphine Quarrow"
VICTIM_CONTACT = "zq-mailbox@victim.test"
VICTIM_SIGNATURE = "Zelphine Q. signed"


def consented_case(desk: Desk, notices: Notices, *items: ItemInput) -> str:
    number = desk.report(AgeAnswer.ADULT, list(items)).case.number
    notices.consent(
        number, VICTIM, name=VICTIM_NAME, contact=VICTIM_CONTACT, signature=VICTIM_SIGNATURE
    )
    return number


def test_a_sent_notice_carries_every_element_its_laws_require(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    news: list[str] = []
    notices = make_notices(on_news=news.append)
    number = consented_case(
        desk,
        notices,
        link("social.test", "p/1"),
        link("www.example.org", "photo/2?x=1"),
        link("elsewhere.test"),
        ItemInput(pdq="ab" * 32, quality=90),
    )
    draft = notices.draft(number, "social", REVIEWER)
    assert draft.reference.startswith("N-")
    assert draft.state == NoticeState.DRAFT
    assert [c.url for c in draft.clocks] == [
        "https://social.test/p/1",
        "https://www.example.org/photo/2?x=1",
    ]
    assert {c.status for c in draft.clocks} == {ClockStatus.NOT_SENT}
    assert notices.missing(draft.reference, REVIEWER) == []
    assert smtp_server.messages == []

    sent = notices.send(draft.reference, REVIEWER)

    assert sent.state == NoticeState.SENT
    assert sent.sent_at == NOW
    assert news == [number]
    [message] = smtp_server.messages
    assert message["To"] == "abuse@social.test"
    assert message["Message-ID"] == sent.message_id
    assert draft.reference in message["Subject"]
    pdf = pdf_of(message)
    record = notices.record(draft.reference, REVIEWER)
    assert record.digest() == sent.digest
    attached = PdfReader(io.BytesIO(pdf)).attachments["notice.json"][0]
    assert hashlib.sha256(attached).hexdigest() == sent.digest
    required = [
        "https://social.test/p/1",
        "https://www.example.org/photo/2?x=1",
        "226-2-1",  # the legal ground (DSA a)
        NOTIFIER_NAME,  # DSA c
        NOTIFIER_EMAIL,
        BONA_FIDE.text("en"),  # DSA d
        VICTIM_SIGNATURE,  # TAKE IT DOWN i
        VICTIM_NAME,  # ii: the identifiable individual
        GOOD_FAITH.text("en"),  # iii
        VICTIM_CONTACT,  # iv
    ]
    for shown in (mail_text(message), pdf_text(pdf)):
        for element in required:
            assert element in shown
        assert "elsewhere.test" not in shown
    # The case's number is half the victim's credential: it stays at the desk.
    assert number not in message.as_string()
    assert number.encode() not in attached
    assert [c.due_at for c in sent.clocks] == [NOW + timedelta(hours=48)] * 2
    assert {c.jurisdiction for c in sent.clocks} == {"us-take-it-down"}
    kinds = [e.kind for e in desk.events(number)]
    assert kinds[-3:] == ["consent-given", "notice-drafted", "notice-sent"]
    for event in desk.events(number):
        text = json.dumps(event.detail)
        assert VICTIM_NAME not in text
        assert VICTIM_CONTACT not in text


def test_a_take_it_down_notice_without_a_signature_is_refused_by_name(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices()
    number = desk.report(AgeAnswer.ADULT, [link("us.test")]).case.number
    draft = notices.draft(number, "take-it-down", REVIEWER)
    assert [element for element, _ in notices.missing(draft.reference, REVIEWER)] == ["signature"]
    with pytest.raises(NoticeInvalidError, match="typed signature") as refused:
        notices.send(draft.reference, REVIEWER)
    assert refused.value.element == "signature"
    assert smtp_server.messages == []
    assert notices.get(draft.reference, REVIEWER).state == NoticeState.DRAFT
    # Once the victim signs, it goes.
    notices.consent(number, VICTIM, name="A", contact="a@victim.test", signature="A signed")
    assert notices.send(draft.reference, REVIEWER).state == NoticeState.SENT


def test_an_adult_dsa_notice_without_the_notifiers_email_is_refused_by_name(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices({"REMPART_DESK_NOTIFIER_EMAIL": None})
    number = desk.report(AgeAnswer.ADULT, [link("dsa.test")]).case.number
    draft = notices.draft(number, "dsa-only", REVIEWER)
    with pytest.raises(NoticeInvalidError, match="REMPART_DESK_NOTIFIER_EMAIL") as refused:
        notices.send(draft.reference, REVIEWER)
    assert refused.value.element == "notifier"
    assert smtp_server.messages == []


def test_a_minors_dsa_notice_goes_without_the_notifiers_email(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices({"REMPART_DESK_NOTIFIER_EMAIL": None})
    number = desk.report(AgeAnswer.UNSURE, [link("dsa.test")]).case.number
    with pytest.raises(NoticeInvalidError) as refused:
        notices.draft(number, "dsa-only", REVIEWER, nature=Nature.NCII)
    assert refused.value.element == "nature"
    draft = notices.draft(number, "dsa-only", REVIEWER)
    assert draft.nature == Nature.CSAM
    assert draft.language == "fr"
    sent = notices.send(draft.reference, REVIEWER)
    assert sent.state == NoticeState.SENT
    [message] = smtp_server.messages
    text = mail_text(message)
    assert "https://dsa.test/p/1" in text
    assert "227-23" in text
    assert BONA_FIDE.text("fr") in text
    assert NOTIFIER_EMAIL not in text
    record = notices.record(draft.reference, REVIEWER)
    assert record.victim is None
    assert record.sor.category == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"


def test_an_associations_notice_holds_no_trace_of_the_victim(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices()
    key = ApiKeys(desk.store).create(Role.FLAGGER, name="Association Claire Voie").key
    flagger = staff(key)
    number = desk.report(
        AgeAnswer.ADULT, [link("social.test")], actor=flagger, mandate=MANDATE
    ).case.number
    with pytest.raises(CaseInvalidError, match="in its own name"):
        notices.consent(
            number, VICTIM, name=VICTIM_NAME, contact=VICTIM_CONTACT, signature=VICTIM_SIGNATURE
        )
    assert not notices.has_consent(number)
    unsigned = notices.draft(number, "social", flagger)
    with pytest.raises(NoticeInvalidError, match="signatory") as refused:
        notices.send(unsigned.reference, flagger)
    assert refused.value.element == "signature"

    draft = notices.draft(
        number, "social", flagger, item_ids=[unsigned.clocks[0].item_id], signatory="Marie Sign"
    )
    sent = notices.send(draft.reference, flagger)

    [message] = smtp_server.messages
    pdf = pdf_of(message)
    record = notices.record(sent.reference, flagger)
    assert record.notifier.kind == "association"
    assert record.notifier.name == "Association Claire Voie"
    assert record.victim is None
    assert record.signature is not None
    assert record.signature.by == "authorized"
    shown = [mail_text(message), pdf_text(pdf)]
    for text in shown:
        assert "ASSOC-2026-001" in text
        assert "Marie Sign" in text
        assert "Association Claire Voie" in text
    raw = [message.as_bytes(), pdf, record.canonical(), *(t.encode() for t in shown)]
    for blob in raw:
        for secret in (VICTIM_NAME, VICTIM_CONTACT, VICTIM_SIGNATURE, "Quarrow", "zq-mailbox"):
            assert secret.encode() not in blob


def test_smtp_down_leaves_a_draft_and_the_retry_sends_it_once(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    news: list[str] = []
    notices = make_notices(on_news=news.append)
    number = consented_case(desk, notices, link("social.test"))
    draft = notices.draft(number, "social", REVIEWER)
    smtp_server.stop()
    with pytest.raises(DeliveryFailedError):
        notices.send(draft.reference, REVIEWER)
    failed = notices.get(draft.reference, REVIEWER)
    assert failed.state == NoticeState.DRAFT
    assert failed.last_error
    assert failed.sent_at is None
    assert failed.attempts == 1
    assert [(d.ok, bool(d.error)) for d in failed.deliveries] == [(False, True)]
    assert {c.status for c in failed.clocks} == {ClockStatus.NOT_SENT}
    assert news == []
    assert "notice-send-failed" in [e.kind for e in desk.events(number)]

    smtp_server.start()
    clock.advance(timedelta(minutes=10))
    sent = notices.send(draft.reference, REVIEWER)

    assert len(smtp_server.messages) == 1
    assert sent.state == NoticeState.SENT
    assert sent.last_error is None
    assert sent.attempts == 2
    assert [d.ok for d in sent.deliveries] == [False, True]
    assert sent.clocks[0].due_at == NOW + timedelta(minutes=10, hours=48)
    assert news == [number]


def test_a_rendering_that_fails_leaves_a_draft_with_the_error(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices = make_notices()
    number = consented_case(desk, notices, link("social.test"))
    draft = notices.draft(number, "social", REVIEWER)

    def broken(record: NoticeRecord) -> Rendered:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(rempart.desk.render, "render", broken)
    with pytest.raises(RuntimeError):
        notices.send(draft.reference, REVIEWER)
    failed = notices.get(draft.reference, REVIEWER)
    assert failed.state == NoticeState.DRAFT  # not left ``sending``: a flagger may send it again
    assert failed.last_error == "RuntimeError"
    assert [d.ok for d in failed.deliveries] == [False]
    assert smtp_server.messages == []


def test_a_notice_is_sent_once_unless_a_reviewer_asks_again(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    notices = make_notices()
    key = ApiKeys(desk.store).create(Role.FLAGGER, name="Assoc").key
    flagger = staff(key)
    number = desk.report(
        AgeAnswer.ADULT, [link("social.test")], actor=flagger, mandate=MANDATE
    ).case.number
    draft = notices.draft(number, "social", flagger, signatory="Signer")
    first = notices.send(draft.reference, flagger)
    with pytest.raises(NoticeInvalidError, match="reviewer may send it again") as refused:
        notices.send(draft.reference, flagger)
    assert refused.value.element == "state"
    with pytest.raises(CaseInvalidError, match="reviewer"):
        notices.send(draft.reference, flagger, again=True)
    assert len(smtp_server.messages) == 1

    clock.advance(timedelta(hours=3))
    again = notices.send(draft.reference, REVIEWER, again=True)

    assert len(smtp_server.messages) == 2
    first_mail, second_mail = smtp_server.messages
    assert draft.reference in second_mail["Subject"]
    assert pdf_text(pdf_of(first_mail)) == pdf_text(pdf_of(second_mail))
    assert again.sent_at == first.sent_at
    assert [c.due_at for c in again.clocks] == [c.due_at for c in first.clocks]
    assert again.digest == first.digest
    assert [d.ok for d in again.deliveries] == [True, True]
    assert again.message_id == second_mail["Message-ID"]


def test_a_notice_left_sending_is_sent_by_a_reviewer_only(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices()
    number = consented_case(desk, notices, link("social.test"))
    draft = notices.draft(number, "social", REVIEWER)
    with desk.store.write() as connection:  # as a crash between the two transactions leaves it
        connection.execute(
            update(desk_notices)
            .where(desk_notices.c.id == int(draft.reference[2:]))
            .values(state=NoticeState.SENDING.value)
        )
    with pytest.raises(NoticeInvalidError, match="being sent") as refused:
        notices.send(draft.reference, REVIEWER)
    assert refused.value.element == "state"
    smtp_server.stop()
    with pytest.raises(DeliveryFailedError):
        notices.send(draft.reference, REVIEWER, again=True)
    assert notices.get(draft.reference, REVIEWER).state == NoticeState.DRAFT
    smtp_server.start()
    assert notices.send(draft.reference, REVIEWER).state == NoticeState.SENT
    assert len(smtp_server.messages) == 1


def test_the_example_platform_is_never_sent_to(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer
) -> None:
    notices = make_notices()
    number = consented_case(desk, notices, link("www.example.com"))
    draft = notices.draft(number, "example", REVIEWER)
    assert notices.missing(draft.reference, REVIEWER) == [
        (
            "channel",
            "the example platform is not a real one; add your own profiles in "
            "REMPART_DESK_PLATFORMS",
        )
    ]
    with pytest.raises(NoticeInvalidError) as refused:
        notices.send(draft.reference, REVIEWER)
    assert refused.value.element == "channel"
    assert smtp_server.messages == []
    assert notices.get(draft.reference, REVIEWER).state == NoticeState.DRAFT


def test_a_draft_names_the_items_of_its_platform_only(
    desk: Desk, make_notices: MakeNotices
) -> None:
    notices = make_notices()
    case = desk.report(
        AgeAnswer.ADULT,
        [
            link("social.test", "a"),
            link("dsa.test"),
            ItemInput(pdq="cd" * 32, quality=90),
            link("social.test", "b"),
        ],
    ).case
    on_social, on_dsa, hash_only, also_social = (item.id for item in case.items)
    for item_id, why in ((on_dsa, "dsa-only"), (hash_only, "no URL")):
        with pytest.raises(NoticeInvalidError, match=why) as refused:
            notices.draft(case.number, "social", REVIEWER, item_ids=[item_id])
        assert refused.value.element == "url"
    with pytest.raises(NoticeInvalidError, match="no item 999") as refused:
        notices.draft(case.number, "social", REVIEWER, item_ids=[999])
    assert refused.value.element == "items"
    first = notices.draft(case.number, "social", REVIEWER, item_ids=[on_social])
    second = notices.draft(case.number, "social", REVIEWER)
    assert [c.item_id for c in second.clocks] == [also_social]
    with pytest.raises(NoticeInvalidError, match="another open notice") as refused:
        notices.draft(case.number, "social", REVIEWER)
    assert refused.value.element == "items"
    # Named explicitly, an item may be in a second notice (a reviewer's choice).
    third = notices.draft(case.number, "social", REVIEWER, item_ids=[on_social, on_social])
    assert [c.item_id for c in third.clocks] == [on_social]
    assert [n.reference for n in notices.for_case(case.number, REVIEWER)] == [
        first.reference,
        second.reference,
        third.reference,
    ]
    with pytest.raises(NoticeInvalidError) as refused:
        notices.draft(case.number, "social", REVIEWER, signatory="Someone")
    assert refused.value.element == "signatory"


def test_who_may_see_and_act_on_notices(desk: Desk, make_notices: MakeNotices) -> None:
    notices = make_notices()
    number = desk.report(AgeAnswer.ADULT, [link("social.test")]).case.number
    draft = notices.draft(number, "social", ADMIN)
    with pytest.raises(CaseNotFoundError):
        notices.draft(number, "social", OTHER_FLAGGER)
    with pytest.raises(NoticeNotFoundError) as hidden:
        notices.get(draft.reference, OTHER_FLAGGER)
    ref = "N-" + str(10**12)
    with pytest.raises(NoticeNotFoundError) as unknown:
        notices.get(ref, REVIEWER)
    assert str(hidden.value) == str(unknown.value).replace(ref, draft.reference)
    for bad in ("N12", "X-1", "N-", "12"):
        with pytest.raises(NoticeNotFoundError):
            notices.get(bad, REVIEWER)
    assert notices.get(draft.reference.lower(), REVIEWER).reference == draft.reference
    # The victim reads their case's notices, never acts.
    assert notices.get(draft.reference, VICTIM, case=number).reference == draft.reference
    other = desk.report(AgeAnswer.ADULT, [link("social.test")]).case.number
    with pytest.raises(NoticeNotFoundError) as elsewhere:
        notices.get(draft.reference, VICTIM, case=other)
    assert str(elsewhere.value) == str(hidden.value)
    with pytest.raises(CaseInvalidError, match="signed in to"):
        notices.get(draft.reference, VICTIM)
    assert [n.reference for n in notices.for_case(number, VICTIM)] == [draft.reference]
    with pytest.raises(CaseInvalidError, match="only staff"):
        notices.draft(number, "social", VICTIM)
    with pytest.raises(CaseInvalidError, match="only staff"):
        notices.send(draft.reference, VICTIM)
    with pytest.raises(CaseInvalidError, match="only staff"):
        notices.due(VICTIM)
    # Staff never give the victim's consent.
    with pytest.raises(CaseInvalidError, match="only the victim"):
        notices.consent(number, REVIEWER, name="x", contact="y", signature="z")


def test_replies_stop_clocks_and_move_items(
    desk: Desk, make_notices: MakeNotices, clock: FixedClock
) -> None:
    news: list[str] = []
    notices = make_notices(on_news=news.append)
    number = consented_case(
        desk, notices, link("social.test", "1"), link("social.test", "2"), link("social.test", "3")
    )
    draft = notices.draft(number, "social", REVIEWER)
    with pytest.raises(NoticeInvalidError, match="not sent yet") as refused:
        notices.reply(draft.reference, REVIEWER, kind=ReplyKind.RECEIPT)
    assert refused.value.element == "state"
    notices.send(draft.reference, REVIEWER)
    first, second, third = (c.item_id for c in draft.clocks)
    clock.advance(timedelta(hours=1))
    with pytest.raises(NoticeInvalidError) as refused:
        notices.reply(draft.reference, REVIEWER, kind=ReplyKind.RECEIPT, decision=Decision.REMOVED)
    assert refused.value.element == "decision"
    with pytest.raises(NoticeInvalidError, match="future"):
        notices.reply(draft.reference, REVIEWER, kind=ReplyKind.RECEIPT, at=NOW + timedelta(days=1))
    notices.reply(draft.reference, REVIEWER, kind=ReplyKind.RECEIPT)
    notices.reply(
        draft.reference,
        REVIEWER,
        kind=ReplyKind.DECISION,
        item_id=first,
        decision=Decision.REMOVED,
        automated=False,
        platform_reference="T-1",
        puid="puid-1",
    )
    notices.reply(
        draft.reference,
        REVIEWER,
        kind=ReplyKind.DECISION,
        item_id=second,
        decision=Decision.REFUSED,
    )
    notice = notices.reply(
        draft.reference,
        REVIEWER,
        kind=ReplyKind.DECISION,
        item_id=third,
        decision=Decision.RESTRICTED,
        redress="appeal at https://social.test/appeal",
    )
    by_item = {c.item_id: c for c in notice.clocks}
    assert [by_item[i].status for i in (first, second, third)] == [ClockStatus.ANSWERED] * 3
    assert [by_item[i].outcome for i in (first, second, third)] == [
        Decision.REMOVED,
        Decision.REFUSED,
        Decision.RESTRICTED,
    ]
    assert by_item[second].suggested == ESCALATION_LADDER
    assert by_item[first].suggested == ()
    states = {item.id: item.state for item in desk.get(number).items}
    assert states[first] == ItemState.REMOVED
    assert states[second] == ItemState.REFUSED
    assert states[third] == ItemState.RECEIVED
    assert [r.kind for r in notice.replies] == [ReplyKind.RECEIPT] + [ReplyKind.DECISION] * 3
    assert notice.replies[1].puid == "puid-1"
    assert news == [number] * 5  # sent, then four answers
    assert notices.due(REVIEWER) == []


def test_withdrawing_the_case_erases_the_records_sent(
    desk: Desk, make_notices: MakeNotices
) -> None:
    notices = make_notices()
    number = consented_case(desk, notices, link("social.test"))
    sent = notices.send(notices.draft(number, "social", REVIEWER).reference, REVIEWER)
    desk.withdraw(number, VICTIM)
    with desk.store.read() as connection:
        row = connection.execute(
            select(desk_notices.c.sealed, desk_notices.c.digest).where(
                desk_notices.c.id == int(sent.reference[2:])
            )
        ).one()
    assert row.sealed is None
    assert row.digest == sent.digest
    with pytest.raises(CaseStateConflictError, match="erased"):
        notices.record(sent.reference, REVIEWER)
    assert not notices.has_consent(number)


def test_a_form_platforms_notice_is_recorded_by_hand(
    desk: Desk, make_notices: MakeNotices, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    notices = make_notices()
    number = desk.report(AgeAnswer.ADULT, [link("forms.test")]).case.number
    draft = notices.draft(number, "uk-form", REVIEWER)
    with pytest.raises(NoticeInvalidError, match="record the delivery") as refused:
        notices.send(draft.reference, REVIEWER)
    assert refused.value.element == "channel"
    with pytest.raises(NoticeInvalidError, match="future") as refused:
        notices.record_delivery(
            draft.reference, REVIEWER, at=NOW + timedelta(minutes=1), how="form"
        )
    assert refused.value.element == "at"
    with pytest.raises(NoticeInvalidError) as refused:
        notices.record_delivery(draft.reference, REVIEWER, at=NOW, how="  ")
    assert refused.value.element == "how"
    clock.advance(timedelta(hours=2))
    at = NOW + timedelta(hours=1)
    sent = notices.record_delivery(
        draft.reference, REVIEWER, at=at, how="the platform's web form", ticket="UK-77"
    )
    assert sent.state == NoticeState.SENT
    assert sent.sent_at == at
    [delivery] = sent.deliveries
    assert (delivery.ok, delivery.how, delivery.ticket) == (
        True,
        "the platform's web form",
        "UK-77",
    )
    [item] = sent.clocks
    assert (item.due_at, item.jurisdiction, item.provisional) == (
        at + timedelta(hours=48),
        "uk",
        True,
    )
    assert smtp_server.messages == []
    assert "notice-delivered" in [e.kind for e in desk.events(number)]


def test_consent_is_the_adult_victims_and_sealed(desk: Desk, make_notices: MakeNotices) -> None:
    notices = make_notices()
    minor = desk.report(AgeAnswer.UNDER_18, [link("social.test")]).case.number
    with pytest.raises(CaseInvalidError, match="minor"):
        notices.consent(minor, VICTIM, name="n", contact="c", signature="s")
    number = desk.report(AgeAnswer.ADULT, [link("social.test")]).case.number
    assert not notices.has_consent(number)
    with pytest.raises(NoticeInvalidError) as refused:
        notices.consent(number, VICTIM, name="n", contact="c" * 400, signature="s")
    assert refused.value.element == "contact"
    with pytest.raises(NoticeInvalidError) as refused:
        notices.consent(number, VICTIM, name="n", contact="c", signature=" ")
    assert refused.value.element == "signature"
    notices.consent(number, VICTIM, name=VICTIM_NAME, contact=VICTIM_CONTACT, signature="s")
    assert notices.has_consent(number)
    with desk.store.read() as connection:
        details = connection.execute(select(desk_events.c.detail)).scalars().all()
    assert not any(VICTIM_NAME in (d or "") for d in details)
    notices.withdraw_consent(number, VICTIM)
    assert not notices.has_consent(number)
    with pytest.raises(CaseStateConflictError, match="no consent"):
        notices.withdraw_consent(number, VICTIM)
    kinds = [e.kind for e in desk.events(number)]
    assert kinds[-2:] == ["consent-given", "consent-withdrawn"]


def test_escalation_is_recorded_and_a_minors_item_goes_to_the_authority(
    desk: Desk, make_notices: MakeNotices
) -> None:
    notices = make_notices()
    minor = desk.report(AgeAnswer.UNDER_18, [link("dsa.test")]).case.number
    sent = notices.send(notices.draft(minor, "dsa-only", REVIEWER).reference, REVIEWER)
    with pytest.raises(NoticeInvalidError, match="authority") as refused:
        notices.escalate(sent.reference, REVIEWER, EscalationStep.REGULATOR)
    assert refused.value.element == "step"
    escalated = notices.escalate(sent.reference, REVIEWER, EscalationStep.AUTHORITY)
    [step] = escalated.escalations
    assert (step.step, step.target, step.item_id) == (EscalationStep.AUTHORITY, "PHAROS", None)
    assert "escalated" in [e.kind for e in desk.events(minor)]


def test_an_actor_of_no_desk_role_is_refused(desk: Desk, make_notices: MakeNotices) -> None:
    notices = make_notices()
    number = desk.report(AgeAnswer.ADULT, [link("social.test")]).case.number
    platform_key = Actor("staff", "platform1", Role.PLATFORM)
    with pytest.raises(CaseInvalidError):
        notices.draft(number, "social", platform_key)
