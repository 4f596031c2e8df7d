"""What each subject's row of normalized scores says: consensus, IQR, spread, dissenter.

A row holds a handful of values (one per index), so each figure is a Spark SQL expression over
the row's arrays, computed where the row is: ``normalized`` and ``standing`` (null = missing,
in index order). The formulas are those of :mod:`aggregator.analytics.consensus` and
``compare._row_figures``: linear-interpolation quartiles, the median of the others for the
dissent, the first index with the widest gap winning.

Each row is sorted once (:func:`present`, a column of its own, so that Spark's optimizer keeps
it apart instead of inlining the sort into every figure that reads it); the median without each
index is read off that sorted row, as ``SortedRows.median_without`` does, not by sorting the
row again without it.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.compare import MIN_INDICES_FOR_DISSENT
from aggregator.analytics.consensus import MIN_INDICES_FOR_CONSENSUS, TRIM
from aggregator.errors import ConfigError

METHODS = ("median", "trimmed_mean", "borda")


def present(values: Column) -> Column:
    """The row's values without the missing ones, ascending: what every figure below reads."""
    return F.array_sort(F.filter(values, lambda x: x.isNotNull()))


def _at(sorted_values: Column, place: Column) -> Column:
    """The value at 0-based ``place`` (null past the end)."""
    return F.when((place >= 0) & (place < F.size(sorted_values)), F.element_at(sorted_values, place + 1))


def _median(sorted_values: Column) -> Column:
    n = F.size(sorted_values)
    mid = (_at(sorted_values, F.floor((n - 1) / 2).cast("int")) + _at(sorted_values, F.floor(n / 2).cast("int"))) / 2.0
    return F.when(n > 0, mid)


def median(values: Column) -> Column:
    """The median of an array's present values (null when none is): ``row_nanmedian`` of one row."""
    return _median(present(values))


def median_without(ranked: Column, x: Column) -> Column:
    """The median of the row once its value ``x`` is left out (the row's median when ``x`` is null).

    With ``m = n - 1`` values left, the t-th of them is the sorted row's place ``t + 1`` when x
    sits at or before place t (which of equal values goes does not change what remains), else
    place t: four picks, no second sort.
    """
    n = F.size(ranked)

    def pick(place: Column) -> Column:
        return _at(ranked, place.cast("int"))

    below, lower = pick(F.floor((n - 2) / 2)), pick(F.floor((n - 1) / 2))
    upper, above = pick(F.floor(n / 2)), pick(F.floor((n - 1) / 2) + 1)
    low = F.when(x <= below, upper).otherwise(below)
    high = F.when(x <= lower, above).otherwise(lower)
    return F.when(x.isNull(), _median(ranked)).when(n >= 2, (low + high) / 2.0)


def _quantile(sorted_values: Column, q: float) -> Column:
    """As ``SortedRows.quantile``: ``low + (high - low) * frac`` where frac > 0, else low."""
    n = F.size(sorted_values)
    where = F.lit(q) * (n - 1)
    lo = F.floor(where).cast("int")
    frac = where - lo
    low, high = _at(sorted_values, lo), _at(sorted_values, lo + 1)
    return F.when(n > 0, low + F.when(frac > 0, (high - low) * frac).otherwise(F.lit(0.0)))


def _sum(values: Column) -> Column:
    """Left-to-right sum of an array, nulls as 0 (numpy's order for a few columns)."""
    return F.aggregate(values, F.lit(0.0), lambda acc, x: acc + F.coalesce(x, F.lit(0.0)))


def consensus(method: str, normalized: Column, standing: Column, ranked: Column | None = None) -> Column:
    """The ``method`` consensus of each row; null with fewer than ``MIN_INDICES_FOR_CONSENSUS`` values.

    ``ranked``: :func:`present` of ``normalized`` when the caller holds it already.
    """
    ranked = present(normalized) if ranked is None else ranked
    n = F.size(ranked)
    if method == "median":
        value = _median(ranked)
    elif method == "trimmed_mean":
        cut = F.floor(F.lit(TRIM) * n).cast("int")
        kept = n - 2 * cut
        total = _sum(F.slice(ranked, cut + 1, F.greatest(kept, F.lit(0))))
        value = F.when(kept > 0, total / F.greatest(kept, F.lit(1)))
    elif method == "borda":
        value = F.when(n > 0, _sum(standing) / F.greatest(n, F.lit(1)))
    else:
        raise ConfigError(f"unknown consensus method {method!r}; known: {', '.join(sorted(METHODS))}")
    return F.when(n >= MIN_INDICES_FOR_CONSENSUS, value)


def figures(normalized: Column, k: int, ranked: Column | None = None) -> dict[str, Column]:
    """``n_indices``, ``consensus_iqr``, ``spread``, ``dissenter`` and ``dissent_gap`` of each row.

    ``ranked``: :func:`present` of ``normalized`` when the caller holds it already.
    """
    ranked = present(normalized) if ranked is None else ranked
    n = F.size(ranked)
    enough = n >= MIN_INDICES_FOR_CONSENSUS
    gaps = [F.abs(normalized[j] - median_without(ranked, normalized[j])) for j in range(k)]
    widest = F.greatest(*gaps) if k > 1 else (gaps[0] if gaps else F.lit(None).cast("double"))
    has_dissent = n >= MIN_INDICES_FOR_DISSENT
    return {
        "n_indices": n.cast("long"),
        "consensus_iqr": F.when(enough, _quantile(ranked, 0.75) - _quantile(ranked, 0.25)),
        "spread": F.when(enough, F.element_at(ranked, -1) - F.element_at(ranked, 1)) if k else F.lit(None),
        # the first column with the widest gap (array_position is 1-based and skips nulls)
        "dissenter": F.when(has_dissent, F.array_position(F.array(*gaps), widest) - 1).otherwise(F.lit(-1))
        if k else F.lit(-1),
        "dissent_gap": F.when(has_dissent, widest),
    }
