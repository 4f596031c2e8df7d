"""Changes since the last run: who moved (with each mover's consensus over past runs as a small
line) and which indices rescaled or changed their algorithm (present only when the comparison
compared with a previous run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from aggregator.analytics.compare import Comparison
from aggregator.analytics.shifts import IndexShift
from aggregator.models import Subject
from reports.sections._common import SummaryLine, View, Wording, half_up, index_label, opt_float

#: how many movers the report lists
MAX_MOVERS = 20


class Sparkline(View):
    """A small line of a subject's consensus over past runs, drawn without script."""

    #: SVG polyline points in a SPARK_WIDTH x SPARK_HEIGHT box (0-100 mapped top to bottom)
    points: str
    #: the same figures in words, for screen readers and plain text
    text: str
    #: the line as block characters for terminals and mail, one per run (see :func:`spark_chars`)
    chars: str
    #: the first and last known figures, ``41→78``
    ends: str

    @property
    def compact(self) -> str:
        """``▂▄▅▇ 41→78``: the characters, then the first and last figures."""
        return f"{self.chars} {self.ends}"


SPARK_WIDTH, SPARK_HEIGHT = 80, 20
#: block heights for 0-100, lowest first (eight equal bands), and the mark for a run without a score
SPARK_BLOCKS, SPARK_GAP = "▁▂▃▄▅▆▇█", "·"


class MoverRow(View):
    name: str
    subject_id: str = ""
    before: float | None
    after: float | None
    change: float
    sentence: str
    trend: Sparkline | None = None


class ShiftFigures(View):
    """An index's change between runs as numbers at full precision (the row's texts round them)."""

    median_change: float | None
    median_relative_change_pct: float | None
    median_before: float | None
    median_after: float | None
    rank_correlation: float | None


class IndexShiftRow(View):
    index: str
    compared: int
    #: the median of the subjects' raw changes, in the index's own points (``−12.32``)
    median_shift: str
    #: the median of the subjects' own changes in percent of their previous score (``−46.4%``)
    median_relative: str
    #: the median score before and now (``27.68 → 14.90``)
    medians: str
    rank_corr: str
    version: str
    event: bool
    sentence: str
    #: the same figures as numbers, unrounded, for programs (None: not measured)
    figures: ShiftFigures


class ChangesView(View):
    previous_run: str | None
    movers: tuple[MoverRow, ...]
    movers_total: int
    threshold_text: str
    indices: tuple[IndexShiftRow, ...]
    new_subjects: int


def _signed(value: float, digits: int = 1) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def spark_chars(history: Sequence[int | None]) -> str:
    """One block character per run on the same 0-100 scale as the drawn line, :data:`SPARK_GAP` where
    a run did not score the subject. The only place points become characters (text and email).

    >>> spark_chars([0, 12, 13, 50, None, 87, 88, 100])
    '▁▁▂▅·▇██'
    """
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        SPARK_GAP if v is None else SPARK_BLOCKS[min(max(v * len(SPARK_BLOCKS) // 100, 0), top)] for v in history
    )


def sparkline(history: Sequence[int | None]) -> Sparkline | None:
    """Points for a subject's consensus history (oldest first; None where a run did not score them).

    >>> sparkline([50, None, 100]).points
    '0.0,10.0 80.0,0.0'
    >>> sparkline([50, None, 100]).text
    'consensus over the last 3 runs, oldest first: 50, not scored, 100'
    >>> sparkline([50, None, 100]).compact
    '▅·█ 50→100'
    """
    known = [(k, v) for k, v in enumerate(history) if v is not None]
    if len(known) < 2:
        return None
    step = SPARK_WIDTH / (len(history) - 1)
    points = " ".join(f"{k * step:.1f},{(100 - v) / 100 * SPARK_HEIGHT:.1f}" for k, v in known)
    words = ", ".join("not scored" if v is None else str(v) for v in history)
    return Sparkline(
        points=points, text=f"consensus over the last {len(history)} runs, oldest first: {words}",
        chars=spark_chars(history), ends=f"{known[0][1]}→{known[-1][1]}",
    )


def changes_view(
    comparison: Comparison, subjects: Sequence[Subject], labels: Sequence[str], wording: Wording,
    history: Mapping[str, Sequence[int | None]],
) -> tuple[ChangesView | None, list[SummaryLine]]:
    shifts = getattr(comparison, "shifts", None)
    if shifts is None:
        return None, []
    consensus = comparison.consensus
    movers = []
    for row in list(shifts.movers)[:MAX_MOVERS]:
        i = int(row)
        change = float(shifts.movement[i])
        now = opt_float(float(half_up(consensus[i : i + 1], 1)[0]))
        before_raw = consensus[i] - shifts.consensus_change[i]
        before = opt_float(float(half_up(np.array([before_raw]), 1)[0]))
        rounded = float(half_up(np.array([abs(change)]), 1)[0])
        direction = "up" if change > 0 else "down"
        # movement is the median change over the indices that scored them both times; the
        # consensus can move by a different amount, so it is given as its own figure
        span = f"; consensus {before:.1f} → {now:.1f}" if before is not None and now is not None else ""
        movers.append(MoverRow(
            name=subjects[i].name, subject_id=subjects[i].id, before=before, after=now,
            change=float(np.sign(change) * rounded),
            sentence=f"{subjects[i].name} moved {direction} {rounded:.1f} points in the typical index{span}.",
            trend=sparkline(history.get(subjects[i].id, ())),
        ))
    rows: list[IndexShiftRow] = []
    events: list[SummaryLine] = []
    label_of = dict(zip(comparison.table.index_names, labels, strict=True))
    for shift in shifts.indices:
        label = label_of.get(shift.index, index_label(shift.index))
        row = _shift_row(label, shift)
        rows.append(row)
        if shift.is_event:
            events.append(SummaryLine(text=row.sentence))
    view = ChangesView(
        previous_run=shifts.previous_run, movers=tuple(movers), movers_total=len(shifts.movers),
        threshold_text=f"{shifts.mover_threshold:g}", indices=tuple(rows), new_subjects=int(np.sum(shifts.new)),
    )
    return view, events


def _figure(value: float, text: str) -> str:
    return text if np.isfinite(value) else "—"


def _shift_row(label: str, shift: IndexShift) -> IndexShiftRow:
    """One index's change in figures and in a sentence that names each figure for what it is.

    The median change is in the index's own points; the relative figure is the median of each
    subject's own change in percent of their previous score (a share of the scale's width would
    read as a change and understate it: −12 points is −12 % of a 1-100 scale but −46 % of a
    typical score of 28).
    """
    median = _figure(shift.median_shift, _signed(shift.median_shift, 2))
    relative = _figure(shift.median_relative_change, f"{_signed(shift.median_relative_change)}%")
    medians = (
        f"{shift.median_before:.2f} → {shift.median_after:.2f}"
        if np.isfinite(shift.median_before) and np.isfinite(shift.median_after) else "—"
    )
    corr = _figure(shift.rank_corr, f"{shift.rank_corr:.2f}")
    version = f"{shift.version_before} → {shift.version_after}" if shift.version_changed else shift.version_after
    parts = []
    if shift.recalibrated:
        way = "fell" if shift.median_shift < 0 else "rose"
        parts.append(
            f"{label} rescaled: its scores {way} by a median of {abs(shift.median_shift):.2f} points in its "
            f"own units (median score {medians}), and the median subject's score {way} by "
            f"{abs(shift.median_relative_change):.1f}%. Relative standing held (rank correlation with the last "
            f"run {corr}): nobody's influence changed with it."
        )
    if shift.version_changed:
        parts.append(f"{label} changed its algorithm (version {shift.version_before} → {shift.version_after}).")
    sentence = " ".join(parts) or (
        f"{label}: median change {median} points, median change per subject {relative}; "
        f"rank correlation with the last run {corr}."
    )
    return IndexShiftRow(
        index=label, compared=shift.n, median_shift=median, median_relative=relative, medians=medians,
        rank_corr=corr, version=version, event=shift.is_event, sentence=sentence,
        figures=ShiftFigures(
            median_change=opt_float(shift.median_shift),
            median_relative_change_pct=opt_float(shift.median_relative_change),
            median_before=opt_float(shift.median_before), median_after=opt_float(shift.median_after),
            rank_correlation=opt_float(shift.rank_corr),
        ),
    )
