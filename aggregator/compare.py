"""Compare indices: consensus standing, per-subject disagreement, index health.

Everything here works on a columnar :class:`ScoreTable` (subjects × indices, NaN = missing)
and returns numbers only; turning them into words and pixels is the reports' job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from aggregator._arrays import FloatArray
from aggregator.errors import ConfigError, Problem
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale
from aggregator.normalize import normalize

#: Spread (max - min of the normalized scores, 0-100 points) above which a subject is flagged.
DEFAULT_DISAGREEMENT_THRESHOLD = 25.0
#: Consensus needs at least this many indices to know the subject.
MIN_INDICES_FOR_CONSENSUS = 2
#: Naming one index as the dissenter needs at least this many (with two, neither is "odd").
MIN_INDICES_FOR_DISSENT = 3


@dataclass(frozen=True)
class ScoreTable:
    """Raw scores, columnar: ``raw[i, j]`` is index ``specs[j]``'s value for ``subject_ids[i]``."""

    subject_ids: tuple[str, ...]
    specs: tuple[IndexSpec, ...]
    raw: FloatArray

    def __post_init__(self) -> None:
        if self.raw.shape != (len(self.subject_ids), len(self.specs)):
            raise ValueError(
                f"raw has shape {self.raw.shape}, expected "
                f"({len(self.subject_ids)} subjects, {len(self.specs)} indices)"
            )

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @classmethod
    def from_readings(
        cls, subject_ids: Sequence[str], specs: Sequence[IndexSpec], readings: Iterable[Reading]
    ) -> ScoreTable:
        row = {sid: i for i, sid in enumerate(subject_ids)}
        col = {spec.name: j for j, spec in enumerate(specs)}
        raw = np.full((len(row), len(col)), np.nan)
        for reading in readings:
            i, j = row.get(reading.subject_id), col.get(reading.index)
            if i is not None and j is not None:
                raw[i, j] = reading.value
        return cls(tuple(subject_ids), tuple(specs), raw)


@dataclass(frozen=True)
class IndexHealth:
    """How well one index answered in this run."""

    index: str
    scored: int
    asked: int
    failures: Mapping[FailureKind, int] = field(default_factory=dict)
    #: extra attempts spent on subjects that still failed
    retries: int = 0
    #: a few distinct failure messages, for the report
    examples: tuple[str, ...] = ()

    @property
    def coverage(self) -> float:
        return self.scored / self.asked if self.asked else 0.0

    @property
    def faults(self) -> int:
        """Failures that are not mere coverage gaps (the index not knowing a subject)."""
        return sum(n for kind, n in self.failures.items() if not kind.is_coverage_gap)


@dataclass(frozen=True)
class Comparison:
    """Numbers the report needs, all aligned with ``table.subject_ids`` / ``table.specs``."""

    table: ScoreTable
    method: str
    normalized: FloatArray
    #: robust aggregate (median) of the normalized scores; NaN with fewer than 2 indices
    consensus: FloatArray
    n_indices: NDArray[np.int64]
    #: max - min of the normalized scores; NaN with fewer than 2 indices
    spread: FloatArray
    #: column of the index farthest from the median of the others, -1 if none
    dissenter: NDArray[np.int64]
    #: how far the dissenter is from the median of the others (points)
    dissent_gap: FloatArray
    threshold: float
    health: tuple[IndexHealth, ...]

    @property
    def flagged(self) -> NDArray[np.bool_]:
        return np.nan_to_num(self.spread, nan=0.0) > self.threshold

    def most_disputed(self, k: int) -> NDArray[np.int64]:
        """Rows of the ``k`` subjects with the widest spread, widest first (ties by id order)."""
        spread = np.nan_to_num(self.spread, nan=-1.0)
        order = np.argsort(-spread, kind="stable")
        return order[: min(k, int(np.sum(spread >= 0)))]

    def leaders(self, k: int) -> NDArray[np.int64]:
        """Rows of the ``k`` subjects with the highest consensus standing."""
        consensus = np.nan_to_num(self.consensus, nan=-1.0)
        order = np.argsort(-consensus, kind="stable")
        return order[: min(k, int(np.sum(consensus >= 0)))]


def row_nanmedian(values: FloatArray) -> FloatArray:
    """Median of each row ignoring NaN (NaN for an all-NaN row), sort-based and warning-free."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    n = np.sum(~np.isnan(values), axis=1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    pick_lo = np.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
    pick_hi = np.take_along_axis(ordered, hi[:, None], axis=1)[:, 0]
    return np.where(n > 0, (pick_lo + pick_hi) / 2.0, np.nan)


def _dissent(normalized: FloatArray, n_indices: NDArray[np.int64]) -> tuple[NDArray[np.int64], FloatArray]:
    gaps = np.full(normalized.shape, -1.0)
    for j in range(normalized.shape[1]):  # few indices; each step is vectorized over subjects
        others = normalized.copy()
        others[:, j] = np.nan
        gaps[:, j] = np.abs(normalized[:, j] - row_nanmedian(others))
    gaps = np.nan_to_num(gaps, nan=-1.0)
    dissenter = np.argmax(gaps, axis=1).astype(np.int64)
    gap = gaps[np.arange(len(gaps)), dissenter] if len(gaps) else np.zeros(0)
    has_dissent = n_indices >= MIN_INDICES_FOR_DISSENT
    return np.where(has_dissent, dissenter, -1), np.where(has_dissent, gap, np.nan)


def index_health(table: ScoreTable, failures: Iterable[Failure]) -> tuple[IndexHealth, ...]:
    by_index: dict[str, list[Failure]] = {name: [] for name in table.index_names}
    for failure in failures:
        by_index.setdefault(failure.index, []).append(failure)
    scored = np.sum(~np.isnan(table.raw), axis=0)
    health = []
    for j, name in enumerate(table.index_names):
        # sorted, so the same run shows the same examples whatever order fetches finished in
        found = sorted(by_index[name], key=lambda f: (f.subject_id or "", f.message))
        examples = tuple(dict.fromkeys(f.message for f in found if not f.kind.is_coverage_gap))[:3]
        health.append(
            IndexHealth(
                index=name, scored=int(scored[j]), asked=len(table.subject_ids),
                failures=dict(Counter(f.kind for f in found)),
                retries=sum(max(f.attempts - 1, 0) for f in found), examples=examples,
            )
        )
    return tuple(health)


def compare_table(
    table: ScoreTable,
    *,
    method: str = "percentile",
    threshold: float = DEFAULT_DISAGREEMENT_THRESHOLD,
    failures: Iterable[Failure] = (),
) -> Comparison:
    """Normalize a table and measure consensus and disagreement (pure, no I/O)."""
    normalized = normalize(table.raw, table.specs, method)
    n_indices = np.sum(~np.isnan(normalized), axis=1).astype(np.int64)
    enough = n_indices >= MIN_INDICES_FOR_CONSENSUS
    consensus = np.where(enough, row_nanmedian(normalized), np.nan)
    filled_hi = np.where(np.isnan(normalized), -np.inf, normalized).max(axis=1, initial=-np.inf)
    filled_lo = np.where(np.isnan(normalized), np.inf, normalized).min(axis=1, initial=np.inf)
    spread = np.where(enough, filled_hi - filled_lo, np.nan)
    dissenter, gap = _dissent(normalized, n_indices)
    return Comparison(
        table=table, method=method, normalized=normalized, consensus=consensus,
        n_indices=n_indices, spread=spread, dissenter=dissenter, dissent_gap=gap,
        threshold=threshold, health=index_health(table, failures),
    )


ScaleLike = Scale | IndexSpec | tuple[float, float] | None


def compare(
    scores: Mapping[str, Mapping[str, float]],
    scales: Mapping[str, ScaleLike] | None = None,
    *,
    method: str = "percentile",
    threshold: float = DEFAULT_DISAGREEMENT_THRESHOLD,
) -> Comparison:
    """Compare scores you already have: ``{index: {subject: value}}``.

    ``scales`` gives each index's documented ``(lo, hi)`` (or ``None`` when unbounded, the
    default); only the ``range`` method uses it.

    >>> result = compare(
    ...     {"klout": {"ann": 80, "bob": 40, "cy": 60}, "kred": {"ann": 300, "bob": 900, "cy": 500}},
    ...     {"klout": (1, 100), "kred": (1, 1000)},
    ... )
    >>> result.table.subject_ids
    ('ann', 'bob', 'cy')
    >>> result.spread.round(1).tolist()
    [66.7, 66.7, 0.0]
    """
    specs = [_spec(name, (scales or {}).get(name)) for name in scores]
    subject_ids = list(dict.fromkeys(sid for per_index in scores.values() for sid in per_index))
    row = {sid: i for i, sid in enumerate(subject_ids)}
    raw = np.full((len(subject_ids), len(specs)), np.nan)
    problems = []
    for j, (name, per_index) in enumerate(scores.items()):
        for sid, value in per_index.items():
            try:
                raw[row[sid], j] = float(value)
            except (TypeError, ValueError):
                problems.append(Problem(f"scores[{name!r}][{sid!r}]", f"expected a number, got {value!r}"))
    if problems:
        raise ConfigError(problems)
    return compare_table(ScoreTable(tuple(subject_ids), tuple(specs), raw), method=method, threshold=threshold)


def _spec(name: str, scale: ScaleLike) -> IndexSpec:
    if isinstance(scale, IndexSpec):
        return scale
    if isinstance(scale, Scale):
        return IndexSpec(name=name, scale=scale)
    if scale is None:
        return IndexSpec(name=name)
    lo, hi = scale
    return IndexSpec(name=name, scale=Scale(lo=lo, hi=hi))
