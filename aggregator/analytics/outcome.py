"""What a finished run hands to the reports: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from aggregator.analytics._arrays import FloatArray
from aggregator.analytics.compare import Comparison
from aggregator.analytics.people import PeopleAgreement
from aggregator.models import Failure, FailureKind, Failures, Reading, Run, Subject, subject_ids


@dataclass(frozen=True)
class IndexTiming:
    """How long one index took to answer in a run (all its resumed parts added up).

    ``requests``, ``p50`` and ``p95`` (seconds) describe the HTTP attempts the adapter timed;
    adapters that time none leave them at 0 and None.
    """

    seconds: float
    requests: int = 0
    p50: float | None = None
    p95: float | None = None


@dataclass(frozen=True, eq=False)
class Components:
    """One index's components over a run's subjects: ``values[i, k]`` is component ``names[k]``
    of subject row ``i`` (NaN where the index gave none)."""

    names: tuple[str, ...]
    values: FloatArray

    @staticmethod
    def of_readings(readings: Iterable[Reading], subject_ids: Sequence[str]) -> dict[str, Components]:
        """Each index's components from readings at hand (the store reads them as columns)."""
        return Components.of_parts(((r.index, r.subject_id, r.components) for r in readings), subject_ids)

    @staticmethod
    def of_parts(
        parts: Iterable[tuple[str, str, Mapping[str, float]]], subject_ids: Sequence[str]
    ) -> dict[str, Components]:
        """Each index's components from ``(index, subject id, components)`` triples (subjects not in
        ``subject_ids`` and empty components are skipped); names sorted."""
        row = {sid: i for i, sid in enumerate(subject_ids)}
        found: dict[str, list[tuple[int, Mapping[str, float]]]] = {}
        for index, subject_id, components in parts:
            if components and subject_id in row:
                found.setdefault(index, []).append((row[subject_id], components))
        out = {}
        for index, given in found.items():
            names = tuple(sorted({name for _, part in given for name in part}))
            column = {name: k for k, name in enumerate(names)}
            values = np.full((len(subject_ids), len(names)), np.nan)
            for i, part in given:
                for name, value in part.items():
                    values[i, column[name]] = value
            out[index] = Components(names, values)
        return out


@dataclass(frozen=True)
class RunOutcome:
    """A run's comparison with everything a report needs to explain it.

    ``subjects`` is aligned with ``comparison.table.subject_ids`` (same order, same length).
    """

    run: Run
    subjects: Sequence[Subject]
    comparison: Comparison
    #: a tuple, or :class:`~aggregator.models.Failures` (columns) when read back from the store
    failures: Sequence[Failure]
    #: how many roster entries were left out because they opted out (never named anywhere)
    opted_out: int = 0
    title: str = "Influence report"
    #: how many of them had stored history that this run erased (they had opted out since the last run)
    forgotten: int = 0
    #: index name -> its components over ``subjects`` (indices that gave any); empty when not at hand
    components: Mapping[str, Components] = field(default_factory=lambda: MappingProxyType({}))
    #: per index, how long it took to answer (empty for runs stored before it was measured)
    timing: Mapping[str, IndexTiming] = field(default_factory=lambda: MappingProxyType({}))
    #: subject id -> its consensus over the last runs up to this one, oldest first (NaN where
    #: not scored); only subjects scored in two runs at least; empty when not at hand
    history: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: MappingProxyType({}))
    #: each index's agreement with people's judgments; present only when judgments were given
    people: PeopleAgreement | None = None

    def __post_init__(self) -> None:
        if tuple(subject_ids(self.subjects)) != self.comparison.table.subject_ids:
            raise ValueError("RunOutcome.subjects must be aligned with comparison.table.subject_ids")

    @property
    def has_faults(self) -> bool:
        """True if some fetch failed for a reason other than an index not knowing a subject."""
        return any(not FailureKind(kind).is_coverage_gap for kind in set(Failures.of(self.failures).kinds))
