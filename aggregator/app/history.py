"""Past runs read back from the store: a run's whole outcome, a subject's standing over runs.

:func:`outcome_from_store` rebuilds a run's comparison from what the store holds (the pipeline
compares a fresh run this way too, invariant 5; old runs re-render with new templates).
:func:`subject_history` gives one point per run (raw values, percentile standings, the
consensus); :func:`trend` gives the same for the last N runs as arrays, for plots and programs;
:func:`consensus_history` gives every subject's consensus over the last runs at once (one
query, ranked in numpy), for the report's history lines. A subject's standing in a run is its
mid-rank percentile among the subjects each index scored in that run,
``(below + equal / 2) / scored * 100``, counted by SQLite without loading the cohort; the
consensus is their median (two indices at least), as in the report. Runs are read through
:meth:`Store.run_columns`: a finished run from its columnar copy, no Python object per reading.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from aggregator.analytics._arrays import FloatArray
from aggregator.analytics.compare import (
    MIN_INDICES_FOR_CONSENSUS,
    Comparison,
    ScoreTable,
    common_versions,
    compare_table,
)
from aggregator.analytics.consensus import row_nanmedian
from aggregator.analytics.normalize import normalize
from aggregator.analytics.outcome import Components, ConsensusHistory, IndexTiming, RunOutcome
from aggregator.collection._columns import RosterRows, RunColumns
from aggregator.collection.store import Store
from aggregator.errors import StoreError
from aggregator.models import Failures, Run


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
    consensus = standing_consensus(standing)
    return Trend(subject_id, tuple(store.run(r) for r in run_ids), tuple(indices), raw, standing, consensus)


#: how many runs the report's per-subject history goes back
HISTORY_RUNS = 8


def consensus_history(
    store: Store, run_id: str, *, last: int = HISTORY_RUNS, tables: Mapping[str, StoredRun] | None = None,
    known: Mapping[str, FloatArray] | None = None,
) -> ConsensusHistory:
    """Each of the run's subjects' consensus over the last ``last`` runs up to ``run_id``, oldest first.

    The runs are the finished ones before ``run_id`` and ``run_id`` itself; NaN where a run did
    not score the subject (with two indices at least). Subjects with fewer than two scored runs
    are left out (there is no line to draw). Each run is read as columns (``tables`` gives runs
    already read, by id), its standings ranked in numpy, and only its consensus kept; ``known``
    gives, by run id, that figure already computed (:func:`standing_consensus` of the run's
    table, on its rows), which is then not computed again.
    """
    if last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    runs = store.run_states()
    ids = [rid for rid, _ in runs]
    here = ids.index(run_id) if run_id in ids else len(ids)
    chosen = ([rid for rid, finished in runs[:here] if finished] + [run_id])[-last:]
    if len(chosen) < 2:
        return ConsensusHistory()
    given = dict(tables or {})
    for rid in chosen:
        if rid not in given:
            given[rid] = _stored(store, rid, components=False)
    roster = given[run_id].roster
    consensus = np.full((len(given[run_id].table.subject_ids), len(chosen)), np.nan)
    for k, rid in enumerate(chosen):
        own = given[rid].roster
        theirs = known[rid] if known and rid in known else standing_consensus(
            normalize(given[rid].table.raw, given[rid].table.specs, "percentile"))  # as standing_history counts it
        if own is roster or np.array_equal(own.keys, roster.keys):  # the same ids: no search
            consensus[roster.rows, k] = theirs[own.rows]
        else:
            rows, held = roster.rows_of(own.keys)  # this run's rows of the subjects that run had
            consensus[rows, k] = theirs[own.rows[held]]
    kept = np.flatnonzero(np.sum(~np.isnan(consensus), axis=1) >= 2)
    return ConsensusHistory(kept, consensus[kept])


def standing_consensus(standing: FloatArray) -> FloatArray:
    """Each row's median percentile standing (NaN with fewer than ``MIN_INDICES_FOR_CONSENSUS``
    indices): the consensus that :func:`trend` and the history lines show, whatever the report's method."""
    enough = np.sum(~np.isnan(standing), axis=1) >= MIN_INDICES_FOR_CONSENSUS
    out: FloatArray = np.where(enough, row_nanmedian(standing), np.nan)
    return out


def known_consensus(comparison: Comparison, run_id: str) -> dict[str, FloatArray]:
    """What :func:`consensus_history` needs of the runs ``comparison`` already ranked, by run id.

    The comparison always holds this run's percentile standing, so only its median is taken; its
    consensus (and the previous run's, kept by its shifts) is that very figure only when the report
    ranks by percentile with the median consensus: under any other method it is not given.
    """
    same = comparison.method == "percentile" and comparison.consensus_method == "median"
    known = {run_id: comparison.consensus if same else standing_consensus(comparison.standing)}
    shifts = comparison.shifts
    if same and shifts is not None and shifts.previous_run and shifts.previous_consensus is not None:
        known[shifts.previous_run] = shifts.previous_consensus
    return known


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
    read = {run_id: _stored(store, run_id, components=True)}
    before = store.previous_run(run_id) if previous else None
    if before:
        read[before.id] = _stored(store, before.id, components=False)
    failures = Failures(*read[run_id].columns.failures)
    comparison = compare_table(
        read[run_id].table, method=method, failures=failures, consensus=consensus, features=features,
        threshold=threshold,  # None: the roster's own (aggregator.analytics.disputes)
        previous=read[before.id].table if before else None, previous_run=before.id if before else None,
    )
    return RunOutcome(
        run=run, subjects=store.subject_columns(run_id), comparison=comparison, failures=failures,
        opted_out=opted_out, forgotten=forgotten, title=title, components=MappingProxyType(read[run_id].components),
        timing=MappingProxyType({name: IndexTiming(*row) for name, row in store.index_timing(run_id).items()}),
        history=consensus_history(store, run_id, last=history, tables=read, known=known_consensus(comparison, run_id))
        if history else ConsensusHistory(),
    )


@dataclass(frozen=True, eq=False)
class StoredRun:
    """A run read back as columns: its table, its roster's rows, its indices' components."""

    table: ScoreTable
    roster: RosterRows
    components: Mapping[str, Components]
    #: everything read of the run (its subjects and failures too)
    columns: RunColumns


def stored_table(store: Store, run_id: str) -> ScoreTable:
    """A run's score table read from the store as columns (no Python object per reading)."""
    return _stored(store, run_id, components=False).table


def stored_components(store: Store, run_id: str) -> dict[str, Components]:
    """Each of the run's indices' components over its subjects, read as columns."""
    return dict(_stored(store, run_id, components=True).components)


def _stored(store: Store, run_id: str, *, components: bool) -> StoredRun:
    columns, specs = store.run_columns(run_id), store.specs(run_id)
    subject_ids = tuple(columns.ids)
    raw = np.full((len(subject_ids), len(specs)), np.nan)
    topics: dict[tuple[int, int], tuple[str, ...]] = {}
    found: dict[str, Components] = {}
    for j, spec in enumerate(specs):
        index = columns.indices[spec.name]
        raw[index.values.rows, j] = index.values.values
        topics.update(((row, j), named) for row, named in index.topics)
        if components and index.components:
            values = np.full((len(subject_ids), len(index.components)), np.nan)
            for k, (_, part) in enumerate(index.components):
                values[part.rows, k] = part.values
            found[spec.name] = Components(tuple(name for name, _ in index.components), values)
    counts = [columns.indices[spec.name].versions for spec in specs]
    table = ScoreTable(subject_ids, tuple(specs), raw, topics, common_versions(counts, specs))
    return StoredRun(table, columns.roster, found, columns)
