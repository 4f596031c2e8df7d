"""Relative standing: the subjects, highest consensus first, with each index's standing and raw
score.

Up to :data:`SHORTLIST_PAST` subjects the standing lists them all. Past it, it lists the top and
the bottom :data:`SHORTLIST_ENDS` by consensus, the disputed subjects and the movers the report
lists, in standing order (:func:`shortlist_rows`, chosen on the arrays, so no Python object is
made for a subject that is not shown), and the full standing goes beside the report as a CSV
file (:mod:`reports.standing_csv`). The size comes from measurement (``bench/reports.py``, see
bench/RESULTS.md): the page must sort and filter within 200 ms, and in Chromium on the shared
machine a table of a few hundred rows does, 1,000 rows took 0.3-0.7 s and 10,000 took 10-21 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.compare import Comparison
from aggregator.analytics.outcome import ConsensusHistory
from aggregator.models import Subject
from reports.sections._common import View, bottom_rows, half_up, highest_first, opt_float, opt_int, top_rows

#: rosters larger than this get a shortened standing and the full one as CSV
SHORTLIST_PAST = 500
#: rows kept at each end of a shortened standing
SHORTLIST_ENDS = 50


class Cell(View):
    """One index's standing for one subject."""

    #: 0-100, rounded; None when the index did not score the subject
    standing: int | None
    #: width of the standing bar in percent (0-100), for inline styles
    bar: int
    #: the raw value as text, up to 2 decimals, no trailing zeros
    raw: str | None
    #: the raw value as the index gave it, unrounded (None: not scored)
    raw_value: float | None = None
    dissenter: bool


class StandingRow(View):
    rank: int | None
    subject_id: str
    name: str
    synthetic: bool
    consensus: float | None
    n_indices: int
    spread: float | None
    flagged: bool
    #: aligned with :attr:`~reports.model.ReportView.indices`
    cells: tuple[Cell, ...]
    #: consensus over the last runs up to this one, oldest first, rounded (None: not scored
    #: that run); empty unless the subject was scored in two runs at least
    history: tuple[int | None, ...] = ()


def raw_text(value: float) -> str | None:
    """A raw score as text: up to 2 decimals, trailing zeros dropped.

    >>> [raw_text(v) for v in (61.5, 700.0, 0.126, -0.001, float("nan"))]
    ['61.5', '700', '0.13', '0', None]
    """
    if not np.isfinite(value):
        return None
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def standing_key(comparison: Comparison) -> NDArray[np.float64]:
    """What the standing sorts on, highest first: the consensus, and below every value where there is none."""
    return np.nan_to_num(comparison.consensus, nan=-np.inf)


def standing_order(comparison: Comparison) -> NDArray[np.intp]:
    """Rows by consensus, highest first; rows without a consensus last, in roster order."""
    return np.argsort(-standing_key(comparison), kind="stable")


def competition_ranks(sorted_consensus: NDArray[np.float64]) -> NDArray[np.int64]:
    """Competition ranks ("1, 2, 2, 4") of values sorted highest first; 0 where there is no value.

    >>> competition_ranks(np.array([90.0, 80.0, 80.0, 70.0, np.nan])).tolist()
    [1, 2, 2, 4, 0]
    """
    n = len(sorted_consensus)
    if not n:
        return np.zeros(0, dtype=np.int64)
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_consensus[1:] != sorted_consensus[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) + 1
    return np.where(np.isnan(sorted_consensus), 0, first).astype(np.int64)


def ranks_of(consensus: NDArray[np.float64], rows: NDArray[np.intp]) -> NDArray[np.int64]:
    """The competition ranks (:func:`competition_ranks`) of ``rows`` among all rows, without sorting the rows:
    one more than how many consensus values are higher; 0 where there is none.

    >>> ranks_of(np.array([80.0, 90.0, np.nan, 80.0, 70.0]), np.array([4, 3, 2])).tolist()
    [4, 2, 0]
    """
    known = np.sort(consensus[~np.isnan(consensus)])
    mine = consensus[rows]
    higher = len(known) - np.searchsorted(known, mine, side="right")
    return np.where(np.isnan(mine), 0, higher + 1).astype(np.int64)


def shortlist_rows(comparison: Comparison, also: Iterable[int], *, ends: int = SHORTLIST_ENDS) -> NDArray[np.intp]:
    """The rows a shortened standing shows, in standing order: the top and bottom ``ends`` and ``also``.

    The same rows in the same order as taking both ends of :func:`standing_order`, with the same
    tie-breaks, but only the rows shown are sorted (a partition finds the ends), so its cost does
    not grow with the roster's sort.
    """
    key = standing_key(comparison)
    picked = np.concatenate([top_rows(key, ends), bottom_rows(key, ends), np.fromiter(also, dtype=np.intp)])
    return highest_first(key, np.unique(picked))


def shortlist_note(shown: int, total: int, where: str, *, ends: int = SHORTLIST_ENDS) -> str:
    """What a shortened standing holds, and ``where`` the full one is."""
    return (
        f"This copy lists {shown:,} of the {total:,} subjects: the top and bottom {ends:,} by consensus, "
        f"the most disputed and the biggest movers; every figure about the whole roster still counts all "
        f"{total:,}. {where}"
    )


def standing_where(total: int, csv: str | None, *, beside: str = "this report") -> str:
    """Where the full standing of a shortened one is: the CSV file ``csv`` (beside ``beside``, when
    given), or where it will be when the report is written to a file."""
    if csv is None:
        return (f"The full standing of all {total:,} goes beside the report as a CSV file when the report is "
                "written to a file.")
    return f"The full standing of all {total:,} is in the CSV file {csv}{f', beside {beside}' if beside else ''}."


def standing_rows(
    comparison: Comparison, subjects: Sequence[Subject], history: ConsensusHistory | None = None,
    rows: NDArray[np.intp] | None = None,
) -> list[StandingRow]:
    """The subjects in ``rows`` (default: all, highest consensus first); every number rounded once, vectorized.

    ``rows`` must be in standing order, as :func:`shortlist_rows` gives them.
    """
    if rows is None:
        rows = standing_order(comparison)
        rank_of_row = competition_ranks(comparison.consensus[rows])
    else:
        rank_of_row = ranks_of(comparison.consensus, rows)
    lines, has_line = (history or ConsensusHistory()).of_rows(rows)
    lines = half_up(lines, 0)
    standing = half_up(comparison.normalized[rows], 0)
    bars = np.clip(np.nan_to_num(standing, nan=0.0), 0, 100).astype(np.int64)
    consensus = half_up(comparison.consensus[rows], 1)
    spread = half_up(comparison.spread[rows], 1)
    flagged = comparison.flagged[rows]
    dissenter = comparison.dissenter[rows]
    dissent = np.zeros(standing.shape, dtype=bool)
    marked = np.flatnonzero(flagged & (dissenter >= 0))
    dissent[marked, dissenter[marked]] = True
    raw_values = comparison.table.raw[rows]
    raws = [[raw_text(v) for v in row] for row in raw_values.tolist()]
    n_indices = comparison.n_indices[rows]
    columns = range(standing.shape[1])
    out = []
    for k, i in enumerate(rows.tolist()):
        subject = subjects[i]
        out.append(
            StandingRow(
                rank=int(rank_of_row[k]) or None, subject_id=subject.id, name=subject.name, synthetic=subject.synthetic,
                consensus=opt_float(consensus[k]), n_indices=int(n_indices[k]),
                spread=opt_float(spread[k]), flagged=bool(flagged[k]),
                cells=tuple(
                    Cell(
                        standing=opt_int(standing[k, j]), bar=int(bars[k, j]),
                        raw=raws[k][j], raw_value=opt_float(raw_values[k, j]), dissenter=bool(dissent[k, j]),
                    )
                    for j in columns
                ),
                history=tuple(opt_int(v) for v in lines[k]) if has_line[k] else (),
            )
        )
    return out
