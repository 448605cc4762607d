"""The desk's pages over HTTP, as a browser without JavaScript uses them: a victim reports,
gets a card, signs in and follows the case; staff sign in with an API key and work the queue;
every response forbids referrers, caching and anything from elsewhere; French pages are French.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from rempart.access.audit import read_audit
from rempart.access.keys import parse_key
from rempart.desk import FixedClock
from rempart.desk.access import AddressThrottle
from rempart.desk.web import LOCALE, TEMPLATES
from rempart.server.desk.pages import NEUTRAL_PAGE
from rempart.server.middleware import DESK_CONTENT_SECURITY_POLICY
from tests.server.desk.conftest import START, DeskServer, card, report, staff_visitor

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
VICTIM_PAGES = ["/desk", "/desk/report", "/desk/report?age=adult", "/desk/sign-in", "/desk/staff"]


def test_every_desk_response_forbids_referrers_caching_and_elsewhere(
    desk_server: DeskServer,
) -> None:
    visitor = desk_server.visitor()
    paths = [*VICTIM_PAGES, "/desk/static/desk.css", "/desk/static/pdq.js", "/desk/nowhere"]
    for path in paths:
        response = visitor.get(path)
        assert response.headers["content-security-policy"] == DESK_CONTENT_SECURITY_POLICY
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "connect-src 'none'" in DESK_CONTENT_SECURITY_POLICY
    assert "form-action 'self'" in DESK_CONTENT_SECURITY_POLICY
    assert visitor.get("/desk/nowhere").status_code == 404


def test_every_page_has_a_quick_exit_that_ends_the_session(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    card(report(visitor, url="https://example.com/a"))
    for path in [*VICTIM_PAGES, "/desk/status"]:
        assert 'href="/desk/exit"' in visitor.get(path).text, path
    left = visitor.get("/desk/exit")
    assert left.status_code == 303
    assert left.headers["location"] == NEUTRAL_PAGE
    assert visitor.session_cookie is None
    assert visitor.get("/desk/status").status_code == 303  # signed out


def test_pages_load_nothing_from_elsewhere(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    for path in VICTIM_PAGES:
        page = visitor.get(path).text
        for found in re.findall(r'(?:src|href|action)="([^"]+)"', page):
            assert found.startswith(("/desk", "#")), (path, found)


def test_a_victim_reports_links_gets_a_card_and_follows_the_case(
    desk_server: DeskServer,
) -> None:
    visitor = desk_server.visitor()
    first = visitor.get("/desk/report")
    assert 'name="age"' in first.text
    assert 'name="url"' not in first.text  # the age question comes first
    form = visitor.get("/desk/report?age=adult")
    assert 'name="words"' in form.text
    # The file input has no name and is in no form: the photo cannot be sent.
    file_input = re.search(r"<input type=\"file\"[^>]*>", form.text)
    assert file_input is not None
    assert "name=" not in file_input.group(0)
    assert form.text.index(file_input.group(0)) < form.text.index('<form id="report"')
    made = visitor.post(
        "/desk/report",
        {"age": "adult", "url": "https://example.com/a\nhttps://example.com/b", "words": "text 1"},
    )
    assert made.status_code == 201
    number, secret = card(made)
    case = desk_server.desk.get(number)
    assert sorted(item.url or "" for item in case.items) == [
        "https://example.com/a",
        "https://example.com/b",
    ]
    # Signed in to the case just opened; from another browser, with the card.
    assert "https://example.com/a" in visitor.get("/desk/status").text
    other = desk_server.visitor()
    assert other.get("/desk/status").headers["location"] == "/desk/sign-in"
    other.get("/desk/sign-in")
    signed_in = other.post("/desk/sign-in", {"number": number.lower(), "secret": secret})
    assert signed_in.headers["location"] == "/desk/status"
    status = other.get("/desk/status")
    assert number in status.text
    assert "text 1" not in status.text  # sealed words are not shown back
    assert secret not in status.text


def test_a_report_carries_the_hashes_the_page_made(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    made = report(visitor, pdq=[PDQ, PDQ.upper()], quality=["90", "80"], age="unsure")
    assert made.status_code == 201
    case = desk_server.desk.get(card(made)[0])
    assert case.branch.value == "minor"
    assert [(item.pdq, item.quality) for item in case.items] == [(PDQ, 90), (PDQ, 80)]


def test_a_minors_case_asks_for_no_words_and_keeps_none(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    form = visitor.get("/desk/report?age=under-18")
    assert 'name="words"' not in form.text
    refused = visitor.post(
        "/desk/report", {"age": "under-18", "url": "https://example.com/a", "words": "text 1"}
    )
    assert refused.status_code == 422
    # The form comes back as sent, saying what is wrong.
    assert "https://example.com/a" in refused.text
    assert 'role="alert"' in refused.text
    assert desk_server.desk.queue() == []


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"pdq": PDQ, "quality": "20"}, 422),  # too plain to act on
        ({"pdq": PDQ}, 422),  # a hash without its quality
        ({"url": "ftp://example.com/a"}, 422),
        ({}, 422),  # nothing to report
    ],
)
def test_a_report_the_desk_refuses_comes_back_to_correct(
    desk_server: DeskServer, fields: dict[str, str], status: int
) -> None:
    visitor = desk_server.visitor()
    response = report(visitor, **fields)
    assert response.status_code == status
    assert '<form id="report"' in response.text
    assert desk_server.desk.queue() == []


def test_reports_from_one_address_are_limited_and_nothing_is_stored_past_it(
    desk_server: DeskServer,
) -> None:
    clock = FixedClock(START)
    web = desk_server.app.state.desk_web
    desk_server.app.state.desk_web = replace(web, reports=AddressThrottle(3, clock=clock))
    for n in range(3):
        assert report(desk_server.visitor(), url=f"https://example.org/{n}").status_code == 201
    refused = report(desk_server.visitor(), url="https://example.org/3")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert "Too many tries in a short time" in refused.text
    assert len(desk_server.desk.queue()) == 3
    clock.advance(timedelta(seconds=20))  # a report's worth of time later
    assert report(desk_server.visitor(), url="https://example.org/4").status_code == 201
    assert len(desk_server.desk.queue()) == 4


def test_sign_ins_from_one_address_are_limited_before_the_desks_own_limit(
    desk_server: DeskServer,
) -> None:
    number, secret = card(report(desk_server.visitor(), url="https://example.org/1"))
    clock = FixedClock(START)
    web = desk_server.app.state.desk_web
    desk_server.app.state.desk_web = replace(web, sign_ins=AddressThrottle(3, clock=clock))
    visitor = desk_server.visitor()
    visitor.get("/desk/sign-in")
    for guess in ("R-AAAAAAAAAA", "R-BBBBBBBBBB", "R-CCCCCCCCCC"):
        wrong = visitor.post("/desk/sign-in", {"number": guess, "secret": secret})
        assert wrong.status_code == 404
    refused = visitor.post("/desk/sign-in", {"number": number, "secret": secret})
    assert refused.status_code == 429  # even the right secret, until a minute's share is back
    assert refused.headers["retry-after"] == "60"
    assert "Too many tries in a short time" in refused.text
    clock.advance(timedelta(seconds=20))
    signed_in = visitor.post("/desk/sign-in", {"number": number, "secret": secret})
    assert signed_in.status_code == 303


def test_a_victim_withdraws_the_case(desk_server: DeskServer) -> None:
    visitor = desk_server.visitor()
    number, _ = card(report(visitor, pdq=PDQ, quality="90"))
    visitor.get("/desk/status")
    assert visitor.post("/desk/status/withdraw", {}).status_code == 422  # not confirmed
    done = visitor.post("/desk/status/withdraw", {"confirm": "yes"})
    assert done.status_code == 303
    assert desk_server.desk.get(number).state.value == "withdrawn"
    assert "/desk/status/withdraw" not in visitor.get("/desk/status").text


def test_staff_work_the_queue_minors_first(desk_server: DeskServer, keys: dict[str, str]) -> None:
    adult, _ = card(report(desk_server.visitor(), url="https://example.com/a"))
    minor, _ = card(report(desk_server.visitor(), age="under-18", pdq=PDQ, quality="90"))
    reviewer = staff_visitor(desk_server, keys["reviewer"])
    queue = reviewer.get("/desk/staff/queue").text
    assert queue.index(minor) < queue.index(adult)
    page = reviewer.get(f"/desk/staff/cases/{adult}")
    assert page.status_code == 200
    moved = reviewer.post(f"/desk/staff/cases/{adult}/move", {"state": "in_review", "note": "n"})
    assert moved.status_code == 303
    item = desk_server.desk.get(minor).items[0]
    reviewer.get(f"/desk/staff/cases/{minor}")
    confirm = reviewer.post(f"/desk/staff/cases/{minor}/items/{item.id}/confirm")
    assert confirm.status_code == 303
    reviewer.get(f"/desk/staff/cases/{adult}")
    assert reviewer.post(f"/desk/staff/cases/{adult}/notes", {"text": "note 1"}).status_code == 303
    # A move the states do not allow: refused, naming nothing changed.
    conflict = reviewer.post(f"/desk/staff/cases/{adult}/move", {"state": "received"})
    assert conflict.status_code == 409
    assert desk_server.desk.get(adult).state.value == "in_review"
    assert desk_server.desk.get(minor).items[0].confirmed
    # Sealed text only when asked for; the reading is an event.
    assert "note 1" not in reviewer.get(f"/desk/staff/cases/{adult}").text
    assert "note 1" in reviewer.get(f"/desk/staff/cases/{adult}?sealed=1").text
    key_id = parse_key(keys["reviewer"])
    staff_kinds = {"moved", "note-added", "sealed-read"}
    events = [e for e in desk_server.desk.events(adult) if e.kind in staff_kinds]
    assert {event.kind for event in events} == staff_kinds
    assert {event.actor for event in events} == {key_id}


def test_staff_actions_are_audited_with_the_key_and_victims_without_an_address(
    desk_server: DeskServer, keys: dict[str, str]
) -> None:
    number, _ = card(report(desk_server.visitor(), url="https://example.com/a"))
    reviewer = staff_visitor(desk_server, keys["reviewer"])
    reviewer.get(f"/desk/staff/cases/{number}")
    reviewer.post(f"/desk/staff/cases/{number}/move", {"state": "in_review"})
    desk_server.stop()  # commits the audit queue
    entries = read_audit(desk_server.store, limit=1000)
    desk_entries = [entry for entry in entries if entry["route"].startswith("/desk")]
    victims = [entry for entry in desk_entries if entry["key_id"] is None]
    staff = [entry for entry in desk_entries if entry["key_id"] is not None]
    assert victims
    assert all(entry["client"] is None for entry in victims)
    assert all(entry["client"] == "127.0.0.1" for entry in staff)
    moved = [entry for entry in staff if entry["route"].endswith("/move")]
    assert moved
    assert moved[0]["key_id"] == parse_key(keys["reviewer"])
    assert moved[0]["target"] == number


def test_a_flagger_sees_its_own_cases_and_opens_them_under_a_mandate(
    desk_server: DeskServer, keys: dict[str, str]
) -> None:
    victims, _ = card(report(desk_server.visitor(), url="https://example.com/a"))
    flagger = staff_visitor(desk_server, keys["flagger"])
    form = flagger.get("/desk/staff/new")
    assert 'name="reference"' in form.text
    made = flagger.post(
        "/desk/staff/new",
        {
            "age": "adult",
            "reference": "mandate 1",
            "scope": "scope 1",
            "starts": "2026-11-01",
            "url": "https://example.com/c",
        },
    )
    assert made.status_code == 201, made.text
    own, _ = card(made)
    queue = flagger.get("/desk/staff/queue").text
    assert own in queue
    assert victims not in queue
    assert flagger.get(f"/desk/staff/cases/{victims}").status_code == 404
    flagger.get(f"/desk/staff/cases/{own}")
    refused = flagger.post(f"/desk/staff/cases/{own}/move", {"state": "in_review"})
    assert refused.status_code == 403
    reissued = flagger.post(f"/desk/staff/cases/{own}/secret")
    _, secret = card(reissued)
    assert desk_server.desk.sign_in(own, secret).number == own


def test_a_platform_key_has_no_desk(desk_server: DeskServer, keys: dict[str, str]) -> None:
    visitor = desk_server.visitor()
    visitor.get("/desk/staff")
    refused = visitor.post("/desk/staff/sign-in", {"key": keys["platform"]})
    assert refused.status_code == 403
    wrong = visitor.post("/desk/staff/sign-in", {"key": "rmp_aaaaaaaaaaaa_" + "a" * 43})
    assert wrong.status_code == 401
    assert visitor.get("/desk/staff/queue").status_code == 303


def test_the_language_is_asked_kept_or_negotiated(desk_server: DeskServer) -> None:
    french = desk_server.visitor(**{"Accept-Language": "de-CH, fr;q=0.8, en;q=0.5"})
    assert '<html lang="fr">' in french.get("/desk").text
    chosen = desk_server.visitor(**{"Accept-Language": "fr"})
    assert '<html lang="en">' in chosen.get("/desk?lang=en").text
    assert '<html lang="en">' in chosen.get("/desk/report").text  # kept in its cookie
    assert '<html lang="en">' in desk_server.visitor().get("/desk").text


def _catalogue_messages() -> dict[str, str]:
    with (LOCALE / "fr" / "LC_MESSAGES" / "desk.po").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


def test_every_string_of_the_templates_has_its_french() -> None:
    french = _catalogue_messages()
    used = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(TEMPLATES),
            # The notices' templates speak from their own catalogue (notices.po).
            method_map=[("notices/*", "ignore"), ("**.html", "jinja2")],
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        )
    }
    assert used
    missing = sorted(str(message) for message in used if not french.get(str(message)))
    assert not missing, missing
    assert not set(french) - {str(message) for message in used}, "entries no template uses"


def test_french_pages_have_no_english_left(desk_server: DeskServer, keys: dict[str, str]) -> None:
    # The English of each message, up to its first placeholder, where that says something.
    english = {m.split("%(")[0] for m, f in _catalogue_messages().items() if m != f} - {""}
    english = {m for m in english if len(m) > 12}
    visitor = desk_server.visitor(**{"Accept-Language": "fr"})
    number, _ = card(report(visitor, url="https://example.com/a"))
    pages = [visitor.get(path).text for path in [*VICTIM_PAGES, "/desk/status"]]
    reviewer = staff_visitor(desk_server, keys["reviewer"])
    reviewer.get("/desk/staff?lang=fr")
    pages += [reviewer.get(p).text for p in ["/desk/staff/queue", f"/desk/staff/cases/{number}"]]
    for page in pages:
        assert '<html lang="fr">' in page
        text = html.unescape(re.sub(r"<[^>]+>", " ", page))
        left = [message for message in english if message in text]
        assert not left, left


def test_templates_live_where_the_package_data_globs_find_them() -> None:
    found = {path.relative_to(TEMPLATES).as_posix() for path in Path(TEMPLATES).rglob("*.html")}
    assert all(name.count("/") <= 1 for name in found)  # templates/*.html, templates/*/*.html


def test_a_flagger_cannot_tell_anothers_case_from_no_case(
    desk_server: DeskServer, keys: dict[str, str]
) -> None:
    others, _ = card(report(desk_server.visitor(), url="https://example.com/a"))
    unknown = "R-AAAAAAAAAA" if others != "R-AAAAAAAAAA" else "R-BBBBBBBBBB"
    flagger = staff_visitor(desk_server, keys["flagger"])
    pages = [flagger.get(f"/desk/staff/cases/{number}") for number in (others, unknown)]
    assert [page.status_code for page in pages] == [404, 404]
    texts = [
        _CSRF_VALUE.sub("", page.text).replace(number, "NUMBER")
        for page, number in zip(pages, (others, unknown), strict=True)
    ]
    assert texts[0] == texts[1]


_CSRF_VALUE = re.compile(r'name="csrf" value="[^"]*"')


def test_the_withdraw_form_is_for_those_who_may_withdraw(
    desk_server: DeskServer, keys: dict[str, str]
) -> None:
    victims, _ = card(report(desk_server.visitor(), url="https://example.com/a"))
    reviewer = staff_visitor(desk_server, keys["reviewer"])
    # A reviewer works the case but withdraws it only as an admin or the flagger holding it.
    assert (
        f"/desk/staff/cases/{victims}/withdraw"
        not in reviewer.get(f"/desk/staff/cases/{victims}").text
    )
    flagger = staff_visitor(desk_server, keys["flagger"])
    flagger.get("/desk/staff/new")
    own, _ = card(
        flagger.post(
            "/desk/staff/new",
            {
                "age": "adult",
                "reference": "mandate 1",
                "scope": "scope 1",
                "starts": "2026-11-01",
                "url": "https://example.com/c",
            },
        )
    )
    page = flagger.get(f"/desk/staff/cases/{own}").text
    assert f"/desk/staff/cases/{own}/withdraw" in page
    others = flagger.post(f"/desk/staff/cases/{victims}/withdraw", {"confirm": "yes"})
    assert others.status_code == 404
    withdrawn = flagger.post(f"/desk/staff/cases/{own}/withdraw", {"confirm": "yes"})
    assert withdrawn.status_code == 303, withdrawn.text
    assert desk_server.desk.get(own).state.value == "withdrawn"
    assert desk_server.desk.get(victims).state.value != "withdrawn"
    admin = staff_visitor(desk_server, keys["admin"])
    assert f"/desk/staff/cases/{victims}/withdraw" in admin.get(f"/desk/staff/cases/{victims}").text
