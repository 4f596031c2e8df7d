"""Compiled loops along a column's order (numba); imported only when a comparison runs, never by ``import aggregator``.

Counting the inversions of an index pair is one sweep along one column's order with a Fenwick
tree over the other column's tie groups: each step adds the rows that just came far enough
below and asks how many of those lie far enough above. The sweep's state carries from row to
row, which whole-array numpy operations cannot (their replacement,
``inversions._prefix_count_in_blocks``, needs log n passes of sorts and binary searches), and
scipy's compiled discordance counter would need the rows and their bounds merged into 2n
elements first. Kendall's discordant pairs are counted on the same kind of tree
(:func:`discordant`), so a comparison never imports ``scipy.stats``. Each value's mid-rank
percentile is read off its tie group in the same walk that writes it (:func:`scatter_mid_points`),
where numpy took five passes over the column. Compiled on first use and
cached (``cache=True``: later processes load the machine code from ``__pycache__``, or numba's
cache directory where that is not writable); ``nogil``: a caller may count index pairs on
threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

#: A Fenwick tree's node i is stored at ``i + (i >> _SPREAD)``: nodes a power of two apart would
#: otherwise share cache sets and evict each other (scipy's counter does the same, gh-10108)
_SPREAD = 14


@njit(cache=True, nogil=True)
def bounds_by_group(sorted_groups: NDArray[np.intp], values: NDArray[np.float64], t: float) -> NDArray[np.int32]:
    """For each tie group of a column, the first group t above it.

    ``sorted_groups`` and ``values``: the column's tie groups (numbered from 1) and values in
    ascending order, equal values sharing a group. Entry g is the group of the first place p
    with ``values[p] - values[q] ≥ t``, q any place of group g (one past the last group if none;
    entry 0, for unscored rows, is 0). p is found by a pointer that only moves forward, with
    the rule evaluated as written, so rounding at the boundary decides as it does for the rule
    itself; and p always starts a group, as the rule depends on values only.
    """
    m = values.size
    groups = sorted_groups[m - 1] if m else 0
    found = np.zeros(groups + 1, dtype=np.int32)
    p = 0
    for q in range(m):
        if q and sorted_groups[q] == sorted_groups[q - 1]:
            continue  # the same value: the same bound
        # values ascend, and rounding keeps ``x - c`` monotone in x and in c: the first place
        # meeting the rule never moves back as q advances, and is past q itself (t > 0)
        p = max(p, q + 1)
        while p < m and not values[p] - values[q] >= t:
            p += 1
        found[sorted_groups[q]] = sorted_groups[p] if p < m else groups + 1
    return found


@njit(cache=True, nogil=True)
def pair_count(order: NDArray[np.int64], values: NDArray[np.float64], groups: NDArray[np.intp],
               above: NDArray[np.int32], t: float) -> int:
    """The number of row pairs (a, b) with ``u[a] - u[b] ≥ t`` and ``v[b] - v[a] ≥ t``.

    ``order``/``values``: the rows u scored, by ascending u, and their values; ``groups``:
    each row's tie group in v (0 where v has no value), ``above``: :func:`bounds_by_group` of
    v. Rows a are taken in u's order; the rows b with ``u[a] - u[b] ≥ t`` are a prefix of that
    order, growing with a, and each enters a Fenwick tree at its group in v as the prefix
    reaches it (if v scored it). The rows among them at least t above a in v are those in a's
    bound's group or past it: the tree's total less its prefix sum below the bound.
    O(n log n); the tree holds counts up to n in int32, half the memory (and cache misses) of
    int64.
    """
    m = order.size
    # the rows' groups and bounds in v first, in a loop of independent reads the processor
    # overlaps (inside the sweep each would wait for its cache miss: four times slower)
    group = np.empty(m, dtype=np.int32)
    bound = np.empty(m, dtype=np.int32)
    for i in range(m):
        group[i] = groups[order[i]]
        bound[i] = above[group[i]]
    size = above.size  # groups 1 .. size - 1
    tree = np.zeros(size + (size >> _SPREAD), dtype=np.int32)
    total = 0
    inserted = 0
    below = 0  # rows order[:below] are in the tree (those v scored)
    for i in range(m):
        top = values[i]
        while below < i and top - values[below] >= t:
            at = group[below]
            if at > 0:
                inserted += 1
                while at < size:
                    tree[at + (at >> _SPREAD)] += 1
                    at += at & -at
            below += 1
        if group[i] > 0 and inserted:
            nearer = 0  # rows in the tree in groups before the bound's: not t above
            at = bound[i] - 1
            while at > 0:
                nearer += tree[at + (at >> _SPREAD)]
                at &= at - 1
            total += inserted - nearer
    return total


@njit(cache=True, nogil=True)
def dominance_sweep(point_x: NDArray[np.float64], point_places: NDArray[np.intp], query_x: NDArray[np.float64],
                    points_below: NDArray[np.intp]) -> int:
    """The (point, query) couples with the point's x at most the query's and its y at least the query's.

    ``point_x``: the points' x ascending, ``point_places``: each one's place (from 0) in the points'
    ascending y; ``query_x``: the queries' x ascending, ``points_below``: for each, how many points
    have a y below its y. The queries are taken in x order; the points at or left of each enter a
    Fenwick tree at their y place as the sweep reaches them, and the query's couples are the points
    entered less those below it (a prefix of the places). O(n log n).
    """
    m = point_places.size
    tree = np.zeros(m + 1 + ((m + 1) >> _SPREAD), dtype=np.int32)
    total = 0
    entered = 0
    for q in range(query_x.size):
        while entered < m and point_x[entered] <= query_x[q]:
            at = point_places[entered] + 1
            while at <= m:
                tree[at + (at >> _SPREAD)] += 1
                at += at & -at
            entered += 1
        below = 0
        at = points_below[q]
        while at > 0:
            below += tree[at + (at >> _SPREAD)]
            at &= at - 1
        total += entered - below
    return total


@njit(cache=True, nogil=True)
def discordant(x: NDArray[np.intp], y: NDArray[np.intp]) -> int:
    """The couples i < j with ``x[i] < x[j]`` and ``y[i] > y[j]``: Kendall's discordant pairs.

    ``x``: tie groups in non-decreasing order; ``y``: tie groups numbered from 1. The rows are
    taken one x group at a time: each row's discordant partners are the rows of earlier groups
    with a greater y, the rows entered so far less those at or below its y (a prefix sum of a
    Fenwick tree over y's groups); the group enters the tree only after all its rows asked, so
    rows tied in x never count. O(n log n), as scipy's own counter, without importing
    ``scipy.stats`` (half a second of a process's first comparison).
    """
    n = x.size
    size = 1
    for i in range(n):
        size = max(size, y[i] + 1)
    tree = np.zeros(size + (size >> _SPREAD), dtype=np.int32)
    total = 0
    start = 0  # the current x group starts here; rows before it are in the tree
    while start < n:
        end = start
        while end < n and x[end] == x[start]:
            at = y[end]
            at_or_below = 0
            while at > 0:
                at_or_below += tree[at + (at >> _SPREAD)]
                at &= at - 1
            total += start - at_or_below
            end += 1
        for i in range(start, end):
            at = y[i]
            while at < size:
                tree[at + (at >> _SPREAD)] += 1
                at += at & -at
        start = end
    return total


@njit(cache=True, nogil=True)
def scatter_mid_points(sorted_groups: NDArray[np.intp], order: NDArray[np.int64], scale: float,
                       out: NDArray[np.float64]) -> None:
    """``out[order[p]] = scale (r - 1/2) / m`` for the p-th of a column's m values in ascending order.

    ``sorted_groups``: the values' tie groups, non-decreasing; r, the value's mid-rank, is the
    mean of its tie group's ranks: a group of t ending at rank e has ``e - t/2 + 1/2``. One pass,
    each group's figure worked out once, where numpy needs a count, a cumulative sum and three
    whole-column passes before the scatter.
    """
    m = sorted_groups.size
    start = 0
    while start < m:
        end = start + 1
        while end < m and sorted_groups[end] == sorted_groups[start]:
            end += 1
        mid = float(end) - (end - start) * 0.5 + 0.5
        points = (mid - 0.5) / m * scale
        for p in range(start, end):
            out[order[p]] = points
        start = end


@njit(cache=True, nogil=True)
def mid_points(sorted_groups: NDArray[np.intp]) -> NDArray[np.float64]:
    """``(r - 1/2) / m`` of each of a column's m values, in ascending order (see :func:`scatter_mid_points`)."""
    out = np.empty(sorted_groups.size)
    scatter_mid_points(sorted_groups, np.arange(sorted_groups.size), 1.0, out)
    return out


@njit(cache=True, nogil=True)
def tie_sums(sizes: NDArray[np.int64]) -> tuple[int, float]:
    """Σ t(t - 1)/2 (pairs tied with each other, exact) and Σ (t³ - t) over tie groups of sizes t."""
    pairs = 0
    cubes = 0.0
    for t in sizes:
        pairs += t * (t - 1) // 2
        cubes += float(t) * t * t - t
    return pairs, cubes


@njit(cache=True, nogil=True)
def rank_cross_product(x_groups: NDArray[np.intp], y_groups: NDArray[np.intp], x_sizes: NDArray[np.int64],
                       y_sizes: NDArray[np.int64]) -> float:
    """Σ (2 r_x - (n + 1)) (2 r_y - (n + 1)) over n rows, r_x and r_y their mid-ranks among them.

    ``x_groups``/``y_groups``: each row's tie group in either column, ``x_sizes``/``y_sizes``:
    how many of the n rows each group holds. A group of t ending at rank e has the doubled,
    centred mid-rank ``2e - t - n``, a whole number, as is each product.
    """
    n = x_groups.size
    x_table = _doubled_centred_ranks(x_sizes, n)
    y_table = _doubled_centred_ranks(y_sizes, n)
    total = 0.0
    for i in range(n):
        total += x_table[x_groups[i]] * y_table[y_groups[i]]
    return total


@njit(cache=True, nogil=True, inline="always")
def _doubled_centred_ranks(sizes: NDArray[np.int64], n: int) -> NDArray[np.float64]:
    table = np.empty(sizes.size)
    end = 0
    for g in range(sizes.size):
        end += sizes[g]
        table[g] = 2 * end - sizes[g] - n
    return table
