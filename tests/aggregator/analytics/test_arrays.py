from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from aggregator.analytics._arrays import kendall_tau_b, rank_column, spearman

NAN = np.nan

# few distinct values, so ties (and ties in both columns at once) are common
pairs = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=st.one_of(st.integers(0, 6).map(float), st.just(NAN))),
        arrays(np.float64, n, elements=st.one_of(st.integers(0, 6).map(float), st.just(NAN))),
    )
)


def _complete(x, y):
    both = ~np.isnan(x) & ~np.isnan(y)
    return x[both], y[both]


@pytest.mark.parametrize("fast", [True, False])
@settings(max_examples=120, deadline=None)
@given(pair=pairs)
def test_kendall_tau_b_equals_scipy_on_the_shared_rows(fast, pair):
    x, y = pair
    tau, n = kendall_tau_b(rank_column(x), rank_column(y), fast=fast)
    a, b = _complete(x, y)
    assert n == a.size
    expected = stats.kendalltau(a, b).statistic if a.size >= 2 else np.nan
    assert tau == pytest.approx(expected, abs=1e-12, nan_ok=True)


@settings(max_examples=120, deadline=None)
@given(pair=pairs)
def test_spearman_equals_scipy_on_the_shared_rows(pair):
    x, y = pair
    rho, n = spearman(rank_column(x), rank_column(y))
    a, b = _complete(x, y)
    assert n == a.size
    constant = a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0
    expected = np.nan if constant else stats.spearmanr(a, b).statistic
    assert rho == pytest.approx(expected, abs=1e-12, nan_ok=True)


@settings(max_examples=150, deadline=None)
@given(groups=st.integers(0, 40).flatmap(
    lambda n: st.tuples(st.lists(st.integers(1, 5), min_size=n, max_size=n),
                        st.lists(st.integers(1, 7), min_size=n, max_size=n))))
def test_the_discordance_counter_counts_what_the_definition_says(groups):
    from aggregator.analytics._kernels import discordant

    x = np.sort(np.array(groups[0], dtype=np.intp))  # the counter's x comes in order, ties common
    y = np.array(groups[1], dtype=np.intp)
    by_definition = sum(1 for i in range(x.size) for j in range(i + 1, x.size) if x[i] < x[j] and y[i] > y[j])
    assert discordant(x, y) == by_definition


def test_kendall_on_a_large_continuous_pair_matches_scipy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=20_000)
    y = x + rng.normal(size=x.size)
    y[rng.random(y.size) < 0.1] = NAN
    tau, n = kendall_tau_b(rank_column(x), rank_column(y))
    a, b = _complete(x, y)
    assert n == a.size
    assert tau == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)


def test_ranks_share_ties_and_keep_nan():
    ranked = rank_column(np.array([5.0, NAN, 1.0, 5.0, 3.0]))
    assert ranked.count == 4 and ranked.n_groups == 3
    assert ranked.groups.tolist() == [3, 0, 1, 3, 2]
    assert (ranked.sorted_points * 8).tolist() == [1.0, 3.0, 6.0, 6.0]  # (mid-rank - 1/2) / 4: 1, 2, 3.5, 3.5
    assert rank_column(np.array([NAN, NAN])).count == 0


