"""The full standing as a CSV file beside the report, for rosters too large for one page.

:func:`write_report` writes a report to a file; when its standing is shortened (past
:data:`~reports.sections.standing.SHORTLIST_PAST` subjects) it first writes the full standing to
``<report name>.standing.csv`` in the same folder, and the report names that file (the page
links it by a relative address, so the two can be moved together). Both files are written
atomically (:mod:`aggregator.atomic`).

The CSV is written straight from the comparison's arrays, a block of rows at a time, so it
costs no Python object per subject beyond the row being written. Names come from outside: a
text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) gets a leading ``'``, and every text cell is quoted, as OWASP's
"CSV Injection" advice says; figures are written by us from floats and stay plain numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.outcome import RunOutcome
from aggregator.atomic import atomic_open, write_atomic
from reports.model import build_view
from reports.render import load_renderer
from reports.sections._common import half_up, ids_of, index_label, names_of
from reports.sections.standing import SHORTLIST_PAST, competition_ranks, standing_order

#: characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: rows formatted at a time: bounded memory at any roster size
BLOCK = 20_000


def standing_csv_name(report: str | Path) -> str:
    """The CSV file beside ``report`` that holds its full standing: ``report.html`` -> ``report.standing.csv``."""
    return f"{Path(report).stem}.standing.csv"


def safe_cell(text: str) -> str:
    """Outside text made inert in a spreadsheet: a leading ``'`` when it could start a formula.

    >>> [safe_cell(t) for t in ("Ada", "=HYPERLINK(1)", "-2+3", "@SUM(A1)", "\\tx")]
    ['Ada', "'=HYPERLINK(1)", "'-2+3", "'@SUM(A1)", "'\\tx"]
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text(values: Iterable[str]) -> list[str]:
    """Text cells, neutralised and quoted (a quote inside doubled)."""
    return ['"' + safe_cell(v).replace('"', '""') + '"' for v in values]


def _figures(values: NDArray[np.float64] | NDArray[np.int64], *, whole: bool = False) -> list[str]:
    """Figure cells: bare numbers, empty where there is none (NaN)."""
    items = values.tolist()
    if whole:
        return ["" if v != v else str(int(v)) for v in items]
    return ["" if v != v else repr(v) for v in items]


def standing_lines(outcome: RunOutcome) -> Iterator[str]:
    """The header line and every subject's line, highest consensus first, as the page's standing orders them.

    Standings are rounded as the page shows them (whole points; consensus and spread to one
    decimal); raw scores are the indices' own, unrounded. Built a column at a time.
    """
    comparison = outcome.comparison
    table = comparison.table
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    header = ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    for label in labels:
        header += [f"{label} standing", f"{label} raw"]
    yield ",".join(_text(header))
    order = standing_order(comparison)
    ranks = competition_ranks(comparison.consensus[order]).astype(np.float64)
    ranks[ranks == 0] = np.nan
    odd_names = np.array([*_text(labels), '""'], dtype=object)  # index -1: no odd one out, an empty cell
    marked = comparison.flagged & (comparison.dissenter >= 0)
    ids, names = ids_of(outcome.subjects), names_of(outcome.subjects)
    for start in range(0, len(order), BLOCK):
        rows = order[start:start + BLOCK]
        picked = rows.tolist()
        standing = half_up(comparison.normalized[rows], 0)
        raw = table.raw[rows]
        columns = [
            _figures(ranks[start:start + BLOCK], whole=True), _text(ids[i] for i in picked),
            _text(names[i] for i in picked), _figures(half_up(comparison.consensus[rows], 1)),
            _figures(half_up(comparison.spread[rows], 1)), _figures(comparison.n_indices[rows], whole=True),
            np.where(comparison.flagged[rows], '"yes"', '"no"').tolist(),
            odd_names[np.where(marked[rows], comparison.dissenter[rows], -1)].tolist(),
        ]
        for j in range(len(labels)):
            columns += [_figures(standing[:, j], whole=True), _figures(raw[:, j])]
        yield from map(",".join, zip(*columns, strict=True))


def write_standing_csv(outcome: RunOutcome, handle: IO[str]) -> None:
    """Write the full standing to ``handle`` (opened with ``newline=""``): text quoted, figures bare."""
    for line in standing_lines(outcome):
        handle.write(line + "\r\n")


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
