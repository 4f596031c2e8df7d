from __future__ import annotations

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.people import (
    CONSENSUS,
    IndexAgreement,
    agreement_with_people,
    bootstrap_interval,
    pair_outcomes,
    people_agreement,
)
from aggregator.models import IndexSpec

NAN = np.nan


def _hand_set() -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    ids = ["s1", "s2", "s3", "s4", "s5"]
    # columns x, y; higher is better in both; NaN: not scored
    scores = np.array([
        [10.0, 3.0],
        [5.0, 3.0],
        [5.0, 1.0],
        [NAN, 9.0],
        [1.0, NAN],
    ])
    judgments = [
        ("s1", "s2"),  # x: 10 > 5 agree;        y: 3 = 3 tie
        ("s2", "s3"),  # x: 5 = 5 tie;           y: 3 > 1 agree
        ("s5", "s1"),  # x: 1 < 10 disagree;     y: s5 unscored
        ("s4", "s1"),  # x: s4 unscored;         y: 9 > 3 agree
        ("s3", "s1"),  # x: 5 < 10 disagree;     y: 1 < 3 disagree
        ("s1", "zz"),  # zz is not in the run: nobody counts it
    ]
    return ids, scores, judgments


def test_shares_by_hand_with_ties_unscored_sides_and_an_unknown_subject():
    ids, scores, judgments = _hand_set()
    result = agreement_with_people(ids, ["x", "y"], scores, judgments)
    x, y = result.rows
    assert (x.agree, x.ties, x.disagree, x.n) == (1, 1, 2, 4)
    assert x.share == pytest.approx((1 + 0.5) / 4)
    assert (y.agree, y.ties, y.disagree, y.n) == (2, 1, 1, 4)
    assert y.share == pytest.approx((2 + 0.5) / 4)
    assert (result.judged, result.not_in_run, result.usable) == (6, 1, 5)
    assert [r.index for r in result.best_first()] == ["y", "x"]
    assert not any(r.is_consensus for r in result.rows)


def test_pair_outcomes_marks_each_pair_one_half_zero_or_unscored():
    ids, scores, judgments = _hand_set()
    row = {sid: i for i, sid in enumerate(ids)}
    known = judgments[:5]
    outcomes = pair_outcomes(scores, [row[w] for w, _ in known], [row[lo] for _, lo in known])
    expected = np.array([[1.0, 0.5], [0.5, 1.0], [0.0, NAN], [NAN, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(outcomes, expected)


def test_the_consensus_is_a_row_of_its_own_and_in_sample_is_marked():
    ids, scores, judgments = _hand_set()
    consensus = np.array([50.0, 40.0, 40.0, 90.0, NAN])
    result = agreement_with_people(ids, ["x", "y"], scores, judgments, consensus=consensus, in_sample=["y"])
    last = result.rows[-1]
    assert last.index == CONSENSUS and last.is_consensus
    # s1>s2 agree, s2=s3 tie, s5 unscored, s4>s1 agree, s3<s1 disagree
    assert (last.agree, last.ties, last.disagree) == (2, 1, 1)
    assert [r.in_sample for r in result.rows] == [False, True, False]


def test_a_comparison_orients_lower_is_better_indices_before_comparing():
    # "rank" is a league table position: 1 is best
    table = ScoreTable(("a", "b", "c"), (IndexSpec(name="score"), IndexSpec(name="rank", higher_is_better=False)),
                       np.array([[30.0, 1.0], [20.0, 2.0], [10.0, 3.0]]))
    result = people_agreement(compare_table(table), [("a", "b"), ("b", "c"), ("c", "a")])
    score, rank, consensus = result.rows
    assert (score.agree, score.disagree) == (2, 1)
    assert (rank.agree, rank.disagree) == (2, 1)
    assert (consensus.agree, consensus.disagree) == (2, 1)


def test_an_index_with_no_judged_pair_scored_has_no_share_and_ranks_last():
    result = agreement_with_people(["a", "b"], ["x", "y"], np.array([[1.0, NAN], [0.0, NAN]]), [("a", "b")])
    x, y = result.rows
    assert x.share == 1.0 and y.n == 0 and np.isnan(y.share)
    assert result.best_first()[-1] is y
    assert not x.differs_from(y)


def _row(share: float, low: float, high: float, n: int = 100) -> IndexAgreement:
    return IndexAgreement(index="i", is_consensus=False, agree=n, ties=0, disagree=0, share=share, low=low, high=high)


def test_intervals_that_do_not_overlap_differ_and_touching_ones_do_not():
    assert _row(0.8, 0.75, 0.85).differs_from(_row(0.6, 0.55, 0.7))
    assert not _row(0.8, 0.7, 0.85).differs_from(_row(0.6, 0.55, 0.7))
    assert not _row(0.8, 0.65, 0.85).differs_from(_row(0.6, 0.55, 0.7))


def test_the_interval_is_the_same_for_the_same_inputs_and_holds_the_share():
    first = bootstrap_interval(60, 10, 30, rng=np.random.default_rng(0))
    again = bootstrap_interval(60, 10, 30, rng=np.random.default_rng(0))
    assert first == again
    assert first[0] < 0.65 < first[1]
    # the normal approximation's width, 2 * 1.96 * sd / sqrt(n), as a sanity check on the scale
    outcomes = np.array([1.0] * 60 + [0.5] * 10 + [0.0] * 30)
    width = 2 * 1.96 * outcomes.std() / np.sqrt(100)
    assert first[1] - first[0] == pytest.approx(width, rel=0.15)


@pytest.mark.parametrize(("n", "p_agree", "p_tie"), [(200, 0.65, 0.1), (80, 0.75, 0.0)])
def test_the_interval_covers_the_true_share_at_the_stated_rate(n: int, p_agree: float, p_tie: float):
    # simulate judged pairs whose true share is known, and count how often the interval holds it
    rng = np.random.default_rng(12345)
    truth = p_agree + p_tie / 2
    trials = 600
    covered = 0
    for t in range(trials):
        agree, ties, disagree = rng.multinomial(n, [p_agree, p_tie, 1 - p_agree - p_tie])
        low, high = bootstrap_interval(int(agree), int(ties), int(disagree), resamples=1000,
                                       rng=np.random.default_rng([7, t]))
        covered += low <= truth <= high
    rate = covered / trials
    # 95% stated; the binomial sampling error of the rate over 600 trials is about 0.009
    assert abs(rate - 0.95) < 3.5 * np.sqrt(0.95 * 0.05 / trials), rate


def test_fewer_pairs_than_the_minimum_get_no_interval_and_differ_from_nothing():
    ids = [f"s{i}" for i in range(40)]
    scores = np.column_stack([np.arange(40.0), -np.arange(40.0)])
    judgments = [(ids[i + 1], ids[i]) for i in range(39)]
    x, y = agreement_with_people(ids, ["x", "y"], scores, judgments).rows
    assert x.share == 1.0 and y.share == 0.0 and x.n == y.n == 39
    assert x.differs_from(y) and x.low == x.high == 1.0
    few_x, few_y = agreement_with_people(ids, ["x", "y"], scores, judgments, min_pairs=40).rows
    assert np.isnan(few_x.low) and np.isnan(few_y.high) and few_x.share == 1.0
    assert not few_x.differs_from(few_y)
