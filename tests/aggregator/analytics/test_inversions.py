from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aggregator.analytics import inversions
from aggregator.analytics.compare import compare
from aggregator.analytics.inversions import top_inversions
from aggregator.analytics.normalize import normalize
from aggregator.models import IndexSpec

NAN = np.nan

#: Tuning the search can take (module constants): the defaults, pools and seeds cut to a few
#: rows with a strided sample (so small tables take the paths a million subjects take), and
#: the same with a tiny candidate budget, which sends most index pairs to the widening search.
TUNINGS = {
    "defaults": {},
    "small pools": {"_SEED": 2, "_POOL_MIN": 1, "_POOL_SHARE": 0.05, "_SAMPLE": 8},
    "widening": {"_SEED": 1, "_POOL_MIN": 1, "_POOL_SHARE": 0.0, "_SAMPLE": 4, "_MAX_CANDIDATE_PAIRS": 3},
}


def brute_force(normalized, k, min_gap):
    """Every pair of subjects under every pair of indices: O(n²), the definition itself."""
    entries = []  # (a, b, x, y, gap_by, gap_against, strength) of every inversion, all index pairs
    for x, y in combinations(range(normalized.shape[1]), 2):
        u, v = normalized[:, x], normalized[:, y]
        gap_by = u[:, None] - u[None, :]  # [a, b]: u[a] - u[b]
        gap_against = v[None, :] - v[:, None]  # v[b] - v[a]
        strength = np.minimum(gap_by, gap_against)  # NaN where a value is missing; NaN > 0 is false
        a, b = np.nonzero((strength > 0) & (strength >= min_gap))
        entries.append(np.stack([a, b, np.full(a.size, x), np.full(a.size, y), gap_by[a, b], gap_against[a, b],
                                 strength[a, b]], axis=1))
    every = np.concatenate(entries)
    a, b, x, y, strength = every[:, 0], every[:, 1], every[:, 2], every[:, 3], every[:, 6]
    first, second = np.minimum(a, b), np.maximum(a, b)
    # rank: strongest first, then by the subject pair's rows, then by the index pair
    every = every[np.lexsort((y, x, second, first, -strength))]
    # each subject pair once, with its best-ranked entry
    _, best = np.unique(np.minimum(every[:, 0], every[:, 1]) * len(normalized) + np.maximum(every[:, 0], every[:, 1]),
                        return_index=True)
    return [(int(a), int(b), int(x), int(y), float(g), float(h)) for a, b, x, y, g, h, _ in every[np.sort(best)][:k]]


def found(normalized, k, min_gap):
    return [(i.above, i.below, i.by, i.against, i.gap_by, i.gap_against)
            for i in top_inversions(normalized, k, min_gap)]


def found_in_both_orders(normalized, k, min_gap, tuning=None):
    """The search's answer on the C- and the Fortran-ordered table (checked equal), tuned as asked."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (tuning or {}).items():
            patch.setattr(inversions, name, value)
        c_order = found(np.ascontiguousarray(normalized), k, min_gap)
        f_order = found(np.asfortranarray(normalized), k, min_gap)
    assert c_order == f_order
    return c_order


scores = st.one_of(
    st.integers(0, 20).map(lambda v: v * 5.0),  # heavy ties, as integer scores give
    st.floats(0, 100),  # includes subnormal gaps
    st.floats(-1e3, 1e3),
    st.just(NAN),
)
tables = st.tuples(st.integers(2, 40), st.integers(2, 5)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=scores)
)


@settings(max_examples=150, deadline=None)
@given(
    normalized=tables, k=st.integers(1, 15), min_gap=st.sampled_from([0.0, 5.0, 10.0, 40.0]),
    tuning=st.sampled_from(sorted(TUNINGS)),
)
def test_top_inversions_equal_the_exhaustive_search(normalized, k, min_gap, tuning):
    assert found_in_both_orders(normalized, k, min_gap, TUNINGS[tuning]) == brute_force(normalized, k, min_gap)


@settings(max_examples=60, deadline=None)
@given(
    normalized=st.integers(2, 30).flatmap(
        lambda n: arrays(np.float64, (n, 3), elements=st.one_of(st.integers(0, 3).map(float), st.just(NAN)))
    ),
    k=st.integers(1, 40), min_gap=st.sampled_from([0.0, 1.0, 2.0]),
    tuning=st.sampled_from(sorted(TUNINGS)),
)
def test_heavy_ties_equal_the_exhaustive_search(normalized, k, min_gap, tuning):
    # four distinct values: most pairs tie, so the tie-breaking by rows and columns decides
    assert found_in_both_orders(normalized, k, min_gap, TUNINGS[tuning]) == brute_force(normalized, k, min_gap)


def skewed_table(n: int, seed: int) -> np.ndarray:
    """Percentiles of five noisy views of one latent trait, as the benchmark's (skewed, integer, 20% missing)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    raw = np.stack([
        np.exp(1.5 * (z + rng.normal(size=n))),
        np.exp(z + rng.normal(scale=1.2, size=n)),
        np.floor(3 * np.exp(1.2 * (z + rng.normal(scale=0.8, size=n)))),  # counts: a large tie at 0
        np.clip(np.round(50 + 15 * (z + rng.normal(scale=0.7, size=n)), 1), 0, 100),
        rng.exponential(size=n) * np.exp(z + rng.normal(scale=0.9, size=n)),
    ], axis=1)
    raw[rng.random(raw.shape) < 0.2] = NAN
    return normalize(raw, [IndexSpec(name=f"i{j}") for j in range(5)], "percentile")


@pytest.mark.parametrize(("k", "min_gap"), [(100, 25.0), (20, 0.0), (5000, 60.0)])
def test_realistic_table_equals_the_exhaustive_search(k, min_gap):
    normalized = skewed_table(700, seed=3)
    expected = brute_force(normalized, k, min_gap)
    assert expected  # the table has inversions to find
    for tuning in TUNINGS.values():
        assert found_in_both_orders(normalized, k, min_gap, tuning) == expected


def test_small_corners_seed_from_the_most_leaning_rows_and_stay_exact():
    # at a couple of thousand subjects the pools are a few hundred rows and their corners too
    # small to bound the 100th pair: the seed then comes from the most leaning shared rows
    normalized = skewed_table(2500, seed=3)
    assert found_in_both_orders(normalized, 100, 25.0) == brute_force(normalized, 100, 25.0)


def test_widening_search_is_still_exact():
    # a tiny seed and candidate budget force the widening search, and its fourfold growth, on a table of real size
    rng = np.random.default_rng(7)
    latent = rng.normal(size=120)
    normalized = np.stack([latent + rng.normal(size=120), latent + rng.normal(size=120)], axis=1)
    normalized = (normalized - normalized.min()) * 10
    tuning = {"_SEED": 2, "_MAX_CANDIDATE_PAIRS": 50, "_POOL_MIN": 1, "_SAMPLE": 16}
    assert found_in_both_orders(normalized, 15, 0.0, tuning) == brute_force(normalized, 15, 0.0)


@pytest.mark.parametrize("tuning", sorted(TUNINGS))
@pytest.mark.parametrize(
    "normalized",
    [
        # an index nobody has a score in
        np.array([[10.0, NAN, 90.0], [90.0, NAN, 10.0], [50.0, NAN, 40.0], [20.0, NAN, 80.0]]),
        # one subject scored by both of a pair (no pair of subjects to invert), the rest by one
        np.array([[10.0, 90.0], [90.0, NAN], [NAN, 10.0], [50.0, NAN]]),
        # fewer inversions than k, and zero gaps on one side
        np.array([[0.0, 0.0], [0.0, 100.0], [100.0, 0.0], [100.0, 100.0], [50.0, 50.0]]),
        # every subject the same in one index
        np.array([[7.0, 1.0], [7.0, 2.0], [7.0, 3.0]]),
        # gaps below the smallest normal float still count (strength > 0)
        np.array([[1e-320, 0.0], [0.0, 1e-320]]),
        # rounding at the corners' edges: t = u[a] - u[b] with u[a] the highest, yet hi - t < u[b] ...
        np.array([[52.04867619680974, 0.0], [0.8263817764264547, 60.0]]),
        # ... and with u[b] the lowest, lo + t > u[a]: an exact bound would drop the only inversion
        np.array([[57.80677406953462, 0.0], [12.913720003876843, 60.0]]),
    ],
    ids=["all-nan-column", "one-shared-subject", "k-above-count", "constant-column", "subnormal-gaps",
         "rounding-low", "rounding-high"],
)
@pytest.mark.parametrize(("k", "min_gap"), [(1, 0.0), (50, 0.0), (50, 40.0)])
def test_corner_cases_equal_the_exhaustive_search(normalized, tuning, k, min_gap):
    assert found_in_both_orders(normalized, k, min_gap, TUNINGS[tuning]) == brute_force(normalized, k, min_gap)


def test_the_pop_star_and_the_investor():
    # klout and kred agree on everyone except two people, whom they order in opposite ways
    scores = {
        "klout": {"popstar": 95, "investor": 20, "a": 40, "b": 50, "c": 60, "d": 70},
        "kred": {"popstar": 15, "investor": 90, "a": 40, "b": 50, "c": 60, "d": 70},
    }
    result = compare(scores)
    first = result.inversions[0]
    ids = result.table.subject_ids
    assert (ids[first.above], ids[first.below]) == ("popstar", "investor")
    assert result.table.index_names[first.by] == "klout" and result.table.index_names[first.against] == "kred"
    # percentiles among six: popstar 91.7 vs investor 8.3 in klout; 8.3 vs 91.7 in kred
    assert first.gap_by == pytest.approx(250 / 3) and first.strength == pytest.approx(250 / 3)
    # every reported inversion clears the disagreement threshold
    assert all(inv.strength >= result.threshold for inv in result.inversions)


def test_no_inversions_when_indices_agree_k_is_zero_or_the_table_is_too_small():
    agree = np.array([[10.0, 10.0], [50.0, 50.0], [90.0, 90.0]])
    assert top_inversions(agree, 10, 0.0) == ()
    assert top_inversions(np.array([[10.0, 90.0], [90.0, 10.0]]), 0, 0.0) == ()
    assert top_inversions(np.zeros((0, 3)), 10, 0.0) == ()
    assert top_inversions(np.array([[10.0, 90.0]]), 10, 0.0) == ()
    assert top_inversions(np.array([[10.0], [90.0]]), 10, 0.0) == ()


def test_input_is_not_modified():
    normalized = np.asfortranarray(skewed_table(300, seed=5))
    before = normalized.copy()
    assert top_inversions(normalized, 30, 10.0)
    np.testing.assert_array_equal(normalized, before)
