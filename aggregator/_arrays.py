"""Small numpy kernels shared by the analytics; columns are float arrays with NaN for missing."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def mid_ranks(column: FloatArray) -> FloatArray:
    """1-based average ranks of the non-NaN values (ties share the mean of their ranks).

    >>> mid_ranks(np.array([10.0, np.nan, 30.0, 10.0])).tolist()
    [1.5, nan, 3.0, 1.5]
    """
    out = np.full(column.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(column))
    if valid.size == 0:
        return out
    values = column[valid]
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # a tie group starts wherever the sorted value changes
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    group_rank = (starts + 1 + ends) / 2.0
    ranks_sorted = np.repeat(group_rank, ends - starts)
    out[valid[order]] = ranks_sorted
    return out
