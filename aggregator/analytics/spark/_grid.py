"""Exact couple counts in two orders at once, distributed: each index pair's rows cut into a grid.

Kendall's discordant pairs and the inversions' dominance count both count couples (l, r) with l
before r in a first order and after (or not before) it in a second. Each index pair's rows are cut
into ``size`` buckets by the first order and ``size`` by the second, at approximate quantiles
(:func:`cut`): equal values share a bucket, so rows in different buckets are strictly ordered by
bucket number. Every couple is then counted once, where it falls:

- in the same bucket of the first order: inside that bucket, one Arrow task per bucket;
- in different buckets of the first order but the same bucket of the second: inside the second
  bucket, one Arrow task each, the first order replaced by its bucket number (which orders such a
  couple exactly);
- in different buckets of both: from the grid's cell counts alone, ``size × size`` numbers per
  index pair on the driver (:func:`cross_couples`).

Each pass shuffles the rows on (pair, bucket) (:func:`by_bucket`), so no task holds more than a
few buckets (about n / size rows each) however many rows a pair has, and only the grid's counts
reach the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention
from pyspark.sql.types import StructType

from aggregator.analytics._arrays import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:
    import pyarrow as pa

#: percentile_approx accuracy for the cuts (only the buckets' evenness depends on it)
_ACCURACY = 1000

Pair = tuple[int, int]
Grid = NDArray[np.object_]  # whole numbers as Python ints: products of counts overflow no int64 this way


#: Rows per bucket the cuts are read from, at least: a sample of the rows, not all (an approximate
#: quantile costs about 0.3 µs a row; the counts are exact whatever the cuts, only the buckets'
#: evenness depends on them, and 20,000 a bucket place each cut within about 1 % of its rows).
CUT_SAMPLE_PER_BUCKET = 20_000


#: The columns a pass's groups are kept apart by, besides the bucket: the index pair.
PAIR = ("a", "b")


def cut(rows: DataFrame, size: int, columns: Mapping[str, str], largest: int | None = None, *,
        by: Sequence[str] = PAIR) -> DataFrame:
    """``rows`` with one bucket column per ``columns`` item (bucket column: value column), 0 .. size - 1.

    Cut per index pair (``by``: ``a``, ``b``) at approximate quantiles of the value: the bucket is the
    number of cuts below the value, so equal values share a bucket and bucket order is value order.
    ``largest``: the most rows a pair has; the cuts are then read from a sample of about
    :data:`CUT_SAMPLE_PER_BUCKET` rows a bucket of that pair (a pair the sample missed is one bucket).
    """
    if size <= 1:
        return rows.select("*", *[F.lit(0).alias(name) for name in columns])
    quantiles = [i / size for i in range(1, size)]
    share = 1.0 if largest is None else CUT_SAMPLE_PER_BUCKET * size / max(largest, 1)
    sample = rows if share >= 1.0 else rows.sample(fraction=share, seed=0)
    cuts = sample.groupBy(*by).agg(
        *[F.percentile_approx(value, quantiles, _ACCURACY).alias(f"_cuts_{name}") for name, value in columns.items()]
    )
    # the cuts broadcast (a row per pair): rows placed by pair would put each pair's rows in one task
    joined = rows.join(F.broadcast(cuts), list(by), "left")
    placed = count_below(joined, {name: (f"_cuts_{name}", value) for name, value in columns.items()}, size - 1)
    return placed.select(*rows.columns, *columns)


def count_below(rows: DataFrame, columns: Mapping[str, tuple[str, str]], length: int) -> DataFrame:
    """``rows`` with a column per ``columns`` item (name: (cuts, value)): how many of the ascending array
    ``cuts`` (``length`` long; null: none) are below ``value``.

    By binary search, a step per halving (``log2(length)`` small expressions a row), not by filtering
    the whole array: Spark evaluates a lambda (``filter``) element by element without code generation,
    which at 64 cuts cost four to six times the search here.
    """
    found = rows.withColumns({name: F.lit(0) for name in columns})
    step = 1 << (length.bit_length() - 1) if length > 0 else 0
    while step:  # found + step cuts are below the value if the (found + step)-th one is (null past the end)
        found = found.withColumns({
            name: F.col(name) + F.when(F.get(F.col(cuts), F.col(name) + (step - 1)) < F.col(value), step).otherwise(0)
            for name, (cuts, value) in columns.items()})
        step >>= 1
    return found


#: A cell number's room for the pair's second index (pairs of indices are numbered ``a * _PAIR_ROOM + b``).
_PAIR_ROOM = 1 << 16


def cell(bucket: str, size: int) -> Column:
    """A row's (pair, ``bucket``) as one number, ``(a * 2**16 + b) * size + bucket``: each column a row
    carries into a pass costs its share of the shuffle and of the Arrow conversion, most of a pass."""
    placed: Column = (F.col("a").cast("long") * _PAIR_ROOM + F.col("b")) * size + F.col(bucket)
    return placed.alias("cell")


def pair_of(cell_number: int, size: int) -> Pair:
    """The pair of indices of a :func:`cell` number (of buckets of ``size``)."""
    a, b = divmod(cell_number // size, _PAIR_ROOM)
    return a, b


def pair_sizes(rows: DataFrame) -> dict[Pair, int]:
    """Each index pair's rows (one job; a row per pair reaches the driver)."""
    return {(r["a"], r["b"]): int(r["count"]) for r in rows.groupBy(*PAIR).count().collect()}


#: Rows a pass's task should hold at least: fewer, and scheduling a task costs more than its work.
TASK_ROWS = 250_000


def by_bucket(rows: DataFrame, bucket: str, groups: int, total: int, *, by: Sequence[str] = PAIR) -> DataFrame:
    """``rows`` (``total`` of them, in ``groups`` (pair, ``bucket``) groups) shuffled on (pair, bucket):
    a pass's task then sorts and counts a bucket or a few, never a whole pair. Twice as many
    partitions as groups (hashing puts a few groups together), but none of fewer than ``TASK_ROWS``."""
    return rows.repartition(max(1, min(2 * groups, -(-total // TASK_ROWS))), *by, bucket)


def per_bucket(rows: DataFrame, bucket: str, spread: tuple[int, int] | None, task: Callable[[pa.Table], pa.Table],
               schema: str | StructType, *, by: Sequence[str] = PAIR) -> DataFrame:
    """``task`` on the rows of each (pair, ``bucket``), an Arrow table each, its results' rows together.

    As ``groupBy("a", "b", bucket).applyInArrow(task, schema)``, less Spark's sort of every row by
    its group (at 3M, a third of the passes' JVM CPU): the rows are shuffled on (pair,
    bucket) (:func:`by_bucket`; ``spread``: the groups and the rows, None: Spark's partitions, for
    rows known to be few), and each task parts its partition's few groups in Python.
    """
    import pyarrow as pa

    keys = [*by, bucket]

    def each(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        held = [batch for batch in batches if batch.num_rows]  # the partition: a few groups, sized by by_bucket
        if not held:
            return
        table = pa.Table.from_batches(held)
        columns = [np.asarray(table.column(key).to_numpy()) for key in keys]
        order = np.lexsort(columns[::-1])
        table = table.take(pa.array(order))
        first, _ = runs(*[column[order] for column in columns])
        for start, stop in pairwise([*np.flatnonzero(first).tolist(), order.size]):
            yield from task(table.slice(start, stop - start)).to_batches()

    placed = rows.repartition(*keys) if spread is None else by_bucket(rows, bucket, *spread, by=by)
    return placed.mapInArrow(each, schema)


def grids(bucketed: DataFrame, first: str, second: str, size: int, weights: Mapping[str, Column]) -> dict[
        str, dict[Pair, Grid]]:
    """Per weight, per index pair: ``grid[p, c]``, the weight's sum over the rows in bucket p of ``first``
    and c of ``second`` (driver-sized: ``size × size`` per pair)."""
    found: dict[str, dict[Pair, Grid]] = {name: {} for name in weights}
    cells = bucketed.groupBy("a", "b", first, second).agg(*[F.sum(w).alias(name) for name, w in weights.items()])
    for r in cells.collect():  # at most size * size rows per pair of indices
        for name in weights:
            grid = found[name].setdefault((r["a"], r["b"]), np.zeros((size, size), dtype=object))
            grid[r[first], r[second]] = int(r[name] or 0)
    return found


def cross_couples(left: Grid, right: Grid) -> int:
    """The (l, r) couples with l's first bucket before r's and l's second bucket after r's:
    ``Σ left[p, c] · right[q, d]`` over p < q and c > d."""
    below = np.cumsum(right, axis=1) - right  # below[q, c]: right's rows of first bucket q, second bucket < c
    later = np.cumsum(below[::-1], axis=0)[::-1] - below  # later[p, c]: the same, over first buckets q > p
    return int((left * later).sum())


def offsets(counts: NDArray[Any]) -> NDArray[np.int64]:
    """Each bucket's first place: the rows in the buckets before it (counts: whole numbers, any dtype)."""
    before: NDArray[np.int64] = (np.cumsum(counts) - counts).astype(np.int64)
    return before


def runs(*columns: FloatArray | IntArray) -> tuple[BoolArray, IntArray]:
    """Of sorted ``columns`` (equal rows next to each other): where each run of equal rows starts, and its length."""
    size = columns[0].size
    first = np.zeros(size, dtype=np.bool_)
    if size:
        first[0] = True
        for column in columns:
            first[1:] |= column[1:] != column[:-1]
    return first, np.diff(np.r_[np.flatnonzero(first), size])
