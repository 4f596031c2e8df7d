"""The Spark engine gives the numpy engine's numbers: every normalizer, consensus, IQR, spread, dissent,
the agreement matrix (Kendall's tau-b counted exactly and distributed), leave-one-out robustness, the
roster's own "disputed" threshold and each index's health, within 1e-9.

One local Spark session (``local[2]``) serves the whole module. Tables come from hypothesis (ties,
missing values, one to three indices, either direction, bounded or not) and from the demo's run,
exported to Parquet and compared through ``aggregator compare`` by both engines.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyspark", reason="pyspark is the optional 'spark' extra: pip install '.[spark]'")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (Debian: openjdk-17-jre-headless); CI installs it", allow_module_level=True)

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402, N812
from spark_checks import TOLERANCE, assert_close  # noqa: E402
from spark_checks import arrays as _arrays  # noqa: E402
from spark_checks import column as _column  # noqa: E402

from aggregator.analytics.compare import ScoreTable, compare_table  # noqa: E402
from aggregator.analytics.consensus import consensus_by_rows  # noqa: E402
from aggregator.analytics.inversions import Inversion, count_inversions, top_inversions  # noqa: E402
from aggregator.analytics.spark import _grid, median, rows  # noqa: E402
from aggregator.analytics.spark import agreement as spark_agreement  # noqa: E402
from aggregator.analytics.spark import inversions as spark_inversions  # noqa: E402
from aggregator.analytics.spark.engine import cells_of, compare_frames  # noqa: E402
from aggregator.analytics.spark.normalize import groups_of, ranked, tie_groups  # noqa: E402
from aggregator.app import demo  # noqa: E402
from aggregator.app.export import export_run, read_exported, score_table  # noqa: E402
from aggregator.cli.main import main  # noqa: E402
from aggregator.models import Failure, FailureKind, IndexSpec, Scale  # noqa: E402

#: asked beside ``range`` on degenerate columns; hypothesis draws one normalizer per table, the demo's run
#: is compared with quantile_map, the command's with robust_z, and every comparison checks the
#: percentile (the standing)
ALSO = ("robust_z", "quantile_map")


# -- frames from a table, and the comparison of both engines -------------------------------------------


def frames(spark: SparkSession, table: ScoreTable) -> tuple[DataFrame, DataFrame]:
    subjects = spark.createDataFrame(list(enumerate(table.subject_ids)), "position long, subject_id string")
    cells = [(spec.name, table.subject_ids[i], float(table.raw[i, j]))
             for j, spec in enumerate(table.specs) for i in range(len(table.subject_ids))
             if not np.isnan(table.raw[i, j])]
    readings = spark.createDataFrame(cells, "index string, subject_id string, value double")
    return subjects, readings


def check_same(
    spark: SparkSession, table: ScoreTable, method: str = "percentile", also: Sequence[str] = (),
    threshold: float | None = None, failures: Sequence[Failure] = (),
) -> None:
    """Every per-subject, agreement and robustness figure of the Spark engine equals the numpy engine's."""
    subjects, readings = frames(spark, table)
    failed = spark.createDataFrame(
        [(f.index, f.subject_id, f.kind.value, f.attempts, f.message) for f in failures],
        "index string, subject_id string, kind string, attempts long, message string",
    )
    result = compare_frames(subjects, readings, table.specs, method=method, also=also, threshold=threshold,
                            failures=failed)
    consensus = {name: rows.consensus(name, F.col("normalized"), F.col("standing")).alias(name)
                 for name in ("median", "trimmed_mean", "borda")}
    got = [r.asDict() for r in result.subjects.select("*", *consensus.values()).orderBy("position").collect()]
    expected = compare_table(table, method=method, also=also, threshold=threshold, failures=failures)
    k = len(table.specs)
    assert [r["subject_id"] for r in got] == list(table.subject_ids)
    assert_close(_arrays([r["normalized"] for r in got]).reshape(-1, k), expected.normalized, "normalized")
    assert_close(_arrays([r["standing"] for r in got]).reshape(-1, k), expected.standing, "standing")
    for n, name in enumerate(also):
        assert_close(_arrays([r[f"also_{n}"] for r in got]).reshape(-1, k), expected.alternatives[name], name)
    for name in consensus:
        reference = consensus_by_rows(name, expected.normalized, expected.standing)
        assert_close(_column([r[name] for r in got]), reference, f"consensus {name}")
    for name in ("consensus", "consensus_iqr", "spread", "dissent_gap"):
        assert_close(_column([r[name] for r in got]), getattr(expected, name), name)
    assert [r["n_indices"] for r in got] == expected.n_indices.tolist()
    assert [r["dissenter"] for r in got] == expected.dissenter.tolist()
    assert [r["flagged"] for r in got] == expected.flagged.tolist()
    assert result.scored == tuple(h.scored for h in expected.health)
    assert result.health == expected.health
    assert (result.threshold_rule, result.threshold) == (expected.threshold_rule, pytest.approx(expected.threshold,
                                                                                               abs=TOLERANCE))
    check_agreement(result.agreement, expected.agreement)
    check_robustness(result.robustness, expected.robustness)
    check_inversions(result.inversions, expected.inversions)
    assert result.inversion_counts.tolist() == expected.inversion_counts.tolist()


def check_inversions(got: Sequence[Inversion], expected: Sequence[Inversion]) -> None:
    """The same subject pairs under the same index pairs, in the same order; gaps within the tolerance."""
    assert [(i.above, i.below, i.by, i.against) for i in got] == \
        [(i.above, i.below, i.by, i.against) for i in expected]
    assert_close(np.array([[i.gap_by, i.gap_against] for i in got]).reshape(-1, 2),
                 np.array([[i.gap_by, i.gap_against] for i in expected]).reshape(-1, 2), "inversion gaps")


def check_robustness(got: Any, expected: Any) -> None:
    for name in ("rho_without", "median_shift"):
        assert_close(getattr(got, name), getattr(expected, name), name)
    assert got.n.tolist() == expected.n.tolist()
    assert got.most_influential == expected.most_influential


def check_agreement(got: Any, expected: Any) -> None:
    for name in ("kendall", "kendall_ci", "spearman", "spearman_ci", "alpha_without", "mean_kendall"):
        assert_close(getattr(got, name), getattr(expected, name), name)
    assert_close(np.array([got.alpha]), np.array([expected.alpha]), "alpha")
    assert got.n.tolist() == expected.n.tolist()
    assert got.outlier == expected.outlier


# -- hypothesis: small tables with ties, missing values, one to three indices ---------------------------------


@st.composite
def tables(draw: st.DrawFn) -> ScoreTable:
    k = draw(st.integers(1, 3))
    n = draw(st.integers(2, 14))
    specs = []
    for j in range(k):
        bounded = draw(st.booleans())
        specs.append(IndexSpec(name=f"i{j}", higher_is_better=draw(st.booleans()),
                               scale=Scale(lo=0, hi=10) if bounded else Scale()))
    # few distinct values: ties everywhere; None: the index did not score the subject
    cell = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.5, 2.5, 7.0, 10.0]))
    raw = np.array([[np.nan if (v := draw(cell)) is None else v for _ in range(k)] for _ in range(n)], dtype=float)
    return ScoreTable(tuple(f"s{i}" for i in range(n)), tuple(specs), raw)


# each example is a whole Spark comparison (seconds): a few examples, and no shrinking (minutes); a failure
# prints its table, which check_same's messages locate
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), method=st.sampled_from(["percentile", "range", "robust_z", "quantile_map"]),
       threshold=st.sampled_from([None, 10.0]))
def test_small_tables_with_ties_and_gaps_give_the_numpy_numbers(spark, table, method, threshold):
    check_same(spark, table, method=method, threshold=threshold)


def test_degenerate_columns_give_the_numpy_numbers_with_every_normalizer(spark):
    """One value shared by all (robust_z's MAD and mean deviation 0), one subject only, a column that is
    mostly one value (MAD 0, mean deviation not), and an empty one; every normalizer at once."""
    nan = np.nan
    raw = np.array([[3.0, 7.0, 1.0, nan], [3.0, nan, 1.0, nan], [3.0, nan, 1.0, nan], [3.0, nan, 9.0, nan],
                    [nan, nan, 1.0, nan]])
    specs = tuple(IndexSpec(name=f"i{j}", higher_is_better=j != 2) for j in range(4))
    check_same(spark, ScoreTable(tuple(f"s{i}" for i in range(5)), specs, raw), method="range", also=ALSO)


# -- the demo's run, exported and compared by both engines through the command --------------------------------


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    done = asyncio.run(demo.run_demo(folder, subjects=300, seed=1))
    out = folder / "run"
    export_run([folder / "history.sqlite"], done.result.run_id, out)
    return out


def test_the_demo_run_gives_the_numpy_numbers(spark, demo_export):
    exported = read_exported(demo_export)
    table = score_table(exported)
    assert len(table.specs) >= 4 and np.isnan(table.raw).any()  # enough indices to dissent, and gaps
    # the demo's vendors do not fail: faults added, so that the health has kinds, retries and examples to
    # order (by subject, then message; each message once, three at most; an index-wide one first)
    first, second = table.specs[0].name, table.specs[1].name
    ids = table.subject_ids
    faults = [
        Failure(index=first, subject_id=ids[5], kind=FailureKind.TIMEOUT, attempts=3, message="timed out"),
        Failure(index=first, subject_id=ids[1], kind=FailureKind.SERVER_ERROR, attempts=2, message="HTTP 503"),
        Failure(index=first, subject_id=ids[2], kind=FailureKind.TIMEOUT, attempts=1, message="timed out"),
        Failure(index=first, subject_id=None, kind=FailureKind.AUTH, attempts=1, message="key refused"),
        Failure(index=first, subject_id=ids[0], kind=FailureKind.BAD_PAYLOAD, attempts=2, message="no JSON"),
        Failure(index=second, subject_id=ids[3], kind=FailureKind.NOT_FOUND, attempts=1, message="unknown"),
        Failure(index="gone", subject_id=ids[3], kind=FailureKind.TIMEOUT, attempts=1, message="not an index"),
    ]
    check_same(spark, table, method="quantile_map", failures=[*exported.failures, *faults])


def test_a_comparison_leaves_nothing_persisted_in_the_session(spark, demo_export):
    """A notebook or a service compares run after run in one session: what one comparison persisted for
    itself must not stay cached after it (the frames it returns are checkpointed, not persisted)."""
    from aggregator.app.engines import _spark_run

    cached = spark._jsparkSession.sharedState().cacheManager()
    spark.catalog.clearCache()  # what earlier tests of this module persisted on their own
    run = _spark_run(spark, str(demo_export))
    result = compare_frames(run.subjects, run.readings, run.specs, also=("robust_z",))
    assert cached.isEmpty()
    assert result.subjects.count() == run.subjects.count()  # and what it returned still reads


@pytest.mark.parametrize("levels", [1, 4])
def test_kendall_counts_inside_buckets_as_exactly_as_across_them(spark, demo_export, levels):
    """The other tests' tables are small enough for one bucket a pair (all of D counted inside it). Cut
    into 2 buckets, most discordant pairs are still counted inside a bucket; into 16, the merge levels
    count most of them: the same tau-b either way."""
    table = score_table(read_exported(demo_export))
    subjects, readings = frames(spark, table)
    expected = compare_table(table).agreement
    coarse = spark_agreement.rank_figures(shared_rows(cells_of(subjects, readings, table.specs)), levels=levels)
    assert len(coarse) == len(table.specs) * (len(table.specs) - 1) // 2
    for (a, b), f in coarse.items():
        discordant = int(f["local"]) + int(f["across"] or 0)
        if levels == 1:
            assert int(f["local"]) > int(f["across"] or 0) > 0
        else:
            assert int(f["across"] or 0) > int(f["local"]) > 0
        tau = spark_agreement.kendall_from_counts(f["n"], f["x_pairs"], f["y_pairs"], f["xy_pairs"], discordant)
        assert abs(tau - expected.kendall[a, b]) <= TOLERANCE


@settings(deadline=None)  # plain arithmetic, but a busy machine can stall any call past 200 ms
@given(size=st.integers(1, 5), data=st.data())
def test_the_grid_counts_the_couples_before_in_one_order_and_after_in_the_other(size, data):
    counts = st.lists(st.integers(0, 2**40), min_size=size * size, max_size=size * size)
    left = np.array(data.draw(counts), dtype=object).reshape(size, size)
    right = np.array(data.draw(counts), dtype=object).reshape(size, size)
    expected = sum(left[p, c] * right[q, d] for p in range(size) for q in range(p + 1, size)
                   for c in range(size) for d in range(c))
    assert _grid.cross_couples(left, right) == expected  # whole numbers past int64's range stay exact
    assert _grid.offsets(left[0]).tolist() == [sum(left[0, :c]) for c in range(size)]


@pytest.mark.parametrize("bucket_rows", [5, 1_000_000])
def test_cells_are_ranked_as_their_tie_groups_say_in_buckets_or_whole(spark, demo_export, bucket_rows):
    """Each cell's tie group size, cells below and column count, ranked a bucket of values at a time
    (the demo's columns cut into dozens of buckets, or one each), are the tie groups' own."""
    table = score_table(read_exported(demo_export))
    subjects, readings = frames(spark, table)
    cells = cells_of(subjects, readings, table.specs)
    got = ranked(cells, bucket_rows=bucket_rows)
    expected = cells.join(tie_groups(cells), ["j", "v"]).select("i", "j", "t", "below", "count")
    assert sorted(got.select("i", "j", "t", "below", "count").collect()) == sorted(expected.collect())
    leads = groups_of(got).groupBy("j", "v").count()
    assert leads.where(F.col("count") != 1).count() == 0  # one cell leads each group
    assert leads.count() == tie_groups(cells).count()
    if bucket_rows == 5:  # many buckets: some values tie across the cells of several subjects
        assert got.where(F.col("t") > 1).count() > 0


def test_exact_medians_are_the_middle_of_each_sorted_column(spark):
    rng = np.random.default_rng(7)
    columns = {
        0: rng.integers(0, 50, 20_001).astype(float),  # ties, an odd count
        1: rng.normal(size=20_000),  # an even count: two middle values
        2: np.array([3.0, 1.0]),  # too few for the bracket to hold both middle places
        3: np.r_[rng.normal(size=99), np.nan, np.nan],  # NaN, which Spark (and np.sort) order last
        4: np.r_[np.full(5_000, 2.5), rng.normal(size=3)],  # one value holds the middle
    }
    values = spark.createDataFrame([(j, float(v)) for j, c in columns.items() for v in c], "j int, d double")
    got = median.exact_medians(values, "d")
    for j, column in columns.items():
        ordered = np.sort(column)
        assert got[j] == (ordered[(column.size - 1) // 2] + ordered[column.size // 2]) / 2


def test_a_median_bracket_gives_the_middle_only_when_it_holds_both_middle_places(spark):
    column = np.random.default_rng(8).integers(0, 1_000, 5_000).astype(float)
    ordered, n = np.sort(column), column.size
    values = spark.createDataFrame([(0, float(v)) for v in column], "j int, d double")
    middle = (ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    around = (ordered[n // 2 - 40], ordered[n // 2 + 40])
    assert median._from_brackets(values, "d", {0: n}, {0: around}) == {0: middle}
    assert median._from_brackets(values, "d", {0: n}, {0: (ordered[(n - 1) // 2], ordered[n // 2])}) == {0: middle}
    above = ordered[ordered > ordered[n // 2]]  # a bracket past the middle
    assert median._from_brackets(values, "d", {0: n}, {0: (above[0], above[-1])}) == {}


def test_kendall_buckets_grow_with_the_rows_so_each_holds_a_bounded_number():
    assert spark_agreement.kendall_levels(0) == 0
    assert spark_agreement.kendall_levels(spark_agreement.BUCKET_ROWS) == 0
    assert spark_agreement.kendall_levels(spark_agreement.BUCKET_ROWS + 1) == 1
    assert spark_agreement.kendall_levels(6_400_000) == 3  # 10M subjects, 80% of each index scored: 8 buckets
    assert spark_agreement.kendall_levels(100, bucket_rows=10) == 4
    for count in (1, 999, 5_000_000, 123_456_789):  # the fewest buckets of at most 1000 rows each
        levels = spark_agreement.kendall_levels(count, bucket_rows=1000)
        assert count <= 1000 * 2**levels
        assert levels == 0 or count > 1000 * 2 ** (levels - 1)


def test_the_command_writes_the_same_results_from_both_engines(spark, demo_export, tmp_path, capsys):
    outs = {}
    for engine in ("numpy", "spark"):
        outs[engine] = tmp_path / engine
        assert main(["compare", "--engine", engine, "--run", str(demo_export), "--out", str(outs[engine]),
                     "--method", "robust_z", "--consensus", "borda"]) == 0
        assert json.loads(capsys.readouterr().out)["subjects"] == 300
    summaries = {e: json.loads((o / "summary.json").read_text()) for e, o in outs.items()}
    numpy_summary, spark_summary = summaries["numpy"], summaries["spark"]
    floats = ("agreement", "robustness", "threshold", "inversions")
    assert numpy_summary["threshold_rule"] == "unusual"  # the product's rule, by default
    assert {k: v for k, v in numpy_summary.items() if k not in floats} == \
        {k: v for k, v in spark_summary.items() if k not in floats}
    assert spark_summary["shifts"] is None and spark_summary["topics"] is None  # no --previous; no topics in the demo
    assert spark_summary["threshold"] == pytest.approx(numpy_summary["threshold"], abs=TOLERANCE)
    inverted, got = numpy_summary["inversions"], spark_summary["inversions"]
    assert (got["counts"], len(got["top"])) == (inverted["counts"], len(inverted["top"]))
    assert got["min_gap"] == pytest.approx(inverted["min_gap"], abs=TOLERANCE)
    assert [[e[k] for k in ("above", "below", "by", "against")] for e in got["top"]] == \
        [[e[k] for k in ("above", "below", "by", "against")] for e in inverted["top"]]
    assert_close(np.array([[e["gap_by"], e["gap_against"]] for e in got["top"]]),
                 np.array([[e["gap_by"], e["gap_against"]] for e in inverted["top"]]), "inversion gaps")
    for group in ("agreement", "robustness"):
        for name, value in numpy_summary[group].items():
            expected = np.array(value, dtype=float)
            assert_close(np.array(spark_summary[group][name], dtype=float), expected, f"{group} {name}")
    read = {e: pq.read_table(o / "subjects").sort_by("position").to_pylist() for e, o in outs.items()}
    for mine, reference in zip(read["spark"], read["numpy"], strict=True):
        assert (mine["subject_id"], mine["n_indices"], mine["dissenter"], mine["flagged"]) == \
            (reference["subject_id"], reference["n_indices"], reference["dissenter"], reference["flagged"])
        for name in ("normalized", "standing"):
            assert_close(_column(mine[name]), _column(reference[name]), name)
        for name in ("consensus", "consensus_iqr", "spread", "dissent_gap"):
            assert_close(_column([mine[name]]), _column([reference[name]]), name)
    # and what a person reads: the text report from either engine's output, the same to the character
    texts = {}
    for engine, out in outs.items():
        assert main(["report", "--from", str(out), "--format", "text", "--out", str(tmp_path / f"{engine}.txt")]) == 0
        texts[engine] = (tmp_path / f"{engine}.txt").read_text()
    assert texts["spark"] == texts["numpy"] and "Influence report" in texts["spark"]


def test_a_folder_that_is_no_export_is_named(tmp_path, capsys):
    assert main(["compare", "--engine", "spark", "--run", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path} is not an exported run: no run.json" in capsys.readouterr().err


# -- inversions: the top K and the exact count, on their own ---------------------------------------------------


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@example(values=[10.000001, 100.0, 0.5, 99.99999999999], t=10.0)  # bounds near 0: bisected, not stepped to
@given(values=st.lists(finite, min_size=1, max_size=20),
       t=st.one_of(st.sampled_from([5e-324, 1e-12, 0.1, 10.0, 99.99999999999]), st.floats(1e-300, 1e6)))
def test_gap_bounds_are_the_last_floats_where_the_rounded_gap_holds(values, t):
    x = np.array(values)
    below, above = spark_inversions.bound_below(x, t), spark_inversions.bound_above(x, t)
    assert np.all(x - below >= t) and not np.any(x - np.nextafter(below, np.inf) >= t)
    assert np.all(above - x >= t) and not np.any(np.nextafter(above, -np.inf) - x >= t)


small = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=25)


@settings(max_examples=200, deadline=None)
@given(points=small, queries=small)
def test_dominance_pairs_count_the_points_left_of_and_above_each_query(points, queries):
    px, py = np.array(points, dtype=float).reshape(-1, 2).T
    qx, qy = np.array(queries, dtype=float).reshape(-1, 2).T
    expected = sum(1 for a, b in points for c, d in queries if a <= c and b >= d)
    assert spark_inversions.dominance_pairs(px, py, qx, qy) == expected


@st.composite
def normalized_tables(draw: st.DrawFn) -> np.ndarray:
    """Normalized scores with ties and missing values, one or two indices (three now and then)."""
    k = draw(st.sampled_from([1, 2, 2, 3]))
    n = draw(st.integers(2, 40))
    cell = st.one_of(st.none(), st.sampled_from([0.0, 12.5, 25.0, 50.0, 50.0, 62.5, 100.0]), st.floats(0, 100))
    return _arrays([[draw(cell) for _ in range(k)] for _ in range(n)])


# each example is a few Spark jobs: a few examples, no shrinking (see above)
@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(normalized=normalized_tables(), min_gap=st.sampled_from([0.0, 12.5, 30.0]), top=st.sampled_from([1, 7, 100]),
       levels=st.sampled_from([None, 2]))
def test_inversions_of_small_tables_are_numpys(spark, normalized, min_gap, top, levels):
    strongest, counts, _ = spark_inversions.inversions(wide_frame(spark, normalized), normalized.shape[1], min_gap,
                                                       top, values="v", levels=levels)
    check_inversions(strongest, top_inversions(normalized, top, min_gap))
    assert counts.tolist() == count_inversions(normalized, min_gap).tolist()


@pytest.mark.parametrize("corner_seed", [2, 64])
def test_a_floor_raised_from_the_corners_lists_numpys_strongest(spark, demo_export, monkeypatch, corner_seed):
    # every comparison past the budget: the corners' larger seed raises the floor before the join
    monkeypatch.setattr(spark_inversions, "JOIN_BUDGET", 0)
    monkeypatch.setattr(spark_inversions, "_CORNER_SEED", corner_seed)
    normalized = compare_table(score_table(read_exported(demo_export))).normalized
    rows = spark_agreement.pair_rows(wide_frame(spark, normalized), normalized.shape[1], "v").persist()
    largest = max(int(r["count"]) for r in rows.groupBy("a", "b").count().collect())
    for top, min_gap in ((1, 0.0), (10, 5.0), (40, 0.0)):
        strongest = spark_inversions.top_inversions(rows, largest, top, min_gap)
        check_inversions(strongest, top_inversions(normalized, top, min_gap))
    rows.unpersist()


def wide_frame(spark, table: np.ndarray):
    """``(i, v)``: a row per subject, its scores an array (missing: null, and now and then NaN)."""
    rows = [(i, [None if np.isnan(v) and (i + j) % 3 else float(v) for j, v in enumerate(row)])
            for i, row in enumerate(table)]
    return spark.createDataFrame(rows, "i long, v array<double>")


def shared_rows(cells):
    """``(a, b, i, x, y)`` of the cells ``(i, j, v)`` by a self-join on the subject: what ``pair_rows`` must give."""
    left = cells.select("i", F.col("j").alias("a"), F.col("v").alias("x"))
    right = cells.select("i", F.col("j").alias("b"), F.col("v").alias("y"))
    return left.join(right, "i").where(F.col("a") < F.col("b")).select("a", "b", "i", "x", "y")


def test_pair_rows_of_a_row_per_subject_are_the_shared_rows_of_its_cells(spark, demo_export):
    normalized = compare_table(score_table(read_exported(demo_export))).normalized
    assert np.isnan(normalized).any()
    cells = [(i, j, float(v)) for (i, j), v in np.ndenumerate(normalized) if not np.isnan(v)]
    joined = shared_rows(spark.createDataFrame(cells, "i long, j int, v double"))
    made = spark_agreement.pair_rows(wide_frame(spark, normalized), normalized.shape[1], "v")
    assert sorted(made.collect()) == sorted(joined.collect())


def test_the_inversion_count_merges_buckets_as_exactly_as_it_counts_inside_them(spark, demo_export):
    """The demo's standings cut into 8 buckets a pair of indices: most couples are counted across buckets."""
    normalized = compare_table(score_table(read_exported(demo_export))).normalized
    rows = spark_agreement.pair_rows(wide_frame(spark, normalized), normalized.shape[1], "v",
                                     spark_inversions.gap_bounds(10.0))
    expected = count_inversions(normalized, 10.0)
    assert expected.sum() > 0
    assert spark_inversions.count_inversions(rows, normalized.shape[1], 10.0, levels=3).tolist() == expected.tolist()


@pytest.mark.parametrize("levels", [0, 3])
def test_the_inversion_passes_give_kendalls_and_spearmans_figures_of_their_points(spark, demo_export, levels):
    """Under the percentile method the normalized scores are the standings, and the count's two passes
    rank its points as Kendall's own passes would: the same tau-b and rho as numpy's, and the same
    count, in one bucket a pair or cut into 8."""
    expected = compare_table(score_table(read_exported(demo_export)))
    normalized, k = expected.normalized, expected.normalized.shape[1]
    rows = spark_agreement.pair_rows(wide_frame(spark, normalized), k, "v", spark_inversions.gap_bounds(10.0))
    counts, ranks = spark_inversions.count_with_ranks(rows.persist(), k, 10.0, levels=levels)
    assert counts.tolist() == count_inversions(normalized, 10.0).tolist()
    assert len(ranks) == k * (k - 1) // 2
    for (a, b), f in ranks.items():
        assert f["n"] == expected.agreement.n[a, b]
        if levels:
            assert int(f["across"]) > int(f["local"]) > 0  # most discordant pairs are counted across buckets
        tau = spark_agreement.kendall_from_counts(f["n"], f["x_pairs"], f["y_pairs"], f["xy_pairs"],
                                                  int(f["local"]) + int(f["across"]))
        assert abs(tau - expected.agreement.kendall[a, b]) <= TOLERANCE
        rho = spark_agreement.spearman_from_sums(f["n"], f["x_cubes"], f["y_cubes"], f["products"])
        assert abs(rho - expected.agreement.spearman[a, b]) <= TOLERANCE
    rows.unpersist()
