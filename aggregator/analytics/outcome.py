"""What a finished run hands to the reports: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics._arrays import FloatArray, IntArray
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


@dataclass(frozen=True, eq=False)
class ConsensusHistory:
    """Subjects' consensus over the last runs up to this one, oldest first, as arrays.

    ``consensus[k, r]`` is the consensus in run ``r`` of the subject on row ``rows[k]`` of this
    run's table (NaN where that run did not score them with two indices at least). ``rows`` is
    ascending and holds only the subjects scored in two of the runs at least (there is no line
    to draw for the others). Empty (no rows): no history at hand.
    """

    rows: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    consensus: FloatArray = field(default_factory=lambda: np.empty((0, 0)))

    def __post_init__(self) -> None:
        if self.rows.ndim != 1 or self.consensus.ndim != 2 or len(self.consensus) != len(self.rows):
            raise ValueError(f"ConsensusHistory: {self.rows.shape} rows and a {self.consensus.shape} consensus "
                             "(expected one row of the consensus per subject row)")
        if len(self.rows) and (int(self.rows[0]) < 0 or not bool(np.all(self.rows[1:] > self.rows[:-1]))):
            raise ValueError("ConsensusHistory: rows must be ascending from 0 up, each subject once")

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def runs(self) -> int:
        """How many runs the history covers (0: no subject has one)."""
        return self.consensus.shape[1] if len(self.rows) else 0

    def of_rows(self, rows: IntArray) -> tuple[FloatArray, NDArray[np.bool_]]:
        """The history of each of the table's ``rows`` (``[len(rows) × runs]``), and which of them have one
        (the others' lines are NaN)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full((len(rows), self.runs), np.nan)
        if not len(self.rows):
            return out, np.zeros(len(rows), dtype=bool)
        at = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        found = self.rows[at] == rows
        out[found] = self.consensus[at[found]]
        return out, found

    @classmethod
    def of_subjects(cls, points: Mapping[str, Sequence[float]], subject_ids: Sequence[str]) -> ConsensusHistory:
        """From each subject's points by id (every line as long; ids not in ``subject_ids`` left out)."""
        row = {sid: i for i, sid in enumerate(subject_ids)}
        kept = sorted((row[sid], tuple(line)) for sid, line in points.items() if sid in row)
        lengths = {len(line) for _, line in kept}
        if len(lengths) > 1:
            raise ValueError(f"ConsensusHistory: every subject's line must cover the same runs, got {sorted(lengths)}")
        consensus = np.array([line for _, line in kept], dtype=np.float64).reshape(len(kept), lengths.pop() if lengths
                                                                                   else 0)
        return cls(np.array([i for i, _ in kept], dtype=np.int64), consensus)


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
    #: each subject's consensus over the last runs up to this one, by row of ``comparison.table``
    #: (only subjects scored in two runs at least); empty when not at hand
    history: ConsensusHistory = field(default_factory=ConsensusHistory)
    #: each index's agreement with people's judgments; present only when judgments were given
    people: PeopleAgreement | None = None

    def __post_init__(self) -> None:
        if tuple(subject_ids(self.subjects)) != self.comparison.table.subject_ids:
            raise ValueError("RunOutcome.subjects must be aligned with comparison.table.subject_ids")
        if len(self.history) and int(self.history.rows[-1]) >= len(self.subjects):
            raise ValueError(f"RunOutcome.history names row {int(self.history.rows[-1])} of a table of "
                             f"{len(self.subjects)} subjects")

    @property
    def has_faults(self) -> bool:
        """True if some fetch failed for a reason other than an index not knowing a subject."""
        return any(not FailureKind(kind).is_coverage_gap for kind in set(Failures.of(self.failures).kinds))
