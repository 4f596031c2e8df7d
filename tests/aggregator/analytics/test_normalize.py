from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aggregator.analytics.normalize import NORMALIZERS, check_method, normalize, oriented_ranks
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec, Scale

BOUNDED = IndexSpec(name="b", scale=Scale(lo=0, hi=1000))
UNBOUNDED = IndexSpec(name="u")
LOWER_BETTER = IndexSpec(name="rank", scale=Scale(lo=1, hi=100), higher_is_better=False)

columns = arrays(
    np.float64, st.integers(0, 40),
    elements=st.one_of(st.floats(0, 1000, allow_nan=False), st.just(np.nan)),
)


def test_percentile_is_mid_rank_with_shared_ties():
    values = np.array([[10.0], [20.0], [20.0], [40.0], [np.nan]])
    # ranks 1, 2.5, 2.5, 4 of n=4 -> (r - 0.5) / 4 * 100
    assert normalize(values, [BOUNDED]).ravel().tolist()[:4] == [12.5, 50.0, 50.0, 87.5]
    assert np.isnan(normalize(values, [BOUNDED])[4, 0])


@settings(max_examples=60, deadline=None)
@given(column=arrays(np.float64, st.integers(0, 60), elements=st.one_of(st.integers(0, 8).map(float), st.just(np.nan))))
def test_percentile_is_the_average_rank_of_scipy(column):
    from scipy.stats import rankdata

    out = normalize(column[:, None], [BOUNDED]).ravel()
    present = ~np.isnan(column)
    expected = (rankdata(column[present]) - 0.5) / max(int(present.sum()), 1) * 100.0
    np.testing.assert_allclose(out[present], expected, rtol=1e-13)
    assert np.isnan(out[~present]).all()


def test_range_maps_documented_scale_and_flips_lower_is_better():
    values = np.array([[250.0, 1.0], [1000.0, 100.0]])
    out = normalize(values, [BOUNDED, LOWER_BETTER], "range")
    assert out[:, 0].tolist() == [25.0, 100.0]
    assert out[:, 1].tolist() == [100.0, 0.0]


def test_range_on_unbounded_scale_is_log_range_over_cohort():
    values = np.array([[0.0], [np.e - 1], [np.e**2 - 1]])
    assert np.allclose(normalize(values, [UNBOUNDED], "range").ravel(), [0, 50, 100])


@pytest.mark.parametrize("method", sorted(NORMALIZERS))
@pytest.mark.parametrize("values", [np.zeros((0, 1)), np.array([[7.0]]), np.array([[np.nan], [np.nan]]),
                                    np.array([[3.0], [3.0], [3.0]])])
def test_degenerate_cohorts_never_crash(method, values):
    out = normalize(values, [UNBOUNDED], method)
    assert out.shape == values.shape
    assert np.array_equal(np.isnan(out), np.isnan(values))


@pytest.mark.parametrize("method", sorted(NORMALIZERS))
@settings(max_examples=150, deadline=None)
@given(column=columns)
def test_bounded_monotone_nan_preserving_and_not_mutating(method, column):
    values = column.reshape(-1, 1)
    before = values.copy()
    out = normalize(values, [BOUNDED], method)
    assert np.array_equal(values, before, equal_nan=True)
    assert np.array_equal(np.isnan(out), np.isnan(values))
    finite = ~np.isnan(values[:, 0])
    x, y = values[finite, 0], out[finite, 0]
    assert np.all((y >= 0) & (y <= 100))
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(y[order]) >= -1e-9)  # monotone non-decreasing
    # ties get equal scores
    for value in np.unique(x):
        assert np.ptp(y[x == value]) == 0


integer_columns = arrays(
    np.float64, st.integers(0, 40),
    elements=st.one_of(st.integers(0, 10**6).map(float), st.just(np.nan)),
)


# integer values and factors keep the transform exact in float64, so distinct stays distinct
@settings(max_examples=100, deadline=None)
@given(column=integer_columns, scale=st.integers(1, 1000), shift=st.integers(-10**6, 10**6))
def test_percentile_ignores_any_increasing_affine_change_of_scale(column, scale, shift):
    values = column.reshape(-1, 1)
    assert np.allclose(normalize(values, [UNBOUNDED]), normalize(values * scale + shift, [UNBOUNDED]), equal_nan=True)


# integer values and factors keep the transform exact in float64, so distinct stays distinct
@pytest.mark.parametrize("method", ["robust_z", "quantile_map"])
@settings(max_examples=100, deadline=None)
@given(column=integer_columns, scale=st.integers(1, 1000), shift=st.integers(-10**6, 10**6))
def test_robust_z_and_quantile_map_ignore_an_increasing_affine_change_of_scale(method, column, scale, shift):
    # quantile_map: the reference (first column, fixed) stays; the mapped index is rescaled
    reference = np.linspace(0.0, 1000.0, column.size)
    values = np.stack([reference, column], axis=1)
    specs = [BOUNDED, UNBOUNDED]
    changed = values.copy()
    changed[:, 1] = column * scale + shift
    assert np.allclose(normalize(values, specs, method), normalize(changed, specs, method), equal_nan=True,
                       atol=1e-9)


def test_robust_z_is_the_normal_cdf_of_the_mad_scaled_distance():
    from scipy.special import ndtr

    column = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan])
    # median 3, MAD = median(|x - 3|) = median(2, 1, 0, 1, 97) = 1
    expected = ndtr((column[:5] - 3.0) / 1.4826) * 100
    out = normalize(column.reshape(-1, 1), [UNBOUNDED], "robust_z").ravel()
    assert np.allclose(out[:5], expected) and np.isnan(out[5])
    assert out[2] == 50.0


def test_robust_z_falls_back_when_most_values_are_equal():
    from scipy.special import ndtr

    column = np.array([5.0, 5.0, 5.0, 5.0, 9.0])  # MAD = 0; mean absolute deviation = 4/5
    out = normalize(column.reshape(-1, 1), [UNBOUNDED], "robust_z").ravel()
    assert np.allclose(out, [50, 50, 50, 50, ndtr(4.0 / (1.2533 * 0.8)) * 100])


def test_quantile_map_reads_in_the_reference_units():
    inhouse = IndexSpec(name="inhouse", scale=Scale(lo=0, hi=100))
    kred = IndexSpec(name="kred", scale=Scale(lo=1, hi=1000))
    values = np.array([[10.0, 90.0], [20.0, 50.0], [30.0, 10.0], [40.0, np.nan]])
    out = normalize(values, [kred, inhouse], "quantile_map")
    # the reference (inhouse, chosen by name) maps onto itself: 10, 50, 90 at percentiles 1/6, 1/2, 5/6
    assert out[:3, 1].tolist() == [90.0, 50.0, 10.0]
    # kred's four subjects sit at 1/8, 3/8, 5/8, 7/8: 10 (clamped), 10 + 40 * (3/8 - 1/6) * 3, ..., 90
    assert np.allclose(out[:, 0], [10.0, 35.0, 65.0, 90.0])
    # named reference: kred maps onto itself, in its own range units
    named = normalize(values, [kred, inhouse], "quantile_map:kred")
    assert np.allclose(named[:, 0], (values[:, 0] - 1) / 999 * 100)


def test_quantile_map_names_an_unknown_reference():
    with pytest.raises(ConfigError, match="'klout' is not one of the indices"):
        normalize(np.zeros((2, 1)), [BOUNDED], "quantile_map:klout")


@pytest.mark.parametrize("method", ["percentile", "range", "robust_z", "quantile_map", "quantile_map:b"])
def test_reusing_ranks_gives_the_same_numbers(method):
    rng = np.random.default_rng(5)
    values = rng.integers(0, 50, size=(200, 3)).astype(float)
    values[rng.random(values.shape) < 0.2] = np.nan
    specs = [BOUNDED, UNBOUNDED, LOWER_BETTER]
    reused = normalize(values, specs, method, ranks=oriented_ranks(values, specs))
    np.testing.assert_allclose(reused, normalize(values, specs, method), equal_nan=True)


def test_unknown_method_lists_known_ones():
    with pytest.raises(ConfigError, match="known: percentile, quantile_map, range, robust_z"):
        normalize(np.zeros((1, 1)), [BOUNDED], "zscore")
    with pytest.raises(ValueError, match="unknown normalizer 'zscore'"):
        check_method("zscore")
    assert check_method("quantile_map:inhouse") == "quantile_map:inhouse"


def test_robust_z_with_a_scale_near_the_smallest_float_is_not_an_overflow_error():
    """Found by hypothesis: a median deviation near 1e-308 overflows 3 / scale to inf (warnings are errors
    here); the normal CDF of inf is the right standing, 100."""
    column = np.array([1, 1, 3, 2.22507386e-308, 1, np.nan, 1, 1, np.nan, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    out = normalize(column[:, None], [IndexSpec(name="a")], "robust_z").ravel()
    assert out[2] == 100.0
    assert out[10] < out[3] <= out[0] <= out[2]
    assert np.isnan(out[[5, 8]]).all()
