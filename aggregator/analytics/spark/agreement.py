"""The agreement matrix on Spark: Kendall's tau-b and Spearman's rho exact, Krippendorff's alpha.

Every pair of indices is taken at once, on one row ``(a, b, x, y)`` per subject both indices scored,
made from the row per subject with no join (:func:`pair_rows`; x, y the subject's percentile
standings, which keep each index's order and ties of the oriented values exactly: all the ranks
read). Every count is a distributed aggregate of those rows;
only the per-pair totals (a few numbers per pair) reach the driver, which finishes each statistic
with the numpy engine's own formulas.

**Kendall's tau-b and Spearman's rho** need n, the pairs tied in x, in y and in both, the
discordant pairs D (x_i < x_j, y_i > y_j, strictly) and the cross product of the doubled, centred
mid-ranks (whole numbers). Each pair's rows are cut into a grid: ``2^levels`` buckets of x and as
many of y (:mod:`~aggregator.analytics.spark._grid`; ``levels`` grows with the pair's rows so that
a bucket holds about ``BUCKET_ROWS`` at most, :func:`kendall_levels`; a run that small is one
bucket). The grid's cell counts (driver-sized) give each bucket's first rank, and the rest is two
passes of one Arrow call per bucket (:func:`_grid.per_bucket`, O(m log m) for m rows, never a whole column):

- per x bucket: D inside it (the compiled Fenwick-tree counter), the x and (x, y) tie sums, and each
  row's x rank;
- per y bucket: D between its rows of different x buckets (the counter over the x bucket
  number), the y tie sums, each row's y rank and the cross product;
- D between rows of different x and different y buckets comes from the grid's counts alone.

Under the percentile method (the default) the standings are the normalized scores, and the
inversion count's own two passes give these figures (``inversions.count_with_ranks``, with
:func:`x_figures` and :func:`y_figures`); these passes serve the other methods, the robustness
and the shifts.

**Krippendorff's alpha** (interval, on percentile standings): per subject, the count, sum and
sum of squares of its centred standings, with and without each index; the sums over subjects
give alpha and alpha without each index (``agreement._alpha_from_sums``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics._arrays import FloatArray, IntArray
from aggregator.analytics.agreement import (
    MIN_INDICES_FOR_OUTLIER,
    Agreement,
    _alpha_from_sums,
    _fisher_ci,
)
from aggregator.analytics.arrow_lists import rows_of_lists
from aggregator.analytics.spark import _grid
from aggregator.analytics.spark._kept import kept

#: Rows of one pair that one bucket (one Arrow task) should hold at most. A task holds its rows
#: about three times over (Arrow, the sort, the tie groups: ~100 bytes a row, ~100 MB at 1M), well
#: inside a Python worker's share of an executor, and counts 1M rows in a fraction of a second, so
#: scheduling it costs little beside the work.
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


def pair_rows(wide: DataFrame, k: int, values: str,
              more: Mapping[str, Callable[[FloatArray, FloatArray], FloatArray]] | None = None) -> DataFrame:
    """``(a, b, i, x, y)``: a row per subject and pair of indices a < b it has both of (x, y its values of
    a and b). ``wide`` holds ``i`` and the array column ``values`` (``k`` long, index order; null or NaN:
    not scored). ``more``: further
    columns (doubles), each a function of a pair's x and y arrays, computed in the same pass.

    Each Arrow batch of subjects gives its rows for every pair of indices where it is: no join, so no
    shuffle of every cell twice to bring a subject's cells together (a row per subject has them).
    """
    import pyarrow as pa

    added = dict(more or {})
    names = ["a", "b", "i", "x", "y", *added]

    def rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            scored = rows_of_lists(batch.column(values), k)
            present, subject = ~np.isnan(scored), batch.column("i").to_numpy()
            for a, b in combinations(range(k), 2):
                kept = np.flatnonzero(present[:, a] & present[:, b])
                if kept.size:
                    x, y = scored[kept, a], scored[kept, b]
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(np.full(kept.size, a, np.int32)), pa.array(np.full(kept.size, b, np.int32)),
                         pa.array(subject[kept]), pa.array(x), pa.array(y),
                         *[pa.array(column(x, y)) for column in added.values()]], names=names)

    schema = ", ".join(["a int", "b int", "i long", "x double", "y double", *[f"{name} double" for name in added]])
    return wide.select("i", values).mapInArrow(rows, schema)


def rank_figures(rows: DataFrame, *, levels: int | None = None) -> dict[tuple[int, int], dict[str, Any]]:
    """Per pair ``(a, b)`` of ``rows`` (a, b, x, y): n, the tie sums (``x_pairs``, ``y_pairs``, ``xy_pairs``,
    ``x_cubes``, ``y_cubes``), D (``local`` + ``across``) and Spearman's cross product (``products``):
    what :func:`kendall_from_counts` and :func:`spearman_from_sums` take. Driver-sized.

    ``levels``: each pair's rows are cut into ``2**levels`` buckets of x and as many of y; by
    default :func:`kendall_levels` of the largest pair.
    """
    rows = kept(rows.select("a", "b", "x", "y"))  # counted, then cut
    sizes = _grid.pair_sizes(rows)
    if levels is None:
        levels = kendall_levels(max(sizes.values(), default=0))
    size = 2**levels
    # counted on the grid, then in both passes
    bucketed = kept(_grid.cut(rows, size, {"xb": "x", "yb": "y"}, max(sizes.values(), default=0)))
    if size > 1:
        grid = _grid.grids(bucketed, "xb", "yb", size, {"rows": F.lit(1)})["rows"]
    else:  # one cell a pair: its count is the pair's (no job for it)
        grid = {pair: np.array([[count]], dtype=object) for pair, count in sizes.items()}
    spread = len(sizes) * size, sum(sizes.values())  # each pass's (pair, bucket) groups and rows
    by_x = _by_x(bucketed, size, {pair: (_grid.offsets(g.sum(axis=1)), sizes[pair]) for pair, g in grid.items()},
                 spread)
    totals = _by_y(by_x, size, {pair: (_grid.offsets(g.sum(axis=0)), sizes[pair]) for pair, g in grid.items()},
                   spread)
    found = {}
    for r in totals.collect():  # one row per pair
        pair = _grid.pair_of(int(r["cell"]), size)
        figures = r.asDict()
        del figures["cell"]
        figures.update(n=sizes[pair], across=int(r["across_y"]) + _grid.cross_couples(grid[pair], grid[pair]))
        found[pair] = figures
    for frame in (rows, bucketed):
        frame.unpersist()
    return found


def _by_x(bucketed: DataFrame, size: int, places: dict[tuple[int, int], tuple[IntArray, int]],
          spread: tuple[int, int]) -> DataFrame:
    """One Arrow task per (pair, x bucket): D inside the bucket, the x and (x, y) tie sums, and each row's
    doubled centred x rank ``dx`` (its bucket's first place from ``places``: per pair, the offsets and n).

    In and out, a row's pair and bucket are one number (:func:`_grid.cell`; ``size`` buckets). Out: the
    rows with ``dx``, their cell by y; the bucket's totals ride on its first row (0 on the others), so
    that they reach the y pass without a pass of their own.
    """
    import pyarrow as pa

    def task(table: pa.Table) -> pa.Table:
        number = table.column("cell")[0].as_py()
        at = number % size
        starts, n = places[_grid.pair_of(number, size)]
        x = np.asarray(table.column("x").to_numpy(), dtype=np.float64)
        y = np.asarray(table.column("y").to_numpy(), dtype=np.float64)
        ax, riding = x_figures(x, y)
        dx = ax + (2 * int(starts[at]) - n)
        return pa.table({
            "cell": number - at + np.asarray(table.column("yb").to_numpy(), dtype=np.int64),
            "xb": np.full(x.size, at, dtype=np.int32), "y": y, "dx": dx,
            **{name: _on_first(x.size, value) for name, value in riding.items()},
        })

    schema = "cell long, xb int, y double, dx double, local long, x_pairs long, x_cubes double, xy_pairs long"
    by_x = bucketed.select(_grid.cell("xb", size), "yb", "x", "y")
    return _grid.per_bucket(by_x, "cell", spread, task, schema, by=())


def _by_y(by_x: DataFrame, size: int, places: dict[tuple[int, int], tuple[IntArray, int]], spread: tuple[int, int]
          ) -> DataFrame:
    """One Arrow task per (pair, y bucket): D between rows of different x buckets in it, the y tie sums, each
    row's ``dy`` and Σ dx·dy; the x pass's totals summed. Then per pair (``cell``: its bucket 0's number):
    one row of every figure. ``spread``: the (pair, bucket) groups and the rows (:func:`_grid.by_bucket`)."""
    import pyarrow as pa

    def task(table: pa.Table) -> pa.Table:
        import pyarrow.compute as pc

        number = table.column("cell")[0].as_py()
        at = number % size
        starts, n = places[_grid.pair_of(number, size)]
        xb = np.asarray(table.column("xb").to_numpy(), dtype=np.intp)
        y = np.asarray(table.column("y").to_numpy(), dtype=np.float64)
        dx = np.asarray(table.column("dx").to_numpy(), dtype=np.float64)
        ay, figures = y_figures(xb, y)
        figures["products"] = float(np.dot(dx, ay + (2 * int(starts[at]) - n)))
        summed = {name: [pc.sum(table.column(name)).as_py() or 0] for name in ("local", "x_pairs", "xy_pairs")}
        return pa.table({
            "cell": [number - at], **summed,
            "x_cubes": [pc.sum(table.column("x_cubes")).as_py() or 0.0],
            **{name: [value] for name, value in figures.items()},
        }, schema=pa.schema([("cell", pa.int64()), ("local", pa.int64()), ("x_pairs", pa.int64()),
                             ("xy_pairs", pa.int64()), ("x_cubes", pa.float64()), ("across_y", pa.int64()),
                             ("y_pairs", pa.int64()), ("y_cubes", pa.float64()), ("products", pa.float64())]))

    schema = ("cell long, local long, x_pairs long, xy_pairs long, x_cubes double, across_y long, y_pairs long, "
              "y_cubes double, products double")
    summed = ["local", "x_pairs", "xy_pairs", "x_cubes", "across_y", "y_pairs", "y_cubes", "products"]
    per_bucket = _grid.per_bucket(by_x, "cell", spread, task, schema, by=())
    return per_bucket.groupBy("cell").agg(*[F.sum(name).alias(name) for name in summed])


def x_figures(x: FloatArray, y: FloatArray) -> tuple[FloatArray, dict[str, int | float]]:
    """Of one x bucket's rows: each row's doubled x mid-rank in the bucket (its tie group's first place,
    doubled, plus the group's size: a row's ``dx`` is this plus its bucket's first place in the pair, doubled,
    less the pair's n), in the rows' order; and the bucket's D inside it (``local``) and x and (x, y) tie sums."""
    order = np.lexsort((y, x))  # x ascending, equal (x, y) next to each other
    x, y = x[order], y[order]
    x_first, x_sizes = _grid.runs(x)
    _, xy_sizes = _grid.runs(x, y)
    ax = np.empty(x.size, dtype=np.float64)
    ax[order] = 2 * np.repeat(np.flatnonzero(x_first), x_sizes) + np.repeat(x_sizes, x_sizes)
    t = x_sizes.astype(np.float64)
    return ax, {"local": discordant(np.cumsum(x_first, dtype=np.intp), _groups(y)),
                "x_pairs": int((x_sizes * (x_sizes - 1) // 2).sum()), "x_cubes": float((t * t * t - t).sum()),
                "xy_pairs": int((xy_sizes * (xy_sizes - 1) // 2).sum())}


def y_figures(xb: IntArray, y: FloatArray) -> tuple[FloatArray, dict[str, int | float]]:
    """Of one y bucket's rows (``xb``: each row's x bucket): each row's doubled y mid-rank in the bucket (as
    :func:`x_figures`), D between its rows of different x buckets (``across_y``) and the y tie sums."""
    order = np.argsort(y)
    y_first, y_sizes = _grid.runs(y[order])
    ay = np.empty(y.size, dtype=np.float64)
    ay[order] = 2 * np.repeat(np.flatnonzero(y_first), y_sizes) + np.repeat(y_sizes, y_sizes)
    by_bucket = np.argsort(xb, kind="stable")
    groups = np.empty(y.size, dtype=np.intp)
    groups[order] = np.cumsum(y_first, dtype=np.intp)
    t = y_sizes.astype(np.float64)
    return ay, {"across_y": discordant(xb[by_bucket], groups[by_bucket]),
                "y_pairs": int((y_sizes * (y_sizes - 1) // 2).sum()), "y_cubes": float((t * t * t - t).sum())}


def discordant(x: IntArray, y: IntArray) -> int:
    """The couples i < j with ``y[i] > y[j]`` and ``x[i] < x[j]`` (``x`` ascending; ``y`` tie groups from 1):
    the numpy engine's compiled Fenwick-tree counter, O(n log n)."""
    from aggregator.analytics._kernels import discordant as counter  # numba: only in the tasks that count

    return int(counter(np.ascontiguousarray(x, dtype=np.intp), np.ascontiguousarray(y, dtype=np.intp)))


def _groups(values: FloatArray) -> IntArray:
    """Each value's tie group, 1 .. distinct, in value order (the counter's y)."""
    order = np.argsort(values)
    first, _ = _grid.runs(values[order])
    groups = np.empty(values.size, dtype=np.intp)
    groups[order] = np.cumsum(first, dtype=np.intp)
    return groups


def _on_first(rows: int, value: float) -> IntArray | FloatArray:
    """A column of ``rows`` zeros but ``value`` on its first row (whole numbers stay whole)."""
    column = np.zeros(rows, dtype=np.float64 if isinstance(value, float) else np.int64)
    column[:1] = value
    return column


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
