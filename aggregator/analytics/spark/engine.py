"""The comparison on Spark: readings in, per-subject figures (a DataFrame) and the agreement out.

:func:`compare_frames` takes what an exported run holds, as DataFrames (``subjects``:
position, subject_id; ``readings``: index, subject_id, value) plus the index specs, and
computes what :func:`aggregator.analytics.compare.compare_table` computes for the normalization,
the consensus and the agreement. Per-subject results stay a DataFrame (written where the caller
says); only per-index and per-pair figures reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.agreement import Agreement, Robustness
from aggregator.analytics.compare import DEFAULT_DISAGREEMENT_THRESHOLD, IndexHealth
from aggregator.analytics.consensus import consensus_of
from aggregator.analytics.spark import agreement as agree
from aggregator.analytics.spark import rows
from aggregator.analytics.spark.disputes import unusual_threshold
from aggregator.analytics.spark.health import index_health
from aggregator.analytics.spark.normalize import mid_percentile, normalize, tie_groups
from aggregator.analytics.spark.robustness import robustness, without_each
from aggregator.models import IndexSpec


@dataclass(frozen=True, eq=False)
class SparkComparison:
    """What the Spark engine computed: per-subject figures, and the summary the driver holds."""

    #: position, subject_id, normalized (array, index order), standing, n_indices, consensus,
    #: consensus_iqr, spread, dissenter, dissent_gap, flagged; one row per subject of the run
    subjects: DataFrame
    specs: tuple[IndexSpec, ...]
    method: str
    consensus_method: str
    threshold: float
    agreement: Agreement
    #: readings that counted, per index (what the numpy engine's health calls "scored")
    scored: tuple[int, ...]
    robustness: Robustness
    #: per index: readings, failures by kind, retries, example messages (failures only when given)
    health: tuple[IndexHealth, ...]
    #: "fixed" (the threshold given) or "unusual" (read off this roster: ``analytics/disputes.py``)
    threshold_rule: str = "fixed"
    #: other normalizations asked for with ``also=``: each a column ``also_<n>`` of ``subjects``, in this order
    also: tuple[str, ...] = ()


def cells_of(subjects: DataFrame, readings: DataFrame, specs: Sequence[IndexSpec]) -> DataFrame:
    """``(i, j, value, v)``: the readings of the run's subjects and indices, ``v`` oriented higher-is-better."""
    columns = {spec.name: j for j, spec in enumerate(specs)}
    column = F.create_map(*[x for name, j in columns.items() for x in (F.lit(name), F.lit(j))])
    signs = [1.0 if spec.higher_is_better else -1.0 for spec in specs]
    flip = F.create_map(*[x for j, sign in enumerate(signs) for x in (F.lit(j), F.lit(sign))])
    known = readings.where(F.col("index").isin(list(columns))).select(
        F.col("subject_id"), column[F.col("index")].cast("int").alias("j"), F.col("value").cast("double"),
    )
    positioned = known.join(subjects.select(F.col("position").alias("i"), "subject_id"), "subject_id")
    return positioned.select("i", "j", "value", (F.col("value") * flip[F.col("j")]).alias("v"))


def _by_subject(subjects: DataFrame, cells: DataFrame, columns: Sequence[str], k: int) -> DataFrame:
    """One row per subject of the run, each of ``columns`` as an array in index order (null = missing)."""
    packed = cells.groupBy("i").agg(
        *[F.map_from_entries(F.collect_list(F.struct("j", name))).alias(name) for name in columns]
    )
    wide = subjects.select(F.col("position").alias("i"), "subject_id").join(packed, "i", "left")
    return wide.select("i", "subject_id", *[
        F.array(*[F.col(name)[j].cast("double") for j in range(k)]).alias(name) for name in columns
    ])


def compare_frames(
    subjects: DataFrame, readings: DataFrame, specs: Sequence[IndexSpec], *, method: str = "percentile",
    consensus: str = "median", threshold: float | None = DEFAULT_DISAGREEMENT_THRESHOLD, also: Sequence[str] = (),
    failures: DataFrame | None = None,
) -> SparkComparison:
    """Normalize, aggregate and measure agreement and robustness, distributed (see the package docstring).

    ``threshold`` None: the roster's own unusual spread (``analytics/disputes.py``); ``failures``
    (the export's) gives each index's health its failure breakdown.
    """
    consensus_of(consensus)  # an unknown method fails before any work
    k = len(specs)
    names = [s.name for s in specs]
    cells = cells_of(subjects, readings, specs).persist()
    groups = tie_groups(cells).persist()
    standing = cells.join(groups.select("j", "v", mid_percentile(groups).alias("standing")), ["j", "v"])
    if method == "percentile":  # the standing itself: no second join of every cell with the groups
        both = standing.select("i", "j", "standing", F.col("standing").alias("norm"))
    else:
        normalized = normalize(cells, groups, specs, method).select("i", "j", "norm")
        both = standing.select("i", "j", "standing").join(normalized, ["i", "j"])
    extra = [f"also_{n}" for n in range(len(also))]
    for name, other in zip(extra, also, strict=True):
        both = both.join(normalize(cells, groups, specs, other).select("i", "j", F.col("norm").alias(name)), ["i", "j"])
    wide = _by_subject(subjects, both, ["norm", "standing", *extra], k).persist()  # alphas, then the caller's write
    # each row sorted once, in a column of its own: every figure below reads it
    ranked = F.col("ranked")
    row = rows.figures(F.col("norm"), k, ranked)
    agreed: Column = rows.consensus(consensus, F.col("norm"), F.col("standing"), ranked)
    figures = wide.withColumn("ranked", rows.present(F.col("norm"))).select(
        F.col("i").alias("position"), "subject_id", F.col("norm").alias("normalized"), "standing",
        row["n_indices"].alias("n_indices"), agreed.alias("consensus"), row["consensus_iqr"].alias("consensus_iqr"),
        row["spread"].alias("spread"), row["dissenter"].cast("long").alias("dissenter"),
        row["dissent_gap"].alias("dissent_gap"), *extra,
        F.array(*without_each(consensus, F.col("norm"), F.col("standing"), k, ranked)).alias("without"),
    )
    # materialized once (on the executors) and cut from its lineage: the threshold, the robustness
    # and the caller each build on it, and re-analysing its long plan for each of their joins
    # costs more than the work
    figures = figures.localCheckpoint()
    asked = figures.count()
    rule = "fixed" if threshold is not None else "unusual"
    if threshold is None:
        threshold = unusual_threshold(figures, DEFAULT_DISAGREEMENT_THRESHOLD)
    robust = robustness(figures, names, asked)
    per_subject = figures.drop("without").withColumn("flagged", F.coalesce(F.col("spread"), F.lit(0.0)) > threshold)
    sizes = groups.groupBy("j").agg(F.first("count").alias("count"), F.count(F.lit(1)).alias("distinct"))
    per_index = {r["j"]: (int(r["count"]), int(r["distinct"])) for r in sizes.collect()}  # one row per index
    counts = [per_index.get(j, (0, 0))[0] for j in range(k)]
    distinct = [per_index.get(j, (0, 0))[1] for j in range(k)]
    alpha = agree.alphas(wide.select(F.col("standing").alias("s")), k)
    matrix = agree.agreement(names, counts, distinct, agree.pair_figures(cells), alpha)
    health = (index_health(failures, names, counts, asked) if failures is not None
              else tuple(IndexHealth(index=name, scored=counts[j], asked=asked) for j, name in enumerate(names)))
    return SparkComparison(per_subject, tuple(specs), method, consensus, threshold, matrix, tuple(counts), robust,
                           health, rule, tuple(also))
