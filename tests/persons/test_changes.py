"""The protected persons' change log: every enrolment, renaming and removal adds one entry in
its own transaction, which is what a long-running process follows."""

from __future__ import annotations

import numpy as np
import pytest

from rempart.gallery import EMBEDDING_SIZE
from rempart.persons import PersonsError, ProtectedPersons
from rempart.store import Store


def test_every_change_is_logged(store: Store) -> None:
    persons = ProtectedPersons(store)
    start = persons.changes()
    vector = np.ones(EMBEDDING_SIZE, np.float32)
    persons.enroll("Ada Quist", [vector])
    after_enrol = persons.changes()
    assert after_enrol > start
    persons.rename("Ada Quist", ["AQ"])
    after_rename = persons.changes()
    assert after_rename > after_enrol
    persons.remove("Ada Quist")
    assert persons.changes() > after_rename
    persons.enroll("Ada Quist", [vector])  # the same state as after the first enrolment
    assert persons.changes() > after_enrol + 2


def test_a_refused_change_logs_nothing(store: Store) -> None:
    persons = ProtectedPersons(store)
    before = persons.changes()
    with pytest.raises(PersonsError, match="128 finite numbers"):
        persons.enroll("Bo Quist", [np.zeros(3, np.float32)])
    assert persons.changes() == before
