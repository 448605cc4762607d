"""python-threatexchange's exchange clients, made by ``make_api``, against each loopback fake:
a first fetch, an incremental one from the stored checkpoint, a deletion, an expired credential
and a malformed page."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from threatexchange.exchanges.clients.ncmec.hash_api import NCMECEntryType, NCMECEntryUpdate
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIICSPFeedback,
    StopNCIICSPFeedbackValue,
)
from threatexchange.exchanges.fetch_state import AggregateSignalOpinionCategory
from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalMetadata

from rempart.errors import ExchangeConfigError
from rempart.exchanges import (
    EXCHANGE_TYPES,
    FetchedSignal,
    checkpoint_from_json,
    checkpoint_to_json,
    fetch_error_text,
    make_api,
    signal_records,
)
from tests.exchanges.fakes import FakeExchange, fake_exchange
from tests.exchanges.threatexchange import FakeThreatExchange

KINDS = ["stopncii", "ncmec", "threatexchange", "tat"]

PDQ_A = "f" * 8 + "0" * 56
PDQ_B = "0" * 8 + "f" * 56
VIDEO_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def fetch(fake: FakeExchange, checkpoint: Any = None) -> tuple[list[FetchedSignal], Any]:
    """Every signal of a whole fetch from ``checkpoint``, and the last checkpoint."""
    fake.settle()
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    signals: list[FetchedSignal] = []
    for delta in api.fetch_iter([], checkpoint):
        signals.extend(signal_records(api, delta.updates))
        checkpoint = delta.checkpoint
    return signals, checkpoint


def current(signals: list[FetchedSignal]) -> dict[str, FetchedSignal]:
    """The last word on each key, as a store applying the fetch in order keeps it."""
    return {signal.key: signal for signal in signals}


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    with fake_exchange(request.param) as started:
        yield started


def test_first_fetch_gives_every_hash_with_pytx_names(fake: FakeExchange) -> None:
    key_a = fake.add("pdq", PDQ_A)
    key_video = fake.add("video_md5", VIDEO_MD5)
    signals, checkpoint = fetch(fake)
    got = current(signals)
    assert got[key_a] == FetchedSignal(key_a, "pdq", PDQ_A, False)
    assert got[key_video] == FetchedSignal(key_video, "video_md5", VIDEO_MD5, False)
    assert len(got) == 2
    assert checkpoint is not None


def test_incremental_fetch_from_the_stored_checkpoint_gives_only_what_changed(
    fake: FakeExchange,
) -> None:
    key_a = fake.add("pdq", PDQ_A)
    _, checkpoint = fetch(fake)
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    stored = checkpoint_from_json(api, checkpoint_to_json(checkpoint))
    assert stored == checkpoint
    key_b = fake.add("pdq", PDQ_B)
    signals, _ = fetch(fake, stored)
    got = current(signals)
    assert key_b in got
    assert not got[key_b].withdrawn
    assert key_a not in got


def test_a_deletion_withdraws_the_key(fake: FakeExchange) -> None:
    key_a = fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    _, checkpoint = fetch(fake)
    assert fake.delete("pdq", PDQ_A) == key_a
    signals, _ = fetch(fake, checkpoint)
    withdrawn = [signal for signal in signals if signal.withdrawn]
    assert [signal.key for signal in withdrawn] == [key_a]
    # a full fetch after the deletion ends withdrawn too
    full, _ = fetch(fake)
    assert current(full)[key_a].withdrawn


def test_an_expired_credential_raises_an_http_error(fake: FakeExchange) -> None:
    fake.add("pdq", PDQ_A)
    fake.expire()
    with pytest.raises(requests.HTTPError) as raised:
        fetch(fake)
    assert raised.value.response is not None
    assert raised.value.response.status_code == fake.expired_status
    reason = fetch_error_text(raised.value, fake.credentials)
    assert str(fake.expired_status) in reason
    for secret in fake.credentials.replace("|", ",").replace(":", ",").split(","):
        assert secret not in reason


def test_a_malformed_page_raises_and_the_next_fetch_works(fake: FakeExchange) -> None:
    fake.page_size = 1
    fake.add("pdq", PDQ_A)
    fake.add("pdq", PDQ_B)
    fake.break_next_page()
    started = time.monotonic()
    with pytest.raises(fake.malformed_error):
        fetch(fake)
    assert time.monotonic() - started < 5  # no retry storm on a 200 that does not parse
    signals, _ = fetch(fake)
    assert len(current(signals)) == 2


def test_every_exchange_type_builds_pytx_s_api() -> None:
    options = {"threatexchange": {"privacy_group": "1234"}, "ncmec": {"environment": "NGO"}}
    credentials = {
        "stopncii": "function,subscription",
        "ncmec": "user:password",
        "threatexchange": "1234567890|abcdefghijklmnopqrstuvwxyz",
        "tat": "user:password",
    }
    for name in EXCHANGE_TYPES:
        api = make_api(
            name, credentials[name], url="http://127.0.0.1:9", options=options.get(name, {})
        )
        assert hasattr(api, "fetch_iter")
        assert api.get_checkpoint_cls() is not None


@pytest.mark.parametrize(
    ("kind", "credentials", "options"),
    [
        ("hma", "x", {}),
        ("stopncii", "only-one-part", {}),
        ("stopncii", "a,b", {"privacy_group": "1"}),
        ("ncmec", "no-password", {}),
        ("ncmec", "user:password", {"environment": "Moon"}),
        ("threatexchange", "not-a-token", {"privacy_group": "1"}),
        ("threatexchange", "1234567890|abcdefghijklmnopqrstuvwxyz", {}),
        ("threatexchange", "1234567890|abcdefghijklmnopqrstuvwxyz", {"privacy_group": "x"}),
        ("tat", "user", {}),
    ],
)
def test_a_bad_type_credential_or_option_is_a_config_error(
    kind: str, credentials: str, options: dict[str, str]
) -> None:
    with pytest.raises(ExchangeConfigError):
        make_api(kind, credentials, options=options)


def test_a_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ExchangeConfigError):
        make_api("stopncii", "a,b", url="file:///etc/passwd")


def test_a_fetch_with_nothing_new_gives_nothing_and_a_checkpoint_that_still_works(
    fake: FakeExchange,
) -> None:
    fake.add("pdq", PDQ_A)
    _, checkpoint = fetch(fake)
    signals, after_idle = fetch(fake, checkpoint)
    assert signals == []
    key_b = fake.add("pdq", PDQ_B)
    signals, _ = fetch(fake, after_idle)
    assert list(current(signals)) == [key_b]


def test_a_malformed_page_mid_fetch_raises_after_the_pages_before_it(fake: FakeExchange) -> None:
    fake.page_size = 1
    fake.add_many("pdq", [PDQ_A, PDQ_B])
    fake.settle()
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    deltas = api.fetch_iter([], None)
    first = next(deltas)
    while not first.updates:  # NCMEC's client probes empty time windows first
        first = next(deltas)
    fake.break_next_page()
    with pytest.raises(fake.malformed_error):
        for _ in deltas:
            pass
    assert [signal.value for signal in signal_records(api, first.updates)] == [PDQ_A]


def test_a_non_malicious_opinion_on_threatexchange_withdraws() -> None:
    with fake_exchange("threatexchange") as fake:
        assert isinstance(fake, FakeThreatExchange)
        key = fake.add("pdq", PDQ_A)
        _, checkpoint = fetch(fake)
        assert fake.mark_non_malicious("pdq", PDQ_A) == key
        signals, _ = fetch(fake, checkpoint)
    assert signals == [FetchedSignal(key, "pdq", PDQ_A, True)]


def test_signal_records_name_ncmec_fingerprints_and_bare_deletions() -> None:
    api = make_api("ncmec", "user:password", url="http://127.0.0.1:9")
    entry = NCMECEntryUpdate(
        id="7",
        member_id=42,
        entry_type=NCMECEntryType.image,
        deleted=False,
        classification="A1",
        fingerprints={"md5": VIDEO_MD5, "pdq": PDQ_A, "sha1": "ab" * 20},
        feedback={},
    )
    gone = dataclasses.replace(entry, id="8", deleted=True, fingerprints={})
    signals = list(signal_records(api, {"42-7": entry, "42-8": gone}))
    assert signals == [
        FetchedSignal("42-7", "photo_md5", VIDEO_MD5, False),
        FetchedSignal("42-7", "pdq", PDQ_A, False),
        FetchedSignal("42-7", "sha1", "ab" * 20, False),
        FetchedSignal("42-8", "", "", True),
    ]


def test_signal_records_name_threatexchange_types_as_pytx_does() -> None:
    api = make_api(
        "threatexchange",
        "1234567890|abcdefghijklmnopqrstuvwxyz",
        options={"privacy_group": "1"},
    )
    updates = {("HASH_MD5", VIDEO_MD5): None, ("HASH_VIDEO_MD5", VIDEO_MD5): None}
    assert [signal.signal_type for signal in signal_records(api, updates)] == ["md5", "video_md5"]


def test_a_fetch_resumed_from_a_mid_fetch_checkpoint_misses_nothing(fake: FakeExchange) -> None:
    fake.page_size = 1
    values = [PDQ_A, PDQ_B, "0f" * 32, "f0" * 32]
    fake.add_many("pdq", values)
    fake.settle()
    api = make_api(fake.kind, fake.credentials, url=fake.url, options=fake.options)
    seen: set[str] = set()
    for delta in api.fetch_iter([], None):  # the fetch stops after its first hash is stored
        seen.update(signal.value for signal in signal_records(api, delta.updates))
        if seen:
            stored = checkpoint_to_json(delta.checkpoint)
            break
    if fake.kind == "ncmec":  # pytx asserts a resumed page range ends before the new one
        time.sleep(1.05)
    resumed, _ = fetch(fake, checkpoint_from_json(api, stored))
    seen.update(signal.value for signal in resumed)
    assert seen == set(values)
    assert len(resumed) < len(values) + 1  # resumed, not started again (NCMEC may repeat one)


def test_fetch_error_text_names_no_secret() -> None:
    token = "1234567890|abcdefghijklmnopqrstuvwxyz"
    url = f"https://graph.facebook.com/v26.0/1/threat_updates/?access_token={token}&limit=100"
    error = requests.ConnectionError(f"HTTPSConnectionPool: Max retries exceeded with url: {url}")
    text = fetch_error_text(error, token)
    assert text.startswith("ConnectionError: ")
    assert "abcdefghij" not in text
    assert "1234567890" not in text
    assert "access_token=***" in text
    password_error = ValueError("user:hunter22 rejected")
    assert "hunter22" not in fetch_error_text(password_error, "user:hunter22")


@pytest.mark.parametrize("feedback", [None, "Blocked", "NotBlocked", "PendingReview"])
def test_a_stopncii_record_is_withdrawn_as_pytx_aggregates_its_opinions(
    feedback: str | None,
) -> None:
    api = make_api("stopncii", "function-key,subscription-key", url="http://127.0.0.1:9/v1")
    feedbacks = (
        []
        if feedback is None
        else [StopNCIICSPFeedback(StopNCIICSPFeedbackValue(feedback), {"tag"}, "csp")]
    )
    metadata = StopNCIISignalMetadata(feedbacks)
    negative = AggregateSignalOpinionCategory.NEGATIVE_CLASS
    expected = metadata.get_as_aggregate_opinion().category == negative
    (signal,) = signal_records(api, {("pdq", PDQ_A): metadata})
    assert signal.withdrawn is expected
