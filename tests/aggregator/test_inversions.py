from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aggregator import inversions
from aggregator.compare import compare
from aggregator.inversions import top_inversions

NAN = np.nan


def brute_force(normalized, k, min_gap):
    """Every pair of subjects under every pair of indices: O(n²), the definition itself."""
    best = {}
    n, m = normalized.shape
    for x, y in combinations(range(m), 2):
        for a in range(n):
            for b in range(n):
                ua, ub, va, vb = normalized[a, x], normalized[b, x], normalized[a, y], normalized[b, y]
                if np.isnan([ua, ub, va, vb]).any():
                    continue
                strength = min(ua - ub, vb - va)
                if strength <= 0 or strength < min_gap:
                    continue
                key = (min(a, b), max(a, b))
                rank = (-strength, key[0], key[1], x, y)
                if key not in best or rank < best[key][0]:
                    best[key] = (rank, (a, b, x, y))
    return [entry for _, entry in sorted(best.values())][:k]


tables = st.integers(2, 25).flatmap(
    lambda n: arrays(np.float64, (n, 3), elements=st.one_of(st.integers(0, 20).map(lambda v: v * 5.0),
                                                            st.just(NAN)))
)


@settings(max_examples=150, deadline=None)
@given(normalized=tables, k=st.integers(1, 12), min_gap=st.sampled_from([0.0, 10.0, 40.0]))
def test_top_inversions_equal_the_exhaustive_search(normalized, k, min_gap):
    found = [(i.above, i.below, i.by, i.against) for i in top_inversions(normalized, k, min_gap)]
    assert found == brute_force(normalized, k, min_gap)


def test_widening_search_is_still_exact(monkeypatch):
    # a tiny seed forces the corner step and the fourfold widening on a table of real size
    monkeypatch.setattr(inversions, "_START_CANDIDATES", 2)
    monkeypatch.setattr(inversions, "_MAX_CANDIDATE_PAIRS", 50)
    rng = np.random.default_rng(7)
    latent = rng.normal(size=120)
    normalized = np.stack([latent + rng.normal(size=120), latent + rng.normal(size=120)], axis=1)
    normalized = (normalized - normalized.min()) * 10
    found = [(i.above, i.below, i.by, i.against) for i in top_inversions(normalized, 15, 0.0)]
    assert found == brute_force(normalized, 15, 0.0)


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


def test_no_inversions_when_indices_agree_or_k_is_zero():
    agree = np.array([[10.0, 10.0], [50.0, 50.0], [90.0, 90.0]])
    assert top_inversions(agree, 10, 0.0) == ()
    assert top_inversions(np.array([[10.0, 90.0], [90.0, 10.0]]), 0, 0.0) == ()
