"""Normalizers: each index's raw scores to a common 0-100 scale.

Every normalizer has the same signature: the whole ``[subjects × indices]`` raw array and the
indices' specs in, a new array of the same shape out, NaN (missing) preserved, the input never
mutated. Methods that need the cohort (percentile) need no special case in callers.

- ``percentile`` (the default, "relative standing"): mid-rank percentile among the subjects
  the index scored: ``(rank - 0.5) / n * 100``, ties share their mean rank, so a lone subject
  sits at 50 and no one is at exactly 0 or 100.
- ``range``: the index's documented scale mapped linearly to 0-100. For an unbounded scale
  (a share price, a follower count) a log-range over the cohort: ``log1p(x - min)`` divided by
  its maximum, so the lowest scored subject is 0 and the highest 100.

Indices where lower is better are flipped, so 100 is always "most influential".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from aggregator._arrays import FloatArray, mid_ranks
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec

Normalizer = Callable[[FloatArray, Sequence[IndexSpec]], FloatArray]

NORMALIZERS: dict[str, Normalizer] = {}


def normalizer(name: str) -> Callable[[Normalizer], Normalizer]:
    def register(func: Normalizer) -> Normalizer:
        if name in NORMALIZERS:
            raise ValueError(f"normalizer {name!r} is already registered")
        NORMALIZERS[name] = func
        return func

    return register


def get_normalizer(name: str) -> Normalizer:
    try:
        return NORMALIZERS[name]
    except KeyError:
        known = ", ".join(sorted(NORMALIZERS))
        raise ConfigError(f"unknown normalizer {name!r}; known: {known}") from None


def normalize(values: FloatArray, specs: Sequence[IndexSpec], method: str = "percentile") -> FloatArray:
    """Normalize ``values`` (subjects × indices) with the named method.

    >>> from aggregator.models import IndexSpec, Scale
    >>> specs = [IndexSpec(name="k", scale=Scale(lo=0, hi=200))]
    >>> normalize(np.array([[0.0], [50.0], [200.0]]), specs, "range").ravel().tolist()
    [0.0, 25.0, 100.0]
    >>> normalize(np.array([[3.0], [1.0], [2.0], [np.nan]]), specs).ravel().tolist()
    [83.33333333333334, 16.666666666666664, 50.0, nan]
    """
    if values.ndim != 2 or values.shape[1] != len(specs):
        raise ValueError(f"values have shape {values.shape}, expected (subjects, {len(specs)})")
    return get_normalizer(method)(values, specs)


def _oriented(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    """A copy in which higher is always better."""
    signs = np.array([1.0 if s.higher_is_better else -1.0 for s in specs])
    oriented: FloatArray = values * signs
    return oriented


@normalizer("percentile")
def percentile(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    oriented = _oriented(values, specs)
    out = np.full(values.shape, np.nan)
    counts = np.sum(~np.isnan(values), axis=0)
    for j in range(values.shape[1]):  # a handful of indices; each column is vectorized
        if counts[j]:
            out[:, j] = (mid_ranks(oriented[:, j]) - 0.5) / counts[j] * 100.0
    return out


@normalizer("range")
def range_(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    out = np.full(values.shape, np.nan)
    for j, spec in enumerate(specs):
        column = values[:, j]
        lo, hi = spec.scale.lo, spec.scale.hi
        if lo is not None and hi is not None:
            scaled = (column - lo) / (hi - lo) * 100.0
        else:
            scaled = _log_range(column)
        out[:, j] = scaled if spec.higher_is_better else 100.0 - scaled
    return out


def _log_range(column: FloatArray) -> FloatArray:
    if np.all(np.isnan(column)):
        return column.copy()
    logged = np.log1p(column - np.nanmin(column))
    top = np.nanmax(logged)
    if top == 0.0:  # every scored subject has the same value: all stand in the middle
        return np.where(np.isnan(column), np.nan, 50.0)
    scaled: FloatArray = logged / top * 100.0
    return scaled
