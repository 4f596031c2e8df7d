"""The agreement matrix on Spark: Kendall's tau-b and Spearman's rho exact, Krippendorff's alpha.

Every pair of indices is taken at once: a self-join of the cells on the subject gives one row
``(a, b, x, y)`` per subject both indices scored (x, y the oriented values). Every count is a
distributed aggregate of those rows; only the per-pair totals (a few numbers per pair) reach
the driver, which finishes each statistic with the numpy engine's own formulas.

**Kendall's tau-b** needs n, the pairs tied in x, in y and in both (group counts) and the
discordant pairs D (x_i < x_j, y_i > y_j, strictly). D is counted exactly, merge-sort style:

- each pair's rows are cut by x into ``2^levels`` buckets (approximate quantiles; equal x
  always share a bucket, so every pair of rows in different buckets has x strictly ordered by
  bucket number). ``levels`` grows with the pairs' row count (:func:`kendall_levels`) so that a
  bucket holds about ``BUCKET_ROWS`` rows at most; a run that small is one bucket per pair;
- inside a bucket, D is counted by scipy's Fenwick-tree counter in one Arrow task per bucket
  (``applyInArrow``): O(m log m) for a bucket of m rows, never a whole column;
- across buckets, a pair of rows is counted at the highest bit where their bucket numbers
  differ: at level L, rows in the left half (bit L = 0) and right half of each block of
  ``2^(L+1)`` buckets. For each right-half row, the left-half rows of its block with a larger
  y are a running sum over y, descending (:func:`~aggregator.analytics.spark._running.running`).
  One running sum covers every level and every pair: O(n log buckets) rows.

**Spearman's rho** ranks within the shared rows (pairwise-complete, ties at mid-rank): a
running sum over each pair's distinct x (and y) gives the doubled, centred mid-ranks, whole
numbers; rho is their cross product over the square root of the tie-corrected sums of squares.

**Krippendorff's alpha** (interval, on percentile standings): per subject, the count, sum and
sum of squares of its centred standings, with and without each index; the sums over subjects
give alpha and alpha without each index (``agreement._alpha_from_sums``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics._arrays import FloatArray
from aggregator.analytics.agreement import (
    MIN_INDICES_FOR_OUTLIER,
    Agreement,
    _alpha_from_sums,
    _fisher_ci,
)
from aggregator.analytics.spark._running import running

#: Rows of one pair that one bucket (one Arrow task) should hold at most. A task holds its rows
#: about three times over (Arrow, the sort, the tie groups: ~100 bytes a row, ~100 MB at 1M), well
#: inside a Python worker's share of an executor, and counts 1M rows in a fraction of a second, so
#: scheduling it costs little beside the work. Fewer, larger buckets also mean fewer merge levels:
#: the across-bucket running sum handles rows x levels.
BUCKET_ROWS = 1_000_000


def kendall_levels(rows: int, bucket_rows: int = BUCKET_ROWS) -> int:
    """The merge levels for a pair of ``rows`` shared rows: 2**levels buckets of at most ~``bucket_rows`` rows.

    Buckets are cut at approximate quantiles, so they are near even unless one value is very common
    (a tie group never splits). 0 levels: one bucket, counted whole.
    """
    levels = 0
    while rows > bucket_rows << levels:
        levels += 1
    return levels


def shared_rows(cells: DataFrame) -> DataFrame:
    """``(a, b, i, x, y)``: one row per subject scored by both index ``a`` and index ``b`` (a < b)."""
    left = cells.select(F.col("i"), F.col("j").alias("a"), F.col("v").alias("x"))
    right = cells.select(F.col("i"), F.col("j").alias("b"), F.col("v").alias("y"))
    return left.join(right, "i").where(F.col("a") < F.col("b"))


def _tie_sums(rows: DataFrame, keys: Sequence[str], prefix: str) -> DataFrame:
    """Per pair: Σ t(t-1)/2 and Σ (t³ - t) over the groups of equal ``keys``."""
    t = F.col("t").cast("double")
    return rows.groupBy("a", "b", *keys).agg(F.count(F.lit(1)).alias("t")).groupBy("a", "b").agg(
        F.sum(F.col("t") * (F.col("t") - 1) / 2).cast("long").alias(f"{prefix}_pairs"),
        F.sum(t * t * t - t).alias(f"{prefix}_cubes"),
    )


def _doubled_ranks(rows: DataFrame, key: str, n: DataFrame) -> DataFrame:
    """``(a, b, key, d)``: 2 * mid-rank - (n + 1) of each distinct ``key`` within its pair's shared rows."""
    groups = rows.groupBy("a", "b", key).agg(F.count(F.lit(1)).alias("t"))
    ranked = running(groups, ["a", "b"], [key], "t", "below").join(n, ["a", "b"])
    return ranked.select("a", "b", key, (2 * F.col("below") + F.col("t") - F.col("n")).cast("double").alias(f"d{key}"))


def spearman_sums(rows: DataFrame, n: DataFrame) -> DataFrame:
    """Per pair ``(a, b)`` of ``rows`` (a, b, x, y): ``n`` (given, per pair), the tie sums of x and of y,
    and ``products``, the cross product of the doubled centred mid-ranks: what :func:`spearman_from_sums` takes."""
    dx, dy = _doubled_ranks(rows, "x", n), _doubled_ranks(rows, "y", n)
    products = (
        rows.join(dx, ["a", "b", "x"]).join(dy, ["a", "b", "y"])
        .groupBy("a", "b").agg(F.sum(F.col("dx") * F.col("dy")).alias("products"))
    )
    return n.join(_tie_sums(rows, ["x"], "x"), ["a", "b"]).join(_tie_sums(rows, ["y"], "y"), ["a", "b"]) \
        .join(products, ["a", "b"])


def _discordant_within_buckets(rows: DataFrame) -> DataFrame:
    """Per pair, D among rows of the same x bucket: one Arrow task per (pair, bucket)."""
    import pyarrow as pa

    def count(table: pa.Table) -> pa.Table:
        import numpy as np

        from aggregator.analytics._arrays import discordance_counter, rank_column

        x = np.asarray(table.column("x").to_numpy(), dtype=np.float64)
        y = np.asarray(table.column("y").to_numpy(), dtype=np.float64)
        order = np.lexsort((y, x))
        xg = rank_column(x).groups[order].astype(np.intp)
        yg = rank_column(y).groups[order].astype(np.intp)
        counter = discordance_counter()
        if counter is None:  # pragma: no cover - a scipy that moved its kernel
            raise RuntimeError("scipy.stats._stats._kendall_dis is missing")
        found = int(counter(np.ascontiguousarray(xg), np.ascontiguousarray(yg))) if len(x) > 1 else 0
        return pa.table({"a": table.column("a").slice(0, 1), "b": table.column("b").slice(0, 1),
                         "discordant": pa.array([found], pa.int64())})

    return (
        rows.groupBy("a", "b", "bucket").applyInArrow(count, "a int, b int, discordant long")
        .groupBy("a", "b").agg(F.sum("discordant").alias("local"))
    )


def _discordant_across_buckets(rows: DataFrame, levels: int) -> DataFrame:
    """Per pair, D among rows of different x buckets, every level of the merge at once."""
    ones = rows.select("a", "b", "bucket", (-F.col("y")).alias("down"), F.lit(1).alias("one"))
    return across_buckets(ones, levels, ["down"], left="one", right="one")


def across_buckets(rows: DataFrame, levels: int, order: Sequence[str], *, left: str, right: str) -> DataFrame:
    """``(a, b, across)``: per pair, the (l, r) with l's bucket left of r's, l before r in ``order`` (strictly).

    Each such couple is counted once, at the highest bit where the buckets differ: at that level l is in
    the left half of a block of ``2^(level+1)`` buckets and r in the right half. A couple weighs
    ``left`` of l times ``right`` of r (columns of ``rows``, with ``a``, ``b``, ``bucket`` and the
    ``order`` columns, the first numeric). One running sum covers every level and every pair.
    """
    by_value = rows.groupBy("a", "b", "bucket", *order).agg(F.sum(left).alias("_l"), F.sum(right).alias("_r"))
    level = F.explode(F.sequence(F.lit(0), F.lit(levels - 1))).alias("level")
    spread = by_value.select("a", "b", "bucket", *order, "_l", "_r", level)
    half = F.expr("shiftright(bucket, level) & 1")
    merged = spread.groupBy("a", "b", "level", F.expr("shiftright(bucket, level + 1)").alias("block"), *order).agg(
        F.sum(F.when(half == 0, F.col("_l")).otherwise(0)).alias("_left"),
        F.sum(F.when(half == 1, F.col("_r")).otherwise(0)).alias("_right"),
    )
    before = running(merged, ["a", "b", "level", "block"], order, "_left", "_before")
    return before.groupBy("a", "b").agg(F.sum(F.col("_right") * F.col("_before")).alias("across"))


def buckets(rows: DataFrame, levels: int, column: str = "x") -> DataFrame:
    """``rows`` with ``bucket``: the range of ``column`` the row is in within its pair, 0 .. 2**levels - 1.

    Cut at approximate quantiles: equal values always share a bucket, so rows in different buckets
    are strictly ordered by bucket number.
    """
    size = 2 ** levels
    cuts = rows.groupBy("a", "b").agg(
        F.percentile_approx(column, [i / size for i in range(1, size)], 1000).alias("_cuts")
    )
    return rows.join(cuts, ["a", "b"]).withColumn(
        "bucket", F.size(F.filter("_cuts", lambda c: c < F.col(column)))
    ).drop("_cuts")


def pair_figures(cells: DataFrame, *, levels: int | None = None) -> dict[tuple[int, int], dict[str, Any]]:
    """Per pair ``(a, b)``: n, the tie counts, D and Spearman's cross product (driver-sized).

    ``levels``: Kendall's rows are cut into ``2**levels`` buckets of x; by default
    :func:`kendall_levels` of the largest pair.
    """
    rows = shared_rows(cells).persist()  # every count below reads these rows
    n = rows.groupBy("a", "b").agg(F.count(F.lit(1)).alias("n")).persist()
    if levels is None:
        largest = n.agg(F.max("n")).first()
        levels = kendall_levels(int(largest[0] or 0) if largest else 0)
    figures = spearman_sums(rows, n).join(_tie_sums(rows, ["x", "y"], "xy"), ["a", "b"])
    persisted = [rows, n]
    if levels:
        bucketed = buckets(rows, levels).persist()  # read by both counts
        persisted.append(bucketed)
        figures = figures.join(_discordant_within_buckets(bucketed), ["a", "b"]).join(
            _discordant_across_buckets(bucketed, levels), ["a", "b"], "left")
    else:  # one bucket a pair: all of D is counted inside it
        figures = figures.join(_discordant_within_buckets(rows.withColumn("bucket", F.lit(0))), ["a", "b"]) \
            .withColumn("across", F.lit(0).cast("long"))
    found = {(r["a"], r["b"]): r.asDict() for r in figures.collect()}  # one row per pair of indices
    for frame in persisted:
        frame.unpersist()
    return found


def kendall_from_counts(n: int, x_ties: int, y_ties: int, both_ties: int, discordant: int) -> float:
    """tau-b as ``_arrays.kendall_tau_b`` finishes it, from the counts."""
    total = n * (n - 1) // 2
    if n < 2 or x_ties == total or y_ties == total:
        return float("nan")
    concordant_minus_discordant = total - x_ties - y_ties + both_ties - 2 * discordant
    tau = concordant_minus_discordant / np.sqrt(float(total - x_ties)) / np.sqrt(float(total - y_ties))
    return float(np.clip(tau, -1.0, 1.0))


def spearman_from_sums(n: int, x_cubes: float, y_cubes: float, products: float) -> float:
    """rho as ``_arrays.spearman`` finishes it, from the cross product of the doubled centred ranks."""
    if n < 2:
        return float("nan")
    squares = (float(n) ** 3 - n - x_cubes) * (float(n) ** 3 - n - y_cubes) / 9.0
    if squares == 0.0:
        return float("nan")
    return max(-1.0, min(1.0, products / float(np.sqrt(squares))))


def alphas(standing: DataFrame, k: int) -> FloatArray:
    """Alpha of all columns, then alpha without each column: ``standing`` has one array column ``s`` per row."""
    cells = standing.select(F.explode("s").alias("x")).where(F.col("x").isNotNull())
    centre = cells.agg(F.avg("x").alias("centre"))
    rows = standing.crossJoin(centre).select(
        F.transform("s", lambda x: x - F.col("centre")).alias("x")
    )
    sums = []
    for leave in [None, *range(k)]:
        kept = [F.col("x")[j] for j in range(k) if j != leave]
        m = sum((F.when(c.isNotNull(), 1).otherwise(0) for c in kept), F.lit(0))
        s1 = sum((F.coalesce(c, F.lit(0.0)) for c in kept), F.lit(0.0))
        s2 = sum((F.coalesce(c * c, F.lit(0.0)) for c in kept), F.lit(0.0))
        pairs = m >= 2
        sums += [
            F.sum(F.when(pairs, m).otherwise(0)).cast("double"),
            F.sum(F.when(pairs, (m * s2 - s1 * s1) / (m - 1)).otherwise(0.0)),
            F.sum(F.when(pairs, s1).otherwise(0.0)),
            F.sum(F.when(pairs, s2).otherwise(0.0)),
        ]
    totals = rows.agg(*sums).first()
    assert totals is not None
    values = [float(v or 0.0) for v in totals]
    return np.array([_alpha_from_sums(*values[4 * t: 4 * t + 4]) for t in range(k + 1)])


def agreement(
    names: Sequence[str], counts: Sequence[int], distinct: Sequence[int],
    pairs: dict[tuple[int, int], dict[str, Any]], alpha: FloatArray,
) -> Agreement:
    """The :class:`Agreement` the numpy engine builds, from the per-pair figures."""
    k = len(names)
    kendall = np.full((k, k), np.nan)
    rho = np.full((k, k), np.nan)
    n = np.zeros((k, k), dtype=np.int64)
    for i in range(k):
        n[i, i] = counts[i]
        if distinct[i] > 1:
            kendall[i, i] = rho[i, i] = 1.0
    for (a, b), f in pairs.items():
        n[a, b] = n[b, a] = f["n"]
        kendall[a, b] = kendall[b, a] = kendall_from_counts(
            f["n"], f["x_pairs"], f["y_pairs"], f["xy_pairs"], int(f["local"]) + int(f["across"] or 0)
        )
        rho[a, b] = rho[b, a] = spearman_from_sums(f["n"], f["x_cubes"], f["y_cubes"], f["products"])
    off = kendall.copy()
    np.fill_diagonal(off, np.nan)
    mean_kendall = np.array([row[~np.isnan(row)].mean() if np.any(~np.isnan(row)) else np.nan for row in off])
    outlier = -1
    if k >= MIN_INDICES_FOR_OUTLIER and not np.all(np.isnan(mean_kendall)):
        outlier = int(np.nanargmin(mean_kendall))
    return Agreement(
        indices=tuple(names), kendall=kendall, kendall_ci=_fisher_ci(kendall, n, 4, lambda r: np.full_like(r, 0.437)),
        spearman=rho, spearman_ci=_fisher_ci(rho, n, 3, lambda r: 1.0 + r * r / 2.0), n=n,
        alpha=float(alpha[0]), alpha_without=alpha[1:], mean_kendall=mean_kendall, outlier=outlier,
    )
