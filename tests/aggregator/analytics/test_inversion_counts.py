"""Counting every inversion that meets the rule, checked against the definition (every pair, O(n²))."""

from __future__ import annotations

from itertools import combinations

import numpy as np
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
@given(st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_the_compiled_prefix_count_and_the_block_one_agree_with_the_definition(n, seed):
    # the count runs on scipy's compiled counter; the block passes are its fallback without one
    from aggregator.analytics._arrays import discordance_counter
    from aggregator.analytics.inversions import _prefix_count, _prefix_count_in_blocks

    rng = np.random.default_rng(seed)
    prefix = rng.integers(0, n + 1, n)
    ranks = rng.integers(0, max(n // 3, 1), n)  # ties among the ranks
    need = rng.integers(0, max(n // 3, 1) + 1, n)
    expected = sum(int(np.count_nonzero(ranks[:p] >= q)) for p, q in zip(prefix, need, strict=True))
    counter = discordance_counter()
    assert counter is not None
    assert _prefix_count(prefix, ranks, need, counter) == expected
    assert _prefix_count_in_blocks(prefix, ranks, need) == expected
