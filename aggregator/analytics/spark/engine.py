"""The comparison on Spark: readings in, per-subject figures (a DataFrame) and the agreement out.

:func:`compare_frames` takes what an exported run holds, as DataFrames (``subjects``:
position, subject_id; ``readings``: index, subject_id, value) plus the index specs, and
computes what :func:`aggregator.analytics.compare.compare_table` computes for the normalization,
the consensus and the agreement. Per-subject results stay a DataFrame (written where the caller
says); only per-index and per-pair figures reach the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics._arrays import IntArray
from aggregator.analytics.agreement import Agreement, Robustness
from aggregator.analytics.compare import DEFAULT_DISAGREEMENT_THRESHOLD, IndexHealth
from aggregator.analytics.consensus import consensus_of
from aggregator.analytics.inversions import DEFAULT_TOP_INVERSIONS, Inversion
from aggregator.analytics.shifts import MOVER_THRESHOLD
from aggregator.analytics.spark import agreement as agree
from aggregator.analytics.spark import rows
from aggregator.analytics.spark._kept import released
from aggregator.analytics.spark.cells import by_subject, cells_of, standings
from aggregator.analytics.spark.disputes import unusual_threshold
from aggregator.analytics.spark.health import index_health
from aggregator.analytics.spark.inversions import inversions
from aggregator.analytics.spark.normalize import groups_of, normalize, ranked
from aggregator.analytics.spark.robustness import robustness
from aggregator.analytics.spark.shifts import RunFrames, SparkShifts, shifts
from aggregator.analytics.spark.topics import SparkTopics, topics
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
    #: changes since the previous run (``previous=``); their columns are in ``subjects``
    shifts: SparkShifts | None = None
    #: topic overlap and lone claims, when the readings have topics and some index gave one
    topics: SparkTopics | None = None
    #: the strongest inversions, numpy's list (rows: subject positions); their count per pair of indices
    inversions: tuple[Inversion, ...] = ()
    inversion_counts: IntArray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))


@released()  # what it persists goes when it returns: the frames it returns are checkpointed, not persisted
def compare_frames(
    subjects: DataFrame, readings: DataFrame, specs: Sequence[IndexSpec], *, method: str = "percentile",
    consensus: str = "median", threshold: float | None = DEFAULT_DISAGREEMENT_THRESHOLD, also: Sequence[str] = (),
    failures: DataFrame | None = None, top: int = DEFAULT_TOP_INVERSIONS, previous: RunFrames | None = None,
    mover_threshold: float = MOVER_THRESHOLD,
) -> SparkComparison:
    """Normalize, aggregate and measure agreement and robustness, distributed (see the package docstring).

    ``threshold`` None: the roster's own unusual spread (``analytics/disputes.py``); ``failures``
    (the export's) gives each index's health its failure breakdown; ``top`` inversions are listed;
    ``previous`` adds the shifts since that run (``analytics/spark/shifts.py``); readings with a
    ``topics`` column add the topics.
    """
    consensus_of(consensus)  # an unknown method fails before any work
    k = len(specs)
    names = [s.name for s in specs]
    cells = ranked(cells_of(subjects, readings, specs))
    groups = groups_of(cells)
    both = standings(cells, specs, method)
    extra = [f"also_{n}" for n in range(len(also))]
    for name, other in zip(extra, also, strict=True):
        both = both.join(normalize(cells, groups, specs, other).select("i", "j", F.col("norm").alias(name)), ["i", "j"])
    # materialized with a short plan: the figures and the alphas each analyse what they build on it
    wide = by_subject(subjects, both, ["norm", "standing", *extra], k).localCheckpoint()
    # materialized once (on the executors) and cut from its lineage: the threshold, the robustness
    # and the caller each build on it
    figures = rows.subject_figures(wide, consensus, k, extra).localCheckpoint()
    asked = figures.count()
    rule = "fixed" if threshold is not None else "unusual"
    if threshold is None:
        threshold = unusual_threshold(figures, DEFAULT_DISAGREEMENT_THRESHOLD)
    robust = robustness(figures, names, asked)
    per_subject = figures.drop("without").withColumn("flagged", F.coalesce(F.col("spread"), F.lit(0.0)) > threshold)
    changes = None if previous is None else shifts(RunFrames(subjects, readings, tuple(specs)), both, figures, previous,
                                                   method=method, consensus=consensus, mover_threshold=mover_threshold)
    topic = topics(subjects, cells_of(subjects, readings, specs, "topics")) if "topics" in readings.columns else None
    for more in (changes, topic):
        per_subject = per_subject.join(more.subjects, "position", "left") if more else per_subject
    sizes = groups.groupBy("j").agg(F.first("count").alias("count"), F.count(F.lit(1)).alias("distinct"))
    per_index = {r["j"]: (int(r["count"]), int(r["distinct"])) for r in sizes.collect()}  # one row per index
    counts = [per_index.get(j, (0, 0))[0] for j in range(k)]
    distinct = [per_index.get(j, (0, 0))[1] for j in range(k)]
    alpha = agree.alphas(wide.select(F.col("standing").alias("s")), k)
    # each pair of indices' shared subjects, made from a row per subject (no join): Kendall's and Spearman's
    # on the standings (the percentile of each cell's value within its index: its value's order and ties
    # exactly, which is all the ranks read), the inversions on the normalized scores. Under the percentile
    # method these are the standings: the inversion count's passes give the rank figures too.
    by_position = figures.withColumnRenamed("position", "i")
    found = inversions(by_position, k, threshold, top, ranks=method == "percentile")
    ranks = found.ranks if found.ranks is not None else agree.rank_figures(agree.pair_rows(by_position, k, "standing"))
    matrix = agree.agreement(names, counts, distinct, ranks, alpha)
    health = (index_health(failures, names, counts, asked) if failures is not None
              else tuple(IndexHealth(index=name, scored=counts[j], asked=asked) for j, name in enumerate(names)))
    return SparkComparison(per_subject, tuple(specs), method, consensus, threshold, matrix, tuple(counts), robust,
                           health, rule, tuple(also), changes, topic, found.strongest, found.counts)
