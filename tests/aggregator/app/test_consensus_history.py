"""Every subject's consensus over the last runs, in one query, agreeing with trend() subject by subject."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.app.history import consensus_history, outcome_from_store, trend
from aggregator.collection.store import Store
from aggregator.models import IndexSpec, Reading, Run, Scale, Subject

SPECS = [IndexSpec(name="a", scale=Scale(lo=0, hi=100)), IndexSpec(name="b", scale=Scale(lo=0, hi=100)),
         IndexSpec(name="c", scale=Scale(lo=1, hi=1000), higher_is_better=False)]


def _fill(store: Store, runs: int, n: int, seed: int = 5) -> list[str]:
    rng = np.random.default_rng(seed)
    subjects = [Subject(id=f"s{i}", name=f"S {i}") for i in range(n)]
    ids = []
    for k in range(runs):
        run_id = f"r{k}"
        ids.append(run_id)
        store.start_run(Run(id=run_id, started_at=datetime(2026, 1, 1 + k, tzinfo=UTC), config_digest="x"),
                        subjects, SPECS)
        for s in subjects:
            for spec in SPECS:
                if rng.random() < 0.15:  # not scored by this index this time
                    continue
                value = float(rng.integers(spec.scale.lo or 0, spec.scale.hi or 100))  # ties happen
                store.add(run_id, Reading(index=spec.name, subject_id=s.id, value=value, scale=spec.scale))
        store.finish_run(run_id, datetime(2026, 1, 1 + k, 1, tzinfo=UTC))
    return ids


def test_matches_trend_for_every_subject():
    with Store(":memory:") as store:
        runs = _fill(store, runs=5, n=30)
        found = consensus_history(store, runs[-1], last=4)
        assert found  # most subjects are scored in two runs at least
        for i in range(30):
            sid = f"s{i}"
            expected = trend(store, sid)
            by_run = {r.id: float(c) for r, c in zip(expected.runs, expected.consensus, strict=True)}
            want = [by_run.get(rid, math.nan) for rid in runs[-4:]]
            if sum(not math.isnan(v) for v in want) < 2:
                assert sid not in found
                continue
            assert found[sid] == pytest.approx(want, nan_ok=True)


def test_goes_back_from_the_given_run_and_not_past_it():
    with Store(":memory:") as store:
        runs = _fill(store, runs=4, n=10)
        at_second = consensus_history(store, runs[1])
        assert all(len(points) == 2 for points in at_second.values())
        assert consensus_history(store, runs[0]) == {}  # one run: no line to draw
        outcome = outcome_from_store(store, runs[3])
        assert repr(dict(outcome.history)) == repr(consensus_history(store, runs[3]))  # NaN != NaN
        assert all(len(points) == 4 for points in outcome.history.values())
        assert outcome_from_store(store, runs[3], history=0).history == {}
        with pytest.raises(ValueError, match="at least 1"):
            consensus_history(store, runs[3], last=0)
