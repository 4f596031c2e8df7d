"""Changes since the previous run, and recalibrations told apart from real movers.

Subjects are matched by id and indices by name between the two runs.

- Per subject and index: the raw change, and the change of relative standing (percentile,
  each run within its own cohort). Per subject: the change of consensus standing.
- Per index: the median raw shift, the same as a share of the scale, and Spearman's rho
  between the runs' raw scores on the subjects both scored.
- **Recalibration**: an index whose raw scores moved en masse while their order held
  (rho ≥ ``RECALIBRATION_MIN_RHO`` and a median shift of at least
  ``RECALIBRATION_MIN_SHIFT_PCT`` percent of the scale) is one index-level event ("60 is the
  new 80"), not hundreds of individual drops. Individual **movers** are subjects whose
  *standing* moved by ``MOVER_THRESHOLD`` points or more (the median over the indices that
  scored them both times, so an index gained or lost is not a move), never those whose raw
  score did.
- An algorithm-version change reported by the adapter is flagged for the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aggregator.analytics._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    Ranked,
    column_median,
    median_in_place,
    spearman,
)
from aggregator.analytics.consensus import row_nanmedian
from aggregator.models import IndexSpec

#: Rank correlation between runs above which a mass shift counts as a rescaling.
RECALIBRATION_MIN_RHO = 0.9
#: Median raw shift, in percent of the scale (bounded) or of the previous median value
#: (unbounded), that counts as "en masse".
RECALIBRATION_MIN_SHIFT_PCT = 5.0
#: Fewest subjects scored in both runs for an index-level verdict.
RECALIBRATION_MIN_SUBJECTS = 5
#: Change of standing (points) that makes a subject a mover.
MOVER_THRESHOLD = 15.0


@dataclass(frozen=True, eq=False)
class RunView:
    """What :func:`compute_shifts` needs of one run: ids, indices, raw scores and standings."""

    subject_ids: Sequence[str]
    specs: Sequence[IndexSpec]
    #: algorithm version per index, as the readings reported it
    versions: Sequence[str]
    raw: FloatArray
    #: one ranked column per index, higher-is-better
    ranks: Sequence[Ranked]
    #: percentile standing per subject and index, within the run's own cohort
    standing: FloatArray
    consensus: FloatArray


@dataclass(frozen=True)
class IndexShift:
    """How one index moved between the runs."""

    index: str
    #: subjects the index scored in both runs
    n: int
    #: median raw change, in the index's own units (NaN with no subject in both runs)
    median_shift: float
    #: the median shift in percent of the scale width (bounded) or of the previous run's median (unbounded)
    median_shift_pct: float
    #: Spearman's rho between the two runs' scores (did the order hold?)
    rank_corr: float
    version_before: str
    version_after: str
    #: the scores moved en masse while the order held: a rescaling, not a change in anyone's influence
    recalibrated: bool
    #: median raw score of the subjects scored in both runs, in the previous run and in this one
    median_before: float = float("nan")
    median_after: float = float("nan")
    #: the median over those subjects of each one's own change, in percent of their previous score
    #: (NaN when no previous score is non-zero): what the typical subject gained or lost
    median_relative_change: float = float("nan")

    @property
    def version_changed(self) -> bool:
        return self.version_before != self.version_after

    @property
    def is_event(self) -> bool:
        """Worth one line in the report: a recalibration or a new algorithm version."""
        return self.recalibrated or self.version_changed


@dataclass(frozen=True, eq=False)
class Shifts:
    """Changes since ``previous_run``, aligned with the current table (NaN where not comparable)."""

    previous_run: str | None
    indices: tuple[IndexShift, ...]
    #: ``[subjects × indices]`` raw change
    raw_change: FloatArray
    #: ``[subjects × indices]`` change of percentile standing (points)
    standing_change: FloatArray
    #: change of consensus standing (points)
    consensus_change: FloatArray
    #: what decides a mover: the median change of standing over the indices that scored the
    #: subject in both runs (NaN if none did)
    movement: FloatArray
    #: subjects that were not in the previous run
    new: BoolArray
    mover_threshold: float
    #: rows whose ``|movement|`` reaches the threshold, largest first
    movers: IntArray
    #: the previous run's consensus on its own rows (by the comparison's normalizer and consensus
    #: method), for the history's line of that run; None when not at hand (read back from an export)
    previous_consensus: FloatArray | None = None

    @property
    def events(self) -> tuple[IndexShift, ...]:
        return tuple(s for s in self.indices if s.is_event)


def compute_shifts(
    now: RunView, before: RunView, *, previous_run: str | None = None, mover_threshold: float = MOVER_THRESHOLD
) -> Shifts:
    """Compare two runs (see the module docstring)."""
    n_rows = len(now.subject_ids)
    # for each current row, its row in the previous run (-1 when new), and the reverse (-1 when
    # gone); None for both when the rosters are the same, the usual and the cheap case
    back: IntArray | None = None
    forward: IntArray | None = None
    known = np.ones(n_rows, dtype=bool)
    if tuple(now.subject_ids) != tuple(before.subject_ids):
        prev_row = {sid: i for i, sid in enumerate(before.subject_ids)}
        back = np.array([prev_row.get(sid, -1) for sid in now.subject_ids], dtype=np.int64)
        known = back >= 0
        forward = np.full(len(before.subject_ids), -1, dtype=np.int64)
        forward[back[known]] = np.flatnonzero(known)
    prev_col = {spec.name: j for j, spec in enumerate(before.specs)}

    # column-major: each index's changes are written (and read) as one contiguous column
    raw_change = np.empty(now.raw.shape, order="F")
    standing_change = np.empty(now.raw.shape, order="F")
    index_shifts = []
    for j, spec in enumerate(now.specs):
        p = prev_col.get(spec.name)
        if p is None:
            raw_change[:, j] = standing_change[:, j] = np.nan
            version = now.versions[j]  # a new index: nothing to compare with
            index_shifts.append(IndexShift(spec.name, 0, np.nan, np.nan, np.nan, version, version, False))
            continue
        change = raw_change[:, j]
        previous = _align(before.raw[:, p], back)
        np.subtract(now.raw[:, j], previous, out=change)
        np.subtract(now.standing[:, j], _align(before.standing[:, p], back), out=standing_change[:, j])
        index_shifts.append(
            _index_shift(spec, now.versions[j], before.versions[p], change, previous,
                         now.ranks[j], _realign(before.ranks[p], forward, n_rows),
                         # the previous run's median, in raw units whichever way the index runs
                         column_median(before.ranks[p]) * (1.0 if spec.higher_is_better else -1.0))
        )
    consensus_change = now.consensus - _align(before.consensus, back)
    # by index, not by consensus: an index gained or lost moves the consensus, not the subject
    movement = row_nanmedian(standing_change)
    return Shifts(
        previous_run=previous_run, indices=tuple(index_shifts), raw_change=raw_change,
        standing_change=standing_change, consensus_change=consensus_change, movement=movement,
        new=~known, mover_threshold=mover_threshold, movers=movers_of(movement, mover_threshold),
        previous_consensus=before.consensus,
    )


def movers_of(movement: FloatArray, mover_threshold: float) -> IntArray:
    """Rows whose ``|movement|`` reaches ``mover_threshold``, largest first (ties in row order)."""
    size = np.nan_to_num(np.abs(movement), nan=-1.0)
    movers = np.flatnonzero(size >= mover_threshold)
    return movers[np.argsort(-size[movers], kind="stable")].astype(np.int64)


def _align(column: FloatArray, back: IntArray | None) -> FloatArray:
    """A previous-run column on the current rows (NaN for new subjects)."""
    if back is None:
        return column
    aligned: FloatArray = np.where(back >= 0, column[np.clip(back, 0, None)] if column.size else np.nan, np.nan)
    return aligned


def _realign(ranked: Ranked, forward: IntArray | None, n_rows: int) -> Ranked:
    """The previous run's ranking carried onto the current rows (no new sort: the order is kept)."""
    if forward is None:
        return ranked
    order = forward[ranked.order]
    keep = order >= 0
    sorted_groups = ranked.sorted_groups[keep]
    groups = np.zeros(n_rows, dtype=np.intp)
    groups[order[keep]] = sorted_groups
    return Ranked(order=order[keep], groups=groups, n_groups=ranked.n_groups, sorted_groups=sorted_groups,
                  sorted_values=ranked.sorted_values[keep])


def _index_shift(
    spec: IndexSpec, version_now: str, version_before: str, change: FloatArray, previous: FloatArray,
    ranks_now: Ranked, ranks_before: Ranked, median_before: float,
) -> IndexShift:
    # each selection made once and each median taken in place: every temporary here is a few MB
    # at a million subjects, and fresh memory costs page faults that weigh like the arithmetic
    both = np.isnan(change)
    np.logical_not(both, out=both)  # subjects scored in both runs
    moved = np.compress(both, change)
    was = np.compress(both, previous)
    after = was + moved
    nonzero = was != 0
    relative = np.compress(nonzero, moved)
    base = np.compress(nonzero, was)
    relative /= np.abs(base, out=base)
    relative *= 100.0
    n = int(moved.size)
    rho, _ = spearman(ranks_now, ranks_before)
    return finish_index_shift(
        spec, version_now, version_before, n=n, median_shift=median_in_place(moved), rank_corr=rho,
        previous_median=median_before, median_before=median_in_place(was),
        median_after=median_in_place(after), median_relative_change=median_in_place(relative),
    )


def finish_index_shift(
    spec: IndexSpec, version_now: str, version_before: str, *, n: int, median_shift: float, rank_corr: float,
    previous_median: float, median_before: float, median_after: float, median_relative_change: float,
) -> IndexShift:
    """An index's :class:`IndexShift` from its figures: the shift as a share of the scale, and the
    recalibration verdict. ``previous_median`` is the previous run's median raw score (every subject
    it scored), the base of an unbounded index's share. Any engine's figures go through here."""
    if spec.scale.lo is not None and spec.scale.hi is not None:
        base = spec.scale.hi - spec.scale.lo
    else:
        base = abs(previous_median)
    shift_pct = median_shift / base * 100.0 if base else float("nan")
    recalibrated = (
        n >= RECALIBRATION_MIN_SUBJECTS and not np.isnan(rank_corr) and rank_corr >= RECALIBRATION_MIN_RHO
        and not np.isnan(shift_pct) and abs(shift_pct) >= RECALIBRATION_MIN_SHIFT_PCT
    )
    return IndexShift(
        index=spec.name, n=n, median_shift=median_shift, median_shift_pct=shift_pct, rank_corr=rank_corr,
        version_before=version_before, version_after=version_now, recalibrated=bool(recalibrated),
        median_before=median_before, median_after=median_after, median_relative_change=median_relative_change,
    )
