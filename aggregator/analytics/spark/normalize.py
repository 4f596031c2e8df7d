"""Every normalizer of :mod:`aggregator.analytics.normalize`, on a long table of cells.

A cell is one reading: ``i`` (the subject's position), ``j`` (the index's column), ``value``
(raw) and ``v`` (oriented: negated where lower is better). Each column is ranked once: each cell
gets its tie group's size ``t`` and the number of cells ``below`` it (:func:`ranked`, a pass of
Arrow calls over buckets of each column's values), and the tie groups are one cell of each
(:func:`groups_of`: one row per distinct ``(j, v)``); percentiles, medians, the quantile map and
the Spearman ranks all read those (:func:`tie_groups` ranks other keys: a distributed running
sum). The arithmetic follows the numpy code step by step, in the same order, so the numbers
agree to the last bits or nearly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention
from pyspark.sql.types import BooleanType, LongType, StructField, StructType

from aggregator.analytics.normalize import MAD_TO_SD, MEAN_AD_TO_SD, reference_index
from aggregator.analytics.spark import _grid
from aggregator.analytics.spark._kept import kept
from aggregator.analytics.spark._running import running
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec

if TYPE_CHECKING:
    import pyarrow as pa

KNOWN = ("percentile", "range", "robust_z", "quantile_map")


#: A column's cells one Arrow call ranks at most (about: the buckets are cut at approximate quantiles).
RANK_BUCKET_ROWS = 1_000_000


def ranked(cells: DataFrame, *, bucket_rows: int = RANK_BUCKET_ROWS) -> DataFrame:
    """``cells`` with each cell's tie group in its column: its size ``t``, the cells ``below`` it, the
    column's ``count``, and ``first`` (true on one cell of each group): what joining ``cells`` with
    :func:`tie_groups` on ``(j, v)`` gives, with no join, no window and no sort by Spark.

    Each column's cells are cut into buckets of their values (equal values share one); one Arrow
    call sorts and counts a bucket's cells; a bucket's first place is the cells in the buckets
    before it (a count per bucket, on the driver). A column of ``bucket_rows`` cells or fewer is one bucket.
    Returned persisted and computed (the caller unpersists it, or an enclosing ``_kept.released`` does):
    ``cells`` are read three times here.
    """
    import pyarrow as pa

    owned = not cells.is_cached
    cells = kept(cells)  # counted, counted by bucket, then ranked
    counted = cells.groupBy("j").count().collect()  # one row per index
    count = {int(r["j"]): int(r["count"]) for r in counted}
    largest = max(count.values(), default=0)
    size = max(1, -(-largest // bucket_rows))
    bucketed = _grid.cut(cells, size, {"bucket": "v"}, largest, by=["j"])
    totals = {j: np.zeros(size, dtype=np.int64) for j in count}
    for r in bucketed.groupBy("j", "bucket").count().collect():  # at most size rows per index
        totals[int(r["j"])][int(r["bucket"])] = int(r["count"])
    starts = {j: _grid.offsets(t) for j, t in totals.items()}

    def task(table: pa.Table) -> pa.Table:
        j = table.column("j")[0].as_py()
        v = np.asarray(table.column("v").to_numpy(), dtype=np.float64)
        order = np.argsort(v, kind="stable")
        first, sizes = _grid.runs(v[order])
        t, below, lead = np.empty(v.size, dtype=np.int64), np.empty(v.size, dtype=np.int64), np.empty_like(first)
        t[order] = np.repeat(sizes, sizes)
        below[order] = starts[j][table.column("bucket")[0].as_py()] + np.repeat(np.flatnonzero(first), sizes)
        lead[order] = first
        found = {"t": t, "below": below, "count": np.full(v.size, count[j], dtype=np.int64), "first": lead}
        kept = table.drop_columns(["bucket"])
        for name, values in found.items():
            kept = kept.append_column(name, pa.array(values))
        return kept

    added = [StructField(name, LongType(), False) for name in ("t", "below", "count")]
    schema = StructType([*cells.schema.fields, *added, StructField("first", BooleanType(), False)])
    spread = len(count) * size, sum(count.values())
    found = kept(_grid.per_bucket(bucketed, "bucket", spread, task, schema, by=["j"]))
    found.count()  # computed now, so that the cells it was ranked from can go
    if owned:
        cells.unpersist()
    return found


def groups_of(cells: DataFrame) -> DataFrame:
    """The tie groups of :func:`ranked` ``cells``: ``(j, v, t, below, count)``, one row per distinct ``(j, v)``."""
    return cells.where(F.col("first")).select("j", "v", "t", "below", "count")


def tie_groups(cells: DataFrame, key: str = "v") -> DataFrame:
    """One row per distinct ``(j, key)``: its size ``t``, the cells ``below`` it and the column's ``count``."""
    groups = cells.groupBy("j", key).agg(F.count(F.lit(1)).alias("t"))
    groups = running(groups, ["j"], [key], "t", "below")
    counts = groups.groupBy("j").agg(F.sum("t").alias("count"))
    return groups.join(F.broadcast(counts), "j")  # a row per index: the groups stay where they are


def mid_percentile(groups: DataFrame) -> Column:
    """``(mid-rank - 0.5) / count * 100`` as numpy computes it (mid-rank = end - t/2 + 1/2)."""
    mid = (F.col("below") + F.col("t")).cast("double") - F.col("t") * 0.5 + 0.5
    return (mid - 0.5) / F.col("count") * 100.0


def normalize(cells: DataFrame, groups: DataFrame, specs: Sequence[IndexSpec], method: str) -> DataFrame:
    """``cells`` with ``norm``: the ``method`` normalization (``quantile_map:REF`` names the reference)."""
    name, _, reference = method.partition(":")
    if name == "percentile" and not reference:
        return cells.join(groups.select("j", "v", mid_percentile(groups).alias("norm")), ["j", "v"])
    if name == "range" and not reference:
        return _range(cells, specs)
    if name == "robust_z" and not reference:
        return _robust_z(cells, groups)
    if name == "quantile_map":
        return _quantile_map(cells, groups, specs, reference or None)
    known = ", ".join(KNOWN)
    raise ConfigError(f"unknown normalizer {method!r}; known: {known} (and quantile_map:INDEX)")


def _per_column(pick: dict[int, Column], default: Column) -> Column:
    out = default
    for j, column in pick.items():
        out = F.when(F.col("j") == j, column).otherwise(out)
    return out


def _bounded(value: Column, spec: IndexSpec) -> Column:
    """``_range_column`` of a bounded index: its documented scale to 0-100, flipped, clipped."""
    lo, hi = spec.scale.lo, spec.scale.hi
    assert lo is not None
    assert hi is not None
    scaled = (value - lo) / (hi - lo) * 100.0
    if not spec.higher_is_better:
        scaled = 100.0 - scaled
    return F.least(F.greatest(scaled, F.lit(0.0)), F.lit(100.0))


def _range(cells: DataFrame, specs: Sequence[IndexSpec]) -> DataFrame:
    """``range``: a bounded index on its documented scale; an unbounded one by log1p of its cohort's spread."""
    ends = cells.groupBy("j").agg(F.min("v").alias("_lowest"), F.max("v").alias("_top"))
    lowest, top = F.col("_lowest"), F.col("_top")
    unbounded = F.when(top == lowest, F.lit(50.0)).otherwise(
        F.log1p(F.col("v") - lowest) * (F.lit(100.0) / F.log1p(top - lowest))
    )
    bounded = {j: _bounded(F.col("value"), spec) for j, spec in enumerate(specs) if spec.scale.bounded}
    joined = cells.join(F.broadcast(ends), "j")
    return joined.withColumn("norm", _per_column(bounded, unbounded)).drop("_lowest", "_top")


def medians(groups: DataFrame, key: str, out: str) -> DataFrame:
    """Each column's median of ``key`` (one row per ``j``), from its tie groups: the values at
    places ``(count - 1) // 2`` and ``count // 2``, averaged."""
    def at(place: str) -> Column:
        where = F.expr(place)
        return F.max(F.when((F.col("below") <= where) & (where < F.col("below") + F.col("t")), F.col(key)))

    return groups.groupBy("j").agg(((at("(count - 1) div 2") + at("count div 2")) / 2.0).alias(out))


def _robust_z(cells: DataFrame, groups: DataFrame) -> DataFrame:
    """``robust_z``: the normal CDF of (v - median) / (1.4826 MAD), or 1.2533 mean absolute deviation."""
    centre = medians(groups, "v", "_median")
    deviations = (
        groups.join(F.broadcast(centre), "j").withColumn("d", F.abs(F.col("v") - F.col("_median")))
        .groupBy("j", "d").agg(F.sum("t").alias("t"))
    )
    ranked = running(deviations, ["j"], ["d"], "t", "below")
    ranked = ranked.join(F.broadcast(ranked.groupBy("j").agg(F.sum("t").alias("count"))), "j")
    mad = medians(ranked, "d", "_mad")
    mean = ranked.groupBy("j").agg((F.sum(F.col("d") * F.col("t")) / F.sum("t")).alias("_mean"))
    scales = mad.join(mean, "j").select(
        "j", F.when(F.col("_mad") * MAD_TO_SD == 0.0, F.col("_mean") * MEAN_AD_TO_SD)
        .otherwise(F.col("_mad") * MAD_TO_SD).alias("_scale"),
    )
    joined = cells.join(F.broadcast(centre), "j").join(F.broadcast(scales), "j")
    # a null divisor where the scale is 0: Spark evaluates a UDF's input before the ``when`` that guards it
    z = (F.col("v") - F.col("_median")) / F.when(F.col("_scale") != 0.0, F.col("_scale"))
    norm = F.when(F.col("_scale") == 0.0, F.lit(50.0)).otherwise(_normal_cdf()(z) * 100.0)
    return joined.withColumn("norm", norm).drop("_median", "_scale")


def _normal_cdf() -> Callable[[Column], Column]:
    """scipy's ``ndtr`` on Arrow batches (Spark SQL has no normal CDF); a batch at a time, never a column."""
    import pyarrow as pa
    from pyspark.sql.pandas.functions import arrow_udf

    def ndtr(x: pa.Array) -> pa.Array:
        import numpy as np
        from scipy.special import ndtr

        return pa.array(ndtr(np.asarray(x.to_numpy(zero_copy_only=False), dtype=np.float64)))

    # pyspark reads the kind of UDF off real annotations, which ``from __future__`` turns into strings
    ndtr.__annotations__ = {"x": pa.Array, "return": pa.Array}
    make: Any = arrow_udf  # its stubs have no overload for the annotated form
    udf: Callable[[Column], Column] = make(ndtr, "double")
    return udf


def _quantile_map(
    cells: DataFrame, groups: DataFrame, specs: Sequence[IndexSpec], reference: str | None
) -> DataFrame:
    """``quantile_map``: each cell's mid-rank percentile read off the reference's distribution, linearly
    between the reference's own mid-rank points (as ``np.interp``), in the reference's ``range`` units."""
    counts: dict[int, int] = dict(groups.groupBy("j").agg(F.first("count")).collect())  # one number per index
    ref = reference_index(specs, [int(counts.get(j, 0)) for j in range(len(specs))], reference)
    point = (F.col("below") + F.col("t")).cast("double") - F.col("t") * 0.5 + 0.5
    point = (point - 0.5) / F.col("count")
    queries = groups.select("j", "v", point.alias("p"))
    if not counts.get(ref):
        return cells.join(queries, ["j", "v"]).withColumn("norm", F.col("p") * 100.0).drop("p")
    spec = specs[ref]
    ref_groups = groups.where(F.col("j") == ref)
    if spec.scale.bounded:
        sign = 1.0 if spec.higher_is_better else -1.0
        units = ref_groups.withColumn("fp", _bounded(F.col("v") * sign, spec))
    else:  # _log_range of the oriented values
        ends = ref_groups.agg(F.min("v").alias("_lo"), F.log1p(F.max("v") - F.min("v")).alias("_top"))
        logged = F.log1p(F.col("v") - F.col("_lo"))
        units = ref_groups.crossJoin(ends).withColumn(
            "fp", F.when(F.col("_top") == 0.0, F.lit(50.0)).otherwise(logged / F.col("_top") * 100.0)
        )
    refs = running(units.select("v", point.alias("xp"), "fp").withColumn("_one", F.lit(1)), [], ["v"], "_one", "r")
    refs = refs.select("r", "xp", "fp")
    marks = refs.select(F.col("xp").alias("p"), F.lit(0).alias("_kind"), "r").unionByName(
        queries.select("p", F.lit(1).alias("_kind"), F.lit(None).cast("long").alias("r"))
    )
    prev = running(marks, [], ["p", "_kind"], "r", "_prev", how="max").where(F.col("_kind") == 1)
    prev = prev.select("p", F.coalesce("_prev", F.lit(0)).alias("_at"), F.col("_prev").isNull().alias("_left"))
    lo = refs.select(F.col("r").alias("_at"), F.col("xp").alias("_x0"), F.col("fp").alias("_f0"))
    hi = refs.select((F.col("r") - 1).alias("_at"), F.col("xp").alias("_x1"), F.col("fp").alias("_f1"))
    bracket = prev.dropDuplicates(["p"]).join(lo, "_at").join(hi, "_at", "left")
    slope = (F.col("_f1") - F.col("_f0")) / (F.col("_x1") - F.col("_x0"))
    mapped = (
        F.when(F.col("_left") | F.col("_x1").isNull() | (F.col("_x0") == F.col("p")), F.col("_f0"))
        .otherwise(slope * (F.col("p") - F.col("_x0")) + F.col("_f0"))
    )
    values = bracket.select("p", mapped.alias("norm"))
    return cells.join(queries, ["j", "v"]).join(values, "p").drop("p")
