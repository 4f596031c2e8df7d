"""Relative standing: every subject, highest consensus first, with each index's standing and raw
score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics.compare import Comparison
from aggregator.models import Subject
from reports.sections._common import View, half_up, opt_float, opt_int


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


def _ranks(order: NDArray[np.intp], consensus: NDArray[np.float64]) -> list[int | None]:
    """Competition ranks ("1, 2, 2, 4") along ``order``; None where there is no consensus."""
    ranks: list[int | None] = []
    previous = np.nan
    rank = 0
    for position, row in enumerate(order, start=1):
        value = consensus[row]
        if np.isnan(value):
            ranks.append(None)
            continue
        if value != previous:
            rank, previous = position, value
        ranks.append(rank)
    return ranks


def standing_rows(
    comparison: Comparison, subjects: Sequence[Subject], history: Mapping[str, tuple[float, ...]] | None = None,
) -> list[StandingRow]:
    """All subjects, highest consensus first; every number rounded once, vectorized."""
    past = {sid: tuple(opt_int(v) for v in half_up(np.array(points, dtype=np.float64), 0))
            for sid, points in (history or {}).items()}
    standing = half_up(comparison.normalized, 0)
    bars = np.clip(np.nan_to_num(standing, nan=0.0), 0, 100).astype(np.int64)
    consensus = half_up(comparison.consensus, 1)
    spread = half_up(comparison.spread, 1)
    flagged = comparison.flagged
    dissent = np.zeros(standing.shape, dtype=bool)
    marked = np.flatnonzero(flagged & (comparison.dissenter >= 0))
    dissent[marked, comparison.dissenter[marked]] = True
    raws = [[raw_text(v) for v in row] for row in comparison.table.raw.tolist()]

    order = np.argsort(-np.nan_to_num(comparison.consensus, nan=-np.inf), kind="stable")
    columns = range(standing.shape[1])
    raw_values = comparison.table.raw
    rows = []
    for rank, i in zip(_ranks(order, comparison.consensus), order.tolist(), strict=True):
        subject = subjects[i]
        rows.append(
            StandingRow(
                rank=rank, subject_id=subject.id, name=subject.name, synthetic=subject.synthetic,
                consensus=opt_float(consensus[i]), n_indices=int(comparison.n_indices[i]),
                spread=opt_float(spread[i]), flagged=bool(flagged[i]),
                cells=tuple(
                    Cell(
                        standing=opt_int(standing[i, j]), bar=int(bars[i, j]),
                        raw=raws[i][j], raw_value=opt_float(raw_values[i, j]), dissenter=bool(dissent[i, j]),
                    )
                    for j in columns
                ),
                history=past.get(subject.id, ()),
            )
        )
    return rows
