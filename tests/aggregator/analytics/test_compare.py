from __future__ import annotations

import numpy as np
import pytest

from aggregator.analytics.compare import ScoreTable, compare, compare_table, row_nanmedian
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


def test_consensus_methods_match_their_definitions():
    from scipy.stats import trim_mean

    rng = np.random.default_rng(8)
    raw = rng.integers(0, 100, size=(60, 5)).astype(float)
    raw[rng.random(raw.shape) < 0.3] = NAN
    table = ScoreTable(tuple(f"s{i}" for i in range(60)), tuple(IndexSpec(name=f"i{j}") for j in range(5)), raw)
    by_median = compare_table(table)
    trimmed = compare_table(table, consensus="trimmed_mean")
    borda = compare_table(table, consensus="borda")
    for i in range(60):
        row = by_median.normalized[i][~np.isnan(by_median.normalized[i])]
        if row.size < 2:
            assert np.isnan(by_median.consensus[i]) and np.isnan(trimmed.consensus[i]) and np.isnan(borda.consensus[i])
            assert np.isnan(by_median.consensus_iqr[i])
            continue
        assert by_median.consensus[i] == pytest.approx(np.median(row))
        assert trimmed.consensus[i] == pytest.approx(trim_mean(row, 0.25))
        assert borda.consensus[i] == pytest.approx(np.mean(row))  # percentile standings: Borda's share beaten
        q75, q25 = np.percentile(row, [75, 25])
        assert by_median.consensus_iqr[i] == pytest.approx(q75 - q25)
    assert trimmed.consensus_method == "trimmed_mean"


def test_borda_uses_standing_whatever_the_normalizer():
    scores = {"a": {"x": 1, "y": 2, "z": 3}, "b": {"x": 10, "y": 30, "z": 20}}
    result = compare(scores, {"a": (0, 100), "b": (0, 100)}, method="range", consensus="borda")
    # standings: a -> 16.7, 50, 83.3; b -> 16.7, 83.3, 50
    assert result.consensus.tolist() == pytest.approx([100 / 6, 200 / 3, 200 / 3])
    assert result.normalized[:, 0].tolist() == [1.0, 2.0, 3.0]  # range keeps the documented scale
    assert result.standing[:, 1].tolist() == pytest.approx([100 / 6, 500 / 6, 50.0])


def test_unknown_consensus_is_named():
    with pytest.raises(ConfigError, match="unknown consensus method 'mode'; known: borda, median, trimmed_mean"):
        compare({"a": {"x": 1}}, consensus="mode")


def test_other_normalizations_come_along_when_asked():
    table = ScoreTable(("x", "y", "z"), (IndexSpec(name="a"),), np.array([[1.0], [5.0], [9.0]]))
    result = compare_table(table, also=("robust_z", "range"))
    assert set(result.alternatives) == {"robust_z", "range"}
    assert result.alternatives["robust_z"][1, 0] == 50.0 and result.alternatives["range"][2, 0] == 100.0


def test_topics_travel_from_readings_to_the_comparison():
    from aggregator.models import Reading

    specs = [IndexSpec(name="klout"), IndexSpec(name="kred")]
    readings = [
        Reading(index="klout", subject_id="ann", value=50, topics=("Bacon", "cooking")),
        Reading(index="kred", subject_id="ann", value=60, topics=("cooking", "travel"), algorithm_version="2"),
        Reading(index="kred", subject_id="bob", value=10, algorithm_version="2"),
        Reading(index="kred", subject_id="nobody", value=10, algorithm_version="3"),  # not in the table
    ]
    table = ScoreTable.from_readings(["ann", "bob"], specs, readings)
    assert table.versions == ("1", "2")
    topics = compare_table(table).topics
    assert topics is not None
    assert topics.jaccard[0] == pytest.approx(1 / 3) and np.isnan(topics.jaccard[1])
    assert [(t.row, table.index_names[t.index], t.topic) for t in topics.lone] == [
        (0, "klout", "Bacon"), (0, "kred", "travel")]
    assert compare({"a": {"x": 1}}).topics is None
