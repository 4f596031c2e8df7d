"""Pairwise AUC, accuracy and the fixed stratified folds."""

from __future__ import annotations

import numpy as np
import pytest

from aggregator.scoring.metrics import accuracy, auc, held_out_rows, stratified_folds


def test_auc_counts_pairs_of_positive_over_negative_and_ties_as_half():
    labels = np.array([1, 1, 1, 0, 0, 0], dtype=float)
    decisions = np.array([3.0, 2.0, -1.0, -2.0, -3.0, 1.0])
    # positives beat negatives in 3 + 3 + 2 of the 9 positive-negative pairs
    assert auc(labels, decisions) == pytest.approx(8 / 9)
    tied = np.array([1.0, 0.0, 0.0, 0.0, -1.0, 0.0])
    # 3 > all 3; 0 vs (0, -1, 0): 0.5 + 1 + 0.5; 0 vs same: 2 -> (3 + 2 + 2) / 9
    assert auc(labels, tied) == pytest.approx(7 / 9)


def test_auc_needs_both_outcomes():
    with pytest.raises(ValueError, match="both outcomes"):
        auc(np.ones(3), np.arange(3.0))


def test_accuracy_counts_a_zero_decision_as_half_right():
    labels = np.array([1, 0, 1, 0], dtype=float)
    assert accuracy(labels, np.array([2.0, -1.0, -1.0, 0.0])) == pytest.approx((1 + 1 + 0 + 0.5) / 4)


def test_folds_partition_the_rows_keep_label_shares_and_depend_only_on_the_seed():
    labels = np.array([1] * 30 + [0] * 20, dtype=float)
    folds = stratified_folds(labels, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))
    assert [int(labels[f].sum()) for f in folds] == [6] * 5
    assert [len(f) for f in folds] == [10] * 5
    again = stratified_folds(labels, 5, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again, strict=True))
    other = stratified_folds(labels, 5, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(folds, other, strict=True))


def test_folds_refuse_too_few_rows_of_an_outcome():
    with pytest.raises(ValueError, match="at least 5 pairs of each outcome"):
        stratified_folds(np.array([1, 1, 1, 1, 1, 0, 0, 0], dtype=float), 5, seed=0)


def test_the_held_out_part_is_fixed_by_the_two_people_whatever_their_order():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10**6, size=(3000, 11)).astype(float), rng.integers(0, 10**6, size=(3000, 11)).astype(float)
    held = held_out_rows(a, b)
    assert 0.30 < held.mean() < 0.37  # 86 of 256: about a third
    np.testing.assert_array_equal(held_out_rows(b, a), held)  # A and B swapped: the same side
    order = rng.permutation(3000)
    np.testing.assert_array_equal(held_out_rows(a[order], b[order]), held[order])  # by pair, not by position
