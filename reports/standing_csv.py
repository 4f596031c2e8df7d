"""The full standing as a CSV file beside the report, for rosters too large for one page.

:func:`write_report` writes a report to a file; when its standing is shortened (past
:data:`~reports.sections.standing.SHORTLIST_PAST` subjects) it first writes the full standing to
``<report name>.standing.csv`` in the same folder, and the report names that file (the page
links it by a relative address, so the two can be moved together). Both files are written
atomically (:mod:`aggregator.atomic`).

The CSV is written straight from the comparison's arrays by Arrow's compiled string kernels, a
block of rows at a time (:func:`standing_blocks`): each column's cells are made as one Arrow array
(:mod:`reports.csv_cells`: names neutralised and quoted as OWASP's "CSV Injection" advice says,
figures bare), each block's lines joined from them and written from the joined array's buffer,
so a million subjects cost no Python work per cell. Lines end with RFC 4180's CRLF.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from aggregator.analytics.outcome import RunOutcome
from aggregator.atomic import atomic_open, write_atomic
from aggregator.models import subject_ids
from reports.csv_cells import float_cells, joined, numbers, text_cells, text_of, whole_cells
from reports.model import build_view
from reports.render import load_renderer
from reports.sections._common import half_up, index_label, names_of
from reports.sections.standing import SHORTLIST_PAST, competition_ranks, standing_order

#: rows written at a time: bounded memory at any roster size (a block is ~15 MB of text at 1M)
BLOCK = 100_000
#: RFC 4180's line end
LINE_END = "\r\n"


def standing_csv_name(report: str | Path) -> str:
    """The CSV file beside ``report`` that holds its full standing: ``report.html`` -> ``report.standing.csv``."""
    return f"{Path(report).stem}.standing.csv"


def standing_header(labels: Sequence[str]) -> str:
    header = ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    for label in labels:
        header += [f"{label} standing", f"{label} raw"]
    return ",".join(text_cells(header).to_pylist()) + LINE_END


def standing_blocks(outcome: RunOutcome) -> Iterator[bytes | memoryview]:
    """The header line, then every subject's line a block of lines at a time (as UTF-8 bytes),
    highest consensus first, as the page's standing orders them.

    Standings are rounded as the page shows them (whole points; consensus and spread to one
    decimal); raw scores are the indices' own, unrounded. Each block's columns of cells are
    joined into its lines by Arrow: no Python work per row.
    """
    comparison = outcome.comparison
    table = comparison.table
    labels = [spec.label or index_label(spec.name) for spec in table.specs]
    yield standing_header(labels).encode("utf-8")
    order = standing_order(comparison)
    ranks = competition_ranks(comparison.consensus[order]).astype(np.float64)
    ranks[ranks == 0] = np.nan
    odd_names = text_cells([*labels, ""])  # the last: no odd one out
    odd_one = np.where(comparison.flagged & (comparison.dissenter >= 0), comparison.dissenter, len(labels))
    disputed = text_cells(["no", "yes"])
    ids = text_cells(subject_ids(outcome.subjects))  # in roster order, then picked by row
    names = text_cells(names_of(outcome.subjects))
    for start in range(0, len(order), BLOCK):
        rows = order[start:start + BLOCK]
        picked = numbers(rows.astype(np.int64))
        standing = half_up(comparison.normalized[rows], 0)
        raw = table.raw[rows]
        cells = [
            whole_cells(ranks[start:start + BLOCK]), ids.take(picked), names.take(picked),
            float_cells(half_up(comparison.consensus[rows], 1)), float_cells(half_up(comparison.spread[rows], 1)),
            whole_cells(comparison.n_indices[rows].astype(np.float64)),
            disputed.take(numbers(comparison.flagged[rows].astype(np.int64))),
            odd_names.take(numbers(odd_one[rows].astype(np.int64))),
        ]
        for j in range(len(labels)):
            cells += [whole_cells(standing[:, j]), float_cells(raw[:, j])]
        yield text_of(joined(joined(*cells, separator=","), LINE_END))


def write_standing_csv(outcome: RunOutcome, handle: IO[bytes]) -> None:
    """Write the full standing to ``handle`` (binary) as UTF-8: text quoted, figures bare."""
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
        with atomic_open(path.with_name(name), "wb") as handle:
            write_standing_csv(outcome, handle)
        written.append(path.with_name(name))
    document = load_renderer(kind).render(build_view(outcome, standing_csv=name))
    write_atomic(path, document)
    return [path, *written]
