"""What each subject's row of normalized scores says: consensus, IQR, spread, dissenter.

A row holds a handful of values (one per index): ``normalized`` and ``standing`` (null =
missing, in index order). :func:`subject_figures` computes every figure of a subject with the
numpy engine's own row code (``consensus.row_figures``), an Arrow batch of rows at a time on the
workers. The Spark SQL expressions below (:func:`consensus`, :func:`median`) are for the figures
other stages read off a row without the rest: the previous run's consensus, the movement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.arrow_lists import lists_of_rows, rows_of_lists
from aggregator.analytics.consensus import MIN_INDICES_FOR_CONSENSUS, TRIM
from aggregator.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

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


def _sum(values: Column) -> Column:
    """Left-to-right sum of an array, nulls as 0 (numpy's order for a few columns)."""
    return F.aggregate(values, F.lit(0.0), lambda acc, x: acc + F.coalesce(x, F.lit(0.0)))


def consensus(method: str, normalized: Column, standing: Column) -> Column:
    """The ``method`` consensus of each row; null with fewer than ``MIN_INDICES_FOR_CONSENSUS`` values."""
    ranked = present(normalized)
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


def subject_figures(wide: DataFrame, consensus: str, k: int, carried: Sequence[str] = ()) -> DataFrame:
    """Each subject's figures, by the numpy engine's own row code, an Arrow batch of rows at a time.

    ``wide``: ``i``, ``subject_id``, ``norm`` and ``standing`` (arrays of ``k``, index order, null =
    missing) and the ``carried`` columns. Out: ``position``, ``subject_id``, ``normalized``,
    ``standing``, ``n_indices``, ``consensus``, ``consensus_iqr``, ``spread``, ``dissenter``,
    ``dissent_gap``, the carried columns and ``without`` (the consensus without each index). The
    figures are ``consensus.row_figures`` of each batch: the same compiled arithmetic as the numpy
    engine, on the workers, instead of Spark SQL's array functions (interpreted, row by row).
    """
    import pyarrow as pa

    schema = ", ".join([
        "position long", "subject_id string", "normalized array<double>", "standing array<double>",
        "n_indices long", "consensus double", "consensus_iqr double", "spread double", "dissenter long",
        "dissent_gap double", *[f"{name} array<double>" for name in carried], "without array<double>",
    ])

    def figures(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from aggregator.analytics.consensus import row_figures

        for batch in batches:
            normalized, standing = (rows_of_lists(batch.column(name), k) for name in ("norm", "standing"))
            found = row_figures(normalized, standing, consensus)
            scalars = [found.n_indices, found.consensus, found.iqr, found.spread, found.dissenter, found.dissent_gap]
            yield pa.RecordBatch.from_arrays(
                [batch.column("i"), batch.column("subject_id"), batch.column("norm"), batch.column("standing"),
                 *[pa.array(values, from_pandas=True) for values in scalars],  # NaN: no figure (null); ints stay ints
                 *[batch.column(name) for name in carried], lists_of_rows(found.without)],
                names=["position", "subject_id", "normalized", "standing", "n_indices", "consensus", "consensus_iqr",
                       "spread", "dissenter", "dissent_gap", *carried, "without"],
            )

    return wide.select("i", "subject_id", "norm", "standing", *carried).mapInArrow(figures, schema)
