"""Every subject's consensus over the last runs, in one query, agreeing with trend() subject by subject."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from aggregator.analytics.outcome import ConsensusHistory
from aggregator.app.history import consensus_history, outcome_from_store, stored_table, trend
from aggregator.collection.store import Store
from aggregator.models import IndexSpec, Reading, Run, Scale, Subject

SPECS = [IndexSpec(name="a", scale=Scale(lo=0, hi=100)), IndexSpec(name="b", scale=Scale(lo=0, hi=100)),
         IndexSpec(name="c", scale=Scale(lo=1, hi=1000), higher_is_better=False)]


def _fill(store: Store, runs: int, n: int, seed: int = 5, *, rosters: list[list[int]] | None = None) -> list[str]:
    """``runs`` runs of ``n`` subjects (``rosters``: each run's subjects by number, in roster order)."""
    rng = np.random.default_rng(seed)
    ids = []
    for k in range(runs):
        run_id = f"r{k}"
        ids.append(run_id)
        subjects = [Subject(id=f"s{i}", name=f"S {i}") for i in (rosters[k] if rosters else range(n))]
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


def _by_id(history: ConsensusHistory, ids: tuple[str, ...]) -> dict[str, list[float]]:
    return {ids[row]: line for row, line in zip(history.rows.tolist(), history.consensus.tolist(), strict=True)}


def test_matches_trend_for_every_subject():
    with Store(":memory:") as store:
        runs = _fill(store, runs=5, n=30)
        history = consensus_history(store, runs[-1], last=4)
        found = _by_id(history, stored_table(store, runs[-1]).subject_ids)
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
        assert len(at_second) and at_second.runs == 2 and at_second.consensus.shape == (len(at_second), 2)
        assert len(consensus_history(store, runs[0])) == 0  # one run: no line to draw
        outcome = outcome_from_store(store, runs[3])
        fresh = consensus_history(store, runs[3])
        assert np.array_equal(outcome.history.rows, fresh.rows)
        assert np.array_equal(outcome.history.consensus, fresh.consensus, equal_nan=True)
        assert outcome.history.runs == 4
        assert len(outcome_from_store(store, runs[3], history=0).history) == 0
        with pytest.raises(ValueError, match="at least 1"):
            consensus_history(store, runs[3], last=0)


def _against_trend(store: Store, runs: list[str], history: ConsensusHistory) -> int:
    """Check every subject's line against :func:`trend`, subject by subject; how many have one."""
    ids = stored_table(store, runs[-1]).subject_ids
    found = _by_id(history, ids)
    for sid in ids:
        expected = trend(store, sid)
        by_run = {r.id: float(c) for r, c in zip(expected.runs, expected.consensus, strict=True)}
        want = [by_run.get(rid, math.nan) for rid in runs]
        if sum(not math.isnan(v) for v in want) < 2:
            assert sid not in found
        else:
            assert found[sid] == pytest.approx(want, nan_ok=True), sid
    return len(found)


def test_each_line_is_its_own_subjects_when_past_rosters_had_other_subjects_and_orders():
    # the same ids reordered, then some gone and some new, then reordered again: a line taken by row
    # instead of by id would carry another subject's figures
    rng = np.random.default_rng(11)
    first, later = list(range(40)), list(range(10, 55))
    rosters = [first, rng.permutation(first).tolist(), rng.permutation(later).tolist(), rng.permutation(later).tolist()]
    with Store(":memory:") as store:
        runs = _fill(store, runs=4, n=0, rosters=rosters)
        before, now = (stored_table(store, r).subject_ids for r in runs[2:])
        assert before != now and sorted(before) == sorted(now)  # the same subjects in another order
        fresh = consensus_history(store, runs[-1])
        assert _against_trend(store, runs, fresh) > 20
        outcome = outcome_from_store(store, runs[-1])  # the current and previous runs' figures reused
        assert _against_trend(store, runs, outcome.history) == len(fresh)
        assert np.array_equal(outcome.history.consensus, fresh.consensus, equal_nan=True)


@pytest.mark.parametrize(("method", "consensus"), [("robust_z", "median"), ("percentile", "trimmed_mean"),
                                                   ("range", "borda")])
def test_the_history_is_the_percentile_median_whatever_the_reports_method(method, consensus):
    # the comparison's own consensus is another figure under these: the history must not take it
    with Store(":memory:") as store:
        runs = _fill(store, runs=3, n=30)
        outcome = outcome_from_store(store, runs[-1], method=method, consensus=consensus)
        assert not np.allclose(outcome.comparison.consensus[outcome.history.rows], outcome.history.consensus[:, -1],
                               equal_nan=True)
        assert _against_trend(store, runs, outcome.history) > 20


def test_a_history_takes_subjects_by_row_and_refuses_a_misaligned_one():
    history = ConsensusHistory.of_subjects({"b": (1.0, 2.0), "zz": (5.0, 6.0), "a": (3.0, math.nan)}, ("a", "b", "c"))
    assert history.rows.tolist() == [0, 1] and history.runs == 2
    lines, found = history.of_rows(np.array([2, 1, 0]))
    assert found.tolist() == [False, True, True]
    assert lines[1].tolist() == [1.0, 2.0] and lines[2, 0] == 3.0 and np.isnan(lines[0]).all()
    with pytest.raises(ValueError, match="same runs"):
        ConsensusHistory.of_subjects({"a": (1.0, 2.0), "b": (1.0,)}, ("a", "b"))
    with pytest.raises(ValueError, match="ascending"):
        ConsensusHistory(np.array([1, 0]), np.zeros((2, 2)))
