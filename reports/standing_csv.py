"""The full standing as a CSV file beside the report, for rosters too large for one page.

:func:`write_report` writes a report to a file; when its standing is shortened (past
:data:`~reports.sections.standing.SHORTLIST_PAST` subjects) it first writes the full standing to
``<report name>.standing.csv`` in the same folder, and the report names that file (the page
links it by a relative address, so the two can be moved together). Both files are written
atomically (:mod:`aggregator.atomic`).

The CSV is written straight from the comparison's arrays, a block of rows at a time
(:func:`standing_blocks`): each distinct figure of a column is formatted once and every cell is
picked from those texts by index, and each block's cells are joined in one call, so a million
subjects cost one quoted text each (their id and name) and no Python work per figure. Names
come from outside: a text cell that a spreadsheet would read as a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``, and every text cell is quoted, as OWASP's
"CSV Injection" advice says; figures are written by us from floats and stay plain numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.outcome import RunOutcome
from aggregator.atomic import atomic_open, write_atomic
from aggregator.models import subject_ids
from reports.model import build_view
from reports.render import load_renderer
from reports.sections._common import half_up, index_label, names_of
from reports.sections.standing import SHORTLIST_PAST, competition_ranks, standing_order

#: characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: the same, as a set of first characters
_FORMULA_FIRST = frozenset(FORMULA_STARTS)
#: rows formatted at a time: bounded memory at any roster size (a block is ~15 MB of text at 1M)
BLOCK = 100_000
#: RFC 4180's line end
LINE_END = "\r\n"


def standing_csv_name(report: str | Path) -> str:
    """The CSV file beside ``report`` that holds its full standing: ``report.html`` -> ``report.standing.csv``."""
    return f"{Path(report).stem}.standing.csv"


def safe_cell(text: str) -> str:
    """Outside text made inert in a spreadsheet: a leading ``'`` when it could start a formula.

    >>> [safe_cell(t) for t in ("Ada", "=HYPERLINK(1)", "-2+3", "@SUM(A1)", "\\tx")]
    ['Ada', "'=HYPERLINK(1)", "'-2+3", "'@SUM(A1)", "'\\tx"]
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _quoted(values: Iterable[str], end: str) -> list[str]:
    """Text cells, neutralised and quoted (a quote inside doubled), each followed by ``end``."""
    return [f'"{v}"{end}' if v[:1] not in _FORMULA_FIRST and '"' not in v
            else '"' + safe_cell(v).replace('"', '""') + '"' + end for v in values]


def _subject_cells(ids: Sequence[str], names: Sequence[str]) -> NDArray[np.object_]:
    """Each subject's id and name cells as one text (``"id","name",``), in roster order.

    Made in roster order and then picked in standing order: walking the roster's strings in
    standing order jumps around memory and costs several times as much.
    """
    quoted = zip(_quoted(ids, ","), _quoted(names, ","), strict=True)
    return np.array([a + b for a, b in quoted], dtype=object)


def _figures(values: NDArray[np.float64], end: str, *, whole: bool = False) -> NDArray[np.object_]:
    """Figure cells, each followed by ``end``: bare numbers (``repr`` of the float, or the whole number),
    empty where there is none (NaN).

    Each distinct value is formatted once: a column of a million scores holds far fewer distinct
    values (standings are whole points, consensus has one decimal, vendors round their scores).
    Distinct by bit pattern, so ``-0.0`` stays ``-0.0``.
    """
    bits, where = np.unique(np.ascontiguousarray(values, dtype=np.float64).view(np.int64), return_inverse=True)
    distinct = bits.view(np.float64).tolist()
    if whole:
        texts = ["" if v != v else str(int(v)) for v in distinct]
    else:
        texts = ["" if v != v else repr(v) for v in distinct]
    return np.array([t + end for t in texts], dtype=object)[where.reshape(-1)]


def standing_header(labels: Sequence[str]) -> str:
    header = ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    for label in labels:
        header += [f"{label} standing", f"{label} raw"]
    return "".join(_quoted(header, ","))[:-1] + LINE_END


def standing_blocks(outcome: RunOutcome) -> Iterator[str]:
    """The header line, then every subject's line a block of lines at a time, highest consensus first,
    as the page's standing orders them.

    Standings are rounded as the page shows them (whole points; consensus and spread to one
    decimal); raw scores are the indices' own, unrounded. Each block is a table of cells (every
    cell already ends with its comma, the last with the line end) joined in one call: no Python
    work per row.
    """
    comparison = outcome.comparison
    table = comparison.table
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    yield standing_header(labels)
    order = standing_order(comparison)
    ranks = competition_ranks(comparison.consensus[order]).astype(np.float64)
    ranks[ranks == 0] = np.nan
    odd_names = np.array([*_quoted(labels, ","), '"",'], dtype=object)  # index -1: no odd one out, an empty cell
    marked = comparison.flagged & (comparison.dissenter >= 0)
    disputed = np.where(comparison.flagged, '"yes",', '"no",').astype(object)
    subject_cells = _subject_cells(subject_ids(outcome.subjects), names_of(outcome.subjects))
    width = 7 + 2 * len(labels)
    for start in range(0, len(order), BLOCK):
        rows = order[start:start + BLOCK]
        standing = half_up(comparison.normalized[rows], 0)
        raw = table.raw[rows]
        cells = np.empty((len(rows), width), dtype=object)
        cells[:, 0] = _figures(ranks[start:start + BLOCK], ",", whole=True)
        cells[:, 1] = subject_cells[rows]  # id and name
        cells[:, 2] = _figures(half_up(comparison.consensus[rows], 1), ",")
        cells[:, 3] = _figures(half_up(comparison.spread[rows], 1), ",")
        cells[:, 4] = _figures(comparison.n_indices[rows].astype(np.float64), ",", whole=True)
        cells[:, 5] = disputed[rows]
        cells[:, 6] = odd_names[np.where(marked[rows], comparison.dissenter[rows], -1)]
        for j in range(len(labels)):
            last = j == len(labels) - 1
            cells[:, 7 + 2 * j] = _figures(standing[:, j], ",", whole=True)
            cells[:, 8 + 2 * j] = _figures(raw[:, j], LINE_END if last else ",")
        if not labels:  # no index column: the odd one out ends the line
            cells[:, 6] = [cell[:-1] + LINE_END for cell in cells[:, 6].tolist()]
        yield "".join(cells.ravel().tolist())


def write_standing_csv(outcome: RunOutcome, handle: IO[str]) -> None:
    """Write the full standing to ``handle`` (opened with ``newline=""``): text quoted, figures bare."""
    for block in standing_blocks(outcome):
        handle.write(block)


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
        with atomic_open(path.with_name(name), newline="") as handle:
            write_standing_csv(outcome, handle)
        written.append(path.with_name(name))
    document = load_renderer(kind).render(build_view(outcome, standing_csv=name))
    write_atomic(path, document)
    return [path, *written]
