"""A run's readings as cells, their standings, and each subject's row of them: what every run needs.

The comparison reads one run this way, and the shifts the previous run too (``shifts``): a
cell is one reading, ``(i, j, value, v)`` with ``i`` the subject's position, ``j`` the index's
column and ``v`` the value oriented higher-is-better.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.spark.normalize import groups_of, mid_percentile, normalize
from aggregator.models import IndexSpec


def cells_of(subjects: DataFrame, readings: DataFrame, specs: Sequence[IndexSpec], *carried: str) -> DataFrame:
    """``(i, j, value, v)``: the readings of the run's subjects and indices, ``v`` oriented higher-is-better
    (and the readings' ``carried`` columns)."""
    columns = {spec.name: j for j, spec in enumerate(specs)}
    column = F.create_map(*[x for name, j in columns.items() for x in (F.lit(name), F.lit(j))])
    signs = [1.0 if spec.higher_is_better else -1.0 for spec in specs]
    flip = F.create_map(*[x for j, sign in enumerate(signs) for x in (F.lit(j), F.lit(sign))])
    known = readings.where(F.col("index").isin(list(columns))).select(
        F.col("subject_id"), column[F.col("index")].cast("int").alias("j"), F.col("value").cast("double"), *carried,
    )
    positioned = known.join(subjects.select(F.col("position").alias("i"), "subject_id"), "subject_id")
    return positioned.select("i", "j", "value", (F.col("value") * flip[F.col("j")]).alias("v"), *carried)


def standings(cells: DataFrame, specs: Sequence[IndexSpec], method: str) -> DataFrame:
    """``(i, j, value, v, standing, norm)``: each cell's percentile standing and its ``method`` normalization.

    ``cells``: :func:`~aggregator.analytics.spark.normalize.ranked` (each knows its tie group).
    """
    standing = cells.withColumn("standing", mid_percentile(cells))
    if method == "percentile":  # the standing itself
        return standing.select("i", "j", "value", "v", "standing", F.col("standing").alias("norm"))
    return normalize(standing, groups_of(cells), specs, method).select("i", "j", "value", "v", "standing", "norm")


def by_subject(subjects: DataFrame, cells: DataFrame, columns: Sequence[str], k: int) -> DataFrame:
    """One row per subject of the run, each of ``columns`` as an array in index order (null = missing).

    A column per (index, column), a hash aggregation of plain doubles (a subject has one cell of each
    index, or none), rather than a list of structs a subject (an object aggregation).
    """
    packed = cells.groupBy("i").agg(*[
        F.max(F.when(F.col("j") == j, F.col(name).cast("double"))).alias(f"_{name}_{j}")
        for name in columns for j in range(k)
    ])
    wide = subjects.select(F.col("position").alias("i"), "subject_id").join(packed, "i", "left")
    return wide.select("i", "subject_id", *[
        F.array(*[F.col(f"_{name}_{j}") for j in range(k)]).alias(name) for name in columns
    ])
