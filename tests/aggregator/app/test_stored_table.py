"""A run read back as columns is the same table as built from every stored Reading one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable
from aggregator.analytics.outcome import Components
from aggregator.app.history import outcome_from_store, stored_components, stored_table
from aggregator.collection.store import Store
from aggregator.errors import StoreError
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Run, Scale, Subject

SPECS = [IndexSpec(name="klout", scale=Scale(lo=1, hi=100)), IndexSpec(name="kred", higher_is_better=False),
         IndexSpec(name="peer")]
# ids SQLite sorts by UTF-8 bytes, not as Python sorts str: upper before lower, accents after z
IDS = ["zoë", "Zed", "al ice", "émile", "b", "10", "9", "a.b", "A", "ß", "李", "x" * 200]


def _fill(store: Store, run_id: str, day: int, rng: np.random.Generator) -> list[Reading]:
    subjects = [Subject(id=sid, name=f"N {sid}") for sid in rng.permutation(IDS).tolist()]
    store.start_run(Run(id=run_id, started_at=datetime(2026, 1, day, tzinfo=UTC), config_digest="x"),
                    subjects, SPECS)
    kept = []
    for s in subjects:
        for spec in SPECS:
            draw = rng.random()
            if draw < 0.2:
                store.add(run_id, Failure(index=spec.name, subject_id=s.id, kind=FailureKind.NOT_FOUND, message="no"))
                continue
            reading = Reading(
                index=spec.name, subject_id=s.id, value=float(rng.normal() * 1e6) if draw < 0.9 else 3.0,
                algorithm_version="2" if draw < 0.4 else "1",
                components={"reach": float(rng.random()), "talk": 1.0} if spec.name == "kred" and draw < 0.7 else {},
                topics=("tech", "art") if draw > 0.8 else (),
            )
            store.add(run_id, reading)
            kept.append(reading)
    store.finish_run(run_id, datetime(2026, 1, day, 1, tzinfo=UTC))
    return kept


def _same(a: ScoreTable, b: ScoreTable) -> None:
    assert a.subject_ids == b.subject_ids
    assert a.specs == b.specs
    np.testing.assert_array_equal(a.raw, b.raw)  # bit for bit: no float goes through text
    assert a.topics == b.topics
    assert a.versions == b.versions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_columns_give_the_table_the_readings_give(seed):
    rng = np.random.default_rng(seed)
    with Store(":memory:") as store:
        _fill(store, "r1", 1, rng)
        readings = _fill(store, "r2", 2, rng)
        store.forget([IDS[3], IDS[7]])  # erased subjects leave gaps in the stored positions
        kept = [r for r in readings if r.subject_id not in {IDS[3], IDS[7]}]
        ids = [s.id for s in store.subjects("r2")]
        expected = ScoreTable.from_readings(ids, SPECS, kept)
        _same(stored_table(store, "r2"), expected)
        found = stored_components(store, "r2")
        want = Components.of_readings(kept, ids)
        assert found.keys() == want.keys() == {"kred"}
        assert found["kred"].names == want["kred"].names == ("reach", "talk")
        np.testing.assert_array_equal(found["kred"].values, want["kred"].values)


def test_the_outcome_carries_the_previous_run_and_components():
    rng = np.random.default_rng(7)
    with Store(":memory:") as store:
        _fill(store, "r1", 1, rng)
        _fill(store, "r2", 2, rng)
        outcome = outcome_from_store(store, "r2")
        assert outcome.comparison.shifts is not None
        assert outcome.comparison.shifts.previous_run == "r1"
        assert set(outcome.components) == {"kred"}
        assert len(outcome.failures) == store.run("r2").counts.failures


def test_an_empty_run_reads_as_an_empty_table():
    with Store(":memory:") as store:
        store.start_run(Run(id="r", started_at=datetime(2026, 1, 1, tzinfo=UTC), config_digest="x"), [], SPECS)
        table = stored_table(store, "r")
        assert table.subject_ids == () and table.raw.shape == (0, 3)
        assert stored_components(store, "r") == {}


def test_an_unknown_run_is_named():
    with Store(":memory:") as store, pytest.raises(StoreError, match="no run 'nope'"):
        outcome_from_store(store, "nope")
