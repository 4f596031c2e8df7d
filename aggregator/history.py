"""A subject's standing across past runs, rebuilt from the store."""

from __future__ import annotations

import math
from dataclasses import dataclass

from aggregator.errors import StoreError
from aggregator.models import Run
from aggregator.pipeline import outcome_from_store
from aggregator.store import Store


@dataclass(frozen=True)
class HistoryPoint:
    """One run's view of a subject: raw values and percentiles per index, and the consensus."""

    run: Run
    consensus: float | None
    raw: dict[str, float]
    standing: dict[str, float]


def subject_history(store: Store, subject_id: str, *, method: str = "percentile") -> list[HistoryPoint]:
    """Every run that holds a reading of ``subject_id``, oldest first."""
    run_ids = list(dict.fromkeys(run_id for run_id, _ in store.readings(subject_id=subject_id)))
    if not run_ids:
        raise StoreError(f"{store.path} holds no readings of subject {subject_id!r}")
    points = []
    for run_id in run_ids:
        comparison = outcome_from_store(store, run_id, method=method).comparison
        row = comparison.table.subject_ids.index(subject_id)
        names = comparison.table.index_names
        raw = {n: float(v) for n, v in zip(names, comparison.table.raw[row], strict=True) if not math.isnan(v)}
        standing = {n: float(v) for n, v in zip(names, comparison.normalized[row], strict=True) if not math.isnan(v)}
        consensus = float(comparison.consensus[row])
        points.append(HistoryPoint(store.run(run_id), None if math.isnan(consensus) else consensus, raw, standing))
    return points
