"""The full standing as a CSV file beside the report, for rosters too large for one page.

:func:`write_report` writes a report to a file; when its standing is shortened (past
:data:`~reports.sections.standing.SHORTLIST_PAST` subjects) it first writes the full standing to
``<report name>.standing.csv`` in the same folder, and the report names that file (the page
links it by a relative address, so the two can be moved together). Both files are written
atomically (:mod:`aggregator.atomic`).

The CSV is written straight from the comparison's arrays by Arrow's compiled string kernels
(``pyarrow.compute``), a block of rows at a time (:func:`standing_blocks`): each column's cells
are made as one Arrow array, each block's lines joined from them, and the block's text written
from the joined array's buffer, so a million subjects cost no Python work per cell. Names come
from outside: a text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) gets a leading ``'``, every text cell is quoted (a quote
inside doubled), as OWASP's "CSV Injection" advice says; figures are written by us from floats
and stay plain numbers, each as Python's ``repr`` writes it (the shortest text that reads back as
the same float), whole numbers for ranks, standings and counts, empty where there is none.
Lines end with RFC 4180's CRLF.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.outcome import RunOutcome
from aggregator.atomic import atomic_open, write_atomic
from aggregator.models import subject_ids
from reports.model import build_view
from reports.render import load_renderer
from reports.sections._common import half_up, index_label, names_of
from reports.sections.standing import SHORTLIST_PAST, competition_ranks, standing_order

if TYPE_CHECKING:
    import pyarrow as pa

#: characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: the same, as a regular expression (RE2, Arrow's) matching a text that starts with one
_FORMULA_START = "^[" + "".join(f"\\x{ord(c):02x}" for c in FORMULA_STARTS) + "]"
#: rows written at a time: bounded memory at any roster size (a block is ~15 MB of text at 1M)
BLOCK = 100_000
#: RFC 4180's line end
LINE_END = "\r\n"
#: where Arrow writes a float in the same notation as ``repr`` (fixed, not exponent): from 1e-4 up
#: to below 1e10 (``repr`` keeps fixed notation up to 1e16, Arrow switches at 1e10, and below 1e-4
#: ``repr`` writes an exponent where Arrow does not until 1e-6)
_SAME_NOTATION = (1e-4, 1e10)


def standing_csv_name(report: str | Path) -> str:
    """The CSV file beside ``report`` that holds its full standing: ``report.html`` -> ``report.standing.csv``."""
    return f"{Path(report).stem}.standing.csv"


def text_cells(values: Sequence[str]) -> pa.Array:
    """Outside text as CSV cells: a leading ``'`` when it could start a formula, quotes doubled, quoted.

    >>> print(",".join(text_cells(["Ada", "=1+2", "@SUM(A1)", 'a "b" c']).to_pylist()))
    "Ada","'=1+2","'@SUM(A1)","a ""b"" c"
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, type=pa.large_string())
    text = pc.if_else(pc.match_substring_regex(text, _FORMULA_START), _joined("'", text), text)
    return _joined('"', pc.replace_substring(text, '"', '""'), '"')


def float_cells(values: NDArray[np.float64]) -> pa.Array:
    """Each float as ``repr`` writes it (the shortest text that reads back as the same float), empty for NaN.

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
    text = pc.cast(pa.array(values, mask=missing), pa.large_string())  # NaN: null, then empty
    for rows, change in ((same & (values == np.floor(values)), _whole_float),
                         (~same & ~missing, _repr_floats)):  # rare: notation differs, repr writes them
        if rows.any():
            text = pc.replace_with_mask(text, pa.array(rows), change(text, values, np.flatnonzero(rows)))
    return pc.fill_null(text, "")


def _whole_float(text: pa.Array, _values: NDArray[np.float64], rows: NDArray[np.intp]) -> pa.Array:
    return _joined(text.take(rows), ".0")


def _repr_floats(_text: pa.Array, values: NDArray[np.float64], rows: NDArray[np.intp]) -> pa.Array:
    import pyarrow as pa

    return pa.array([repr(v) for v in values[rows].tolist()], type=pa.large_string())


def whole_cells(values: NDArray[np.float64]) -> pa.Array:
    """Whole numbers (ranks, standings, counts) as integers, empty for NaN.

    >>> whole_cells(np.array([1.0, 100.0, -0.0, np.nan])).to_pylist()
    ['1', '100', '0', '']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    missing = np.isnan(values)
    whole = pa.array(np.where(missing, 0.0, values).astype(np.int64), mask=missing)
    return pc.fill_null(pc.cast(whole, pa.large_string()), "")


def standing_header(labels: Sequence[str]) -> str:
    header = ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    for label in labels:
        header += [f"{label} standing", f"{label} raw"]
    return ",".join(text_cells(header).to_pylist()) + LINE_END


def standing_blocks(outcome: RunOutcome) -> Iterator[str | memoryview]:
    """The header line, then every subject's line a block of lines at a time (as UTF-8 bytes),
    highest consensus first, as the page's standing orders them.

    Standings are rounded as the page shows them (whole points; consensus and spread to one
    decimal); raw scores are the indices' own, unrounded. Each block's columns of cells are
    joined into its lines by Arrow: no Python work per row.
    """
    import pyarrow as pa

    comparison = outcome.comparison
    table = comparison.table
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    yield standing_header(labels)
    order = standing_order(comparison)
    ranks = competition_ranks(comparison.consensus[order]).astype(np.float64)
    ranks[ranks == 0] = np.nan
    odd_names = pa.concat_arrays([text_cells(labels), pa.array(['""'], type=pa.large_string())])  # -1: none
    odd_one = np.where(comparison.flagged & (comparison.dissenter >= 0), comparison.dissenter, len(labels))
    disputed = pa.array(['"no"', '"yes"'], type=pa.large_string())
    ids = text_cells(subject_ids(outcome.subjects))  # in roster order, then picked by row
    names = text_cells(names_of(outcome.subjects))
    for start in range(0, len(order), BLOCK):
        rows = order[start:start + BLOCK]
        picked = pa.array(rows)
        standing = half_up(comparison.normalized[rows], 0)
        raw = table.raw[rows]
        cells = [
            whole_cells(ranks[start:start + BLOCK]), ids.take(picked), names.take(picked),
            float_cells(half_up(comparison.consensus[rows], 1)), float_cells(half_up(comparison.spread[rows], 1)),
            whole_cells(comparison.n_indices[rows].astype(np.float64)),
            disputed.take(pa.array(comparison.flagged[rows].astype(np.int8))), odd_names.take(pa.array(odd_one[rows])),
        ]
        for j in range(len(labels)):
            cells += [whole_cells(standing[:, j]), float_cells(raw[:, j])]
        lines = _joined(_joined(*cells, separator=","), LINE_END)
        yield _text_of(lines)


def _joined(*parts: pa.Array | str, separator: str = "") -> pa.Array:
    """Arrow's row-wise join of text columns (large strings); a plain string is the same in every row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [pa.scalar(part, pa.large_string()) if isinstance(part, str) else part for part in parts]
    return pc.binary_join_element_wise(*texts, pa.scalar(separator, pa.large_string()))


def _text_of(lines: pa.Array) -> memoryview:
    """A string array's values back to back, as they lie in its data buffer (no copy)."""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(data)[int(bounds[0]):int(bounds[-1])] if len(lines) else memoryview(b"")


def write_standing_csv(outcome: RunOutcome, handle: IO[bytes]) -> None:
    """Write the full standing to ``handle`` (binary) as UTF-8: text quoted, figures bare."""
    for block in standing_blocks(outcome):
        handle.write(block.encode("utf-8") if isinstance(block, str) else block)


def write_report(outcome: RunOutcome, path: str | Path, kind: str) -> list[Path]:
    """Write ``outcome``'s report as ``kind`` to ``path``, and the full standing as CSV beside it when the
    report's standing is shortened; returns the files written, the report first.

    The CSV is written first, so a report never names a CSV that is not there.
    """
    path = Path(path)
    written: list[Path] = []
    name: str | None = None
    if len(outcome.subjects) > SHORTLIST_PAST:
        name = standing_csv_name(path)
        with atomic_open(path.with_name(name), "wb") as handle:
            write_standing_csv(outcome, handle)
        written.append(path.with_name(name))
    document = load_renderer(kind).render(build_view(outcome, standing_csv=name))
    write_atomic(path, document)
    return [path, *written]
