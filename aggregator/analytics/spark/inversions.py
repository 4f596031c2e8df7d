"""Pairwise inversions on Spark: the strongest K and every index pair's exact count.

The rule is :mod:`aggregator.analytics.inversions`'s: index x puts subject a above b and index y
puts b above a, both by at least a gap t (``u``, ``v`` the two normalized columns, the gaps
subtracted in floating point as numpy does). Every index pair is taken at once, on the rows
``(a, b, i, x, y)`` of the subjects both indices scored (``agreement.pair_rows``).

**The count** is a 2-D dominance count. ``u[a] - u[b] ≥ t`` holds for the b whose u is at most
a bound ``U[a]``, and ``v[b] - v[a] ≥ t`` for those whose v is at least ``V[a]``: the subtraction
rounds monotonically, so each bound is one float: a step or two from ``u[a] - t`` (``v[a] + t``),
else found by bisection on the floats' order (:func:`bound_below`, :func:`bound_above`, Arrow
batches). Every row is then a *point* ``(u, v)`` and a *query*
``(U, V)``, and the count is the (point, query) couples with the point's u ≤ the query's and its
v ≥ the query's. As Kendall's discordant pairs (``agreement``), each pair's events are cut into a
grid (:mod:`~aggregator.analytics.spark._grid`: buckets of u, where a point and a query of equal u
share one, and of v): inside a u bucket, one Arrow task counts its couples with a compiled sweep
(:func:`dominance_pairs`); between u buckets within a v bucket, the same with the u bucket for u;
between both, the grid's counts (summed by the v pass: nothing is persisted). The same passes give
Kendall's and Spearman's figures of the rows (:func:`count_with_ranks`). O(n log n), exact, one row
per subject and index pair.

**The top K** bounds, then lists. A seed (the subjects whose ``u - v`` is among the ~``_SEED``
largest or smallest of each index pair, cut at approximate quantiles) is scored on the driver;
the K-th strongest of its distinct subject pairs, ``T``, bounds the answer's K-th from below
(or ``min_gap`` when the seed holds fewer than K). When the corners below would couple more than
:data:`JOIN_BUDGET` rows (their number grows with the square of the roster under a bound from a
fixed seed), a larger seed from the corners themselves (their ``_CORNER_SEED`` most extreme rows
a side) raises ``T`` first. Every pair at least ``T`` strong has its upper
subject in the pair's corner ``u ≥ lo_u + T``, ``v ≤ hi_v - T`` and its lower one in the mirror,
and ``w = u - v`` at least ``2T`` apart; the corners so trimmed (kept: the larger seed and the join
read them, not every row again) are joined per index pair, each
subject pair keeps its strongest index pair (ties by index pair), and Spark's ordered limit
returns the K first by numpy's ``_rank_key``. Only the seeds (a few hundred rows per index pair,
and at most ``2 * _CORNER_SEED`` more) and the K reach the driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics._arrays import BoolArray, FloatArray, IntArray
from aggregator.analytics.inversions import (
    _SEED,
    _SMALLEST,
    DEFAULT_TOP_INVERSIONS,
    Inversion,
    _best_pairs,
    _distinct_best,
    _floor,
    _loosen,
    _rank_key,
)
from aggregator.analytics.spark import _grid, agreement
from aggregator.analytics.spark._grid import Pair
from aggregator.analytics.spark._kept import kept
from aggregator.analytics.spark.agreement import _on_first, kendall_levels

#: Accuracy of the seed's quantile cuts (only the seed's size depends on it).
_SEED_ACCURACY = 10_000

_MAGNITUDE = np.int64(0x7FFF_FFFF_FFFF_FFFF)
_SIGN = np.int64(-(2**63))


class InversionFigures(NamedTuple):
    """What :func:`inversions` found."""

    #: numpy's ``top_inversions`` list
    strongest: tuple[Inversion, ...]
    #: numpy's ``count_inversions`` matrix
    counts: IntArray
    #: with ``ranks``: Kendall's and Spearman's figures of each index pair (``agreement.rank_figures``'s)
    ranks: dict[Pair, dict[str, Any]] | None = None


def inversions(
    wide: DataFrame, k: int, min_gap: float, top: int = DEFAULT_TOP_INVERSIONS, *, values: str = "normalized",
    levels: int | None = None, ranks: bool = False,
) -> InversionFigures:
    """numpy's ``top_inversions(normalized, top, min_gap)`` and ``count_inversions(normalized, min_gap)``.

    ``wide``: a row per subject, ``i`` (its position) and the array column ``values`` (its normalized
    scores, ``k`` long, index order; null or NaN: not scored). ``levels``: the count's merge levels (by
    default from the most rows an index pair has, as Kendall's). ``ranks``: Kendall's and Spearman's
    figures of ``values`` too, from the count's own passes (:func:`count_with_ranks`).
    """
    # both the count and the top read them; the count's bounds are made with them, in the same pass
    rows = kept(agreement.pair_rows(wide, k, values, gap_bounds(min_gap)))
    sizes = _grid.pair_sizes(rows)
    largest = max(sizes.values(), default=0)
    counts, ranked = count_with_ranks(rows, k, min_gap, sizes=sizes, ranks=ranks,
                                      levels=kendall_levels(2 * largest) if levels is None else levels)
    strongest = top_inversions(rows, largest, top, min_gap)
    rows.unpersist()
    return InversionFigures(strongest, counts, ranked if ranks else None)


# -- the count -------------------------------------------------------------------------------------


def count_inversions(rows: DataFrame, k: int, min_gap: float, *, levels: int = 0,
                     sizes: dict[Pair, int] | None = None) -> IntArray:
    """``counts[x, y]``: subject pairs indices x and y order oppositely by at least ``min_gap`` (> 0 always).

    ``rows``: ``agreement.pair_rows`` with :func:`gap_bounds` of ``min_gap`` (``qx``, ``qy``); ``sizes``:
    each index pair's rows, when known. :func:`count_with_ranks`'s count.
    """
    return count_with_ranks(rows, k, min_gap, levels=levels, sizes=sizes, ranks=False)[0]


def _events(rows: DataFrame, size: int, largest: int) -> DataFrame:
    """Each row as a point ``(key, val) = (x, y)`` (``kind`` 0) and a query ``(qx, qy)`` (1), in ``size`` buckets
    of key (``kb``) and of val (``vb``): a point and a query of equal key share a key bucket, of equal val
    a val bucket. ``largest``: the most rows a pair has (the cuts are read from a sample)."""
    kind = {_POINT: F.lit(_POINT).cast("byte"), _QUERY: F.lit(_QUERY).cast("byte")}  # a byte: every event moves it
    events = rows.select("a", "b", F.col("x").alias("key"), F.col("y").alias("val"), kind[_POINT].alias("kind")) \
        .unionByName(rows.select("a", "b", F.col("qx").alias("key"), F.col("qy").alias("val"),
                                 kind[_QUERY].alias("kind")))
    return _grid.cut(events, size, {"kb": "key", "vb": "val"}, 2 * largest)


#: An event's kind: a row's point, its query; between the two passes, a key bucket's totals follow its
#: events (kind 2, 3, ...: the :data:`_CARRIED` figures, each in ``ax``)
_POINT, _QUERY = 0, 1
_CARRIED = ("inversions", "local", "x_pairs", "xy_pairs", "x_cubes")
#: A value bucket's figures, on its first row out of the value pass
_TOTALS = (*_CARRIED, "across_y", "y_pairs", "y_cubes")
#: Its sums per key bucket, a row each: the points and queries (the grid) and Spearman's moments
_MOMENTS = ("points", "queries", "ax", "ay", "axay")
_FRACTIONAL = {"x_cubes", "y_cubes", "ax", "ay", "axay"}


def count_with_ranks(rows: DataFrame, k: int, min_gap: float, *, levels: int, sizes: dict[Pair, int] | None = None,
                     ranks: bool = True) -> tuple[IntArray, dict[Pair, dict[str, Any]]]:
    """:func:`count_inversions`'s count, and Kendall's and Spearman's figures of the rows' x and y
    (:func:`agreement.rank_figures`'s) from the same two passes: the count's points are the rows.

    Kendall's buckets are the count's (its cuts keep ties of x and of y together, all either count
    needs). The key pass counts each bucket's couples, its points' x ties and discordant couples
    (:func:`agreement.x_figures`), and hands every event on to the value pass keyed by its value
    bucket, a point with its x rank in its bucket (``ax``); the bucket's totals follow as rows of
    their own. The value pass counts its couples across key buckets and its points' y figures
    (:func:`agreement.y_figures`), and sums its points and queries per key bucket: the grid, whose
    counts give each bucket's first place, so that Spearman's cross product is put together on the
    driver from sums per grid cell. Nothing is persisted: each pass reads its rows once. ``ranks``
    False: the count alone (the rank figures come out zero; the tasks do not sort for them).
    """
    import pyarrow as pa

    sizes = _grid.pair_sizes(rows) if sizes is None else sizes
    size = 2**levels
    events = _events(rows, size, max(sizes.values(), default=0))
    fields = [("cell", "long"), ("xb", "int"),
              *[(name, "double" if name in _FRACTIONAL else "long") for name in (*_TOTALS, *_MOMENTS)]]
    out_schema = pa.schema([(name, {"long": pa.int64(), "int": pa.int32(), "double": pa.float64()}[kind])
                            for name, kind in fields])

    def by_key(table: pa.Table) -> pa.Table:
        number = table.column("cell")[0].as_py()
        at = number % size
        kind = np.asarray(table.column("kind").to_numpy())
        key, val = (np.asarray(table.column(name).to_numpy(), dtype=np.float64) for name in ("key", "val"))
        point = kind == _POINT
        ax = np.zeros(kind.size)
        carried: dict[str, int | float] = dict.fromkeys(_CARRIED, 0)
        if ranks:
            ax[point], ranked = agreement.x_figures(key[point], val[point])
            carried.update(ranked)
        carried["inversions"] = dominance_pairs(key[point], val[point], key[~point], val[~point])
        first = number - at  # the pair's bucket 0
        more = len(_CARRIED)
        return pa.table({
            "cell": np.r_[first + np.asarray(table.column("vb").to_numpy(), dtype=np.int64), np.full(more, first)],
            "kind": np.r_[kind, np.arange(_QUERY + 1, _QUERY + 1 + more)].astype(np.int8),
            # the key bucket orders couples of different key buckets; a query's half a step below its own,
            # so that a point of the same key bucket (counted here) is not counted again
            "key": np.r_[at - kind / 2, np.zeros(more)], "val": np.r_[val, np.zeros(more)],
            "ax": np.r_[ax, [float(carried[name]) for name in _CARRIED]],  # whole counts < 2**53: exact
        })

    def by_value(table: pa.Table) -> pa.Table:
        number = table.column("cell")[0].as_py()
        kind = np.asarray(table.column("kind").to_numpy())
        key, val, ax = (np.asarray(table.column(name).to_numpy(), dtype=np.float64) for name in ("key", "val", "ax"))
        carried = {name: ax[kind == _QUERY + 1 + m] for m, name in enumerate(_CARRIED)}
        totals = {name: float(v.sum()) if name in _FRACTIONAL else sum(int(c) for c in v)
                  for name, v in carried.items()} | {"across_y": 0, "y_pairs": 0, "y_cubes": 0.0}
        point, query = kind == _POINT, kind == _QUERY
        totals["inversions"] += dominance_pairs(key[point], val[point], key[query], val[query])
        xb = (key + kind / 2).astype(np.intp)  # each event's key bucket
        ay = np.zeros(int(point.sum()))
        if ranks:
            ay, y_totals = agreement.y_figures(xb[point], val[point])
            totals.update(y_totals)
        moments = {
            "points": np.bincount(xb[point], minlength=size), "queries": np.bincount(xb[query], minlength=size),
            "ax": np.bincount(xb[point], ax[point], size), "ay": np.bincount(xb[point], ay, size),
            "axay": np.bincount(xb[point], ax[point] * ay, size),
        }
        return pa.table({
            "cell": np.full(size, number), "xb": np.arange(size, dtype=np.int32),
            **{name: _on_first(size, value) for name, value in totals.items()}, **moments,
        }, schema=out_schema)

    groups, events_in = len(sizes) * size, 2 * sum(sizes.values())  # each pass's (pair, bucket) groups and rows
    keyed = _grid.per_bucket(events.select(_grid.cell("kb", size), "vb", "key", "val", "kind"), "cell",
                             (groups, events_in), by_key, "cell long, kind byte, key double, val double, ax double",
                             by=())
    found = _grid.per_bucket(keyed, "cell", (groups, events_in + len(_CARRIED) * groups), by_value,
                             ", ".join(f"{name} {kind}" for name, kind in fields), by=())
    return _assembled(found.collect(), k, size, sizes)  # size rows per value bucket: driver-sized


def _assembled(found: list[Any], k: int, size: int, sizes: dict[Pair, int]
               ) -> tuple[IntArray, dict[Pair, dict[str, Any]]]:
    """The count and the rank figures per index pair, from the value pass's rows (a row per grid cell)."""
    totals: dict[Pair, dict[str, Any]] = {pair: dict.fromkeys(_TOTALS, 0) for pair in sizes}
    grids = {pair: {name: np.zeros((size, size), dtype=object) for name in _MOMENTS} for pair in sizes}
    for r in found:
        number = int(r["cell"])
        pair, at = _grid.pair_of(number, size), number % size
        for name in _TOTALS:
            totals[pair][name] += r[name]
        for name in _MOMENTS:  # sums of whole numbers: exact in a double but the cross products
            grids[pair][name][r["xb"], at] = float(r[name]) if name == "axay" else int(r[name])
    counts = np.zeros((k, k), dtype=np.int64)
    ranked = {}
    for pair, n in sizes.items():
        grid, figures = grids[pair], totals[pair]
        counts[pair] = counts[pair[::-1]] = int(figures.pop("inversions")) \
            + _grid.cross_couples(grid["points"], grid["queries"])
        # a point's doubled centred mid-rank is its rank in its bucket (ax, ay) and its bucket's first place,
        # doubled, less n: Σ dx·dy summed per grid cell from the cell's count and sums
        first_x = 2 * _grid.offsets(grid["points"].sum(axis=1)).astype(object) - n
        first_y = 2 * _grid.offsets(grid["points"].sum(axis=0)).astype(object) - n
        products = (grid["points"] * np.outer(first_x, first_y) + first_x[:, None] * grid["ay"]
                    + first_y[None, :] * grid["ax"]).sum()
        figures.update(n=n, across=int(figures["across_y"]) + _grid.cross_couples(grid["points"], grid["points"]),
                       products=float(products) + float(grid["axay"].sum()))
        ranked[pair] = figures
    return counts, ranked


def gap_bounds(min_gap: float) -> dict[str, Callable[[FloatArray, FloatArray], FloatArray]]:
    """The count's bounds ``qx``, ``qy`` as columns for ``agreement.pair_rows`` to make with the rows."""
    t = max(min_gap, _SMALLEST)
    return {"qx": lambda x, _: bound_below(x, t), "qy": lambda _, y: bound_above(y, t)}


def bound_below(values: FloatArray, t: float) -> FloatArray:
    """Per value x, the largest float w with ``x - w ≥ t`` (subtracted in floating point)."""
    return _edge(lambda w, rows: values[rows] - w >= t, values - t, np.abs(values) + t)


def bound_above(values: FloatArray, t: float) -> FloatArray:
    """Per value x, the smallest float w with ``w - x ≥ t`` (subtracted in floating point)."""
    return _next_float(_edge(lambda w, rows: ~(w - values[rows] >= t), values + t, np.abs(values) + t))


def _edge(holds: Callable[[FloatArray, IntArray], BoolArray], guess: FloatArray, scale: FloatArray) -> FloatArray:
    """Per row, the last float where ``holds`` (true up to some float, false after it), near ``guess``.

    Rounding is monotone, so each gap condition holds on one side of a single float. Mostly that
    float is the guess or one or two floats off it; the other rows (a guess far smaller than the
    values subtracted: many floats to each rounding step of the gap) are bisected.
    """
    every = np.arange(guess.size)
    edge = guess.copy()
    for _ in range(2):
        off = ~holds(edge, every)
        edge[off] = np.nextafter(edge[off], -np.inf)
        short = holds(np.nextafter(edge, np.inf), every)
        edge[short] = np.nextafter(edge[short], np.inf)
    rows = np.flatnonzero(~holds(edge, every) | holds(np.nextafter(edge, np.inf), every))
    if rows.size:
        edge[rows] = _bisect(holds, rows, guess[rows], 4 * np.spacing(scale[rows]))
    return edge


def _bisect(
    holds: Callable[[FloatArray, IntArray], BoolArray], rows: IntArray, guess: FloatArray, margin: FloatArray
) -> FloatArray:
    """:func:`_edge` for ``rows``, by bisection on the floats' order (as 64-bit keys) from a bracket of ``guess``."""
    good, bad = guess - margin, guess + margin
    while not (ok := holds(good, rows)).all():  # widened until it brackets the edge
        margin = np.where(ok, margin, 2 * margin)
        good = np.where(ok, good, guess - margin)
    while (wrong := holds(bad, rows)).any():
        margin = np.where(wrong, 2 * margin, margin)
        bad = np.where(wrong, guess + margin, bad)
    lo, hi = _key(good), _key(bad)
    while (open_ := hi - lo > 1).any():
        mid = lo + (hi - lo) // 2
        ok = holds(_float(mid), rows)
        lo = np.where(open_ & ok, mid, lo)
        hi = np.where(open_ & ~ok, mid, hi)
    return _float(lo)


def _key(w: FloatArray) -> IntArray:
    """Floats as int64 keys in the same order (-0.0 and 0.0 both 0)."""
    bits = np.ascontiguousarray(w, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & _MAGNITUDE), bits)


def _float(key: IntArray) -> FloatArray:
    bits = np.where(key < 0, (-key) | _SIGN, key)
    return np.ascontiguousarray(bits, dtype=np.int64).view(np.float64)


def _next_float(w: FloatArray) -> FloatArray:
    return _float(_key(w) + 1)


def dominance_pairs(px: FloatArray, py: FloatArray, qx: FloatArray, qy: FloatArray) -> int:
    """The (point, query) couples with ``px ≤ qx`` and ``py ≥ qy``, O(n log n): a compiled sweep in x
    over a Fenwick tree of the points' y places (:func:`~aggregator.analytics._kernels.dominance_sweep`).

    A query's couples among the points swept are those not strictly below it in y: their number
    is where its y falls among the points' sorted y (searched from the left, so equal y counts).
    """
    from aggregator.analytics._kernels import dominance_sweep  # numba: only in the tasks that count

    if px.size == 0 or qx.size == 0:
        return 0
    by_y = np.argsort(py)
    places = np.empty(py.size, dtype=np.intp)
    places[by_y] = np.arange(py.size)
    below = np.searchsorted(py[by_y], qy, side="left")
    points, queries = np.argsort(px), np.argsort(qx)
    return int(dominance_sweep(px[points], places[points], qx[queries], below[queries]))


# -- the top K -------------------------------------------------------------------------------------


#: Upper and lower corner rows the join may couple, at most (summed over index pairs, before the
#: trim), before the floor is raised from a larger seed: the couples grow with the square of the
#: roster under a floor from a fixed seed (137.8M candidate pairs at 32M subjects, 1.2M at 3M)
JOIN_BUDGET = 2_000_000
#: Rows of each corner per index pair in that larger seed: the corner's most extreme ``u - v``
_CORNER_SEED = 1024

Found = list[tuple[FloatArray, IntArray, IntArray]]  # (strengths, a, b) of scored subject pairs


def top_inversions(rows: DataFrame, largest: int, top: int, min_gap: float) -> tuple[Inversion, ...]:
    """The ``top`` strongest inversions (strength ≥ ``min_gap`` and > 0), numpy's list and order.

    ``largest``: the most rows an index pair has (sizes the seed).
    """
    if top <= 0 or largest < 2:
        return ()
    found, ends = _seed(rows, largest, top, min_gap)
    floor = _floor(_distinct_best(found) if found else np.zeros(0), top, min_gap)
    scale = max(max(abs(e[name]) for name in _ENDS) for e in ends.values())
    corners = _corners(rows, ends, floor, scale)
    if corners is None:
        return ()
    # the trimmed corners are the few rows of each pair the join couples: kept, so that the larger seed, the
    # trim under its floor and the join read them, not every pair row again (at 32M, ~20 s a scan)
    trimmed, couples = kept(corners[0]), corners[1]
    corner: DataFrame | None = trimmed
    if couples > JOIN_BUDGET:
        # the larger seed's pairs are real pairs too: the K-th best distinct one still bounds the answer's
        raised = _floor(_distinct_best(found + _corner_seed(trimmed, top, min_gap)), top, min_gap)
        if raised > floor:  # a pair that strong is one at least the old floor strong: its rows are kept
            again = _corners(trimmed.select(*_ROW), ends, raised, scale)
            floor, corner = raised, None if again is None else again[0]
    listed = [] if corner is None else _strongest(corner, floor, top)
    trimmed.unpersist()
    return tuple(sorted(listed, key=_rank_key))


def _strongest(corners: DataFrame, floor: float, top: int) -> list[Inversion]:
    """The ``top`` strongest pairs at least ``floor`` strong, of an upper and a lower corner row of
    :func:`_corners`: the corners joined per index pair, each subject pair under its strongest index pair."""
    upper = corners.where("upper").select(*_ROW).alias("h")
    lower = corners.where("lower").select(*_ROW).alias("l")
    gap_by, gap_against = F.col("h.x") - F.col("l.x"), F.col("l.y") - F.col("h.y")
    candidates = upper.join(lower, (F.col("h.a") == F.col("l.a")) & (F.col("h.b") == F.col("l.b"))) \
        .where((gap_by >= floor) & (gap_against >= floor)).select(
            F.least(F.col("h.i"), F.col("l.i")).alias("first"), F.greatest(F.col("h.i"), F.col("l.i")).alias("second"),
            F.struct((-F.least(gap_by, gap_against)).alias("weakness"), F.col("h.a").alias("by"),
                     F.col("h.b").alias("against"), F.col("h.i").alias("above"), F.col("l.i").alias("below"),
                     gap_by.alias("gap_by"), gap_against.alias("gap_against")).alias("found"),
        )
    # each subject pair once, under its strongest index pair (ties: the first index pair), as numpy keeps it
    best = candidates.groupBy("first", "second").agg(F.min("found").alias("best"))
    chosen = best.orderBy("best.weakness", "first", "second", "best.by", "best.against").limit(top).collect()
    return [Inversion(above=int(r["best"]["above"]), below=int(r["best"]["below"]), by=int(r["best"]["by"]),
                      against=int(r["best"]["against"]), gap_by=float(r["best"]["gap_by"]),
                      gap_against=float(r["best"]["gap_against"])) for r in chosen]


_ENDS = ("x_lo", "x_hi", "y_lo", "y_hi")
_ROW = ("a", "b", "i", "x", "y")


def _corners(rows: DataFrame, ends: dict[tuple[int, int], dict[str, float]], floor: float, scale: float
             ) -> tuple[DataFrame, int] | None:
    """The rows that can be the upper (``upper``) or the lower end (``lower``) of a pair at least ``floor``
    strong, and how many couples of the two (untrimmed) the index pairs hold; None when no index pair has both.

    Every such pair has its upper subject in the pair's corner ``u ≥ lo_u + floor``, ``v ≤ hi_v - floor``
    and its lower one in the mirror, and ``w = u - v`` at least ``2 * floor`` apart: each corner is
    trimmed against the other's extreme w. One job (the extremes and the corners' sizes).
    """
    x, y, w = F.col("x"), F.col("y"), F.col("x") - F.col("y")

    def per_pair(values: dict[tuple[int, int], float]) -> Column:  # a literal per pair (a handful): no join
        return F.create_map(*[c for (a, b), value in values.items() for c in (F.lit(f"{a},{b}"), F.lit(value))])[
            F.concat_ws(",", F.col("a"), F.col("b"))]

    def end(name: str) -> Column:
        return per_pair({pair: e[name] for pair, e in ends.items()})

    # the corners, as the exact subtractions the pairs make (each is at most the pair's gap)
    in_high = (x - end("x_lo") >= floor) & (end("y_hi") - y >= floor)
    in_low = (end("x_hi") - x >= floor) & (y - end("y_lo") >= floor)
    extremes = {(r["a"], r["b"]): r for r in rows.groupBy("a", "b").agg(
        F.max(F.when(in_high, w)).alias("high"), F.min(F.when(in_low, w)).alias("low"),
        F.count(F.when(in_high, 1)).alias("highs"), F.count(F.when(in_low, 1)).alias("lows")).collect()}
    loose = _loosen(floor, scale)
    # w[a] - w[b] ≥ 2 * floor, less a margin for the rounding of w: each side against the other's extreme
    trimmed = {pair: (r["low"] + 2 * loose, r["high"] - 2 * loose) for pair, r in extremes.items()
               if r["low"] is not None and r["high"] is not None}
    if not trimmed:
        return None
    couples = sum(int(extremes[pair]["highs"]) * int(extremes[pair]["lows"]) for pair in trimmed)
    # a pair the trim left out has no bound (null): its rows are in neither corner
    upper = F.coalesce(in_high & (w >= per_pair({pair: t[0] for pair, t in trimmed.items()})), F.lit(False))
    lower = F.coalesce(in_low & (w <= per_pair({pair: t[1] for pair, t in trimmed.items()})), F.lit(False))
    tagged = rows.select(*_ROW, upper.alias("upper"), lower.alias("lower"))
    return tagged.where(F.col("upper") | F.col("lower")), couples


def _corner_seed(corners: DataFrame, top: int, min_gap: float) -> Found:
    """The best pairs among each index pair's :data:`_CORNER_SEED` upper corner rows of largest ``u - v``
    and as many lower ones of smallest (ties by position), scored on the driver (``corners``: :func:`_corners`'s)."""
    w = F.col("x") - F.col("y")

    def extreme(side: str, order: Column) -> DataFrame:
        place = F.row_number().over(Window.partitionBy("a", "b").orderBy(order, "i"))
        return corners.where(side).select(*_ROW, place.alias("_place"), F.lit(side == "upper").alias("upper"),
                                          F.lit(side == "lower").alias("lower")) \
            .where(F.col("_place") <= _CORNER_SEED).drop("_place")

    picked = extreme("upper", w.desc()).unionByName(extreme("lower", w.asc()))
    return _scored(picked.collect(), top, min_gap)  # at most 2 * _CORNER_SEED rows per index pair


def _scored(seed_rows: list[Any], top: int, min_gap: float) -> Found:
    """Per index pair, the ``top`` best pairs of its seed rows (``a, b, i, x, y, upper, lower``)."""
    by_pair: dict[tuple[int, int], list[Any]] = {}
    for r in seed_rows:
        by_pair.setdefault((r["a"], r["b"]), []).append(r)
    found = []
    for seed in by_pair.values():
        positions = np.array([r["i"] for r in seed], dtype=np.int64)
        u, v = np.array([r["x"] for r in seed]), np.array([r["y"] for r in seed])
        upper_rows = np.flatnonzero([r["upper"] for r in seed])
        lower_rows = np.flatnonzero([r["lower"] for r in seed])
        strengths, a_idx, b_idx = _best_pairs(u, v, upper_rows, lower_rows, top, min_gap)
        found.append((strengths, positions[a_idx], positions[b_idx]))
    return found


def _seed(
    rows: DataFrame, largest: int, top: int, min_gap: float
) -> tuple[Found, dict[tuple[int, int], dict[str, float]]]:
    """The seeds' best pairs (per index pair), and each index pair's ends.

    A pair's seed: its rows with ``u - v`` beyond approximate quantiles that leave about ``_SEED``
    rows on each side (all rows on one side or the other for a pair of at most ``2 * _SEED``).
    One job: the seed rows carry their pair's ends (``x_lo``, ``x_hi``, ``y_lo``, ``y_hi``).
    """
    share = min(0.5, _SEED / largest)
    w = F.col("x") - F.col("y")
    per_pair = rows.groupBy("a", "b").agg(
        F.percentile_approx(w, [share, 1 - share], _SEED_ACCURACY).alias("_cuts"),
        F.min("x").alias("x_lo"), F.max("x").alias("x_hi"), F.min("y").alias("y_lo"), F.max("y").alias("y_hi"),
    )
    lower, upper = w <= F.col("_cuts")[0], w >= F.col("_cuts")[1]
    seeded = rows.join(F.broadcast(per_pair), ["a", "b"]).where(lower | upper).select(
        "a", "b", "i", "x", "y", upper.alias("upper"), lower.alias("lower"), *_ENDS)
    seed_rows = seeded.collect()  # about 2 * _SEED rows per pair of indices
    ends = {(r["a"], r["b"]): {name: float(r[name]) for name in _ENDS} for r in seed_rows}
    return _scored(seed_rows, top, min_gap), ends
