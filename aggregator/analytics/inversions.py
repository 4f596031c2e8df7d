"""Pairwise inversions: two subjects that two indices order in opposite directions, by a wide margin.

The "pop star above the famous investor" case. For indices X and Y and subjects a, b, with
normalized scores u (X) and v (Y), X puts a above b by ``u[a] - u[b]`` points and Y puts b
above a by ``v[b] - v[a]``; the pair's *strength* is the smaller of the two gaps, so both
indices must be clear about their order. We return the ``k`` strongest pairs whose strength is
at least ``min_gap``, one entry per pair of subjects (with the index pair that disagrees most).

How it scales (no O(n²) scan). A pair at least ``t`` strong has its upper subject a in X's
top and Y's bottom, ``u[a] ≥ lo_X + t`` and ``v[a] ≤ hi_Y - t`` (``lo``, ``hi``: a column's
lowest and highest value), and its lower subject b in the mirror corner; and since
``w = u - v`` gives ``w[a] - w[b] ≥ 2t``, a striking pair joins a subject X rates far above
Y to one Y rates far above X. So, with every column read a few times in all, not once per
index pair:

1. *Pools* (per column). ``lo``, ``hi`` and two pools: every row with a value ≥ a top cut,
   every row ≤ a bottom cut, the cuts read off a strided sample so that each pool holds about
   1/32 of the rows (beside a large tie group rather than in it). One pass per pool; a
   missing value (NaN) compares false and drops out by itself.
2. *Seed* (per index pair). The pair's corners are the rows in X's top pool and Y's bottom
   pool, and the mirror (the smaller pool checked against the other's mask). Of each, the
   m = ``_SEED`` rows with the most extreme ``w``; all pairs between them are scored. Any
   scored pairs will do: the k-th best strength among them bounds the pair's true k-th from
   below (or ``min_gap`` if fewer than k reach it). Better seeds only make step 4 cheaper.
   When the corners give fewer than k pairs (a few thousand subjects: pools of a few hundred
   rows), the seed is the m most X-leaning and m most Y-leaning of all the pair's shared rows
   instead (one ``np.argpartition``): a floor of ``min_gap`` would widen the pools to most
   rows and score ~10^8 pairs, more than a million subjects cost.
3. *Shared floor*. The k-th best among the distinct subject pairs of all the seeds, ``T``,
   bounds the answer's k-th from below: only pairs at least ``T`` strong can be in it. Where
   a pool's cut does not reach ``lo + T`` (or ``hi - T``), that pool is rebuilt at it (one
   more pass), so every row a pair at least ``T`` strong can use is in the pools.
4. *Corners* (per index pair, with ``t`` = the larger of ``T`` and the pair's own seed
   bound). The corner rows that meet the four bounds above for ``t``, then each side trimmed
   by ``w`` against the other's extreme. All pairs between the two sides are scored, in
   blocks, and the pair's best k of those at least ``t`` strong are exact, since every pair
   left out is weaker than ``t``. Every bound is loosened by ``1e-9·t + 1e-12·max|value|``,
   far more than the rounding of the few subtractions involved, so rounding may only add
   candidates, never lose one.
5. If the corners are still too large (more candidate pairs than 64 a subject, at least 2^18
   and at most 2^25: a budget that grows with n; a low ``t``: few inversions reach ``min_gap`` while
   many subjects sit in both corners, which skewed real scores do not produce), that index
   pair falls back to a widening search on its shared rows: a seed of the m largest and m
   smallest ``w`` (``np.argpartition``, O(n)) growing fourfold until the corners above are
   small enough, at worst the whole set and the search the exhaustive one.

The answer is then exact: a subject pair in the true top k is at least as strong, under the
index pair where it is strongest, as ``T`` and as that pair's seed bound (else k stronger
distinct pairs would exist), so that index pair finds it; and each pair that index pair ranks
ahead of it is a distinct subject pair the answer ranks ahead of it too, so fewer than k are:
it is in that index pair's own top k. Ties are broken by rows, then columns, everywhere alike.

Cost: O(n) per column (its ends and about two passes), plus per index pair the corner rows
(a few percent of the pools) and the candidate pairs between them (hundreds on a million
subjects of skewed, noisy scores). The passes read contiguous columns: a Fortran-ordered
table's as they are, a C-ordered table's through a copy made for the passes and dropped after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    Ranked,
    rank_column,
)

#: How many inversions a comparison keeps.
DEFAULT_TOP_INVERSIONS = 100
#: Seed candidates per side for each index pair (and where the widening fallback starts).
_SEED = 128
#: Each column's pools start with about this share of its rows at each end ...
_POOL_SHARE = 1 / 32
#: ... and at least this many.
_POOL_MIN = 256
#: Strided sample size used to place the pools' first cuts.
_SAMPLE = 1 << 14
#: Candidate pairs scored per block (bounds the memory of one step to a few tens of MB).
_BLOCK = 1 << 21
#: Beyond this many candidate pairs, widen the seed rather than score them all ...
_MAX_CANDIDATE_PAIRS = 1 << 25
#: ... or beyond this many per subject, whichever is fewer (so that no size costs more than a larger one).
_CANDIDATES_PER_SUBJECT = 64
#: (but always allow this many: a few thousand subjects are scored in one go)
_MIN_CANDIDATE_PAIRS = 1 << 18
#: The smallest positive float: "strength ≥ this" is "strength > 0", subnormal gaps included.
_SMALLEST = float(np.nextafter(0.0, 1.0))


@dataclass(frozen=True)
class Inversion:
    """Index ``by`` puts subject ``above`` over ``below``; index ``against`` says the opposite.

    Rows and columns refer to the comparison's table; gaps are in normalized points.
    """

    above: int
    below: int
    by: int
    against: int
    #: ``normalized[above, by] - normalized[below, by]`` (> 0)
    gap_by: float
    #: ``normalized[below, against] - normalized[above, against]`` (> 0)
    gap_against: float

    @property
    def strength(self) -> float:
        """The smaller of the two gaps: how strongly both indices hold their opposite orders."""
        return min(self.gap_by, self.gap_against)


@dataclass(frozen=True, eq=False)
class _Column:
    """One index's scores (NaN = missing; a view of the table's column), their ends and two pools.

    ``top`` holds every row with a value ≥ ``top_cut`` (ascending; ``top_mask`` marks them),
    ``bottom`` every row with a value ≤ ``bottom_cut``.
    """

    values: FloatArray
    lo: float
    hi: float
    top_cut: float
    top: IntArray
    top_mask: BoolArray
    bottom_cut: float
    bottom: IntArray
    bottom_mask: BoolArray


def top_inversions(
    normalized: FloatArray, k: int = DEFAULT_TOP_INVERSIONS, min_gap: float = 0.0
) -> tuple[Inversion, ...]:
    """The ``k`` strongest inversions (strength ≥ ``min_gap`` and > 0), strongest first.

    Ties are broken by rows, then columns, so the same table always gives the same list.
    ``normalized`` may be in C or Fortran order (Fortran is faster: its columns are contiguous).
    """
    if k <= 0 or normalized.shape[0] < 2:
        return ()
    columns = [_column(normalized[:, j]) for j in range(normalized.shape[1])]
    scored = [j for j, column in enumerate(columns) if not np.isnan(column.lo)]
    pairs = list(combinations(scored, 2))
    if not pairs:
        return ()
    scale = max((max(abs(columns[j].lo), abs(columns[j].hi)) for j in scored), default=0.0)
    corners = {(x, y): _corners(columns[x], columns[y]) for x, y in pairs}
    seeds = {pair: _seed(columns[pair[0]], columns[pair[1]], *corners[pair], k, min_gap) for pair in pairs}
    # the k-th strongest of the distinct subject pairs seen in any seed bounds the answer's k-th
    shared_floor = _floor(_distinct_best(list(seeds.values())), k, min_gap)
    covered = [_cover(column, _loosen(shared_floor, scale)) for column in columns]
    found: dict[tuple[int, int], Inversion] = {}
    for x, y in pairs:
        if covered[x] is not columns[x] or covered[y] is not columns[y]:  # a pool grew: its corners too
            corners[(x, y)] = _corners(covered[x], covered[y])
        floor = max(shared_floor, _floor(seeds[(x, y)][0], k, min_gap))
        for inversion in _pair_top(covered[x], covered[y], *corners[(x, y)], (x, y), k, min_gap, floor, scale):
            key = (min(inversion.above, inversion.below), max(inversion.above, inversion.below))
            best = found.get(key)
            if best is None or _rank_key(inversion) < _rank_key(best):
                found[key] = inversion
    # the k strongest distinct subject pairs are all within each index pair's own top k of those
    # at least shared_floor strong
    return tuple(sorted(found.values(), key=_rank_key)[:k])


def _rank_key(inv: Inversion) -> tuple[float, int, int, int, int]:
    return (-inv.strength, min(inv.above, inv.below), max(inv.above, inv.below), inv.by, inv.against)


def _floor(strengths: FloatArray, k: int, min_gap: float) -> float:
    """The k-th of the strengths (strongest first) of some distinct pairs: a lower bound on the true k-th."""
    return max(float(strengths[k - 1]) if strengths.size >= k else min_gap, min_gap, _SMALLEST)


def _distinct_best(found: list[tuple[FloatArray, IntArray, IntArray]]) -> FloatArray:
    """Each distinct subject pair's best strength among some (strengths, a, b) lists, strongest first."""
    s = np.concatenate([strengths for strengths, _, _ in found])
    a = np.concatenate([a_idx for _, a_idx, _ in found])
    b = np.concatenate([b_idx for _, _, b_idx in found])
    first, second = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((-s, second, first))  # by subject pair, the strongest first within each
    first, second, s = first[order], second[order], s[order]
    new_pair = np.ones(s.size, dtype=np.bool_)
    new_pair[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    return -np.sort(-s[new_pair])


def _loosen(t: float, scale: float) -> float:
    """``t`` less a margin far above the rounding error of the few subtractions compared against it."""
    return t * (1.0 - 1e-9) - 1e-12 * scale


def _column(column: FloatArray) -> _Column:
    """Ends and first pools of one column: cuts read off a strided sample, then one pass per end.

    The passes read a contiguous copy when the column is strided (a C-ordered table), dropped
    afterwards: only a few thousand rows are read from it later.
    """
    values = np.ascontiguousarray(column)
    lo, hi = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))  # NaN when none is scored
    step = max(1, values.size // _SAMPLE)
    sample = values[::step]
    sample = sample[~np.isnan(sample)]
    if sample.size == 0:  # nothing scored, or nothing sampled: pools of the extreme values only
        top_cut, bottom_cut = hi, lo
    else:
        # each sampled value stands for `step` rows
        rank = min(max(int(sample.size * _POOL_SHARE), _POOL_MIN // step), sample.size - 1)
        parted = np.partition(sample, (rank, sample.size - 1 - rank))
        bottom_cut, top_cut = float(parted[rank]), float(parted[sample.size - 1 - rank])
        # a cut in a large tie group (integer scores) would take in the whole group: cut beside it
        if np.count_nonzero(sample <= bottom_cut) > 2 * (rank + 1):
            below = sample[sample < bottom_cut]
            bottom_cut = float(below.max()) if below.size else -np.inf
        if np.count_nonzero(sample >= top_cut) > 2 * (rank + 1):
            above = sample[sample > top_cut]
            top_cut = float(above.min()) if above.size else np.inf
    top, top_mask = _at_least(values, top_cut, hi)
    bottom, bottom_mask = _at_most(values, bottom_cut, lo)
    return _Column(values=column, lo=lo, hi=hi, top_cut=top_cut, top=top, top_mask=top_mask,
                   bottom_cut=bottom_cut, bottom=bottom, bottom_mask=bottom_mask)


def _at_least(values: FloatArray, cut: float, hi: float) -> tuple[IntArray, BoolArray]:
    """The rows with a value ≥ ``cut`` and their mask (no pass when ``cut`` is above the top value, ``hi``)."""
    if cut > hi:
        return np.zeros(0, dtype=np.int64), np.zeros(values.size, dtype=np.bool_)
    mask = values >= cut
    return np.flatnonzero(mask), mask


def _at_most(values: FloatArray, cut: float, lo: float) -> tuple[IntArray, BoolArray]:
    """The rows with a value ≤ ``cut`` and their mask (no pass when ``cut`` is below the bottom value, ``lo``)."""
    if cut < lo:
        return np.zeros(0, dtype=np.int64), np.zeros(values.size, dtype=np.bool_)
    mask = values <= cut
    return np.flatnonzero(mask), mask


def _cover(column: _Column, loose: float) -> _Column:
    """``column`` with pools wide enough to hold every row ≥ ``lo + loose`` and every row ≤ ``hi - loose``."""
    if np.isnan(column.lo):
        return column
    if column.top_cut > column.lo + loose:
        cut = column.lo + loose
        top, top_mask = _at_least(column.values, cut, column.hi)
        column = replace(column, top_cut=cut, top=top, top_mask=top_mask)
    if column.bottom_cut < column.hi - loose:
        cut = column.hi - loose
        bottom, bottom_mask = _at_most(column.values, cut, column.lo)
        column = replace(column, bottom_cut=cut, bottom=bottom, bottom_mask=bottom_mask)
    return column


def _corners(cx: _Column, cy: _Column) -> tuple[IntArray, IntArray]:
    """Rows in X's top pool and Y's bottom pool (X rates them above Y does), and the mirror.

    Each is the smaller pool's rows that the other pool's mask marks (a small array to read
    from, where the values would be eight times larger).
    """
    high = cx.top[cy.bottom_mask[cx.top]] if cx.top.size <= cy.bottom.size else cy.bottom[cx.top_mask[cy.bottom]]
    low = cx.bottom[cy.top_mask[cx.bottom]] if cx.bottom.size <= cy.top.size else cy.top[cx.bottom_mask[cy.top]]
    return high, low


def _seed(
    cx: _Column, cy: _Column, high: IntArray, low: IntArray, k: int, min_gap: float
) -> tuple[FloatArray, IntArray, IntArray]:
    """The best pairs (strengths and rows, strongest first) among the most X-leaning and most Y-leaning corner rows."""
    u, v = cx.values, cy.values
    found = _best_pairs(u, v, _extreme_rows(high, u, v, _SEED, largest=True),
                        _extreme_rows(low, u, v, _SEED, largest=False), k, min_gap)
    if found[0].size >= k:
        return found
    # Too few pairs to bound the k-th: the corners are small (pools of a few hundred rows, a few
    # thousand subjects), and a floor of min_gap would widen the pools to most rows and score
    # millions of pairs. The most X-leaning and Y-leaning of all shared rows seed it instead
    # (one pass over the pair's rows, only here, so the cost still grows with n).
    rows = np.flatnonzero(~np.isnan(u) & ~np.isnan(v))
    leaning, against = _extremes(u[rows] - v[rows], min(rows.size, _SEED))
    wider = _best_pairs(u, v, rows[leaning], rows[against], k, min_gap)
    return wider if _floor(wider[0], k, min_gap) > _floor(found[0], k, min_gap) else found


def _extreme_rows(rows: IntArray, u: FloatArray, v: FloatArray, m: int, *, largest: bool) -> IntArray:
    """Of ``rows`` (distinct, scored in both), the ``m`` with the largest (or smallest) ``u - v``."""
    if rows.size <= m:
        return rows
    w = u[rows] - v[rows]
    if largest:
        return rows[np.argpartition(w, rows.size - m)[rows.size - m:]]
    return rows[np.argpartition(w, m - 1)[:m]]


def _pair_top(
    cx: _Column, cy: _Column, high: IntArray, low: IntArray, pair: tuple[int, int], k: int, min_gap: float,
    floor: float, scale: float,
) -> list[Inversion]:
    """Top inversions at least ``floor`` strong between index ``pair[0]`` (``cx``) and ``pair[1]`` (``cy``).

    ``high`` and ``low`` are the pair's corners, from pools that hold every row ``floor`` needs.
    """
    u, v = cx.values, cy.values
    loose = _loosen(floor, scale)
    # upper subjects: u ≥ lo_X + t and v ≤ hi_Y - t; lower ones: u ≤ hi_X - t and v ≥ lo_Y + t
    u_high, v_high, u_low, v_low = u[high], v[high], u[low], v[low]
    keep_high = (u_high >= cx.lo + loose) & (v_high <= cy.hi - loose)
    keep_low = (u_low <= cx.hi - loose) & (v_low >= cy.lo + loose)
    if not keep_high.any() or not keep_low.any():
        return []
    # w[a] - w[b] ≥ 2t: each side against the other's extreme
    w_high, w_low = (u_high - v_high)[keep_high], (u_low - v_low)[keep_low]
    high, low = high[keep_high], low[keep_low]
    high, low = high[w_high >= w_low.min() + 2 * loose], low[w_low <= w_high.max() - 2 * loose]
    if high.size * low.size > _candidate_cap(u.size):  # a weak floor: the widening search on the shared rows
        rows = np.flatnonzero(~np.isnan(u) & ~np.isnan(v))
        a_idx, b_idx = _widening_search(u[rows], v[rows], k, min_gap)
        a_idx, b_idx = rows[a_idx], rows[b_idx]
    else:
        _, a_idx, b_idx = _best_pairs(u, v, high, low, k, floor)
    x, y = pair
    return [
        Inversion(above=a, below=b, by=x, against=y, gap_by=float(u[a] - u[b]), gap_against=float(v[b] - v[a]))
        for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True)
    ]


def _widening_search(u: FloatArray, v: FloatArray, k: int, min_gap: float) -> tuple[IntArray, IntArray]:
    """Top-k positions (a, b) on fully scored ``u``, ``v``, the seed widened until the corners are small."""
    n = u.size
    w = u - v  # high: x rates the subject above y does
    u_lo, u_hi, v_lo, v_hi, w_lo, w_hi = u.min(), u.max(), v.min(), v.max(), w.min(), w.max()
    scale = float(max(abs(u_lo), abs(u_hi), abs(v_lo), abs(v_hi)))
    m = min(n, _SEED)
    while True:
        high, low = _extremes(w, m)
        seed, _, _ = _best_pairs(u, v, high, low, k, min_gap)
        floor = max(float(seed[-1]) if seed.size >= k else min_gap, min_gap, _SMALLEST)
        loose = _loosen(floor, scale)
        high = np.flatnonzero(w >= w_lo + 2 * loose)
        high = high[(u[high] >= u_lo + loose) & (v[high] <= v_hi - loose)]
        low = np.flatnonzero(w <= w_hi - 2 * loose)
        low = low[(u[low] <= u_hi - loose) & (v[low] >= v_lo + loose)]
        if high.size * low.size <= _candidate_cap(n) or m >= n:
            _, a_idx, b_idx = _best_pairs(u, v, high, low, k, floor)
            return a_idx, b_idx
        m = min(n, m * 4)  # a weak floor leaves too many candidates: seed wider to raise it


def _candidate_cap(n: int) -> int:
    """How many candidate pairs an index pair may score at once, for ``n`` subjects."""
    return min(_MAX_CANDIDATE_PAIRS, max(_MIN_CANDIDATE_PAIRS, _CANDIDATES_PER_SUBJECT * n))


def _extremes(w: FloatArray, m: int) -> tuple[IntArray, IntArray]:
    """Positions of the ``m`` largest and the ``m`` smallest values of ``w`` (one partition)."""
    n = w.size
    if 2 * m >= n:
        everyone = np.arange(n, dtype=np.int64)
        return everyone, everyone
    parted = np.argpartition(w, (m - 1, n - m))
    return parted[n - m:], parted[:m]


def _best_pairs(
    u: FloatArray, v: FloatArray, high: IntArray, low: IntArray, k: int, min_gap: float
) -> tuple[FloatArray, IntArray, IntArray]:
    """The k strongest (a in ``high``, b in ``low``) pairs, as strengths and positions, strongest first."""
    keep_s: list[FloatArray] = []
    keep_a: list[IntArray] = []
    keep_b: list[IntArray] = []
    step = max(1, _BLOCK // max(low.size, 1))
    for start in range(0, high.size, step):
        a = high[start:start + step]
        gap_x = u[a][:, None] - u[low][None, :]
        gap_y = v[low][None, :] - v[a][:, None]
        strength = np.minimum(gap_x, gap_y)
        hit = np.nonzero((strength > 0.0) & (strength >= min_gap))
        if hit[0].size == 0:
            continue
        s = strength[hit]
        if s.size > k:  # only the block's k best (and any tied with the k-th) can matter
            kth = -np.partition(-s, k - 1)[k - 1]
            best = s >= kth
            s, hit = s[best], (hit[0][best], hit[1][best])
        keep_s.append(s)
        keep_a.append(a[hit[0]])
        keep_b.append(low[hit[1]])
    if not keep_s:
        empty_i = np.zeros(0, dtype=np.int64)
        return np.zeros(0), empty_i, empty_i
    s, a_all, b_all = np.concatenate(keep_s), np.concatenate(keep_a), np.concatenate(keep_b)
    # strongest first, ties by the pair's rows (positions ascend with rows), as top_inversions sorts
    order = np.lexsort((np.maximum(a_all, b_all), np.minimum(a_all, b_all), -s))[:k]
    return s[order], a_all[order], b_all[order]


# -- counting every inversion, without listing them -----------------------------------------------


def count_inversions(
    normalized: FloatArray, min_gap: float = 0.0, ranks: Sequence[Ranked] | None = None, *, fast: bool = True,
) -> IntArray:
    """How many subject pairs each pair of indices orders oppositely, both by at least ``min_gap`` (> 0).

    ``counts[x, y]`` (= ``counts[y, x]``) is the number of subject pairs (a, b) with
    ``normalized[a, x] - normalized[b, x] ≥ t`` and ``normalized[b, y] - normalized[a, y] ≥ t``,
    ``t`` the larger of ``min_gap`` and the smallest positive float: the rule
    :func:`top_inversions` lists the strongest of. A pair of subjects two index pairs disagree
    on counts under each. O(n log n) per index pair, never one row per pair, so a million
    subjects are counted too: per column, each tie group's first group t above it (one forward
    pass over the column's sort), then per index pair one compiled sweep with a Fenwick tree
    (:mod:`aggregator.analytics._kernels`).

    ``ranks`` (one :class:`Ranked` per column, whose order and tie groups are those of
    ``normalized``'s columns, e.g. the comparison's own when it normalizes to percentiles) saves
    sorting the columns again; without it each column is sorted once here. ``fast=False``
    counts in vectorized numpy block passes instead, O(n log² n), without the compiled sweep.
    """
    n, k = normalized.shape
    counts = np.zeros((k, k), dtype=np.int64)
    if ranks is None:
        ranks = [rank_column(normalized[:, j]) for j in range(k)]
    t = max(min_gap, _SMALLEST)
    pairs = list(combinations(range(k), 2))
    if n < 2 or not pairs:
        return counts
    if fast:
        from aggregator.analytics._kernels import bounds_by_group, pair_count  # numba: only when counting

        # the column's normalized values in its rank order: one gather per column, not per pair
        along = [np.take(normalized[:, j], ranks[j].order) for j in range(k)]
        above = [bounds_by_group(ranks[j].sorted_groups, along[j], t) for j in range(k)]
        for x, y in pairs:
            # the count is symmetric: sweep along the column with more tie groups, so that the
            # tree is over the other's, the smaller (a few hundred for integer scores: in cache)
            sweep, tree = (x, y) if ranks[x].n_groups >= ranks[y].n_groups else (y, x)
            counts[x, y] = counts[y, x] = pair_count(ranks[sweep].order, along[sweep], ranks[tree].groups,
                                                     above[tree], t)
        return counts
    scratch = np.empty(n, dtype=np.intp)
    for x, y in pairs:
        # each unordered pair once: as (a, b) with a the subject x puts above
        by_u = _Sweep.along(ranks[x], ranks[y], normalized[:, x], t, ahead=False)
        by_v = _Sweep.along(ranks[y], ranks[x], normalized[:, y], t, ahead=True)
        if by_u.rows.size >= 2:
            counts[x, y] = counts[y, x] = _prefix_count_in_blocks(*_prefix_asks(by_u, by_v, scratch))
    return counts


@dataclass(frozen=True, eq=False)
class _Sweep:
    """The rows two columns share, in one column's order, and where each row's wanted partners start.

    For the column ``u`` it is sorted by: ``rows`` in ascending ``u``; ``groups`` their tie
    groups there (non-decreasing); ``bound[i]`` the first place from which the rule holds
    against row ``rows[i]``: with ``ahead``, the first place p with ``u[rows[p]] - u[rows[i]] ≥ t``
    (rows the subject is t below), else the end of the places p with ``u[rows[i]] - u[rows[p]] ≥ t``
    (rows it is t above: a prefix). A bound always falls between tie groups, as the rule depends
    on values only.
    """

    rows: IntArray
    groups: NDArray[np.intp]
    bound: NDArray[np.intp]

    @classmethod
    def along(cls, ranked: Ranked, partner: Ranked, column: FloatArray, t: float, *, ahead: bool) -> _Sweep:
        """Filter ``ranked``'s one sort to the rows ``partner`` has too: O(n), no new sort."""
        other = np.take(partner.groups, ranked.order)
        both = other > 0
        rows = np.compress(both, ranked.order)
        values = np.take(column, rows)
        if ahead:
            guess = np.searchsorted(values, values + t, side="left")
            bound = _first_failing(values, guess, lambda x, at: x - values[at] < t)
        else:
            guess = np.searchsorted(values, values - t, side="right")
            bound = _first_failing(values, guess, lambda x, at: values[at] - x >= t)
        return cls(rows=rows, groups=np.compress(both, ranked.sorted_groups), bound=bound)


def _reorder(values: NDArray[np.intp], rows: IntArray, into: IntArray, scratch: NDArray[np.intp]) -> NDArray[np.intp]:
    """``values`` given for ``rows`` (one column's order), read back for ``into`` (the other's): the same rows."""
    np.put(scratch, rows, values)
    return np.take(scratch, into)


def _prefix_asks(
    by_u: _Sweep, by_v: _Sweep, scratch: NDArray[np.intp]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """The count's asks in u's order, for :func:`_prefix_count_in_blocks`: each row's prefix in u's
    order, its first place in v's order (equal values share it), and the place in v's order
    from which the rows are t above it."""
    starts = np.r_[True, by_v.groups[1:] != by_v.groups[:-1]]
    first = np.flatnonzero(starts)[np.cumsum(starts) - 1]
    return (by_u.bound, _reorder(first, by_v.rows, by_u.rows, scratch),
            _reorder(by_v.bound, by_v.rows, by_u.rows, scratch))


def _prefix_count_in_blocks(prefix: IntArray, v_rank: IntArray, need: IntArray) -> int:
    """Σₐ #{j < prefix[a] : v_rank[j] ≥ need[a]} without a compiled counter, in vectorized passes, O(n log² n).

    A prefix is the union of at most log₂ n aligned blocks (one per set bit of its length); for
    each block size the rows are sorted by rank within their blocks once (each level by merging
    the one below), and every query with that bit set counts its block's ranks ≥ its bound with
    a binary search, all queries of a level at once.
    """
    n = prefix.size
    # padded to a power of two; level L holds the ranks sorted within blocks of 2**L, each level
    # made from the one below by merging pairs of sorted runs (stable sort: timsort merges two
    # runs in one pass). Padding sits past n, where no prefix reaches.
    size = 1 << max(int(n - 1).bit_length(), 0)
    blocks = np.full(size, -1, dtype=np.int64)
    blocks[:n] = v_rank
    width = np.int64(n + 1)
    total = 0
    for level in range(size.bit_length()):
        step = 1 << level
        if level:
            blocks = np.sort(blocks.reshape(size >> level, step), axis=1, kind="stable").reshape(size)
        asking = (prefix & step) != 0
        if not asking.any():
            continue
        keys = blocks + np.repeat(np.arange(size >> level, dtype=np.int64) * width, step)
        block = prefix[asking] >> (level + 1) << 1  # the block this bit adds to the prefix
        # the block's rows with a rank ≥ the bound: from the first such to the block's end; the
        # searches come sorted (the total is all we need), which keeps them in cache
        firsts = np.searchsorted(keys, np.sort(block * width + need[asking]), side="left")
        total += int(np.sum((block + 1) * step) - np.sum(firsts))
    return total


def _first_failing(
    ordered: FloatArray, guess: IntArray, holds: Callable[[FloatArray, IntArray | slice], BoolArray]
) -> IntArray:
    """For each row, the first position of ``ordered`` where ``holds(value, row)`` stops being true.

    ``holds`` must be true on a prefix of ``ordered`` for each row (``row`` may be a slice of
    all of them). ``guess`` (a binary search on ``u - t`` or ``v + t``) may be off by a rounding
    at the boundary, where ``u[a] - u[b] ≥ t`` and ``u[b] ≤ u[a] - t`` disagree: every row is
    checked at once (``guess`` ascends, so its neighbours are read in order), then each step
    moves the wrong ones past a whole tie group; a rounding reaches at most one or two groups.
    """
    n = ordered.size
    found = guess.copy()
    if n == 0:
        return found
    everyone = slice(None)
    wrong = (found > 0) & ~holds(np.take(ordered, np.maximum(found - 1, 0)), everyone)
    wrong |= (found < n) & holds(np.take(ordered, np.minimum(found, n - 1)), everyone)
    rows = np.flatnonzero(wrong)
    while rows.size:
        at = found[rows]
        back = at > 0
        back[back] = ~holds(ordered[at[back] - 1], rows[back])
        ahead = at < n
        ahead[ahead] = holds(ordered[at[ahead]], rows[ahead])
        found[rows[back]] = np.searchsorted(ordered, ordered[at[back] - 1], side="left")
        found[rows[ahead]] = np.searchsorted(ordered, ordered[at[ahead]], side="right")
        rows = rows[back | ahead]
    return found
