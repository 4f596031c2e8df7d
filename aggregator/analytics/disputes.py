"""Which subjects are disputed by default: those whose spread is unusual for this roster.

A fixed threshold (25 points) flags almost half of a real roster, since indices that agree
only moderately put most people some way apart. The default rule asks instead how far apart
the standings would be if the indices disagreed on a subject only as much as they typically
do on this roster, and flags those further apart than that in all but 1 % of cases.

The model: a subject's standings under k indices scatter around their consensus with one
roster-wide spread σ, like k draws from a normal distribution. The range (max − min) of k
such draws has a known distribution; σ is read off the roster robustly, as the median over
subjects of spread ÷ the median range for their k. The threshold is σ times the 99th
percentile of the range for the roster's typical k (the median number of indices per
subject). The better the indices agree here, the smaller σ and the lower the bar; where they
agree little, only the extreme cases stand out. Pure numpy (scipy's normal CDF, lazily).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from aggregator.analytics._arrays import FloatArray, IntArray

#: The share of subjects the roster's ordinary disagreement alone would push past the threshold.
UNUSUAL_SHARE = 0.01
#: Never below this many points: on a roster where the indices nearly agree, tiny gaps are noise.
MIN_UNUSUAL_SPREAD = 10.0
#: Fewest comparable subjects for a roster-wide estimate; with fewer the fixed threshold is used.
MIN_SUBJECTS = 10


def unusual_spread(spread: FloatArray, n_indices: IntArray, fallback: float) -> float:
    """The spread above which a subject's standings are unusually far apart for this roster (points).

    ``spread`` and ``n_indices`` per subject (NaN spread: not comparable); ``fallback`` when too
    few subjects are comparable to estimate the roster's ordinary disagreement.
    """
    comparable = np.isfinite(spread) & (n_indices >= 2)
    if int(np.sum(comparable)) < MIN_SUBJECTS:
        return fallback
    k = n_indices[comparable]
    typical = {int(n): typical_range(int(n)) for n in np.unique(k)}
    sigma = float(np.median(spread[comparable] / np.array([typical[int(n)] for n in k])))
    return unusual_from(sigma, int(np.median(k)))


def typical_range(k: int) -> float:
    """The median range of ``k`` standard normal draws: a subject's spread over it estimates σ."""
    return _range_quantile(0.5, k)


def unusual_from(sigma: float, typical_k: int) -> float:
    """The threshold for a roster-wide σ and the roster's typical number of indices per subject.

    Split out so that an engine computing σ elsewhere (Spark) finishes with the same arithmetic.
    """
    return max(sigma * _range_quantile(1.0 - UNUSUAL_SHARE, typical_k), MIN_UNUSUAL_SPREAD)


@cache
def _range_quantile(p: float, k: int) -> float:
    """The ``p`` quantile of the range of ``k`` standard normal draws (bisection on its CDF)."""
    lo, hi = 0.0, 16.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _range_cdf(mid, k) < p else (lo, mid)
    return (lo + hi) / 2


def _range_cdf(w: float, k: int) -> float:
    """P(range of k standard normals ≤ w) = k ∫ φ(x) (Φ(x + w) − Φ(x))^(k−1) dx."""
    from scipy.special import ndtr

    x = np.linspace(-9.0, 9.0, 3601)
    density = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    return float(k * np.trapezoid(density * (ndtr(x + w) - ndtr(x)) ** (k - 1), x))
