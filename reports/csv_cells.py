"""CSV cells as Arrow text columns: outside text made inert and quoted, floats as ``repr`` writes them.

Made by Arrow's compiled kernels (``pyarrow.compute``), a whole column per call, for the standing
CSV (:mod:`reports.standing_csv`). Arrays are built from their buffers and constant texts are
taken from arrays: ``pa.array`` and ``pa.scalar`` import pandas when it is installed (0.3 s, more
than the cells of 100,000 subjects cost).

Text from outside (OWASP, "CSV Injection"): a cell that a spreadsheet would read as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``, and every
text cell is quoted, a quote inside doubled. Figures are ours, written bare: a float as ``repr``
writes it (the shortest text that reads back as the same float), a whole number as an integer,
empty where there is none (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import pyarrow as pa

#: characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: the same, as a regular expression (RE2, Arrow's) matching a text that starts with one
_FORMULA_START = "^[" + "".join(f"\\x{ord(c):02x}" for c in FORMULA_STARTS) + "]"
#: where Arrow writes a float in the same notation as ``repr`` (fixed, not exponent): from 1e-4 up
#: to below 1e10 (``repr`` keeps fixed notation up to 1e16, Arrow switches at 1e10; below 1e-4
#: ``repr`` writes an exponent, Arrow not until 1e-6)
_SAME_NOTATION = (1e-4, 1e10)


def texts(values: Sequence[str]) -> pa.Array:
    """Python strings as an Arrow large-string array, from its buffers."""
    import pyarrow as pa

    joined = "".join(values)
    data = joined.encode("utf-8")
    sizes = map(len, values) if len(data) == len(joined) else (len(v.encode("utf-8")) for v in values)
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(sizes, dtype=np.int64, count=len(values)), out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def text(value: str) -> pa.Scalar:
    """One string as an Arrow scalar, the same in every row of a column-wise call."""
    return texts([value])[0]


def numbers(values: NDArray[np.float64] | NDArray[np.int64] | NDArray[np.bool_],
            missing: NDArray[np.bool_] | None = None) -> pa.Array:
    """A numpy column (float64, int64 or bool) as an Arrow array, null where ``missing``."""
    import pyarrow as pa

    kind = {"f": pa.float64(), "i": pa.int64(), "b": pa.bool_()}[values.dtype.kind]
    data = np.packbits(values.view(np.bool_), bitorder="little") if values.dtype.kind == "b" \
        else np.ascontiguousarray(values)
    valid = None if missing is None else pa.py_buffer(np.packbits(~missing, bitorder="little"))
    return pa.Array.from_buffers(kind, len(values), [valid, pa.py_buffer(data)])


def joined(*parts: pa.Array | str, separator: str = "") -> pa.Array:
    """Text columns joined row by row; a plain string is the same in every row."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*(text(p) if isinstance(p, str) else p for p in parts), text(separator))


def text_cells(values: Sequence[str]) -> pa.Array:
    """Outside text as CSV cells: a leading ``'`` when it could start a formula, quotes doubled, quoted.

    >>> print(",".join(text_cells(["Ada", "=1+2", "@SUM(A1)", 'a "b" c']).to_pylist()))
    "Ada","'=1+2","'@SUM(A1)","a ""b"" c"
    """
    import pyarrow.compute as pc

    column = texts(values)
    column = pc.if_else(pc.match_substring_regex(column, _FORMULA_START), joined("'", column), column)
    return joined('"', pc.replace_substring(column, '"', '""'), '"')


def float_cells(values: NDArray[np.float64]) -> pa.Array:
    """Each float as ``repr`` writes it, empty for NaN.

    Arrow writes the same shortest digits; inside :data:`_SAME_NOTATION` (and for zero) only a whole
    number differs (``3`` for ``3.0``) and gets its ``.0``; the few floats outside it go through ``repr``.

    >>> float_cells(np.array([0.1, 3.0, -0.0, 1e-05, 1e15, np.nan, 123.456])).to_pylist()
    ['0.1', '3.0', '-0.0', '1e-05', '1000000000000000.0', '', '123.456']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.ascontiguousarray(values, dtype=np.float64)
    missing = np.isnan(values)
    size = np.abs(values)
    same = ((size >= _SAME_NOTATION[0]) & (size < _SAME_NOTATION[1])) | (values == 0)  # NaN: False
    column = pc.cast(numbers(values, missing), pa.large_string())  # NaN: null, then empty
    whole = same & (values == np.floor(values))
    if whole.any():
        column = pc.replace_with_mask(column, numbers(whole), joined(column.take(numbers(np.flatnonzero(whole))), ".0"))
    other = ~same & ~missing
    if other.any():  # rare: the notations differ, repr writes them
        column = pc.replace_with_mask(column, numbers(other), texts([repr(v) for v in values[other].tolist()]))
    return pc.fill_null(column, text(""))


def whole_cells(values: NDArray[np.float64]) -> pa.Array:
    """Whole numbers (ranks, standings, counts) as integers, empty for NaN.

    >>> whole_cells(np.array([1.0, 100.0, -0.0, np.nan])).to_pylist()
    ['1', '100', '0', '']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = np.isnan(values)
    column = numbers(np.where(missing, 0.0, values).astype(np.int64), missing)
    return pc.fill_null(pc.cast(column, pa.large_string()), text(""))


def text_of(lines: pa.Array) -> memoryview:
    """A large-string array's values back to back, as they lie in its data buffer (no copy)."""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(data)[int(bounds[0]):int(bounds[-1])] if len(lines) else memoryview(b"")
