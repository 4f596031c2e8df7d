from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.app.history import subject_history, trend
from aggregator.collection.store import Store
from aggregator.errors import StoreError
from aggregator.models import IndexSpec, Reading, Run, Scale, Subject

SPECS = [IndexSpec(name="klout", scale=Scale(lo=1, hi=100)),
         IndexSpec(name="rank", scale=Scale(lo=1, hi=1000), higher_is_better=False)]
PEOPLE = [Subject(id=s, name=s.title()) for s in ("ann", "bob", "cy", "dee")]
# run by run: klout and rank ("1" is best) for ann, bob, cy, dee; None = not scored
RUNS = [
    {"klout": [80, 40, 60, 60], "rank": [3, 1, 2, None]},
    {"klout": [50, 40, 70, 60], "rank": [4, 1, 2, 3]},
    {"klout": [30, 45, 70, None], "rank": [9, 1, 2, 3]},
]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "h.sqlite") as store:
        for n, scores in enumerate(RUNS):
            run_id = f"r{n}"
            store.start_run(Run(id=run_id, started_at=datetime(2024, 1, 1 + n, tzinfo=UTC), config_digest="x"),
                            PEOPLE, SPECS)
            for name, values in scores.items():
                for person, value in zip(PEOPLE, values, strict=True):
                    if value is not None:
                        store.add(run_id, Reading(index=name, subject_id=person.id, value=value,
                                                  scale=SPECS[0].scale if name == "klout" else SPECS[1].scale))
            store.finish_run(run_id, datetime(2024, 1, 1 + n, 1, tzinfo=UTC))
        yield store


def _expected(n):
    raw = np.array([[np.nan if v is None else v for v in RUNS[n][name]] for name in ("klout", "rank")]).T
    return compare_table(ScoreTable(tuple(p.id for p in PEOPLE), tuple(SPECS), raw))


@pytest.mark.parametrize("who", ["ann", "dee"])
def test_trend_equals_each_runs_comparison(store, who):
    found = trend(store, who)
    row = [p.id for p in PEOPLE].index(who)
    assert [r.id for r in found.runs] == ["r0", "r1", "r2"] and found.indices == ("klout", "rank")
    for n in range(3):
        expected = _expected(n)
        np.testing.assert_allclose(found.standing[n], expected.standing[row], equal_nan=True)
        np.testing.assert_allclose(found.raw[n], expected.table.raw[row], equal_nan=True)
        np.testing.assert_allclose(found.consensus[n], expected.consensus[row], equal_nan=True)


def test_last_runs_and_history_points(store):
    found = trend(store, "ann", last=2)
    assert [r.id for r in found.runs] == ["r1", "r2"]
    # ann in r2: klout 30 is the lowest of three; rank 9 is the worst of four
    assert found.standing[1].tolist() == pytest.approx([100 / 6, 12.5])
    points = subject_history(store, "ann")
    assert [p.run.id for p in points] == ["r0", "r1", "r2"]
    assert points[2].raw == {"klout": 30.0, "rank": 9.0}
    assert points[2].consensus == pytest.approx(np.median([100 / 6, 12.5]))
    by_range = subject_history(store, "ann", method="range")
    assert by_range[0].standing["klout"] == pytest.approx((80 - 1) / 99 * 100)


def test_unknown_subject_is_an_error(store):
    with pytest.raises(StoreError, match="holds no readings of subject 'zoe'"):
        trend(store, "zoe")
    with pytest.raises(ValueError, match="last must be at least 1"):
        trend(store, "ann", last=0)
