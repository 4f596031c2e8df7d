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


def test_a_run_started_from_columns_stores_what_its_subjects_would(tmp_path):
    people = [Subject(id="ann", name="Ann", handles={"twitter": "@ann", "klout": "k"}, synthetic=True),
              Subject(id="bob", name="Bob")]
    started = datetime(2026, 1, 1, tzinfo=UTC)
    with Store(tmp_path / "a.sqlite") as models, Store(tmp_path / "b.sqlite") as columns:
        models.start_run(Run(id="r", started_at=started, config_digest="x"), people, [], [3, 7])
        columns.start_run(Run(id="r", started_at=started, config_digest="x"), Subjects.of(people), [], [3, 7])
        rows = [store._db.execute("SELECT s.id, s.name, s.handles, s.synthetic, r.position FROM subjects s "
                                  "JOIN run_subjects r ON r.subject_id = s.id ORDER BY r.position").fetchall()
                for store in (models, columns)]
        assert rows[0] == rows[1] == [("ann", "Ann", '{"klout": "k", "twitter": "@ann"}', 1, 3),
                                      ("bob", "Bob", "{}", 0, 7)]
        with pytest.raises(ValueError, match="2 subjects but 1 positions"):
            columns.start_run(Run(id="q", started_at=started, config_digest="x"), Subjects.of(people), [], [0])
        assert [rid for rid, _ in columns.run_states()] == ["r"]  # the refused run left nothing behind


def test_columns_taken_by_place_keep_every_field():
    people = Subjects.of([Subject(id="a", name="A", handles={"x": "1"}), Subject(id="b", name="B", synthetic=True),
                          Subject(id="c", name="C")])
    assert list(people.take([2, 0])) == [people[2], people[0]]
    assert people.take([1]).synthetic == [True] and len(people.take([])) == 0
    assert Subjects.of(people) is people
