"""Pairwise inversions: two subjects that two indices order in opposite directions, by a wide margin.

The "pop star above the famous investor" case. For indices X and Y and subjects a, b, with
normalized scores u (X) and v (Y), X puts a above b by ``u[a] - u[b]`` points and Y puts b
above a by ``v[b] - v[a]``; the pair's *strength* is the smaller of the two gaps, so both
indices must be clear about their order. We return the ``k`` strongest pairs whose strength is
at least ``min_gap``, one entry per pair of subjects (with the index pair that disagrees most).

How it scales (no O(n²) scan), per pair of indices X, Y, on the n subjects both scored:

1. *Seed.* A pair's strength is at most ``(w[a] - w[b]) / 2`` with ``w = u - v``: a striking
   pair joins a subject X rates far above Y to one Y rates far above X. Score all pairs
   between the m subjects with the largest ``w`` and the m with the smallest (found with
   ``np.argpartition``, O(n); m = 256): the k-th best strength found, ``t``, is a lower bound
   on the true k-th (or ``t = min_gap`` if fewer than k pairs reach it).
2. *Corners.* Any pair at least ``t`` strong has its upper subject a with
   ``u[a] - min u ≥ t``, ``max v - v[a] ≥ t`` and ``w[a] - min w ≥ 2t``, and its lower
   subject b in the mirror corner. Those two sets are small when ``t`` is high (a subject
   near the top of X and the bottom of Y); all pairs between them are scored, in blocks, and
   the best k are exact, since every pair left out is weaker than ``t``.
3. If the corners are still too large (a low ``t``), the seed grows fourfold and we retry;
   at worst (fewer than k inversions reach ``min_gap`` while hundreds of thousands of
   subjects sit in both corners, which skewed real scores do not produce) the seed becomes
   the whole set and the search the exhaustive one.

Cost: O(n) per index pair plus the scored candidate pairs (a few hundred thousand on a million
subjects of skewed, noisy scores), so the whole search is near-linear in practice.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from aggregator._arrays import FloatArray, IntArray

#: How many inversions a comparison keeps.
DEFAULT_TOP_INVERSIONS = 100
#: Candidates per side to start with; grows fourfold until the bound proves the top-k exact.
_START_CANDIDATES = 256
#: Candidate pairs scored per block (bounds the memory of one step to a few tens of MB).
_BLOCK = 1 << 21
#: Beyond this many candidate pairs, widen the seed rather than score them all.
_MAX_CANDIDATE_PAIRS = 1 << 25


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


def top_inversions(
    normalized: FloatArray, k: int = DEFAULT_TOP_INVERSIONS, min_gap: float = 0.0
) -> tuple[Inversion, ...]:
    """The ``k`` strongest inversions (strength ≥ ``min_gap`` and > 0), strongest first.

    Ties are broken by rows, then columns, so the same table always gives the same list.
    """
    if k <= 0:
        return ()
    found: dict[tuple[int, int], Inversion] = {}
    valid = [~np.isnan(normalized[:, j]) for j in range(normalized.shape[1])]
    for x, y in combinations(range(normalized.shape[1]), 2):
        rows = np.flatnonzero(valid[x] & valid[y])
        for inversion in _pair_top(normalized[rows, x], normalized[rows, y], rows, (x, y), k, min_gap):
            key = (min(inversion.above, inversion.below), max(inversion.above, inversion.below))
            best = found.get(key)
            if best is None or _rank_key(inversion) < _rank_key(best):
                found[key] = inversion
    # the k strongest distinct subject pairs are all within each index pair's own top k
    return tuple(sorted(found.values(), key=_rank_key)[:k])


def _rank_key(inv: Inversion) -> tuple[float, int, int, int, int]:
    return (-inv.strength, min(inv.above, inv.below), max(inv.above, inv.below), inv.by, inv.against)


def _pair_top(
    u: FloatArray, v: FloatArray, rows: IntArray, pair: tuple[int, int], k: int, min_gap: float
) -> list[Inversion]:
    """Top inversions between index ``pair[0]`` (scores ``u``) and ``pair[1]`` (``v``) on ``rows``."""
    n = rows.size
    if n < 2:
        return []
    w = u - v  # high: x rates the subject above y does
    u_lo, u_hi, v_lo, v_hi, w_lo, w_hi = u.min(), u.max(), v.min(), v.max(), w.min(), w.max()
    m = min(n, _START_CANDIDATES)
    while True:
        # 1. a lower bound on the k-th strength, from the m most X-leaning and m most Y-leaning subjects
        high, low = _extremes(w, m)
        seed, _, _ = _best_pairs(u, v, high, low, k, min_gap)
        floor = max(float(seed[-1]) if seed.size >= k else min_gap, min_gap, np.finfo(float).tiny)
        # 2. every pair at least that strong has its upper subject in one corner and its lower in the other
        # (a hair looser than the floor: rounding may only add candidates, never lose one)
        loose = floor * (1.0 - 1e-9)
        high = np.flatnonzero(w >= w_lo + 2 * loose)
        high = high[(u[high] >= u_lo + loose) & (v[high] <= v_hi - loose)]
        low = np.flatnonzero(w <= w_hi - 2 * loose)
        low = low[(u[low] <= u_hi - loose) & (v[low] >= v_lo + loose)]
        if high.size * low.size <= _MAX_CANDIDATE_PAIRS or m >= n:
            _, a_idx, b_idx = _best_pairs(u, v, high, low, k, floor)
            break
        m = min(n, m * 4)  # a weak floor leaves too many candidates: seed wider to raise it
    x, y = pair
    return [
        Inversion(above=int(rows[a]), below=int(rows[b]), by=x, against=y,
                  gap_by=float(u[a] - u[b]), gap_against=float(v[b] - v[a]))
        for a, b in zip(a_idx.tolist(), b_idx.tolist(), strict=True)
    ]


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
