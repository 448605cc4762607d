"""StopNCII pages parsed without dacite (``StopNCIIClient``, ``plain_record``) give what
python-threatexchange's own client gives for the same page, fetched from the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dacite
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threatexchange.exchanges.clients.stopncii import api as pytx

from rempart.exchanges.stopncii import StopNCIIClient, plain_record
from tests.exchanges.fakes import fake_exchange
from tests.exchanges.stopncii import FUNCTION_KEY, SUBSCRIPTION_KEY, FakeStopNCII

PDQ = "f" * 8 + "0" * 56
VIDEO_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStopNCII]:
    with fake_exchange("stopncii") as started:
        assert isinstance(started, FakeStopNCII)
        yield started


def both(fake: FakeStopNCII, raw: Any, *, start: int = 10) -> list[Any]:
    """What pytx's client and then ours make of the page the fake serves from ``start``, with
    ``raw`` at its end (not a list: as its ``hashRecords``): each a ``FetchHashesResponse`` or
    the exception's type."""
    results: list[Any] = []
    for client in (pytx.StopNCIIAPI, StopNCIIClient):
        fake.raw_records = list(raw) if isinstance(raw, list) else raw
        api = client(SUBSCRIPTION_KEY, FUNCTION_KEY, base_url_override=fake.url)
        try:
            results.append(api.fetch_hashes(start_timestamp=start))
        except Exception as exc:  # what pytx raises, ours must too
            results.append(type(exc))
    return results


OMIT = object()


def record(**fields: Any) -> dict[str, Any]:
    """A record as StopNCII serialises it, with ``fields`` replaced (``OMIT``: left out)."""
    base: dict[str, Any] = {
        "lastModtimestamp": 1_700_000_000,
        "signalType": "ImagePDQ",
        "hashValue": PDQ,
        "hashStatus": "Active",
        "caseNumbers": {},
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not OMIT}


PLAIN = [
    record(),
    record(caseNumbers={"case-1": "Active", "case-2": "Withdrawn"}),
    record(caseNumbers=[]),  # pytx reads [] as {}
    record(signalType="VideoMD5", hashValue=VIDEO_MD5, hashStatus="Withdrawn"),
    record(signalType="VideoTMK", hashStatus="Deleted"),
    record(
        CSPFeedbacks=[
            {"feedbackValue": "Blocked", "tags": ["a", "b", "a"], "source": "csp"},
            {"feedbackValue": "None"},
        ]
    ),
    record(CSPFeedbacks=[]),
    record(extra="ignored", nested={"also": ["ignored"]}),
]

ODD = [
    record(lastModtimestamp="1700000000"),
    record(lastModtimestamp=1.7e9),
    record(lastModtimestamp=True),
    record(hashValue=OMIT),
    record(hashValue=None),
    record(hashValue=12),
    record(signalType="ImageSHA"),
    record(hashStatus="active"),
    record(caseNumbers=OMIT),
    record(caseNumbers=None),
    record(caseNumbers={"case-1": "Gone"}),
    record(caseNumbers="none"),
    record(CSPFeedbacks=None),
    record(CSPFeedbacks=[{"feedbackValue": "Blocked", "tags": "ab"}]),
    record(CSPFeedbacks=[{"feedbackValue": "Blocked", "tags": [1]}]),
    record(CSPFeedbacks=[{"tags": []}]),
    record(CSPFeedbacks=[{"feedbackValue": "Blocked", "source": 3}]),
    record(CSPFeedbacks=["Blocked"]),
]


def test_plain_records_are_made_as_pytx_makes_them(fake: FakeStopNCII) -> None:
    fake.add("pdq", PDQ)
    fake.add("video_md5", VIDEO_MD5)
    fake.delete("pdq", PDQ)
    assert all(plain_record(raw) is not None for raw in PLAIN)
    theirs, ours = both(fake, PLAIN)
    assert isinstance(ours, pytx.FetchHashesResponse)
    assert ours == theirs
    assert len(ours.hashRecords) == len(PLAIN) + 2  # the deletion supersedes the add
    assert ours.hashRecords[3].caseNumbers == {
        "case-1": pytx.StopNCIICaseStatus.Active,
        "case-2": pytx.StopNCIICaseStatus.Withdrawn,
    }
    assert ours.hashRecords[7].CSPFeedbacks[0].tags == {"a", "b"}


def test_a_page_of_plain_records_is_not_parsed_by_dacite(
    fake: FakeStopNCII, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[type] = []
    from_dict = dacite.from_dict

    def counted(data_class: type, data: Any, config: Any = None) -> Any:
        parsed.append(data_class)
        return from_dict(data_class=data_class, data=data, config=config)

    monkeypatch.setattr(dacite, "from_dict", counted)  # pytx calls dacite.from_dict
    theirs, ours = both(fake, PLAIN, start=2**40)
    assert ours == theirs
    assert parsed.count(pytx.StopNCIIHashRecord) == len(PLAIN)  # pytx's, not ours
    assert parsed.count(pytx.FetchHashesResponse) == 2  # the page itself, by pytx both times


@pytest.mark.parametrize("records", ["records", {"0": PLAIN[0]}, 5, True, None, []])
def test_a_page_whose_records_are_not_a_list_is_pytxs_to_parse(
    fake: FakeStopNCII, records: Any
) -> None:
    theirs, ours = both(fake, records, start=2**40)
    assert ours == theirs


@pytest.mark.parametrize("odd", ODD, ids=range(len(ODD)))
def test_a_page_with_a_record_not_plain_is_pytxs_to_parse(fake: FakeStopNCII, odd: Any) -> None:
    assert plain_record(odd) is None
    theirs, ours = both(fake, [*PLAIN[:2], odd, PLAIN[2]], start=2**40)
    assert ours == theirs
    assert isinstance(ours, pytx.FetchHashesResponse)


@pytest.mark.parametrize("odd", ["record", 7, None, ["list"]])
def test_a_record_that_is_not_an_object_fails_as_in_pytx(fake: FakeStopNCII, odd: Any) -> None:
    assert plain_record(odd) is None
    theirs, ours = both(fake, [PLAIN[0], odd], start=2**40)
    assert ours == theirs


def _sometimes(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: nine times in ten one ``valid`` gives, else any JSON scalar or none."""
    odd = st.one_of(
        st.just(OMIT), st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)
    )
    return st.integers(0, 9).flatmap(lambda roll: valid if roll else odd)


def _object(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields).map(
        lambda drawn: {key: value for key, value in drawn.items() if value is not OMIT}
    )


def _values(enum: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([member.value for member in enum])


FEEDBACK = _object(
    {
        "feedbackValue": _sometimes(_values(pytx.StopNCIICSPFeedbackValue)),
        "tags": _sometimes(st.lists(_sometimes(st.text(max_size=3)), max_size=3)),
        "source": _sometimes(st.text(max_size=4)),
    }
)
STATUS = _values(pytx.StopNCIICaseStatus)
RECORD = _object(
    {
        "lastModtimestamp": _sometimes(st.integers(0, 2**40)),
        "signalType": _sometimes(_values(pytx.StopNCIISignalType)),
        "hashValue": _sometimes(st.sampled_from([PDQ, VIDEO_MD5, ""])),
        "hashStatus": _sometimes(STATUS),
        "caseNumbers": _sometimes(
            st.dictionaries(st.text(max_size=4), _sometimes(STATUS), max_size=3) | st.just([])
        ),
        "CSPFeedbacks": _sometimes(st.lists(_sometimes(FEEDBACK), max_size=2)),
        "other": _sometimes(st.text(max_size=3)),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=RECORD)
def test_any_record_plain_record_makes_is_the_one_pytx_makes(
    fake: FakeStopNCII, raw: dict[str, Any]
) -> None:
    made = plain_record(raw)
    theirs, ours = both(fake, [raw], start=2**40)
    assert ours == theirs
    if made is not None:
        assert isinstance(theirs, pytx.FetchHashesResponse)
        assert theirs.hashRecords == [made]
