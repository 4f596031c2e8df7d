"""Per-subject rows of per-index figures as Arrow ``list<double>`` columns, and back (NaN <-> null).

Both engines write ``normalized``, ``standing`` and the like this way (one list of k values per
subject), ``report --from`` reads them back, and the Spark engine's Arrow tasks turn batches of
them into ``[subjects × indices]`` matrices for the numpy row code. pyarrow loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aggregator.analytics._arrays import FloatArray

if TYPE_CHECKING:
    import pyarrow as pa


def float_column(values: FloatArray) -> pa.Array:
    """``values`` as an Arrow double column, NaN as null (as Spark writes a missing figure)."""
    import pyarrow as pa

    return pa.array(values, pa.float64(), from_pandas=True)


def lists_of_rows(matrix: FloatArray) -> pa.Array:
    """Each row of ``matrix`` as one list<double> (NaN as null), built as columns, not row by row."""
    import pyarrow as pa

    n, k = matrix.shape
    offsets = np.arange(0, n * k + 1, k, dtype=np.int32) if k else np.zeros(n + 1, dtype=np.int32)
    values = float_column(np.ascontiguousarray(matrix).reshape(-1))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def rows_of_lists(lists: pa.Array, k: int) -> FloatArray:
    """A list column of exactly ``k`` values a row (the caller checks) as an ``(n, k)`` matrix, null as NaN."""
    values = lists.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64).reshape(len(lists), k)
