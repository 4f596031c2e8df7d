"""Past runs read back from the store: a run's whole outcome, a subject's standing over runs.

:func:`outcome_from_store` rebuilds a run's comparison from what the store holds (the pipeline
compares a fresh run this way too, invariant 5; old runs re-render with new templates).
:func:`subject_history` gives one point per run (raw values, percentile standings, the
consensus); :func:`trend` gives the same for the last N runs as arrays, for plots and programs;
:func:`consensus_history` gives every subject's consensus over the last runs at once (one
query, ranked in numpy), for the report's history lines. A subject's standing in a run is its
mid-rank percentile among the subjects each index scored in that run,
``(below + equal / 2) / scored * 100``, counted by SQLite without loading the cohort; the
consensus is their median (two indices at least), as in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from aggregator.analytics._arrays import FloatArray, row_nanmedian
from aggregator.analytics.compare import (
    MIN_INDICES_FOR_CONSENSUS,
    ScoreTable,
    compare_table,
)
from aggregator.analytics.outcome import IndexTiming, RunOutcome
from aggregator.collection.store import Store
from aggregator.errors import StoreError
from aggregator.models import Run


@dataclass(frozen=True)
class HistoryPoint:
    """One run's view of a subject: raw values and percentiles per index, and the consensus."""

    run: Run
    consensus: float | None
    raw: dict[str, float]
    standing: dict[str, float]


@dataclass(frozen=True, eq=False)
class Trend:
    """A subject over runs, oldest first: ``[runs × indices]`` arrays, NaN where not scored."""

    subject_id: str
    runs: tuple[Run, ...]
    indices: tuple[str, ...]
    raw: FloatArray
    standing: FloatArray
    #: median standing over the indices that scored the subject (NaN with fewer than two)
    consensus: FloatArray


def trend(store: Store, subject_id: str, *, last: int | None = None) -> Trend:
    """The subject's standing in every run that scored it (the ``last`` N of them if given)."""
    rows = store.standing_history(subject_id)
    if not rows:
        raise StoreError(f"{store.path} holds no readings of subject {subject_id!r}")
    run_ids = list(dict.fromkeys(r[0] for r in rows))
    if last is not None:
        if last < 1:
            raise ValueError(f"last must be at least 1, got {last}")
        run_ids = run_ids[-last:]
    kept = set(run_ids)
    indices = list(dict.fromkeys(r[1] for r in rows if r[0] in kept))
    at_run = {run_id: i for i, run_id in enumerate(run_ids)}
    at_index = {name: j for j, name in enumerate(indices)}
    raw = np.full((len(run_ids), len(indices)), np.nan)
    standing = np.full(raw.shape, np.nan)
    for run_id, index, value, below, equal, scored in rows:
        if run_id in at_run:
            i, j = at_run[run_id], at_index[index]
            raw[i, j] = value
            standing[i, j] = (below + equal / 2.0) / scored * 100.0
    enough = np.sum(~np.isnan(standing), axis=1) >= MIN_INDICES_FOR_CONSENSUS
    consensus = np.where(enough, row_nanmedian(standing), np.nan)
    return Trend(subject_id, tuple(store.run(r) for r in run_ids), tuple(indices), raw, standing, consensus)


#: how many runs the report's per-subject history goes back
HISTORY_RUNS = 8


def consensus_history(store: Store, run_id: str, *, last: int = HISTORY_RUNS) -> dict[str, tuple[float, ...]]:
    """Each subject's consensus over the last ``last`` runs up to ``run_id``, oldest first.

    The runs are the finished ones before ``run_id`` and ``run_id`` itself; NaN where a run did
    not score the subject (with two indices at least). Subjects with fewer than two scored runs
    are left out (there is no line to draw). One query for the whole roster.
    """
    if last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    runs = store.runs()
    ids = [r.id for r in runs]
    here = ids.index(run_id) if run_id in ids else len(ids)
    chosen = ([r.id for r in runs[:here] if r.finished] + [run_id])[-last:]
    rows = store.values(chosen)
    if not rows:
        return {}
    at_run = {rid: i for i, rid in enumerate(chosen)}
    at_index: dict[str, int] = {}
    at_subject: dict[str, int] = {}
    where = np.array([(at_subject.setdefault(sid, len(at_subject)), at_run[rid],
                       at_index.setdefault(index, len(at_index))) for rid, index, sid, _ in rows], dtype=np.intp)
    values = np.array([r[3] for r in rows], dtype=np.float64)
    better = {(rid, spec.name): spec.higher_is_better for rid in chosen for spec in store.specs(rid)}
    standing = np.full((len(at_subject), len(chosen), len(at_index)), np.nan)
    for rid, i in at_run.items():  # each run's cohort per index, ranked as standing_history does
        for index, j in at_index.items():
            mine = (where[:, 1] == i) & (where[:, 2] == j)
            if not mine.any():
                continue
            own = values[mine]
            ordered = np.sort(own)
            less = np.searchsorted(ordered, own, side="left")
            equal = np.searchsorted(ordered, own, side="right") - less
            below = less if better.get((rid, index), True) else len(own) - less - equal
            standing[where[mine, 0], i, j] = (below + equal / 2.0) / len(own) * 100.0
    flat = standing.reshape(-1, len(at_index))
    enough = np.sum(~np.isnan(flat), axis=1) >= MIN_INDICES_FOR_CONSENSUS
    consensus = np.where(enough, row_nanmedian(flat), np.nan).reshape(len(at_subject), len(chosen))
    scored_runs = np.sum(~np.isnan(consensus), axis=1)
    return {
        sid: tuple(float(v) for v in consensus[s])
        for sid, s in at_subject.items() if scored_runs[s] >= 2
    }


def subject_history(store: Store, subject_id: str, *, method: str = "percentile") -> list[HistoryPoint]:
    """Every run that holds a reading of ``subject_id``, oldest first.

    ``method`` other than ``percentile`` rebuilds each run's whole comparison (slower) to
    report the standing in that method's terms.
    """
    if method != "percentile":
        return _history_by_comparison(store, subject_id, method)
    found = trend(store, subject_id)
    points = []
    for i, run in enumerate(found.runs):
        raw = {n: float(v) for n, v in zip(found.indices, found.raw[i], strict=True) if not math.isnan(v)}
        standing = {n: float(v) for n, v in zip(found.indices, found.standing[i], strict=True) if not math.isnan(v)}
        consensus = float(found.consensus[i])
        points.append(HistoryPoint(run, None if math.isnan(consensus) else consensus, raw, standing))
    return points


def _history_by_comparison(store: Store, subject_id: str, method: str) -> list[HistoryPoint]:
    run_ids = list(dict.fromkeys(run_id for run_id, _ in store.readings(subject_id=subject_id)))
    if not run_ids:
        raise StoreError(f"{store.path} holds no readings of subject {subject_id!r}")
    points = []
    for run_id in run_ids:
        comparison = outcome_from_store(store, run_id, method=method, previous=False, history=0).comparison
        row = comparison.table.subject_ids.index(subject_id)
        names = comparison.table.index_names
        raw = {n: float(v) for n, v in zip(names, comparison.table.raw[row], strict=True) if not math.isnan(v)}
        standing = {n: float(v) for n, v in zip(names, comparison.normalized[row], strict=True) if not math.isnan(v)}
        consensus = float(comparison.consensus[row])
        points.append(HistoryPoint(store.run(run_id), None if math.isnan(consensus) else consensus, raw, standing))
    return points


def outcome_from_store(
    store: Store,
    run_id: str,
    *,
    method: str = "percentile",
    threshold: float | None = None,
    title: str = "Influence report",
    opted_out: int = 0,
    forgotten: int = 0,
    consensus: str = "median",
    features: Mapping[str, FloatArray] | None = None,
    previous: bool = True,
    history: int = HISTORY_RUNS,
) -> RunOutcome:
    """Rebuild a run's comparison from the store alone (old runs re-render with new templates).

    With ``previous`` (the default), changes are measured against the finished run before it.
    ``history`` is how many runs each subject's consensus history goes back (0: none).
    """
    run = store.run(run_id)
    subjects = store.subjects(run_id)
    readings = [reading for _, reading in store.readings(run_id)]
    failures = store.failures(run_id)
    table = ScoreTable.from_readings([s.id for s in subjects], store.specs(run_id), readings)
    before = store.previous_run(run_id) if previous else None
    comparison = compare_table(
        table, method=method, failures=failures, consensus=consensus, features=features,
        threshold=threshold,  # None: the roster's own (aggregator.analytics.disputes)
        previous=_stored_table(store, before.id) if before else None, previous_run=before.id if before else None,
    )
    return RunOutcome(
        run=run, subjects=tuple(subjects), comparison=comparison, failures=tuple(failures),
        opted_out=opted_out, forgotten=forgotten, title=title, readings=tuple(readings),
        timing=MappingProxyType({name: IndexTiming(*row) for name, row in store.index_timing(run_id).items()}),
        history=MappingProxyType(consensus_history(store, run_id, last=history) if history else {}),
    )


def _stored_table(store: Store, run_id: str) -> ScoreTable:
    subjects = [s.id for s in store.subjects(run_id)]
    return ScoreTable.from_readings(subjects, store.specs(run_id), (r for _, r in store.readings(run_id)))
