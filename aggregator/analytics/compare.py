"""Compare indices: consensus standing, per-subject disagreement, and the analytics built on them.

Everything here works on a columnar :class:`ScoreTable` (subjects × indices, NaN = missing)
and returns numbers only; turning them into words and pixels is the reports' job.

- **Consensus** per subject: a robust aggregate of the normalized scores of the indices that
  know the subject (:mod:`aggregator.analytics.consensus`: median by default, trimmed mean, or Borda),
  with the number of indices behind it and an uncertainty (their interquartile range).
- **Disagreement** per subject: the spread (max - min), the dissenting index (farthest from
  the median of the others) and by how much; flagged above a threshold.
- Pairwise **inversions** (:mod:`aggregator.analytics.inversions`), the **agreement** matrix, index
  **fingerprints** and consensus **robustness** (:mod:`aggregator.analytics.agreement`), **topics**
  (:mod:`aggregator.analytics.topics`) and **shifts** since a previous run (:mod:`aggregator.analytics.shifts`).

Each column is sorted once (``oriented_ranks``) and each row once (``consensus.row_figures``);
every statistic after that reads those sorts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from aggregator.analytics._arrays import FloatArray, Ranked
from aggregator.analytics.agreement import Agreement, Fingerprint, Robustness, agreement, fingerprint, robustness
from aggregator.analytics.consensus import (
    CONSENSUS_METHODS,
    MIN_INDICES_FOR_CONSENSUS,
    consensus_by_rows,
    consensus_of,
    row_figures,
    row_nanmedian,
)
from aggregator.analytics.disputes import unusual_spread
from aggregator.analytics.inversions import DEFAULT_TOP_INVERSIONS, Inversion, count_inversions, top_inversions
from aggregator.analytics.normalize import normalize, oriented_ranks
from aggregator.analytics.shifts import MOVER_THRESHOLD, RunView, Shifts, compute_shifts
from aggregator.analytics.topics import Topics, topic_overlap
from aggregator.errors import ConfigError, Problem
from aggregator.models import Failure, FailureKind, Failures, IndexSpec, Reading, Scale

__all__ = [
    "CONSENSUS_METHODS", "DEFAULT_DISAGREEMENT_THRESHOLD", "MIN_INDICES_FOR_CONSENSUS", "Comparison", "IndexHealth",
    "ScoreTable", "compare", "compare_table", "index_health", "row_nanmedian",
]

#: Spread (max - min of the normalized scores, 0-100 points) above which a subject is flagged.
DEFAULT_DISAGREEMENT_THRESHOLD = 25.0


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Raw scores, columnar: ``raw[i, j]`` is index ``specs[j]``'s value for ``subject_ids[i]``."""

    subject_ids: tuple[str, ...]
    specs: tuple[IndexSpec, ...]
    raw: FloatArray
    #: topics an index gave a subject, keyed ``(row, column)``; only where there are some
    topics: Mapping[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)
    #: the algorithm version each index's readings reported (most common); the spec's when empty
    versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.raw.shape != (len(self.subject_ids), len(self.specs)):
            raise ValueError(
                f"raw has shape {self.raw.shape}, expected "
                f"({len(self.subject_ids)} subjects, {len(self.specs)} indices)"
            )
        if not self.versions:
            object.__setattr__(self, "versions", tuple(s.algorithm_version for s in self.specs))
        elif len(self.versions) != len(self.specs):
            raise ValueError(f"versions has {len(self.versions)} entries, expected one per index ({len(self.specs)})")

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
        topics: dict[tuple[int, int], tuple[str, ...]] = {}
        versions: list[Counter[str]] = [Counter() for _ in specs]
        for reading in readings:
            i, j = row.get(reading.subject_id), col.get(reading.index)
            if i is not None and j is not None:
                raw[i, j] = reading.value
                versions[j][reading.algorithm_version] += 1
                if reading.topics:
                    topics[i, j] = reading.topics
        return cls(tuple(subject_ids), tuple(specs), raw, topics, common_versions(versions, specs))


def common_versions(counts: Sequence[Mapping[str, int]], specs: Sequence[IndexSpec]) -> tuple[str, ...]:
    """Each index's most common algorithm version among its readings (ties: the smallest name).

    ``counts[j]`` counts index ``j``'s readings by version; an index with none keeps its spec's.
    """
    return tuple(
        min(seen, key=lambda v: (-seen[v], v)) if seen else spec.algorithm_version
        for seen, spec in zip(counts, specs, strict=True)
    )


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


@dataclass(frozen=True, eq=False)
class Comparison:
    """Numbers the report needs, all aligned with ``table.subject_ids`` / ``table.specs``."""

    table: ScoreTable
    method: str
    normalized: FloatArray
    #: robust aggregate (``consensus_method``) of the normalized scores; NaN with fewer than 2 indices
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
    #: how the consensus aggregates: "median", "trimmed_mean" or "borda"
    consensus_method: str = "median"
    #: "fixed" (the threshold given) or "unusual" (read off this roster: see
    #: :mod:`aggregator.analytics.disputes`)
    threshold_rule: str = "fixed"
    #: interquartile range of the normalized scores behind each consensus; NaN with fewer than 2
    consensus_iqr: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: percentile standing within each index's cohort, whatever ``method`` is (the same array when it is)
    standing: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    #: the strongest pairwise inversions, strongest first (see :mod:`aggregator.analytics.inversions`)
    inversions: tuple[Inversion, ...] = ()
    #: how many subject pairs each pair of indices orders oppositely by at least ``threshold``
    #: (the rule ``inversions`` lists the strongest of), ``[indices × indices]``, symmetric
    inversion_counts: NDArray[np.int64] | None = None
    agreement: Agreement | None = None
    #: present when activity features were given for the subjects
    fingerprint: Fingerprint | None = None
    robustness: Robustness | None = None
    #: present when some index gave topics
    topics: Topics | None = None
    #: present when a previous run was given
    shifts: Shifts | None = None
    #: other normalizations asked for with ``also=``, by method name
    alternatives: Mapping[str, FloatArray] = field(default_factory=dict)

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


# -- the comparison ------------------------------------------------------------------------------


def compare_table(
    table: ScoreTable,
    *,
    method: str = "percentile",
    threshold: float | None = DEFAULT_DISAGREEMENT_THRESHOLD,
    failures: Iterable[Failure] = (),
    consensus: str = "median",
    previous: ScoreTable | None = None,
    previous_run: str | None = None,
    features: Mapping[str, FloatArray] | None = None,
    top: int = DEFAULT_TOP_INVERSIONS,
    mover_threshold: float = MOVER_THRESHOLD,
    also: Sequence[str] = (),
) -> Comparison:
    """Normalize a table and measure consensus, disagreement, agreement and the rest (pure, no I/O).

    ``previous`` (with its run id ``previous_run``) adds shifts since that run; ``features``
    (name -> array aligned with the subjects) adds index fingerprints; ``also`` computes other
    normalizations beside ``method`` (reusing the same sorts) into ``alternatives``.
    """
    consensus_of(consensus)  # an unknown method fails before any work
    ranks = oriented_ranks(table.raw, table.specs)
    standing = normalize(table.raw, table.specs, "percentile", ranks=ranks)
    normalized = standing if method == "percentile" else normalize(table.raw, table.specs, method, ranks=ranks)
    rows = row_figures(normalized, standing, consensus)
    names = table.index_names
    rule = "fixed" if threshold is not None else "unusual"
    if threshold is None:  # the roster's own: spreads its ordinary disagreement rarely reaches
        threshold = unusual_spread(rows.spread, rows.n_indices, DEFAULT_DISAGREEMENT_THRESHOLD)
    agreed = agreement(names, ranks, standing)
    # percentiles keep the ranks' order and ties: the count reuses their sorts
    same_order = normalized is standing
    return Comparison(
        table=table, method=method, normalized=normalized, consensus=rows.consensus,
        n_indices=rows.n_indices, spread=rows.spread, dissenter=rows.dissenter, dissent_gap=rows.dissent_gap,
        threshold=threshold, threshold_rule=rule, health=index_health(table, failures),
        consensus_method=consensus, consensus_iqr=rows.iqr, standing=standing,
        inversions=top_inversions(normalized, top, threshold),
        inversion_counts=count_inversions(normalized, threshold, ranks if same_order else None),
        agreement=agreed,
        fingerprint=fingerprint(names, ranks, features) if features else None,
        robustness=robustness(names, rows.consensus, rows.without),
        topics=topic_overlap(len(table.subject_ids), table.topics) if table.topics else None,
        shifts=_shifts(table, ranks, standing, rows.consensus, previous, method, consensus, previous_run,
                       mover_threshold),
        alternatives={name: normalize(table.raw, table.specs, name, ranks=ranks) for name in also},
    )


def _shifts(
    table: ScoreTable, ranks: Sequence[Ranked], standing: FloatArray, agreed: FloatArray,
    previous: ScoreTable | None, method: str, consensus: str, previous_run: str | None, mover_threshold: float,
) -> Shifts | None:
    if previous is None:
        return None
    prev_ranks = oriented_ranks(previous.raw, previous.specs)
    prev_standing = normalize(previous.raw, previous.specs, "percentile", ranks=prev_ranks)
    prev_normalized = (
        prev_standing if method == "percentile"
        else normalize(previous.raw, previous.specs, method, ranks=prev_ranks)
    )
    prev_consensus = consensus_by_rows(consensus, prev_normalized, prev_standing)
    now = RunView(table.subject_ids, table.specs, table.versions, table.raw, ranks, standing, agreed)
    before = RunView(previous.subject_ids, previous.specs, previous.versions, previous.raw, prev_ranks,
                     prev_standing, prev_consensus)
    return compute_shifts(now, before, previous_run=previous_run, mover_threshold=mover_threshold)


def index_health(table: ScoreTable, failures: Iterable[Failure]) -> tuple[IndexHealth, ...]:
    # counted on columns: a run read back from the store holds its failures as columns, and a
    # Failure object per coverage gap (hundreds of thousands at a million subjects) would cost
    # more than the whole comparison; only the faults, a few, are built to pick examples from
    given = Failures.of(failures)
    by_index: dict[str, list[int]] = {name: [] for name in table.index_names}
    for k, index in enumerate(given.indices):
        by_index.setdefault(index, []).append(k)
    gaps = {kind.value for kind in FailureKind if kind.is_coverage_gap}
    scored = np.sum(~np.isnan(table.raw), axis=0)
    health = []
    for j, name in enumerate(table.index_names):
        mine = by_index[name]
        # sorted, so the same run shows the same examples whatever order fetches finished in
        faults = sorted((given.subject_ids[k] or "", given.messages[k]) for k in mine if given.kinds[k] not in gaps)
        examples = tuple(dict.fromkeys(message for _, message in faults))[:3]
        counts = Counter(given.kinds[k] for k in mine)
        health.append(
            IndexHealth(
                index=name, scored=int(scored[j]), asked=len(table.subject_ids),
                failures={FailureKind(kind): n for kind, n in counts.items()},
                retries=sum(max(given.attempts[k] - 1, 0) for k in mine), examples=examples,
            )
        )
    return tuple(health)


ScaleLike = Scale | IndexSpec | tuple[float, float] | None


def compare(
    scores: Mapping[str, Mapping[str, float]],
    scales: Mapping[str, ScaleLike] | None = None,
    *,
    method: str = "percentile",
    threshold: float = DEFAULT_DISAGREEMENT_THRESHOLD,
    consensus: str = "median",
    features: Mapping[str, Mapping[str, float]] | None = None,
) -> Comparison:
    """Compare scores you already have: ``{index: {subject: value}}``.

    ``scales`` gives each index's documented ``(lo, hi)`` (or ``None`` when unbounded, the
    default); only the ``range`` method uses it. ``features`` (``{feature: {subject: value}}``)
    adds each index's fingerprint.

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
    problems: list[Problem] = []
    raw = _matrix(scores, row, "scores", problems)
    columns = _matrix(features or {}, row, "features", problems)
    if problems:
        raise ConfigError(problems)
    aligned = {name: columns[:, f] for f, name in enumerate(features or {})}
    return compare_table(
        ScoreTable(tuple(subject_ids), tuple(specs), raw), method=method, threshold=threshold,
        consensus=consensus, features=aligned or None,
    )


def _matrix(
    data: Mapping[str, Mapping[str, float]], row: Mapping[str, int], what: str, problems: list[Problem]
) -> FloatArray:
    out = np.full((len(row), len(data)), np.nan)
    for j, (name, per_subject) in enumerate(data.items()):
        for sid, value in per_subject.items():
            if sid not in row:
                continue  # a feature for a subject no index scored
            try:
                out[row[sid], j] = float(value)
            except (TypeError, ValueError):
                problems.append(Problem(f"{what}[{name!r}][{sid!r}]", f"expected a number, got {value!r}"))
    return out


def _spec(name: str, scale: ScaleLike) -> IndexSpec:
    if isinstance(scale, IndexSpec):
        return scale
    if isinstance(scale, Scale):
        return IndexSpec(name=name, scale=scale)
    if scale is None:
        return IndexSpec(name=name)
    try:
        return IndexSpec(name=name, scale=Scale.of(scale))
    except ValueError as exc:
        raise ConfigError([Problem(f"scales[{name!r}]", str(exc))]) from None
