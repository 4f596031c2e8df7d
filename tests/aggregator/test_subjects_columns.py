"""A roster held as columns builds each Subject when asked for, and equals the Subjects it holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.collection.store import Store
from aggregator.models import Run, Subject, Subjects


def test_a_stored_roster_reads_back_as_columns_equal_to_its_subjects():
    people = [Subject(id="ann", name="Ann \u00e9", handles={"twitter": "@ann"}, synthetic=True),
              Subject(id="bob b", name="Bob\nStone"), Subject(id="cy", name="Cy", handles={"klout": "1"})]
    with Store(":memory:") as store:
        store.start_run(Run(id="r", started_at=datetime(2026, 1, 1, tzinfo=UTC), config_digest="x"), people, [])
        found = store.subject_columns("r")
    assert isinstance(found, Subjects) and len(found) == 3
    assert found.ids == ("ann", "bob b", "cy")
    assert found == people and list(found) == people
    assert found[1] == people[1] and found[1:] == people[1:]
    assert found[0].handles == {"twitter": "@ann"} and found[0].synthetic


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="one entry per subject"):
        Subjects(["a"], ["A", "B"], ["{}"], [False])
