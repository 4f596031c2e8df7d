"""Running totals over a sorted order, computed distributed: the one primitive every rank needs.

``running(df, group, order, value)`` gives each row the sum (or max) of ``value`` over the rows
of its group that come strictly before it in ``order``. A window over a whole group would sort
the group in one task; instead each group is cut into ``buckets`` ranges of its first order
column (approximate quantiles: the cut only has to be the same for equal values, not even), and

1. each row gets the running total within its (group, bucket): a window per bucket, distributed;
2. each (group, bucket) gets the total of the buckets before it: a window over the small table
   of bucket totals (groups × buckets rows);
3. the two are added (a join with the small table, which Spark broadcasts).

Equal values of the first order column always fall in the same bucket (the bucket is a function
of the value), so "strictly before" holds across buckets; rows with equal full order keys must
not both carry a value that counts (callers aggregate to one row per key first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.spark._grid import count_below
from aggregator.analytics.spark._kept import kept

#: Buckets per group: enough that no one task sorts a large share of a group.
DEFAULT_BUCKETS = 32
#: percentile_approx accuracy for the bucket cuts (only their evenness depends on it)
_ACCURACY = 1000


def running(
    df: DataFrame, group: Sequence[str], order: Sequence[str], value: str, out: str, *,
    how: Literal["sum", "max"] = "sum", buckets: int = DEFAULT_BUCKETS,
) -> DataFrame:
    """``df`` with ``out``: ``how`` of ``value`` over the rows of the same ``group`` strictly before, by ``order``.

    The first ``order`` column must be numeric. An empty prefix gives 0 for a sum and null for a max.
    """
    first = order[0]
    cuts = df.groupBy(*group).agg(
        F.percentile_approx(F.col(first), [i / buckets for i in range(1, buckets)], _ACCURACY).alias("_cuts")
    )
    # the cuts and the bucket offsets are a row per group (bucket): broadcast, so the rows stay where they are
    bucketed = df.join(F.broadcast(cuts), list(group), "left") if group else df.crossJoin(F.broadcast(cuts))
    # read twice below: the rows, and the bucket totals
    bucketed = kept(count_below(bucketed, {"_bucket": ("_cuts", first)}, buckets - 1).drop("_cuts"))
    combine = F.sum if how == "sum" else F.max
    before = Window.partitionBy(*group, "_bucket").orderBy(*order).rowsBetween(Window.unboundedPreceding, -1)
    local = bucketed.withColumn("_local", combine(value).over(before))
    totals = bucketed.groupBy(*group, "_bucket").agg(combine(value).alias("_total"))
    earlier = Window.partitionBy(*group).orderBy("_bucket").rowsBetween(Window.unboundedPreceding, -1)
    offsets = totals.withColumn("_offset", combine("_total").over(earlier)).drop("_total")
    joined = local.join(F.broadcast(offsets), [*group, "_bucket"], "left")
    result: Column
    if how == "sum":
        result = F.coalesce(F.col("_offset"), F.lit(0)) + F.coalesce(F.col("_local"), F.lit(0))
    else:
        result = F.greatest(F.col("_offset"), F.col("_local"))  # greatest skips nulls
    return joined.withColumn(out, result).drop("_local", "_offset", "_bucket")
