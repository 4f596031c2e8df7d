"""Exact medians on Spark without ranking every value: approximate quantiles bracket the middle.

numpy's median of n values is the mean of the values at places ``(n - 1) // 2`` and ``n // 2`` of
the sorted column. Spark's ``percentile_approx`` at accuracy A returns a value whose place is
within n / A of the one asked for, so the values between its quantiles ``0.5 ± 4 / A`` hold both
middle places: one more pass counts the values below that bracket and brings the bracket's
distinct values (with their counts, at most about 8n / A of them) to the driver, which walks to
the two places. Two jobs over the column instead of ranking it (a running sum over its tie groups:
a dozen stages), and no sort of it. When the bracket misses (a column with NaN, which Spark
orders above every number, or one too small for the guarantee to mean a place), the median
is taken from the ranked tie groups as before (:func:`~aggregator.analytics.spark.normalize.medians`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.spark.normalize import medians, tie_groups

#: percentile_approx's accuracy for the bracket: the bracket's distinct values number ~8n / this
ACCURACY = 100_000
_HALF_WIDTH = 4.0 / ACCURACY


def exact_medians(values: DataFrame, key: str) -> dict[int, float]:
    """Per column ``j`` of ``values``, numpy's median of its non-null ``key`` (NaN ordered last, as Spark does)."""
    value = F.col(key)
    first = values.where(value.isNotNull()).groupBy("j").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.isnan(value).cast("long")).alias("nan"),
        F.percentile_approx(F.when(~F.isnan(value), value), [0.5 - _HALF_WIDTH, 0.5 + _HALF_WIDTH], ACCURACY)
        .alias("bracket"),
    ).collect()  # one row per column
    sizes = {int(r["j"]): int(r["n"]) for r in first}
    brackets = {int(r["j"]): (float(r["bracket"][0]), float(r["bracket"][1])) for r in first if r["nan"] == 0}
    found: dict[int, float] = {}
    if brackets:
        found = _from_brackets(values.where(F.col("j").isin(list(brackets))), key, sizes, brackets)
    missed = [j for j in sizes if j not in found]
    if missed:  # NaN in the column, or a bracket that missed a middle place: rank the column's tie groups
        ranked = tie_groups(values.where(F.col("j").isin(missed) & value.isNotNull()), key)
        found.update({int(r["j"]): float(r["m"]) for r in medians(ranked, key, "m").collect()})
    return found


def _from_brackets(values: DataFrame, key: str, sizes: dict[int, int], brackets: dict[int, tuple[float, float]]
                   ) -> dict[int, float]:
    """The medians whose two middle places fall in their column's bracket (the others are left out)."""

    def per_column(side: int) -> Column:  # a literal per column (a handful)
        return F.create_map(*[c for j, ends in brackets.items() for c in (F.lit(j), F.lit(ends[side]))])[F.col("j")]

    value, low, high = F.col(key), per_column(0), per_column(1)
    inside = (value >= low) & (value <= high)
    side = F.when(value < low, -1).when(inside, 0).otherwise(1)
    below: dict[int, int] = {}
    held: dict[int, list[tuple[float, int]]] = {j: [] for j in brackets}
    # the values below the bracket (one row a column), above it (one), and the bracket's distinct values
    for r in values.where(value.isNotNull()).groupBy("j", side.alias("side"), F.when(inside, value).alias("v")) \
            .count().collect():
        if r["side"] == -1:
            below[int(r["j"])] = int(r["count"])
        elif r["side"] == 0:
            held[int(r["j"])].append((float(r["v"]), int(r["count"])))
    found = {}
    for j, counted in held.items():
        n, start = sizes[j], below.get(j, 0)
        lower, upper = (_at(sorted(counted), place - start) for place in ((n - 1) // 2, n // 2))
        if lower is not None and upper is not None:
            found[j] = (lower + upper) / 2.0
    return found


def _at(counted: list[tuple[float, int]], place: int) -> float | None:
    """The value at ``place`` of the sorted (value, count) runs; None outside them."""
    if place < 0:
        return None
    seen = 0
    for value, count in counted:
        seen += count
        if place < seen:
            return value
    return None
