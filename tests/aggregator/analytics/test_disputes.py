"""The default disputed rule: spreads unusual for the roster's own agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aggregator.analytics.disputes import MIN_UNUSUAL_SPREAD, _range_quantile, unusual_spread


def test_range_quantiles_match_the_closed_form_for_two_draws():
    # the range of two standard normals is sqrt(2) |Z|: its median and 99th percentile are known
    assert _range_quantile(0.5, 2) == pytest.approx(math.sqrt(2) * 0.6744897501960817, abs=1e-6)
    assert _range_quantile(0.99, 2) == pytest.approx(math.sqrt(2) * 2.5758293035489004, abs=1e-6)
    assert _range_quantile(0.5, 2) < _range_quantile(0.5, 5) < _range_quantile(0.5, 10)


def _spreads(sigma: float, n: int = 4000, k: int = 4, seed: int = 1) -> np.ndarray:
    draws = np.random.default_rng(seed).normal(0, sigma, (n, k))
    return draws.max(axis=1) - draws.min(axis=1)


def test_the_threshold_follows_the_rosters_agreement_and_flags_about_one_in_a_hundred():
    k = np.full(4000, 4)
    close, loose = unusual_spread(_spreads(6.0), k, 25.0), unusual_spread(_spreads(12.0), k, 25.0)
    assert loose == pytest.approx(2 * close, rel=0.05)  # twice the scatter, twice the bar
    assert close == pytest.approx(6.0 * _range_quantile(0.99, 4), rel=0.05)
    assert 0.005 < np.mean(_spreads(12.0, seed=2) > loose) < 0.02


def test_few_comparable_subjects_fall_back_and_near_agreement_keeps_a_floor():
    assert unusual_spread(np.array([5.0, np.nan, 40.0]), np.array([3, 1, 3]), 25.0) == 25.0
    assert unusual_spread(_spreads(0.1), np.full(4000, 4), 25.0) == MIN_UNUSUAL_SPREAD
