"""A stored run written as Parquet, for engines that run where the data is (``docs/spark.md``).

``export_run`` reads one run from one or more stores (the shards of one roster, each collected
on its own machine with its own API keys) through the store's public methods, and writes::

    DIR/run.json                     the run: id, times, config digest, shards, format version
    DIR/subjects/part-NNNNN.parquet  position, subject_id, name, handles (JSON), synthetic
    DIR/indices/part-00000.parquet   position, name, label, scale_lo, scale_hi, higher_is_better,
                                     algorithm_version, measures, spec (the IndexSpec as JSON)
    DIR/readings/part-NNNNN.parquet  index, subject_id, value, raw, scale_lo, scale_hi,
                                     algorithm_version, components (JSON), topics, fetched_at
    DIR/failures/part-NNNNN.parquet  index, subject_id, kind, attempts, message, at

One part file per shard (readings: per shard and index), so an export never holds more than one
index of one shard in memory. Subject positions run on across shards in the order the stores
are given; that order is the one ties are broken by, as in the single-machine comparison.
pyarrow is imported only here, inside the functions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.analytics.compare import ScoreTable
from aggregator.atomic import write_atomic
from aggregator.collection.store import Store
from aggregator.errors import ConfigError
from aggregator.models import Failure, IndexSpec, Reading, Run, Subject

if TYPE_CHECKING:
    import pyarrow as pa

#: Bumped when the layout changes in a way a reader must know about.
LAYOUT_VERSION = 1
PARTS = ("subjects", "indices", "readings", "failures")


@dataclass(frozen=True)
class Exported:
    """What an export wrote."""

    directory: Path
    run_id: str
    subjects: int
    indices: int
    readings: int
    failures: int


def export_run(stores: Sequence[Path], run_id: str, directory: Path, *, overwrite: bool = False) -> Exported:
    """Write run ``run_id`` of ``stores`` (one or several shards) into ``directory`` as Parquet."""
    if not stores:
        raise ConfigError("export needs at least one store")
    for path in stores:
        if not Path(path).exists():
            raise ConfigError(f"no history database at {path}")
    places = _places(stores, run_id)
    _prepare(directory, overwrite=overwrite)
    seen: dict[str, Path] = {}
    specs: list[IndexSpec] | None = None
    counts = {"readings": 0, "failures": 0}
    runs = []
    for shard, path in enumerate(stores):
        with Store(path) as store:
            run = store.run(run_id)
            runs.append(run)
            subjects = store.subjects(run_id)
            specs = _same_specs(specs, store.specs(run_id), path, stores[0])
            for subject in subjects:
                if subject.id in seen:
                    raise ConfigError(f"subject {subject.id!r} is in the run of both {seen[subject.id]} and {path}: "
                                      "shards must split the roster into disjoint parts")
                seen[subject.id] = Path(path)
            _write(_subjects_table(subjects, places[shard]), directory / "subjects", shard)
            for j, spec in enumerate(specs):
                readings = [reading for _, reading in store.readings(run_id, index=spec.name)]
                counts["readings"] += len(readings)
                _write(_readings_table(readings), directory / "readings", shard * len(specs) + j)
            failures = store.failures(run_id)
            counts["failures"] += len(failures)
            _write(_failures_table(failures), directory / "failures", shard)
    assert specs is not None
    _write(_indices_table(specs), directory / "indices", 0)
    first = runs[0]
    finished = [r.finished_at for r in runs]
    # written last and whole: a folder with a run.json holds a complete export
    write_atomic(directory / "run.json", json.dumps({
        "layout": LAYOUT_VERSION, "id": run_id, "started_at": min(r.started_at for r in runs).isoformat(),
        "finished_at": None if None in finished else max(f for f in finished if f).isoformat(),
        "config_digest": first.config_digest, "shards": [Path(p).name for p in stores],
        "shard_count": first.shard.count if first.shard else None,
    }, indent=2) + "\n")
    return Exported(directory, run_id, len(seen), len(specs), counts["readings"], counts["failures"])


def _places(stores: Sequence[Path], run_id: str) -> list[list[int]]:
    """Each store's subjects' positions in the exported run, in the order of ``Store.subjects``.

    Runs of ``aggregator run --shard K/N`` keep each subject's place in the whole roster: they
    must be the N distinct shards of one roster (a missing or a repeated shard is refused), and
    their subjects are put back in roster order, as one run of the whole roster would hold them.
    Other runs (a roster split by hand) follow one another in the order the stores are given.
    """
    import numpy as np

    runs, stored = [], []
    for path in stores:
        with Store(path) as store:
            runs.append(store.run(run_id))
            stored.append(store.positions(run_id))
    sharded = [run.shard is not None for run in runs]
    if not any(sharded):
        starts = np.cumsum([0] + [len(p) for p in stored])
        return [list(range(int(start), int(start) + len(p))) for start, p in zip(starts, stored, strict=False)]
    if not all(sharded):
        whole = next(path for path, is_shard in zip(stores, sharded, strict=True) if not is_shard)
        raise ConfigError(f"{whole} holds run {run_id} of a whole roster, the other stores hold shards of one: "
                          "export the shards of one roster together, or that store alone")
    _check_shards(stores, runs, run_id)
    # dense ranks of the stored roster positions across the shards (subjects erased since leave gaps)
    joined = np.concatenate([np.asarray(p, dtype=np.int64) for p in stored]) if stored else np.zeros(0, np.int64)
    ranks = np.empty(len(joined), dtype=np.int64)
    ranks[np.argsort(joined, kind="stable")] = np.arange(len(joined))
    bounds = np.cumsum([0] + [len(p) for p in stored])
    return [ranks[bounds[i]:bounds[i + 1]].tolist() for i in range(len(stored))]


def _check_shards(stores: Sequence[Path], runs: Sequence[Run], run_id: str) -> None:
    """The runs are the N distinct shards of one roster; else an error naming the shard and stores."""
    first = runs[0].shard
    assert first is not None
    held: dict[int, Path] = {}
    for path, run in zip(stores, runs, strict=True):
        shard = run.shard
        assert shard is not None
        if (shard.count, shard.roster) != (first.count, first.roster):
            raise ConfigError(f"{path} holds shard {shard} of run {run_id}, {stores[0]} shard {first}: "
                              "they are not shards of one roster cut into one number of parts (same roster "
                              "file and opt-out list, same N)")
        if shard.index in held:
            raise ConfigError(f"shard {shard} of run {run_id} is in both {held[shard.index]} and {path}: "
                              "give each shard's store once")
        held[shard.index] = Path(path)
    missing = [f"{k}/{first.count}" for k in range(1, first.count + 1) if k not in held]
    if missing:
        raise ConfigError(f"run {run_id} is cut into {first.count} shards; missing shard {', '.join(missing)} "
                          f"(given: {', '.join(f'{k}/{first.count} in {p}' for k, p in sorted(held.items()))})")


def _prepare(directory: Path, *, overwrite: bool) -> None:
    if directory.exists() and any(directory.iterdir()):
        if not overwrite:
            raise ConfigError(f"{directory} is not empty; give an empty or new folder (or --overwrite)")
        if not (directory / "run.json").exists():
            raise ConfigError(f"{directory} is not an exported run (no run.json); not overwriting it")
        for name in (*PARTS, "run.json"):
            target = directory / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    for name in PARTS:
        (directory / name).mkdir(parents=True, exist_ok=True)


def _same_specs(
    known: list[IndexSpec] | None, found: list[IndexSpec], path: Path, first: Path
) -> list[IndexSpec]:
    if known is not None and found != known:
        raise ConfigError(f"the run in {path} has other indices than in {first} "
                          f"({', '.join(s.name for s in found)} vs {', '.join(s.name for s in known)}): "
                          "shards of one run share one config")
    return found


def _write(table: pa.Table, folder: Path, part: int) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, folder / f"part-{part:05d}.parquet")


def _table(columns: dict[str, tuple[list[Any], Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.table({name: pa.array(values, type=kind) for name, (values, kind) in columns.items()})


def _subjects_table(subjects: Sequence[Subject], positions: Sequence[int]) -> pa.Table:
    import pyarrow as pa

    return _table({
        "position": (list(positions), pa.int64()),
        "subject_id": ([s.id for s in subjects], pa.string()),
        "name": ([s.name for s in subjects], pa.string()),
        "handles": ([json.dumps(s.handles, sort_keys=True) for s in subjects], pa.string()),
        "synthetic": ([s.synthetic for s in subjects], pa.bool_()),
    })


def _indices_table(specs: Sequence[IndexSpec]) -> pa.Table:
    import pyarrow as pa

    return _table({
        "position": (list(range(len(specs))), pa.int64()),
        "name": ([s.name for s in specs], pa.string()),
        "label": ([s.label for s in specs], pa.string()),
        "scale_lo": ([s.scale.lo for s in specs], pa.float64()),
        "scale_hi": ([s.scale.hi for s in specs], pa.float64()),
        "higher_is_better": ([s.higher_is_better for s in specs], pa.bool_()),
        "algorithm_version": ([s.algorithm_version for s in specs], pa.string()),
        "measures": ([s.measures for s in specs], pa.string()),
        "spec": ([s.model_dump_json() for s in specs], pa.string()),
    })


def _readings_table(readings: Sequence[Reading]) -> pa.Table:
    import pyarrow as pa

    return _table({
        "index": ([r.index for r in readings], pa.string()),
        "subject_id": ([r.subject_id for r in readings], pa.string()),
        "value": ([r.value for r in readings], pa.float64()),
        "raw": ([r.raw for r in readings], pa.string()),
        "scale_lo": ([r.scale.lo for r in readings], pa.float64()),
        "scale_hi": ([r.scale.hi for r in readings], pa.float64()),
        "algorithm_version": ([r.algorithm_version for r in readings], pa.string()),
        "components": ([json.dumps(r.components, sort_keys=True) for r in readings], pa.string()),
        "topics": ([list(r.topics) for r in readings], pa.list_(pa.string())),
        "fetched_at": ([r.fetched_at for r in readings], pa.timestamp("us", tz="UTC")),
    })


def _failures_table(failures: Sequence[Failure]) -> pa.Table:
    import pyarrow as pa

    return _table({
        "index": ([f.index for f in failures], pa.string()),
        "subject_id": ([f.subject_id for f in failures], pa.string()),
        "kind": ([f.kind.value for f in failures], pa.string()),
        "attempts": ([f.attempts for f in failures], pa.int64()),
        "message": ([f.message for f in failures], pa.string()),
        "at": ([f.at for f in failures], pa.timestamp("us", tz="UTC")),
    })


@dataclass(frozen=True)
class ExportedRun:
    """An exported run read back for the single-machine engine: the score table and the failures."""

    run_id: str
    subject_ids: tuple[str, ...]
    specs: tuple[IndexSpec, ...]
    readings: pa.Table
    failures: tuple[Failure, ...]


def read_exported(directory: Path) -> ExportedRun:
    """An exported run, read with pyarrow (the numpy engine's input, for the same numbers on both)."""
    import pyarrow.parquet as pq

    meta = run_meta(directory)
    subjects = pq.read_table(directory / "subjects", columns=["position", "subject_id"]).sort_by("position")
    indices = pq.read_table(directory / "indices", columns=["position", "spec"]).sort_by("position")
    specs = tuple(IndexSpec.model_validate_json(text) for text in indices.column("spec").to_pylist())
    readings = pq.read_table(directory / "readings",
                             columns=["index", "subject_id", "value", "algorithm_version", "topics"])
    failures = tuple(
        Failure.model_validate(row) for row in pq.read_table(directory / "failures").to_pylist()
    )
    return ExportedRun(str(meta["id"]), tuple(subjects.column("subject_id").to_pylist()), specs, readings, failures)


def score_table(run: ExportedRun) -> ScoreTable:
    """The run's readings as the numpy engine's table, with the topics of the readings that have some."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    readings = run.readings
    names = [s.name for s in run.specs]
    rows = pc.index_in(readings.column("subject_id"), value_set=pa.array(run.subject_ids, pa.string()))
    cols = pc.index_in(readings.column("index"), value_set=pa.array(names, pa.string()))
    known = pc.and_(pc.is_valid(rows), pc.is_valid(cols))
    raw = np.full((len(run.subject_ids), len(names)), np.nan)
    i = pc.filter(rows, known).to_numpy(zero_copy_only=False)
    j = pc.filter(cols, known).to_numpy(zero_copy_only=False)
    raw[i, j] = pc.filter(readings.column("value"), known).to_numpy(zero_copy_only=False)
    # a Python tuple only for the readings that carry topics (few indices give any)
    with_topics = pc.and_(known, pc.greater(pc.fill_null(pc.list_value_length(readings.column("topics")), 0), 0))
    topics = {
        (int(row), int(col)): tuple(named)
        for row, col, named in zip(pc.filter(rows, with_topics).to_pylist(), pc.filter(cols, with_topics).to_pylist(),
                                   pc.filter(readings.column("topics"), with_topics).to_pylist(), strict=True)
    }
    versions = []
    for name, spec in zip(names, run.specs, strict=True):
        counted = pc.value_counts(pc.filter(readings.column("algorithm_version"),
                                            pc.equal(readings.column("index"), name)))
        seen = {str(c["values"]): int(c["counts"]) for c in counted.to_pylist()}
        versions.append(min(seen, key=lambda v: (-seen[v], v)) if seen else spec.algorithm_version)
    return ScoreTable(run.subject_ids, run.specs, raw, topics, versions=tuple(versions))


def run_meta(directory: Path) -> dict[str, Any]:
    """``run.json`` of an exported run, checked to be of the layout this version reads."""
    path = directory / "run.json"
    if not path.exists():
        raise ConfigError(f"{directory} is not an exported run: no run.json (write one with `aggregator export`)")
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("layout") != LAYOUT_VERSION:
        raise ConfigError(f"{path}: layout {meta.get('layout')!r}, this version reads layout {LAYOUT_VERSION}")
    return meta
