"""Counting every inversion that meets the rule, checked against the definition (every pair, O(n²))."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aggregator.analytics.compare import compare
from aggregator.analytics.inversions import count_inversions

NAN = np.nan


def brute_count(normalized: np.ndarray, min_gap: float) -> np.ndarray:
    """For each pair of indices, the subject pairs (a, b) with both gaps ≥ the rule's floor."""
    t = max(min_gap, float(np.nextafter(0.0, 1.0)))
    k = normalized.shape[1]
    counts = np.zeros((k, k), dtype=np.int64)
    for x, y in combinations(range(k), 2):
        u, v = normalized[:, x], normalized[:, y]
        meets = ((u[:, None] - u[None, :]) >= t) & ((v[None, :] - v[:, None]) >= t)  # NaN compares false
        counts[x, y] = counts[y, x] = int(meets.sum())
    return counts


def test_a_small_table_counted_by_hand():
    # x orders a > b > c, y orders c > b > a; gaps of 10 between neighbours
    table = np.array([[30.0, 10.0], [20.0, 20.0], [10.0, 30.0]])
    assert count_inversions(table, 10.0)[0, 1] == 3  # (a, b), (b, c), (a, c)
    assert count_inversions(table, 15.0)[0, 1] == 1  # only (a, c) is 20 apart under both
    assert count_inversions(table, 25.0)[0, 1] == 0
    assert count_inversions(table, 0.0).tolist() == [[0, 3], [3, 0]]


def test_missing_values_and_ties_count_as_the_definition_says():
    table = np.array([[50.0, 50.0, NAN], [50.0, 0.0, 10.0], [0.0, 50.0, 90.0], [NAN, 100.0, 0.0]])
    assert np.array_equal(count_inversions(table, 0.0), brute_count(table, 0.0))
    assert np.array_equal(count_inversions(table, 30.0), brute_count(table, 30.0))


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(0, 40), st.integers(1, 4)),
           elements=st.one_of(st.sampled_from([NAN, 0.0, 12.5, 25.0, 50.0, 100.0]),
                              st.floats(0, 100, allow_nan=False))),
    st.sampled_from([0.0, 1e-300, 0.5, 12.5, 25.0, 60.0]),
)
def test_counts_equal_the_brute_force_count(table, min_gap):
    assert np.array_equal(count_inversions(table, min_gap), brute_count(table, min_gap))


def test_a_comparison_counts_every_pair_meeting_its_threshold_not_only_the_listed_ones():
    rng = np.random.default_rng(7)
    base = rng.random(300)
    scores = {name: dict(zip([f"s{i}" for i in range(300)], (base + rng.normal(0, 0.4, 300)).tolist(), strict=True))
              for name in ("a", "b", "c")}
    result = compare(scores, threshold=25.0)
    assert np.array_equal(result.inversion_counts, brute_count(result.normalized, 25.0))
    assert result.inversion_counts.sum() // 2 > len(result.inversions)  # far more than the 100 listed


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(0, 60), st.integers(2, 3)),
           elements=st.one_of(st.sampled_from([NAN, 0.0, 25.0, 50.0]), st.floats(0, 100, allow_nan=False))),
    st.sampled_from([0.0, 12.5, 25.0]),
)
def test_the_block_passes_without_the_compiled_counter_count_the_same(table, min_gap):
    # the count runs on scipy's compiled counter; the block passes are its fallback without one
    assert np.array_equal(count_inversions(table, min_gap, fast=False), brute_count(table, min_gap))


def test_the_comparisons_own_ranks_give_the_count_of_its_percentiles():
    from aggregator.analytics.normalize import normalize, oriented_ranks
    from aggregator.models import IndexSpec

    rng = np.random.default_rng(3)
    raw = np.round(rng.normal(size=(400, 3)) * 4)  # ties within each column
    raw[rng.random(raw.shape) < 0.2] = NAN
    specs = [IndexSpec(name="a"), IndexSpec(name="b", higher_is_better=False), IndexSpec(name="c")]
    ranks = oriented_ranks(raw, specs)
    standing = normalize(raw, specs, "percentile", ranks=ranks)
    assert np.array_equal(count_inversions(standing, 20.0, ranks), brute_count(standing, 20.0))


@pytest.mark.parametrize("method", ["range", "robust_z", "quantile_map"])
def test_a_comparison_on_other_normalizations_counts_its_own_normalized_scores(method):
    # not percentiles: the ranks' order and ties need not be the normalized scores', so the
    # count sorts them itself and counts their discordant pairs itself
    rng = np.random.default_rng(13)
    ids = [f"s{i}" for i in range(400)]
    base = rng.random(400)
    scores = {name: {sid: float(np.round(np.exp(3 * b + rng.normal(0, 0.8)), 1))
                     for sid, b in zip(ids, base, strict=True) if rng.random() > 0.1} for name in ("a", "b", "c")}
    result = compare(scores, method=method, threshold=10.0)
    assert np.array_equal(result.inversion_counts, brute_count(result.normalized, 10.0))


def test_a_comparison_with_ties_and_gaps_counts_as_the_definition_says():
    # tied scores and subjects some index does not know: the count reuses the comparison's
    # sorts and tau-b's discordant pairs, which must be those of its percentiles
    rng = np.random.default_rng(11)
    ids = [f"s{i}" for i in range(500)]
    base = rng.random(500)
    scores = {name: {sid: float(np.round((b + rng.normal(0, 0.5)) * 6)) for sid, b in zip(ids, base, strict=True)
                     if rng.random() > 0.15} for name in ("a", "b", "c")}
    result = compare(scores, threshold=20.0)
    assert np.array_equal(result.inversion_counts, brute_count(result.normalized, 20.0))
    assert result.agreement is not None
    discordant = result.agreement.discordant
    assert discordant is not None
    for x, y in combinations(range(3), 2):
        u, v = result.normalized[:, x], result.normalized[:, y]
        opposite = ((u[:, None] > u[None, :]) & (v[:, None] < v[None, :])).sum()
        assert discordant[x, y] == discordant[y, x] == opposite


@pytest.mark.parametrize("min_gap", [0.1, 0.3, 0.7])
def test_gaps_at_a_rounding_boundary_count_by_the_rule_not_by_a_shifted_search(min_gap):
    # tenths: 0.3 - 0.1 >= 0.2 and 0.1 <= 0.3 - 0.2 disagree in floating point, so the binary
    # searches on u - t and v + t land a tie group off and must be corrected
    rng = np.random.default_rng(5)
    table = np.round(rng.random((300, 3)) * 10) / 10 * 3
    table[rng.random(table.shape) < 0.1] = NAN
    assert np.array_equal(count_inversions(table, min_gap), brute_count(table, min_gap))
    assert np.array_equal(count_inversions(table, min_gap, fast=False), brute_count(table, min_gap))


def _around(base: float, steps: int) -> float:
    """``base`` moved ``steps`` floats up (or down, when negative)."""
    for _ in range(abs(steps)):
        base = float(np.nextafter(base, np.inf if steps > 0 else -np.inf))
    return base


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-50, 150, allow_nan=False), min_size=1, max_size=5),
    st.sampled_from([0.0, 1e-300, 0.1, 0.3, 1 / 3, 12.5, 25.0]),
    st.randoms(use_true_random=False),
)
def test_gaps_within_a_float_of_min_gap_count_by_the_rule(bases, min_gap, random):
    # each base with its partners t above and below, each moved up to one float either way:
    # gaps equal to t, one float short of it and one past it, under both indices (min_gap 0:
    # t is the smallest positive float, and neighbouring floats differ by about that near 0)
    t = max(min_gap, float(np.nextafter(0.0, 1.0)))
    points = [_around(value, step) for base in [*bases, 0.0] for value in (base - t, base, base + t)
              for step in (-1, 0, 1)]
    u = np.array(points)
    v = np.array(points)
    random.shuffle(points)
    w = np.array(points)
    table = np.stack([u, v[::-1], w], axis=1)
    expected = brute_count(table, min_gap)
    assert np.array_equal(count_inversions(table, min_gap), expected)
    assert np.array_equal(count_inversions(table, min_gap, fast=False), expected)


@pytest.mark.parametrize("rows", [0, 1])
def test_fewer_than_two_subjects_count_nothing(rows):
    table = np.array([[10.0, 90.0, 50.0]] * rows).reshape(rows, 3)
    for fast in (True, False):
        assert count_inversions(table, 0.0, fast=fast).tolist() == [[0] * 3] * 3


def test_one_pair_of_indices_and_one_index():
    table = np.array([[0.0, 100.0], [40.0, 60.0], [60.0, 40.0], [100.0, 0.0], [NAN, 50.0]])
    # pairs (a, b) both ordered oppositely by ≥ 20: every pair of the four, but (40, 60)-(60, 40) by 20 exactly
    assert count_inversions(table, 20.0).tolist() == [[0, 6], [6, 0]]
    assert count_inversions(table, 20.5).tolist() == [[0, 5], [5, 0]]
    assert count_inversions(table[:, :1], 0.0).tolist() == [[0]]


def test_all_ties_and_empty_columns_count_nothing():
    rng = np.random.default_rng(2)
    table = np.column_stack([np.full(50, 7.0), rng.random(50) * 100, np.full(50, NAN), np.full(50, 7.0)])
    for fast in (True, False):
        counts = count_inversions(table, 0.0, fast=fast)
        assert counts.tolist() == [[0] * 4] * 4
        assert np.array_equal(counts, brute_count(table, 0.0))


def test_a_million_subjects_count_as_the_block_passes_do():
    from aggregator.analytics.normalize import normalize, oriented_ranks
    from aggregator.models import IndexSpec

    # the compiled sweep at the size it is for (the block passes are checked against the
    # definition above), on percentiles with heavy ties in one column and gaps in all
    rng = np.random.default_rng(17)
    n = 1_000_000
    z = rng.normal(size=n)
    table = np.column_stack([z + rng.normal(size=n), np.floor(3 * np.exp(z + rng.normal(size=n))),
                             -z + rng.normal(size=n)])
    table[rng.random(table.shape) < 0.2] = NAN
    specs = [IndexSpec(name=name) for name in "abc"]
    ranks = oriented_ranks(table, specs)
    standing = normalize(table, specs, "percentile", ranks=ranks)
    counts = count_inversions(standing, 25.0, ranks)
    assert np.array_equal(counts, count_inversions(standing, 25.0, fast=False))
    assert counts[0, 2] > counts[0, 1] > 0
