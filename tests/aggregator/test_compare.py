from __future__ import annotations

import numpy as np
import pytest

from aggregator.compare import ScoreTable, compare, compare_table, row_nanmedian
from aggregator.errors import ConfigError
from aggregator.models import Failure, FailureKind, IndexSpec

NAN = np.nan


def test_consensus_spread_and_dissenter_by_hand():
    # four subjects, three indices; index "c" reverses the order of the others
    scores = {
        "a": {"s1": 1, "s2": 2, "s3": 3, "s4": 4},
        "b": {"s1": 10, "s2": 20, "s3": 30, "s4": 40},
        "c": {"s1": 4, "s2": 3, "s3": 2, "s4": 1},
    }
    result = compare(scores)
    # percentiles: a, b -> 12.5, 37.5, 62.5, 87.5; c -> 87.5, 62.5, 37.5, 12.5
    assert result.consensus.tolist() == [12.5, 37.5, 62.5, 87.5]
    assert result.spread.tolist() == [75.0, 25.0, 25.0, 75.0]
    assert [result.table.index_names[j] for j in result.dissenter] == ["c"] * 4
    assert result.dissent_gap.tolist() == [75.0, 25.0, 25.0, 75.0]
    assert result.flagged.tolist() == [True, False, False, True]  # threshold 25: strictly above
    assert result.most_disputed(2).tolist() == [0, 3]
    assert result.leaders(1).tolist() == [3]


def test_consensus_needs_two_indices_and_dissent_needs_three():
    result = compare({"a": {"x": 1, "y": 2}, "b": {"x": 5}})
    assert result.n_indices.tolist() == [2, 1]
    assert result.consensus[0] == pytest.approx(np.median([25.0, 50.0]))
    assert np.isnan(result.consensus[1]) and np.isnan(result.spread[1])
    assert result.dissenter.tolist() == [-1, -1]


def test_row_nanmedian_matches_numpy_without_warnings():
    values = np.array([[1.0, NAN, 3.0, 10.0], [NAN, NAN, NAN, NAN], [2.0, 2.0, NAN, NAN], [5.0, NAN, NAN, NAN]])
    out = row_nanmedian(values)
    assert out[0] == 3.0 and np.isnan(out[1]) and out[2] == 2.0 and out[3] == 5.0


def test_health_counts_failures_by_kind_and_separates_coverage_gaps():
    table = ScoreTable(("x", "y", "z"), (IndexSpec(name="a"),), np.array([[1.0], [NAN], [NAN]]))
    failures = [
        Failure(index="a", subject_id="y", kind=FailureKind.NOT_FOUND, message="a: no row"),
        Failure(index="a", subject_id="z", kind=FailureKind.TIMEOUT, attempts=3, message="a: timed out"),
    ]
    (health,) = compare_table(table, failures=failures).health
    assert (health.scored, health.asked) == (1, 3)
    assert health.failures == {FailureKind.NOT_FOUND: 1, FailureKind.TIMEOUT: 1}
    assert health.faults == 1 and health.retries == 2
    assert health.examples == ("a: timed out",)
    assert health.coverage == pytest.approx(1 / 3)


def test_non_numeric_score_is_named():
    with pytest.raises(ConfigError, match=r"scores\['a'\]\['x'\]: expected a number"):
        compare({"a": {"x": "high"}})  # type: ignore[dict-item]


def test_table_shape_is_checked():
    with pytest.raises(ValueError, match="expected"):
        ScoreTable(("x",), (IndexSpec(name="a"),), np.zeros((2, 1)))
