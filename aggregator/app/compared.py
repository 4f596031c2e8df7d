"""A compare output read back as the :class:`~aggregator.analytics.outcome.RunOutcome` reports take
(``aggregator report --from OUT``).

``aggregator compare --out OUT`` (either engine) writes the numbers; the exported run it compared
(``summary.json``'s ``run_dir``, or the folder given) holds the rest of what a report shows: the
subjects' names and handles, the index specs, raw scores and versions, topics, components and
failures. Per-subject columns are read with pyarrow into numpy arrays, never a Python object per
subject; the names are the only per-subject Python values, as when a run is read from the store.

What neither holds is left out the way the reports leave out what a run lacks: each index's
timing, the consensus history (sparklines), people's judgments, the activity fingerprint, and the
count of opted-out subjects (never exported). ``docs/spark.md`` lists them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from aggregator.analytics.agreement import Agreement, Robustness
from aggregator.analytics.arrow_lists import rows_of_lists
from aggregator.analytics.compare import Comparison, IndexHealth, ScoreTable
from aggregator.analytics.inversions import Inversion
from aggregator.analytics.outcome import Components, RunOutcome
from aggregator.analytics.shifts import IndexShift, Shifts, movers_of
from aggregator.analytics.topics import LoneTopic, Topics
from aggregator.app.engines import LONE_TOPICS, SUBJECTS, SUMMARY
from aggregator.app.export import read_exported, run_meta, score_table
from aggregator.errors import ConfigError
from aggregator.models import FailureKind, Failures, Run, Subjects

if TYPE_CHECKING:
    import pyarrow as pa

Floats = list[Any]  # numbers and nulls (NaN), nested as the matrix is


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Agreement(_Part):
    kendall: Floats
    kendall_ci: Floats
    spearman: Floats
    spearman_ci: Floats
    n: list[list[int]]
    alpha: float | None
    alpha_without: Floats
    mean_kendall: Floats
    outlier: int


class _Robustness(_Part):
    rho_without: Floats
    n: list[int]
    median_shift: Floats
    most_influential: int


class _Health(_Part):
    index: str
    scored: int
    asked: int
    failures: dict[FailureKind, int]
    retries: int
    examples: list[str]


class _Inversions(_Part):
    min_gap: float | None
    top: list[Inversion]
    counts: list[list[int]]


class _IndexShift(_Part):
    index: str
    n: int
    median_shift: float | None
    median_shift_pct: float | None
    rank_corr: float | None
    version_before: str
    version_after: str
    recalibrated: bool
    median_before: float | None
    median_after: float | None
    median_relative_change: float | None


class _Shifts(_Part):
    previous_run: str | None
    mover_threshold: float
    movers: int
    indices: list[_IndexShift]


class _Topics(_Part):
    subjects: int
    lone: int


class Summary(_Part):
    """``OUT/summary.json`` as ``aggregator compare`` writes it (``docs/spark.md``)."""

    run: str
    run_dir: str
    method: str
    consensus: str
    threshold: float
    threshold_rule: str
    subjects: int
    indices: list[str]
    agreement: _Agreement
    robustness: _Robustness
    health: list[_Health]
    inversions: _Inversions
    shifts: _Shifts | None
    topics: _Topics | None


def read_summary(out: Path) -> Summary:
    """``OUT/summary.json``, checked; a clear error for a folder that is not a finished compare output."""
    path = out / SUMMARY
    if not path.is_file():
        if (out / "run.json").is_file():
            raise ConfigError(f"{out} is an exported run, not a compare output: compare it with `aggregator compare "
                              f"--run {out} --out DIR` and give that DIR")
        if (out / SUBJECTS).is_dir():
            raise ConfigError(f"{out} holds no {SUMMARY}: the comparison did not finish (the summary is written "
                              "last); run `aggregator compare` again")
        raise ConfigError(f"{out} is not a compare output: no {SUMMARY} (write one with `aggregator compare "
                          "--run RUN_DIR --out DIR`)")
    try:
        return Summary.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise ConfigError(f"{path}: {where}: {first['msg']} (not a summary written by `aggregator compare` of "
                          "this version; run it again)") from None


def outcome_from_compared(out: Path, run_dir: Path | None = None, *, title: str = "Influence report") -> RunOutcome:
    """The run compared into ``out``, with its exported run (``run_dir``, by default the summary's), as a RunOutcome."""
    import pyarrow.parquet as pq

    summary = read_summary(out)
    run_dir = Path(summary.run_dir) if run_dir is None else run_dir
    if not (run_dir / "run.json").is_file():
        raise ConfigError(f"{run_dir} is not an exported run (no run.json); {out / SUMMARY} names run "
                          f"{summary.run!r}: give its folder with --run RUN_DIR")
    exported = read_exported(run_dir)
    if exported.run_id != summary.run:
        raise ConfigError(f"{run_dir} holds run {exported.run_id!r}, but {out} compared run {summary.run!r}: "
                          "give the exported run it compared with --run RUN_DIR")
    table = score_table(exported)
    if summary.indices != list(table.index_names):
        raise ConfigError(f"{out / SUMMARY} compared the indices {', '.join(summary.indices)}, {run_dir} holds "
                          f"{', '.join(table.index_names)}")
    rows = pq.read_table(out / SUBJECTS).sort_by("position")
    if rows.column("subject_id").to_pylist() != list(table.subject_ids):
        raise ConfigError(f"{out / SUBJECTS} holds {rows.num_rows} subjects that are not those of run {summary.run} "
                          f"in {run_dir} ({len(table.subject_ids)}, in position order)")
    return RunOutcome(
        run=_run(run_meta(run_dir)), subjects=_subjects(run_dir), comparison=_comparison(summary, table, rows, out),
        failures=_failures(run_dir), title=title, components=MappingProxyType(_components(run_dir, table)),
    )


def _comparison(summary: Summary, table: ScoreTable, rows: pa.Table, out: Path) -> Comparison:
    columns = _Columns(rows, out / SUBJECTS, len(table.specs))
    names = table.index_names
    a, r = summary.agreement, summary.robustness
    return Comparison(
        table=table, method=summary.method, normalized=columns.matrix("normalized"),
        consensus=columns.floats("consensus"), n_indices=columns.ints("n_indices"), spread=columns.floats("spread"),
        dissenter=columns.ints("dissenter"), dissent_gap=columns.floats("dissent_gap"), threshold=summary.threshold,
        health=tuple(IndexHealth(h.index, h.scored, h.asked, dict(h.failures), h.retries, tuple(h.examples))
                     for h in summary.health),
        consensus_method=summary.consensus, threshold_rule=summary.threshold_rule,
        consensus_iqr=columns.floats("consensus_iqr"), standing=columns.matrix("standing"),
        inversions=tuple(summary.inversions.top),
        inversion_counts=np.array(summary.inversions.counts, dtype=np.int64).reshape(len(names), len(names)),
        agreement=Agreement(
            indices=names, kendall=_floats(a.kendall), kendall_ci=_floats(a.kendall_ci), spearman=_floats(a.spearman),
            spearman_ci=_floats(a.spearman_ci), n=np.array(a.n, dtype=np.int64), alpha=_float(a.alpha),
            alpha_without=_floats(a.alpha_without), mean_kendall=_floats(a.mean_kendall), outlier=a.outlier,
        ),
        robustness=Robustness(indices=names, rho_without=_floats(r.rho_without), n=np.array(r.n, dtype=np.int64),
                              median_shift=_floats(r.median_shift), most_influential=r.most_influential),
        topics=_topics(columns, out) if summary.topics is not None else None,
        shifts=_shifts(summary.shifts, columns) if summary.shifts is not None else None,
    )


class _Columns:
    """``OUT/subjects``' columns as numpy arrays, in position order; a clear error for one missing or misshapen."""

    def __init__(self, rows: pa.Table, where: Path, k: int) -> None:
        self.rows, self.where, self.k = rows, where, k

    def _column(self, name: str) -> pa.ChunkedArray:
        if name not in self.rows.column_names:
            raise ConfigError(f"{self.where} has no column {name!r} (written by another version of "
                              "`aggregator compare`? run it again)")
        return self.rows.column(name)

    def floats(self, name: str) -> NDArray[np.float64]:
        return np.asarray(self._column(name).to_numpy(), dtype=np.float64)  # null -> NaN

    def ints(self, name: str) -> NDArray[np.int64]:
        return np.asarray(self._column(name).to_numpy(), dtype=np.int64)

    def bools(self, name: str) -> NDArray[np.bool_]:
        return np.asarray(self._column(name).to_numpy(), dtype=np.bool_)

    def matrix(self, name: str) -> NDArray[np.float64]:
        """A list<double> column as ``[subjects × indices]`` (null -> NaN)."""
        import pyarrow.compute as pc

        column = self._column(name).combine_chunks()
        lengths = pc.list_value_length(column)
        if column.null_count or (len(column) and pc.min_max(lengths).as_py() != {"min": self.k, "max": self.k}):
            raise ConfigError(f"{self.where}: column {name!r} must hold {self.k} values (one per index) in every row")
        return rows_of_lists(column, self.k)


def _shifts(given: _Shifts, columns: _Columns) -> Shifts:
    movement = columns.floats("movement")
    return Shifts(
        previous_run=given.previous_run,
        indices=tuple(IndexShift(**_nan_for_null(s.model_dump())) for s in given.indices),
        raw_change=columns.matrix("raw_change"), standing_change=columns.matrix("standing_change"),
        consensus_change=columns.floats("consensus_change"), movement=movement, new=columns.bools("new"),
        mover_threshold=given.mover_threshold, movers=movers_of(movement, given.mover_threshold),
    )


def _topics(columns: _Columns, out: Path) -> Topics:
    import pyarrow.parquet as pq

    lone: tuple[LoneTopic, ...] = ()
    if (out / LONE_TOPICS).is_dir():
        claims = pq.read_table(out / LONE_TOPICS, columns=["position", "index", "topic"])
        found = zip(*(claims.column(name).to_pylist() for name in ("position", "index", "topic")), strict=True)
        # Topics.lone's order: topics compare without case (the text kept is one index's spelling)
        lone = tuple(LoneTopic(*claim) for claim in sorted(found, key=lambda c: (c[0], c[1], c[2].casefold())))
    return Topics(n_indices=columns.ints("topic_indices"), jaccard=columns.floats("topic_jaccard"), lone=lone)


def _run(meta: Mapping[str, Any]) -> Run:
    finished = meta.get("finished_at")
    return Run(id=str(meta["id"]), started_at=datetime.fromisoformat(meta["started_at"]),
               finished_at=datetime.fromisoformat(finished) if finished else None,
               config_digest=str(meta.get("config_digest", "")))


def _subjects(run_dir: Path) -> Subjects:
    import pyarrow.parquet as pq

    rows = pq.read_table(run_dir / "subjects", columns=["position", "subject_id", "name", "handles", "synthetic"])
    rows = rows.sort_by("position")
    ids, names, handles = (rows.column(name).to_pylist() for name in ("subject_id", "name", "handles"))
    return Subjects(ids, names, handles, rows.column("synthetic").to_numpy())


def _failures(run_dir: Path) -> Failures:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = pq.read_table(run_dir / "failures")
    indices, ids, kinds, attempts, messages = (
        rows.column(name).to_pylist() for name in ("index", "subject_id", "kind", "attempts", "message"))
    times = pc.cast(rows.column("at"), pa.string()).to_pylist()  # ISO 8601, as datetime.fromisoformat reads it
    return Failures(indices, ids, kinds, attempts, messages, times)


def _components(run_dir: Path, table: ScoreTable) -> dict[str, Components]:
    """Each index's components over the subjects, from the readings that carry some (JSON objects)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    readings = pq.read_table(run_dir / "readings", columns=["index", "subject_id", "components"])
    readings = readings.filter(pc.not_equal(readings.column("components"), "{}"))
    indices, ids, texts = (readings.column(name).to_pylist() for name in readings.column_names)
    known = set(table.index_names)
    parts = ((index, sid, json.loads(text)) for index, sid, text in zip(indices, ids, texts, strict=True)
             if index in known)
    return Components.of_parts(parts, table.subject_ids)


def _floats(values: Floats) -> NDArray[np.float64]:
    return np.array(values, dtype=np.float64)  # null -> NaN


def _nan_for_null(fields: dict[str, Any]) -> Any:
    return {key: math.nan if value is None else value for key, value in fields.items()}


def _float(value: float | None) -> float:
    return math.nan if value is None else value
