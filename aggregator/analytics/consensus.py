"""Consensus standing: one robust figure per subject from the indices that know them.

Each method reads a subject's normalized scores sorted (one sort per row, in
:mod:`aggregator.analytics._rows`, shared with the spread, quartiles and leave-one-out
consensus) and, for Borda, the percentile standing:

- ``median`` (the default): the middle normalized score; with an even count, the mean of the
  two middle ones.
- ``trimmed_mean``: the mean after cutting ``floor(TRIM * n)`` scores from each end (as
  ``scipy.stats.trim_mean(row, 0.25)``): two to three indices give the plain mean, four to
  seven drop the highest and the lowest.
- ``borda``: the mean over indices of the subject's Borda points, i.e. the share of each
  index's cohort it beats, ties split: the percentile standing, whatever the normalizer.

A subject needs ``MIN_INDICES_FOR_CONSENSUS`` indices for a consensus (NaN otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics._arrays import FloatArray
from aggregator.errors import ConfigError

#: Consensus needs at least this many indices to know the subject.
MIN_INDICES_FOR_CONSENSUS = 2
#: Naming one index as the dissenter needs at least this many (with two, neither is "odd").
MIN_INDICES_FOR_DISSENT = 3
#: Share cut from each end of a subject's scores by the ``trimmed_mean`` consensus (as scipy's trim_mean).
TRIM = 0.25

#: the methods, by name; the compiled row pass (:mod:`aggregator.analytics._rows`) knows each by its place here
CONSENSUS_METHODS: tuple[str, ...] = ("median", "trimmed_mean", "borda")


def consensus_of(name: str) -> int:
    """The number of the consensus method called ``name``, or a ConfigError listing the known ones."""
    if name not in CONSENSUS_METHODS:
        raise ConfigError(f"unknown consensus method {name!r}; known: {', '.join(sorted(CONSENSUS_METHODS))}")
    return CONSENSUS_METHODS.index(name)


@dataclass(frozen=True, eq=False)
class RowFigures:
    """What each subject's row of normalized scores says (see :class:`~aggregator.analytics.compare.Comparison`)."""

    n_indices: NDArray[np.int64]
    consensus: FloatArray
    iqr: FloatArray
    spread: FloatArray
    dissenter: NDArray[np.int64]
    dissent_gap: FloatArray
    #: ``[subjects × indices]``, column-major: the consensus without each index in turn
    without: FloatArray


def row_figures(normalized: FloatArray, standing: FloatArray, consensus: str) -> RowFigures:
    """Consensus, IQR, spread, dissent and leave-one-out consensus of every row, in one compiled pass."""
    from aggregator.analytics import _rows  # numba: only when a comparison runs

    method = consensus_of(consensus)
    normalized, standing = np.asarray(normalized, dtype=np.float64), np.asarray(standing, dtype=np.float64)
    n, k = normalized.shape
    out = RowFigures(
        n_indices=np.empty(n, dtype=np.int64), consensus=np.empty(n), iqr=np.empty(n), spread=np.empty(n),
        dissenter=np.empty(n, dtype=np.int64), dissent_gap=np.empty(n), without=np.empty((n, k), order="F"),
    )
    _rows.row_figures(
        normalized, standing, _rows.sorting_network(k), method, TRIM, MIN_INDICES_FOR_CONSENSUS,
        MIN_INDICES_FOR_DISSENT, out.n_indices, out.consensus, out.iqr, out.spread, out.dissenter, out.dissent_gap,
        out.without,
    )
    return out


def consensus_by_rows(name: str, normalized: FloatArray, standing: FloatArray) -> FloatArray:
    """The consensus of each row of ``normalized`` (NaN with fewer than ``MIN_INDICES_FOR_CONSENSUS``)."""
    return _consensus_only(normalized, standing, consensus_of(name), MIN_INDICES_FOR_CONSENSUS)


def row_nanmedian(values: FloatArray) -> FloatArray:
    """Median of each row ignoring NaN (NaN for an all-NaN row), warning-free."""
    return _consensus_only(values, values, CONSENSUS_METHODS.index("median"), 1)


def _consensus_only(normalized: FloatArray, standing: FloatArray, method: int, least: int) -> FloatArray:
    from aggregator.analytics import _rows

    normalized, standing = np.asarray(normalized, dtype=np.float64), np.asarray(standing, dtype=np.float64)
    out = np.empty(normalized.shape[0])
    _rows.consensus_only(normalized, standing, _rows.sorting_network(normalized.shape[1]), method, TRIM, least, out)
    return out
