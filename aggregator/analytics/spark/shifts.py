"""Shifts against a previous run on Spark: what :func:`aggregator.analytics.shifts.compute_shifts` computes.

Subjects are matched by id and indices by name. The previous run is read as the current one is
(cells, tie groups, standings, each subject's consensus with the same method), and the cells
both runs have, one row per (subject, index) scored in both, carry everything:

- per subject: the raw change and the change of standing (arrays in index order), the median
  of the latter (the movement), and the change of consensus; ``new`` where the subject is not in
  the previous run. Row expressions and joins: nothing per subject reaches the driver.
- per index: n, and four exact medians (the raw change, the previous and the current score, the
  relative change) from one set of tie groups keyed ``4 j + kind``; Spearman's rho from the
  agreement module's distributed rank sums; the previous run's median over all it scored from
  its tie groups. The driver finishes each index with the numpy engine's own
  :func:`~aggregator.analytics.shifts.finish_index_shift` (share of the scale, recalibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.compare import common_versions
from aggregator.analytics.shifts import IndexShift, finish_index_shift
from aggregator.analytics.spark import rows
from aggregator.analytics.spark.agreement import rank_figures, spearman_from_sums
from aggregator.analytics.spark.cells import by_subject, cells_of, standings
from aggregator.analytics.spark.median import exact_medians
from aggregator.analytics.spark.normalize import groups_of, medians, ranked
from aggregator.models import IndexSpec

#: the per-index medians taken over the cells both runs scored, in their ``kind`` order
_MEDIANS = ("median_shift", "median_before", "median_after", "median_relative_change")


@dataclass(frozen=True, eq=False)
class RunFrames:
    """One exported run as DataFrames: ``subjects`` (position, subject_id), ``readings`` (index,
    subject_id, value; ``algorithm_version`` and ``topics`` where the export has them), its specs."""

    subjects: DataFrame
    readings: DataFrame
    specs: tuple[IndexSpec, ...]
    run_id: str | None = None


@dataclass(frozen=True, eq=False)
class SparkShifts:
    """Changes since ``previous_run``: per-subject columns (a DataFrame) and the per-index figures."""

    previous_run: str | None
    indices: tuple[IndexShift, ...]
    #: position, raw_change and standing_change (arrays in index order, null = not comparable),
    #: consensus_change, movement, new: one row per subject of the current run
    subjects: DataFrame
    mover_threshold: float
    #: subjects whose ``|movement|`` reaches ``mover_threshold``
    movers: int


def versions_of(readings: DataFrame, specs: Sequence[IndexSpec]) -> tuple[str, ...]:
    """Each index's most common algorithm version among its readings (``common_versions``'s rule)."""
    if "algorithm_version" not in readings.columns:
        return tuple(spec.algorithm_version for spec in specs)
    names = [spec.name for spec in specs]
    counts: list[dict[str, int]] = [{} for _ in specs]
    # one row per index and version: a handful
    for r in readings.where(F.col("index").isin(names)).groupBy("index", "algorithm_version").count().collect():
        counts[names.index(r["index"])][str(r["algorithm_version"])] = int(r["count"])
    return common_versions(counts, specs)


def shifts(
    now: RunFrames, now_cells: DataFrame, now_rows: DataFrame, before: RunFrames, *, method: str, consensus: str,
    mover_threshold: float,
) -> SparkShifts:
    """``now_cells``: the current run's ``standings`` (i, j, value, v, standing); ``now_rows``: its
    per-subject figures (position, subject_id, consensus)."""
    k = len(now.specs)
    previous_column = {spec.name: p for p, spec in enumerate(before.specs)}
    common = {j: previous_column[spec.name] for j, spec in enumerate(now.specs) if spec.name in previous_column}
    prev_cells, prev_standings, prev_rows = read_run(before, method, consensus)
    prev_consensus = prev_rows.select("subject_id", F.col("consensus").alias("_before"), F.lit(True).alias("_known"))
    # materialized once and cut from its lineage: every figure below reads it, and re-analysing the
    # two runs' long plans for each costs more than the work
    pairs = _pairs(now, now_cells, before, prev_standings, common).localCheckpoint()
    indices = _index_shifts(now, before, pairs, groups_of(prev_cells), common)
    per_subject = _per_subject(now_rows, prev_consensus, pairs, k).localCheckpoint()
    movers = per_subject.where(F.abs(F.col("movement")) >= mover_threshold).count()
    prev_cells.unpersist()
    return SparkShifts(before.run_id, indices, per_subject, mover_threshold, movers)


def read_run(run: RunFrames, method: str, consensus: str) -> tuple[DataFrame, DataFrame, DataFrame]:
    """A run's ranked cells (persisted: the caller unpersists them), their standings, and each
    subject's consensus (position, subject_id, consensus), as ``compare_frames`` computes them."""
    cells = ranked(cells_of(run.subjects, run.readings, run.specs))  # the standings, and the medians
    scored = standings(cells, run.specs, method)
    wide = by_subject(run.subjects, scored, ["norm", "standing"], len(run.specs))
    agreed = rows.consensus(consensus, F.col("norm"), F.col("standing"))
    return cells, scored, wide.select(F.col("i").alias("position"), "subject_id", agreed.alias("consensus"))


def _pairs(
    now: RunFrames, now_cells: DataFrame, before: RunFrames, prev_standings: DataFrame, common: dict[int, int]
) -> DataFrame:
    """``(i, j, now, x, s_now, was, y, s_was)``: the cells both runs scored, on the current positions and columns."""
    if not common:
        return now_cells.limit(0).select(
            "i", "j", F.col("value").alias("now"), F.col("v").alias("x"), F.col("standing").alias("s_now"),
            F.col("value").alias("was"), F.col("v").alias("y"), F.col("standing").alias("s_was"),
        )
    column = F.create_map(*[x for j, p in common.items() for x in (F.lit(p), F.lit(j))])
    moved = before.subjects.select(F.col("position").alias("_i"), "subject_id").join(
        now.subjects.select(F.col("position").alias("i"), "subject_id"), "subject_id"
    )
    previous = prev_standings.where(F.col("j").isin(list(common.values()))).select(
        F.col("i").alias("_i"), column[F.col("j")].cast("int").alias("j"), F.col("value").alias("was"),
        F.col("v").alias("y"), F.col("standing").alias("s_was"),
    ).join(moved, "_i").drop("_i", "subject_id")
    current = now_cells.select(
        "i", "j", F.col("value").alias("now"), F.col("v").alias("x"), F.col("standing").alias("s_now"),
    )
    return current.join(previous, ["i", "j"])


def _index_shifts(
    now: RunFrames, before: RunFrames, pairs: DataFrame, prev_groups: DataFrame, common: dict[int, int]
) -> tuple[IndexShift, ...]:
    change = F.col("now") - F.col("was")
    kinds: list[Column] = [
        change, F.col("was"), F.col("was") + change,  # as numpy: the previous score plus the change
        F.when(F.col("was") != 0.0, change / F.abs(F.col("was")) * 100.0),
    ]
    stacked = pairs.select("j", F.posexplode(F.array(*kinds)).alias("kind", "m")).where(F.col("m").isNotNull())
    keyed = stacked.select((F.col("j") * len(kinds) + F.col("kind")).alias("j"), "m")
    found = exact_medians(keyed, "m")
    sums = {j: r for (j, _), r in rank_figures(pairs.select(F.col("j").alias("a"), F.col("j").alias("b"), "x", "y"))
            .items()}  # one pair (j, j) per index
    everyone = {int(r["j"]): float(r["m"]) for r in medians(prev_groups, "v", "m").collect()}
    now_versions, prev_versions = versions_of(now.readings, now.specs), versions_of(before.readings, before.specs)
    nan = float("nan")
    out = []
    for j, spec in enumerate(now.specs):
        p = common.get(j)
        if p is None:  # a new index: nothing to compare with
            out.append(IndexShift(spec.name, 0, nan, nan, nan, now_versions[j], now_versions[j], False))
            continue
        figures = {name: found.get(j * len(kinds) + kind, nan) for kind, name in enumerate(_MEDIANS)}
        r = sums.get(j)
        n = r["n"] if r is not None else 0
        rho = spearman_from_sums(n, r["x_cubes"], r["y_cubes"], r["products"]) if r is not None else nan
        # the previous run's median in raw units whichever way the index runs (its values are oriented)
        previous_median = everyone.get(p, nan) * (1.0 if spec.higher_is_better else -1.0)
        out.append(finish_index_shift(spec, now_versions[j], prev_versions[p], n=n, rank_corr=rho,
                                      previous_median=previous_median, **figures))
    return tuple(out)


def _per_subject(now_rows: DataFrame, prev_consensus: DataFrame, pairs: DataFrame, k: int) -> DataFrame:
    """position, raw_change, standing_change, consensus_change, movement, new: per subject of the current run."""
    packed = pairs.groupBy("i").agg(
        F.map_from_entries(F.collect_list(F.struct("j", F.col("now") - F.col("was")))).alias("_raw"),
        F.map_from_entries(F.collect_list(F.struct("j", F.col("s_now") - F.col("s_was")))).alias("_standing"),
    ).withColumnRenamed("i", "position")
    joined = now_rows.select("position", "subject_id", "consensus").join(prev_consensus, "subject_id", "left") \
        .join(packed, "position", "left")
    standing_change = F.array(*[F.col("_standing")[j] for j in range(k)])
    return joined.select(
        "position", F.array(*[F.col("_raw")[j] for j in range(k)]).alias("raw_change"),
        standing_change.alias("standing_change"),
        (F.col("consensus") - F.col("_before")).alias("consensus_change"),
        # by index, not by consensus: an index gained or lost moves the consensus, not the subject
        rows.median(standing_change).alias("movement"), F.col("_known").isNull().alias("new"),
    )
