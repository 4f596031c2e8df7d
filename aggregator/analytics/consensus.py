"""Consensus standing: one robust figure per subject from the indices that know them.

Each method takes the normalized ``[subjects × indices]`` table sorted by row (one sort,
shared with the spread, quartiles and leave-one-out medians) and the percentile standing:

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

from collections.abc import Callable, Sequence

import numpy as np

from aggregator.analytics._arrays import FloatArray, SortedRows, row_blocks, sort_rows
from aggregator.errors import ConfigError

#: Consensus needs at least this many indices to know the subject.
MIN_INDICES_FOR_CONSENSUS = 2
#: Share cut from each end of a subject's scores by the ``trimmed_mean`` consensus (as scipy's trim_mean).
TRIM = 0.25

Consensus = Callable[[SortedRows, FloatArray], FloatArray]
"""A consensus method: the normalized table sorted by row, and the percentile standing, in."""


def _median(rows: SortedRows, _standing: FloatArray) -> FloatArray:
    return rows.median()


def _trimmed_mean(rows: SortedRows, _standing: FloatArray) -> FloatArray:
    n = rows.count
    cut = np.floor(TRIM * n).astype(np.int64)
    kept = n - 2 * cut
    total = np.zeros(n.shape)
    for t in range(rows.width):
        total += np.where((t >= cut) & (t < n - cut), rows.place(t), 0.0)
    mean: FloatArray = np.where(kept > 0, total / np.maximum(kept, 1), np.nan)
    return mean


def _borda(rows: SortedRows, standing: FloatArray) -> FloatArray:
    # Borda points per index are the share of the index's cohort a subject beats (ties split):
    # the percentile standing, whatever the normalizer; averaged so missing indices don't count.
    n = rows.count
    total = np.nansum(standing, axis=1) if standing.shape[1] else np.zeros(n.shape)
    mean: FloatArray = np.where(n > 0, total / np.maximum(n, 1), np.nan)
    return mean


CONSENSUS_METHODS: dict[str, Consensus] = {"median": _median, "trimmed_mean": _trimmed_mean, "borda": _borda}


def consensus_of(name: str) -> Consensus:
    """The consensus method called ``name``, or a ConfigError listing the known ones."""
    try:
        return CONSENSUS_METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown consensus method {name!r}; known: {', '.join(sorted(CONSENSUS_METHODS))}") from None


def consensus_by_rows(name: str, normalized: FloatArray, standing: FloatArray) -> FloatArray:
    """The consensus of each row of ``normalized`` (NaN with fewer than ``MIN_INDICES_FOR_CONSENSUS``)."""
    aggregate = consensus_of(name)
    out = np.empty(normalized.shape[0])
    for block in row_blocks(normalized.shape[0]):
        rows = sort_rows(normalized[block])
        out[block] = np.where(rows.count >= MIN_INDICES_FOR_CONSENSUS, aggregate(rows, standing[block]), np.nan)
    return out


def leave_one_out(
    name: str, rows: SortedRows, others: Sequence[FloatArray], standing: FloatArray, j: int
) -> FloatArray:
    """The consensus without column ``j`` (NaN where fewer than two indices remain)."""
    normalized = rows.source
    remaining = rows.count - ~np.isnan(normalized[:, j])
    if name == "median":
        without = others[j]  # the median of the others, as the dissent already found it
    else:
        keep = [c for c in range(normalized.shape[1]) if c != j]
        without = CONSENSUS_METHODS[name](sort_rows(normalized[:, keep]), standing[:, keep])
    out: FloatArray = np.where(remaining >= MIN_INDICES_FOR_CONSENSUS, without, np.nan)
    return out
