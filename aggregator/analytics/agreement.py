"""How far the indices agree: pairwise rank correlations, Krippendorff's alpha, fingerprints, robustness.

Every rank statistic here reuses the one sort per column made by
:func:`aggregator.analytics._arrays.rank_column`; none sorts a column again.

- **Agreement matrix**: for each pair of indices, Kendall's tau-b and Spearman's rho on the
  subjects both scored, with n and a 95% confidence interval from Fisher's z: standard error
  ``sqrt(0.437 / (n - 4))`` for tau (Fieller, Hartley & Pearson 1957) and
  ``sqrt((1 + rho²/2) / (n - 3))`` for rho (Bonett & Wright 2000); NaN when n is too small.
- **Krippendorff's alpha** (interval metric) on the percentile standings, in closed form:
  ``D_o = (1/n) Σ_u Σ_{i≠j∈u} (x_i - x_j)² / (m_u - 1)`` and
  ``D_e = Σ_{i≠j} (x_i - x_j)² / (n (n - 1))`` over the n values in units (subjects) with at
  least two, using ``Σ_{i≠j} (x_i - x_j)² = 2 (m Σx² - (Σx)²)``; O(cells), and equal to the
  ``krippendorff`` package, whose memory grows with the square of the distinct values.
- **Outlier index**: the one whose mean tau-b with the others is lowest (needs three indices).
- **Fingerprint**: Spearman's rho of each index with each activity feature of the roster.
- **Robustness**: the consensus recomputed without each index, and its rank correlation
  with the full consensus. Beyond ``ROBUSTNESS_SAMPLE`` subjects the correlation is taken on
  an evenly spaced, fixed subset of that many (same input, same number; its standard error
  is then below 0.002), which keeps it from costing more than the rest of the comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics._arrays import (
    FloatArray,
    IntArray,
    Ranked,
    discordant_pairs,
    kendall_tau_b,
    rank_column,
    shared,
    spearman,
)

#: two-sided 95%
_Z95 = 1.959963984540054
#: What the report calls posting volume: what a subject sends.
ACTIVITY_FEATURES: tuple[str, ...] = ("posts", "mentions_sent", "retweets_sent")
#: What the report calls the response a subject receives.
RESPONSE_FEATURES: tuple[str, ...] = ("mentions_received", "retweets_received", "listed_count")
#: An index "behaves like an activity meter" when it follows activity at least this strongly ...
ACTIVITY_MIN_RHO = 0.3
#: ... and by at least this much more than it follows the response received.
ACTIVITY_MARGIN = 0.1
MIN_INDICES_FOR_OUTLIER = 3
#: Subjects the robustness correlations are computed on, at most (evenly spaced rows).
ROBUSTNESS_SAMPLE = 200_000


@dataclass(frozen=True, eq=False)
class Agreement:
    """Pairwise agreement of the indices; matrices are ``[indices × indices]`` in table order."""

    indices: tuple[str, ...]
    #: Kendall's tau-b on the subjects both indices scored (diagonal 1; NaN when undefined)
    kendall: FloatArray
    #: ``[indices × indices × 2]``: the 95% interval's low and high ends
    kendall_ci: FloatArray
    spearman: FloatArray
    spearman_ci: FloatArray
    #: subjects both scored (diagonal: subjects the index scored)
    n: IntArray
    #: Krippendorff's alpha, interval metric, on percentile standings (NaN if nobody has two scores)
    alpha: float
    #: alpha with each index left out (how much one index pulls the overall agreement down)
    alpha_without: FloatArray
    #: each index's mean tau-b with the others
    mean_kendall: FloatArray
    #: column of the index that agrees least with the others; -1 with fewer than three indices
    outlier: int
    #: subject pairs each pair of indices orders oppositely (ties in either not counted), as
    #: tau-b counted them; -1 where not counted (fewer than two shared subjects, or ``fast=False``)
    discordant: IntArray | None = None


def agreement(names: Sequence[str], ranks: Sequence[Ranked], standing: FloatArray, *, fast: bool = True) -> Agreement:
    """Agreement of the columns ranked in ``ranks``; ``standing`` is the percentile table for alpha."""
    k = len(ranks)
    kendall = np.full((k, k), np.nan)
    rho = np.full((k, k), np.nan)
    n = np.zeros((k, k), dtype=np.int64)
    discordant = np.full((k, k), -1, dtype=np.int64)
    for i in range(k):
        n[i, i] = ranks[i].count
        discordant[i, i] = 0
        if ranks[i].n_groups > 1:
            kendall[i, i] = rho[i, i] = 1.0
        for j in range(i + 1, k):
            # x = the column with more distinct values: fewer ties to untangle
            x, y = (i, j) if ranks[i].n_groups >= ranks[j].n_groups else (j, i)
            pair = shared(ranks[x], ranks[y])
            opposite = discordant_pairs(pair) if fast and pair.n >= 2 else None
            discordant[i, j] = discordant[j, i] = -1 if opposite is None else opposite
            tau, count = kendall_tau_b(ranks[x], ranks[y], pair, fast=fast, discordant=opposite)
            r, _ = spearman(ranks[x], ranks[y], pair)
            kendall[i, j] = kendall[j, i] = tau
            rho[i, j] = rho[j, i] = r
            n[i, j] = n[j, i] = count
    mean_kendall = np.full(k, np.nan)
    off = kendall.copy()
    np.fill_diagonal(off, np.nan)
    for i in range(k):
        row = off[i][~np.isnan(off[i])]
        if row.size:
            mean_kendall[i] = row.mean()
    outlier = -1
    if k >= MIN_INDICES_FOR_OUTLIER and not np.all(np.isnan(mean_kendall)):
        outlier = int(np.nanargmin(mean_kendall))
    alphas = _alphas(standing, leave_out=True)
    return Agreement(
        indices=tuple(names), kendall=kendall, kendall_ci=_fisher_ci(kendall, n, 4, lambda r: np.full_like(r, 0.437)),
        spearman=rho, spearman_ci=_fisher_ci(rho, n, 3, lambda r: 1.0 + r * r / 2.0), n=n,
        alpha=float(alphas[0]), alpha_without=alphas[1:],
        mean_kendall=mean_kendall, outlier=outlier, discordant=discordant,
    )


def _fisher_ci(r: FloatArray, n: IntArray, lost: int, variance: Callable[[FloatArray], FloatArray]) -> FloatArray:
    """95% interval through Fisher's z with ``se = sqrt(variance(r) / (n - lost))``."""
    out = np.full((*r.shape, 2), np.nan)
    ok = (n > lost) & ~np.isnan(r) & (np.abs(r) < 1.0)
    rr = r[ok]
    se = np.sqrt(variance(rr) / (n[ok] - lost))
    z = np.arctanh(rr)
    out[ok, 0] = np.tanh(z - _Z95 * se)
    out[ok, 1] = np.tanh(z + _Z95 * se)
    exact = ~np.isnan(r) & (np.abs(r) == 1.0)
    out[exact, 0] = out[exact, 1] = r[exact]
    return out


def krippendorff_interval(values: FloatArray) -> float:
    """Krippendorff's alpha, interval metric; rows are units (subjects), columns coders (indices).

    >>> krippendorff_interval(np.array([[1.0, 1.0], [2.0, 2.0], [3.0, np.nan]]))
    1.0
    """
    return float(_alphas(values, leave_out=False)[0])


def _alphas(values: FloatArray, *, leave_out: bool) -> FloatArray:
    """Alpha of all columns, then (``leave_out``) alpha without each column in turn; O(cells) each.

    Every sum alpha needs is a sum over units of a figure of the unit's count, sum and sum of
    squares: one compiled pass over the rows (:func:`aggregator.analytics._rows.alpha_sums`).
    """
    from aggregator.analytics._rows import alpha_sums  # numba: only when a comparison runs

    k = values.shape[1]
    present = [~np.isnan(values[:, j]) for j in range(k)]
    cells = sum(int(np.count_nonzero(p)) for p in present)
    # centred values keep the sums of squares accurate
    centre = sum(float(np.sum(values[:, j], where=p)) for j, p in enumerate(present)) / cells if cells else 0.0
    totals = np.zeros((1 + k if leave_out else 1, 4))
    alpha_sums(values, centre, leave_out, totals)
    return np.array([_alpha_from_sums(*row) for row in totals])


def _alpha_from_sums(total: float, observed_sum: float, sum1: float, sum2: float) -> float:
    if total < 2.0:  # nobody has two values
        return float("nan")
    observed = 2.0 * observed_sum / total
    expected = 2.0 * (total * sum2 - sum1 * sum1) / (total * (total - 1.0))
    if expected <= 0.0:
        return float("nan")
    return float(1.0 - observed / expected)


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """What each index follows: its rank correlation with each activity feature of the roster."""

    indices: tuple[str, ...]
    features: tuple[str, ...]
    #: ``[indices × features]`` Spearman's rho on subjects with both (NaN when undefined)
    rho: FloatArray
    n: IntArray
    #: per index, the strongest rho with a posting-volume feature (``ACTIVITY_FEATURES``) and which
    activity: FloatArray
    activity_feature: tuple[str | None, ...]
    #: per index, the strongest rho with a response-received feature (``RESPONSE_FEATURES``) and which
    response: FloatArray
    response_feature: tuple[str | None, ...]

    @property
    def activity_meter(self) -> NDArray[np.bool_]:
        """Indices that follow posting volume clearly more than the response received."""
        activity = np.nan_to_num(self.activity, nan=-1.0)
        response = np.nan_to_num(self.response, nan=-1.0)
        meter: NDArray[np.bool_] = (activity >= ACTIVITY_MIN_RHO) & (activity - response >= ACTIVITY_MARGIN)
        return meter


def fingerprint(names: Sequence[str], ranks: Sequence[Ranked], features: Mapping[str, FloatArray]) -> Fingerprint:
    """Rank correlation of each index (``ranks``, one per column) with each feature.

    ``features`` maps a feature name to an array aligned with the table's subjects (NaN for
    unknown); which features are "activity" and which "response" is by name (see the constants).
    """
    rows = ranks[0].groups.size if ranks else 0
    feature_names = tuple(features)
    feature_ranks = []
    for name in feature_names:
        column = np.asarray(features[name], dtype=np.float64)
        if column.shape != (rows,):
            raise ValueError(f"feature {name!r} has shape {column.shape}, expected ({rows},) aligned with the subjects")
        feature_ranks.append(rank_column(column))
    rho = np.full((len(ranks), len(feature_names)), np.nan)
    n = np.zeros(rho.shape, dtype=np.int64)
    for i, index_ranks in enumerate(ranks):
        for f, feature in enumerate(feature_ranks):
            rho[i, f], n[i, f] = spearman(index_ranks, feature)

    def strongest(group: tuple[str, ...]) -> tuple[FloatArray, tuple[str | None, ...]]:
        cols = [f for f, name in enumerate(feature_names) if name in group]
        best = np.full(len(ranks), np.nan)
        which: list[str | None] = [None] * len(ranks)
        for i in range(len(ranks)):
            values = [(rho[i, f], feature_names[f]) for f in cols if not np.isnan(rho[i, f])]
            if values:
                best[i], which[i] = max(values)
        return best, tuple(which)

    activity, activity_feature = strongest(ACTIVITY_FEATURES)
    response, response_feature = strongest(RESPONSE_FEATURES)
    return Fingerprint(
        indices=tuple(names), features=feature_names, rho=rho, n=n, activity=activity,
        activity_feature=activity_feature, response=response, response_feature=response_feature,
    )


@dataclass(frozen=True, eq=False)
class Robustness:
    """The consensus without each index in turn, against the full consensus."""

    indices: tuple[str, ...]
    #: Spearman's rho between the full consensus and the consensus without the index
    rho_without: FloatArray
    #: subjects that have a consensus both ways (among the sampled, beyond ``ROBUSTNESS_SAMPLE``)
    n: IntArray
    #: median absolute change of a subject's consensus when the index is left out (points)
    median_shift: FloatArray
    #: column of the index whose removal changes the consensus order most; -1 if none tells
    most_influential: int


def robustness(names: Sequence[str], consensus: FloatArray, without: FloatArray) -> Robustness:
    """Compare ``consensus`` with each leave-one-index-out consensus: ``without[:, j]`` leaves out index j."""
    step = -(-consensus.size // ROBUSTNESS_SAMPLE) if consensus.size > ROBUSTNESS_SAMPLE else 1
    consensus = consensus[::step]
    k = without.shape[1]
    full = rank_column(consensus)
    rho = np.full(k, np.nan)
    n = np.zeros(k, dtype=np.int64)
    shift = np.full(k, np.nan)
    for j in range(k):
        other = without[::step, j]
        rho[j], n[j] = spearman(full, rank_column(other))
        both = ~np.isnan(consensus) & ~np.isnan(other)
        if np.any(both):
            shift[j] = float(np.median(np.abs(consensus[both] - other[both])))
    most = -1
    if k >= MIN_INDICES_FOR_OUTLIER and not np.all(np.isnan(rho)):
        most = int(np.nanargmin(rho))
    return Robustness(indices=tuple(names), rho_without=rho, n=n, median_shift=shift, most_influential=most)
