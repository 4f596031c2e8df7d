from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.shifts import MOVER_THRESHOLD
from aggregator.models import IndexSpec, Scale

NAN = np.nan
KLOUT = IndexSpec(name="klout", scale=Scale(lo=1, hi=100))
KRED = IndexSpec(name="kred", scale=Scale(lo=1, hi=1000))


def _ids(n):
    return tuple(f"s{i:03d}" for i in range(n))


def test_everyone_dropping_twenty_percent_is_one_event_and_no_movers():
    rng = np.random.default_rng(0)
    n = 200
    before = np.stack([rng.uniform(30, 95, n), rng.uniform(100, 900, n)], axis=1)
    now = before.copy()
    now[:, 0] = before[:, 0] * 0.8 * (1 + rng.normal(scale=0.005, size=n))  # "60 is the new 80"
    previous = ScoreTable(_ids(n), (KLOUT, KRED), before)
    result = compare_table(ScoreTable(_ids(n), (KLOUT, KRED), now), previous=previous, previous_run="r1")
    shifts = result.shifts
    assert shifts is not None and shifts.previous_run == "r1"
    klout, kred = shifts.indices
    assert klout.recalibrated and not kred.recalibrated
    assert [e.index for e in shifts.events] == ["klout"]
    assert klout.n == n and klout.rank_corr > 0.99
    assert klout.median_shift == pytest.approx(np.median(now[:, 0] - before[:, 0]))
    assert klout.median_shift < -10 and klout.median_shift_pct == pytest.approx(klout.median_shift / 99 * 100)
    assert kred.median_shift == 0.0 and kred.rank_corr == 1.0
    # hundreds of raw drops, yet nobody's standing moved: no individual movers
    assert np.all(shifts.raw_change[:, 0] < 0)
    assert shifts.movers.size == 0
    assert np.nanmax(np.abs(shifts.standing_change)) < MOVER_THRESHOLD


def test_movers_are_those_whose_standing_moved():
    n = 10
    before = np.stack([np.arange(1.0, 11.0) * 9, np.arange(1.0, 11.0) * 90], axis=1)
    now = before.copy()
    now[[0, 9], :] = now[[9, 0], :]  # the last and the first swap places in both indices
    now[4, 0] += 1.0  # a small raw change that keeps the standing
    result = compare_table(ScoreTable(_ids(n), (KLOUT, KRED), now),
                           previous=ScoreTable(_ids(n), (KLOUT, KRED), before))
    shifts = result.shifts
    assert shifts is not None
    assert sorted(shifts.movers.tolist()) == [0, 9]
    assert shifts.consensus_change[0] == pytest.approx(90.0) and shifts.consensus_change[9] == pytest.approx(-90.0)
    assert shifts.raw_change[4, 0] == 1.0 and shifts.movement[4] == 0.0
    assert not any(s.recalibrated for s in shifts.indices)
    rho = stats.spearmanr(now[:, 0], before[:, 0]).statistic
    assert shifts.indices[0].rank_corr == pytest.approx(rho)


def test_rosters_and_indices_are_matched_by_id_and_name():
    before = ScoreTable(("ann", "bob", "gone"), (KRED, KLOUT), np.array([[500.0, 50.0], [600.0, 60.0], [1.0, 1.0]]))
    now = ScoreTable(("bob", "ann", "new"), (KLOUT, IndexSpec(name="peerindex")),
                     np.array([[61.0, 5.0], [52.0, 6.0], [70.0, 7.0]]))
    shifts = compare_table(now, previous=before).shifts
    assert shifts is not None
    assert shifts.new.tolist() == [False, False, True]
    assert shifts.raw_change[:, 0].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(shifts.raw_change[2, 0]) and np.all(np.isnan(shifts.raw_change[:, 1]))
    klout, peerindex = shifts.indices
    assert klout.n == 2 and peerindex.n == 0 and not peerindex.recalibrated
    # bob and ann keep their order in klout (bob above ann), as before
    assert klout.rank_corr == pytest.approx(1.0)


def test_an_algorithm_version_change_is_flagged():
    before = ScoreTable(_ids(3), (KLOUT,), np.array([[10.0], [20.0], [30.0]]), versions=("2",))
    now = ScoreTable(_ids(3), (KLOUT,), np.array([[10.0], [20.0], [30.0]]), versions=("3",))
    (klout,) = compare_table(now, previous=before).shifts.indices  # type: ignore[union-attr]
    assert klout.version_changed and klout.is_event and not klout.recalibrated
    assert (klout.version_before, klout.version_after) == ("2", "3")


def test_no_previous_run_means_no_shifts():
    assert compare_table(ScoreTable(_ids(1), (KLOUT,), np.array([[5.0]]))).shifts is None
