"""Each subject's row of normalized scores, read in one compiled pass (numba).

A row holds a handful of values, one per index. Whole-column numpy needed a sorting network of
minimum/maximum passes and a dozen gathers per figure, each a trip through memory for a few
nanoseconds of arithmetic; here each row is sorted once, in a scratch array that stays in the
first-level cache, and every figure is read off it before the next row is loaded: about a fifth
of the time (45 against 211 ms at a million subjects and five indices).

The arithmetic is the figures' definitions, in the order numpy's would do it (so the engines and
the tests agree to the last bit): the median as the mean of the two middle values, quantiles
interpolated linearly (``np.quantile``'s default), sums left to right. Imported only when a
comparison runs, never by ``import aggregator``; cached as :mod:`aggregator.analytics._kernels`
is, compiled on first use, or, for the two kernels with an explicit signature, when this module
is first imported (later processes load them from the cache).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, types
from numpy.typing import NDArray

#: the consensus methods, by their places in ``consensus.CONSENSUS_METHODS`` (a test holds them equal)
MEDIAN, TRIMMED_MEAN, BORDA = 0, 1, 2

#: a table of any layout, read only (a writable one converts): the kernels with an explicit signature
#: below compile once for every caller, where a variant per layout and constant argument added
#: seconds to the first run on a machine
_ANY_TABLE = types.Array(types.float64, 2, "A", readonly=True)


@njit(cache=True, nogil=True, inline="always")
def _sort_row(table: NDArray[np.float64], i: int, network: NDArray[np.int64], values: NDArray[np.float64]) -> int:
    """Row i's values that are not NaN, ascending, into ``values`` (+inf after them); returns how many.

    ``network``: :func:`sorting_network` of the row's length. Its comparators take every row
    the same way, so the processor never waits on a branch it guessed wrong, as an insertion
    sort of random values would about once a value: it takes half the time.
    """
    count = 0
    for j in range(table.shape[1]):
        x = table[i, j]
        missing = np.isnan(x)
        values[j] = np.inf if missing else x
        count += not missing
    for c in range(network.shape[0]):
        a, b = network[c, 0], network[c, 1]
        low, high = min(values[a], values[b]), max(values[a], values[b])
        values[a], values[b] = low, high
    return count


@njit(cache=True, nogil=True, inline="always")
def _median(values: NDArray[np.float64], count: int) -> float:
    if count == 0:
        return np.nan
    return float((values[(count - 1) // 2] + values[count // 2]) / 2.0)


@njit(cache=True, nogil=True, inline="always")
def _median_without(values: NDArray[np.float64], count: int, x: float) -> float:
    """The median of ``values[:count]`` (ascending) once one value equal to ``x`` is left out.

    Of the ``m = count - 1`` values left, the t-th is ``values[t + 1]`` when x sat at or before
    place t, i.e. when ``x <= values[t]`` (which of equal values goes changes nothing), else
    ``values[t]``.
    """
    m = count - 1
    if m == 0:
        return np.nan
    low, high = (m - 1) // 2, m // 2
    return float((values[low + (x <= values[low])] + values[high + (x <= values[high])]) / 2.0)


@njit(cache=True, nogil=True, inline="always")
def _quantile(values: NDArray[np.float64], count: int, q: float) -> float:
    where = q * (count - 1)
    low = int(np.floor(where))
    frac = where - low
    if frac > 0:
        return float(values[low] + (values[low + 1] - values[low]) * frac)
    return float(values[low])


@njit(cache=True, nogil=True, inline="always")
def _without(values: NDArray[np.float64], count: int, x: float, out: NDArray[np.float64]) -> int:
    """``values[:count]`` (ascending) with one value equal to ``x`` left out, into ``out``; returns how many remain."""
    for t in range(count - 1):
        out[t] = values[t + (x <= values[t])]
    return count - 1


@njit(types.float64(types.int64, types.float64[::1], types.int64, _ANY_TABLE, types.int64, types.int64,
                    types.float64), cache=True, nogil=True)
def _trimmed_mean_or_borda(method: int, values: NDArray[np.float64], count: int, standing: NDArray[np.float64],
                           i: int, skip: int, trim: float) -> float:
    """The ``method`` consensus of ``values[:count]`` (ascending) when it is not the median;
    ``standing[i]``: the row's percentile standings, for Borda, column ``skip`` left out (-1: none).

    Called, not inlined, and only for these two: the loops of the default method, the median,
    run about twice as fast without them.
    """
    if method == TRIMMED_MEAN:
        cut = int(np.floor(trim * count))  # trim < 1/2: some values are always kept
        kept = count - 2 * cut
        total = 0.0
        for t in range(cut, count - cut):
            total += values[t]
        return total / kept
    if count == 0:
        return np.nan
    total = 0.0
    for j in range(standing.shape[1]):
        if j != skip and not np.isnan(standing[i, j]):
            total += standing[i, j]
    return total / count


@njit(cache=True, nogil=True)
def row_figures(normalized: NDArray[np.float64], standing: NDArray[np.float64], network: NDArray[np.int64],
                method: int, trim: float, least: int, least_for_dissent: int, count: NDArray[np.int64],
                consensus: NDArray[np.float64], iqr: NDArray[np.float64], spread: NDArray[np.float64],
                dissenter: NDArray[np.int64], gap: NDArray[np.float64], without: NDArray[np.float64]) -> None:
    """Each row's figures into the arrays given (one entry per row; ``without``: rows × columns).

    ``least`` values make a consensus (its IQR and spread too; NaN below), ``least_for_dissent``
    name a dissenter: the column farthest from the median of the others (the first of equals;
    -1 and NaN below). ``without[i, j]``: the consensus of row i once column j is left out
    (NaN where fewer than ``least`` values remain); for the median, the median of the others.
    """
    n, k = normalized.shape
    values, rest = np.empty(k), np.empty(k)
    for i in range(n):
        c = _sort_row(normalized, i, network, values)
        count[i] = c
        enough = c >= least
        if not enough:
            consensus[i] = np.nan
        elif method == MEDIAN:
            consensus[i] = _median(values, c)
        else:
            consensus[i] = _trimmed_mean_or_borda(method, values, c, standing, i, -1, trim)
        iqr[i] = _quantile(values, c, 0.75) - _quantile(values, c, 0.25) if enough else np.nan
        spread[i] = values[c - 1] - values[0] if enough else np.nan
        widest = -1.0
        farthest = 0
        for j in range(k):
            x = normalized[i, j]
            if np.isnan(x):  # nothing to leave out (Borda skips the column's standing all the same)
                without[i, j] = consensus[i] if method != BORDA or not enough else _trimmed_mean_or_borda(
                    method, values, c, standing, i, j, trim)
                continue
            others = _median_without(values, c, x)
            here = abs(x - others)
            if here > widest:  # False where NaN
                widest = here
                farthest = j
            if c - 1 < least:
                without[i, j] = np.nan
            elif method == MEDIAN:
                without[i, j] = others
            else:
                without[i, j] = _trimmed_mean_or_borda(method, rest, _without(values, c, x, rest), standing, i, j, trim)
        has_dissent = c >= least_for_dissent
        dissenter[i] = farthest if has_dissent else -1
        gap[i] = widest if has_dissent else np.nan


@njit(types.void(_ANY_TABLE, _ANY_TABLE, types.Array(types.int64, 2, "C", readonly=True), types.int64,
                 types.float64, types.int64, types.float64[::1]), cache=True, nogil=True)
def consensus_only(normalized: NDArray[np.float64], standing: NDArray[np.float64], network: NDArray[np.int64],
                   method: int, trim: float, least: int, out: NDArray[np.float64]) -> None:
    """Each row's consensus alone, as :func:`row_figures` computes it."""
    values = np.empty(normalized.shape[1])
    for i in range(normalized.shape[0]):
        c = _sort_row(normalized, i, network, values)
        if c < least:
            out[i] = np.nan
        elif method == MEDIAN:
            out[i] = _median(values, c)
        else:
            out[i] = _trimmed_mean_or_borda(method, values, c, standing, i, -1, trim)


@cache
def sorting_network(k: int) -> NDArray[np.int64]:
    """Comparators ``(a, b)``, a < b, that sort k inputs: Batcher's odd-even merge sort, as rows.

    Built for the next power of two; comparators touching an input beyond k are dropped, as
    such an input would hold +inf and never move.
    """
    size = 1
    while size < k:
        size *= 2
    pairs = []
    p = 1
    while p < size:
        step = p
        while step >= 1:
            for j in range(step % p, size - step, 2 * step):
                for i in range(min(step, size - j - step)):
                    if (i + j) // (2 * p) == (i + j + step) // (2 * p):
                        pairs.append((i + j, i + j + step))
            step //= 2
        p *= 2
    network = np.array([(a, b) for a, b in pairs if b < k], dtype=np.int64).reshape(-1, 2)
    network.flags.writeable = False  # one array per k, shared by every caller (functools.cache)
    return network


@njit(cache=True, nogil=True)
def alpha_sums(values: NDArray[np.float64], centre: float, leave_out: bool, totals: NDArray[np.float64]) -> None:
    """Add what Krippendorff's alpha needs of each row (a unit) to ``totals``: row 0 for all columns,
    row 1 + j without column j (when ``leave_out``).

    Of the units with at least two values (the others carry no pair): the number of values,
    Σ (m·s2 - s1²) / (m - 1), Σ s1 and Σ s2, for a unit's count m, sum s1 and sum of squares s2
    of its values less ``centre`` (centred, the squares stay accurate); leaving a column out
    only subtracts its value's share from the unit's three.
    """
    n, k = values.shape
    centred = np.empty(k)
    for i in range(n):
        m = 0
        s1 = 0.0
        s2 = 0.0
        for j in range(k):
            x = values[i, j]
            if np.isnan(x):
                centred[j] = np.nan
                continue
            d = x - centre
            centred[j] = d
            m += 1
            s1 += d
            s2 += d * d
        _add_unit(totals, 0, m, s1, s2)
        if leave_out:
            for j in range(k):
                d = centred[j]
                if np.isnan(d):
                    _add_unit(totals, 1 + j, m, s1, s2)
                else:
                    _add_unit(totals, 1 + j, m - 1, s1 - d, s2 - d * d)


@njit(cache=True, nogil=True, inline="always")
def _add_unit(totals: NDArray[np.float64], row: int, m: int, s1: float, s2: float) -> None:
    if m >= 2:
        totals[row, 0] += m
        totals[row, 1] += (m * s2 - s1 * s1) / (m - 1)
        totals[row, 2] += s1
        totals[row, 3] += s2
