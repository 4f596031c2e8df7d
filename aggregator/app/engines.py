"""``aggregator compare``: an exported run compared by the engine asked for, written as Parquet + JSON.

Both engines write the same layout (``docs/spark.md``)::

    OUT/subjects/     one row per subject: position, subject_id, normalized and standing (arrays in
                      index order, null = missing), n_indices, consensus, consensus_iqr, spread,
                      dissenter (index column, -1 for none), dissent_gap, flagged; with a previous
                      run raw_change, standing_change, consensus_change, movement, new; when some
                      index gave topics topic_indices, topic_jaccard
    OUT/lone_topics/  when some index gave topics: one row per lone claim (position, subject_id,
                      index, topic)
    OUT/summary.json  the run and its folder (run_dir), method, indices, threshold and its rule, the
                      agreement matrix, leave-one-out robustness, each index's health, the top
                      inversions and their counts, the shifts and topics figures (NaN as null);
                      written last, whole, so a folder with a summary holds a finished comparison

``numpy`` reads the export into memory (the single-machine path, and the reference the Spark
engine is checked against); ``spark`` runs :mod:`aggregator.analytics.spark` wherever the Spark
session points. pyarrow and pyspark load only here, inside the functions.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aggregator.analytics.agreement import Agreement, Robustness
from aggregator.analytics.arrow_lists import float_column, lists_of_rows
from aggregator.analytics.compare import Comparison, IndexHealth
from aggregator.analytics.inversions import Inversion
from aggregator.analytics.shifts import IndexShift, Shifts
from aggregator.analytics.topics import Topics
from aggregator.atomic import write_atomic
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec

if TYPE_CHECKING:
    import pyarrow as pa
    from numpy.typing import NDArray
    from pyspark.sql import DataFrame, SparkSession

    from aggregator.analytics.spark.engine import SparkComparison
    from aggregator.analytics.spark.shifts import RunFrames

SUMMARY = "summary.json"
#: the per-subject Parquet folder, and the lone topic claims' (only when some index gave topics)
SUBJECTS, LONE_TOPICS = "subjects", "lone_topics"


def compare_exported(
    engine: str, run: str, out: str, *, method: str = "percentile", consensus: str = "median",
    threshold: float | None = None, master: str | None = None, previous: str | None = None,
) -> dict[str, Any]:
    """Compare the exported run at ``run`` with ``engine`` and write the results to ``out``; the summary.

    ``threshold`` None flags the subjects whose spread is unusual for this roster (the product's
    rule, ``analytics/disputes.py``); a number flags those above it. ``previous`` (an exported
    run) adds the shifts since that run.
    """
    if engine == "numpy":
        return _numpy(run, out, method=method, consensus=consensus, threshold=threshold, previous=previous)
    if engine == "spark":
        return _spark(spark_session(master, readings=_local_readings(run)), run, out, method=method,
                      consensus=consensus, threshold=threshold, previous=previous)
    raise ConfigError(f"unknown engine {engine!r}; known: numpy, spark")


def spark_session(master: str | None = None, *, readings: int | None = None) -> SparkSession:
    """The running Spark session (spark-submit's), or a new one on ``master`` (default ``local[*]``).

    ``readings``: the run's, when known before Spark starts (a local run: :func:`_local_readings`).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs the 'spark' extra: pip install 'influence-aggregator[spark]' "
                          "(and Java 17)") from None
    builder = SparkSession.builder.appName("influence-aggregator compare")
    if master or "SPARK_HOME" not in os.environ:
        builder = builder.master(master or "local[*]")
    if (master or "local").startswith("local"):
        # Python workers on this machine: the interpreter that has this package and numpy/scipy
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = _with_local_settings(builder, readings)
    spark = builder.getOrCreate()
    _local_defaults(spark)
    return spark


#: Shuffle partitions per core in local mode, and readings per partition at most (see _local_defaults).
LOCAL_PARTITIONS_PER_CORE = 4
LOCAL_READINGS_PER_PARTITION = 1_000_000
#: Local mode's settings where the user gave none. One machine's shuffle files stay in its page
#: cache, so compressing them (lz4, Spark's default) costs CPU and saves nothing that matters; Arrow
#: batches of 100,000 rows instead of 10,000 cut the round trips to the Python workers tenfold.
#: Together at 1M subjects x 5 (bench/spark.py, local[2]): 409 -> 346 CPU seconds, the same numbers.
#: Spark checks an Arrow batch's size in bytes after every row unless the limit is the largest int
#: (~10 % of the JVM's samples at 32M; the batches are bounded by rows), and its in-memory cache
#: gathers compression statistics on every value it caches (~14 %): both off.
LOCAL_SETTINGS = {
    "spark.shuffle.compress": "false",
    "spark.shuffle.spill.compress": "false",
    "spark.broadcast.compress": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
    "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 1),
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}
#: Readings past which local mode keeps its shuffles compressed: uncompressed, a run of 32M subjects
#: x 5 (128M readings) had written 35 GB of shuffle files ten minutes in, more than many disks hold
#: free; compressed, a third of that.
LOCAL_UNCOMPRESSED_READINGS = 50_000_000
_SHUFFLE_COMPRESSION = ("spark.shuffle.compress", "spark.shuffle.spill.compress")


def _with_local_settings(builder: SparkSession.Builder, readings: int | None = None) -> SparkSession.Builder:
    """``builder`` with :data:`LOCAL_SETTINGS` that spark-defaults.conf, ``--conf`` and ``PYSPARK_SUBMIT_ARGS``
    leave unset, when this process starts Spark (a running context keeps its own: shuffle settings
    only take effect when it starts); past :data:`LOCAL_UNCOMPRESSED_READINGS` ``readings``, the
    shuffles stay compressed."""
    from pyspark import SparkConf, SparkContext

    if SparkContext._active_spark_context is not None:
        return builder
    # the JVM started now (getOrCreate would start it next) with the launcher's arguments: a SparkConf made
    # before it exists holds nothing, one made after holds spark-defaults.conf, --conf and PYSPARK_SUBMIT_ARGS
    SparkContext._ensure_initialized()
    given = SparkConf()
    large = readings is not None and readings > LOCAL_UNCOMPRESSED_READINGS
    for key, value in LOCAL_SETTINGS.items():
        if not given.contains(key) and not (large and key in _SHUFFLE_COMPRESSION):
            builder = builder.config(key, value)
    return builder


def _local_defaults(spark: SparkSession, readings: DataFrame | None = None) -> None:
    """Local mode's settings where the user gave none (spark-defaults.conf, ``--conf``, ``PYSPARK_SUBMIT_ARGS``).

    Spark's default of 200 shuffle partitions is sized for a cluster: on a few local cores each of the
    engine's ~90 stages would run 200 tasks of a few rows each. A few tasks per core keeps both cores
    busy and each task's sort big enough to be worth scheduling; adaptive execution (on by default)
    coalesces the small per-index and per-pair shuffles further. But none of more than about
    :data:`LOCAL_READINGS_PER_PARTITION` of the run's ``readings``: a task's sort of more spills to disk
    (at 10M subjects × 5 on 8 partitions, the per-subject shuffles spilled 11 GB). They are counted only
    here (Parquet's footers hold the count: no pass over the rows; a cluster's run is not counted).
    """
    context = spark.sparkContext
    if (context.master or "").startswith("local") and not context.getConf().contains("spark.sql.shuffle.partitions"):
        partitions = LOCAL_PARTITIONS_PER_CORE * context.defaultParallelism
        if readings is not None:
            partitions = max(partitions, -(-readings.count() // LOCAL_READINGS_PER_PARTITION))
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))


def summary(
    run_id: str, specs: Sequence[IndexSpec], subjects: int, agreement: Agreement, robustness: Robustness,
    health: Sequence[IndexHealth], *, method: str, consensus: str, threshold: float, rule: str,
) -> dict[str, Any]:
    """What ``summary.json`` holds (JSON-ready: NaN becomes null)."""
    return {
        "run": run_id, "method": method, "consensus": consensus, "threshold": threshold, "threshold_rule": rule,
        "subjects": subjects, "indices": [s.name for s in specs], "scored": [int(h.scored) for h in health],
        "agreement": {
            "kendall": _plain(agreement.kendall), "kendall_ci": _plain(agreement.kendall_ci),
            "spearman": _plain(agreement.spearman), "spearman_ci": _plain(agreement.spearman_ci),
            "n": agreement.n.tolist(), "alpha": _plain(agreement.alpha),
            "alpha_without": _plain(agreement.alpha_without), "mean_kendall": _plain(agreement.mean_kendall),
            "outlier": agreement.outlier,
        },
        "robustness": {
            "rho_without": _plain(robustness.rho_without), "n": robustness.n.tolist(),
            "median_shift": _plain(robustness.median_shift), "most_influential": robustness.most_influential,
        },
        "health": [
            {"index": h.index, "scored": int(h.scored), "asked": int(h.asked),
             "failures": {kind.value: int(n) for kind, n in sorted(h.failures.items())},
             "retries": int(h.retries), "examples": list(h.examples)}
            for h in health
        ],
    }


def _plain(values: Any) -> Any:
    if isinstance(values, float):
        return None if math.isnan(values) else values
    return [_plain(v) for v in values] if isinstance(values, list | np.ndarray) else _plain(float(values))


def _write_summary(out: Path, figures: dict[str, Any]) -> None:
    write_atomic(out / SUMMARY, json.dumps(figures, indent=2) + "\n")


def inversions_json(inversions: Sequence[Inversion], counts: NDArray[np.int64], min_gap: float) -> dict[str, Any]:
    """``summary.json``'s ``inversions``: the strongest listed (strongest first; subject and index
    positions) and how many each pair of indices has in all (``Comparison.inversion_counts``)."""
    return {
        "min_gap": _plain(min_gap),
        "top": [{"above": int(v.above), "below": int(v.below), "by": int(v.by), "against": int(v.against),
                 "gap_by": float(v.gap_by), "gap_against": float(v.gap_against)} for v in inversions],
        "counts": np.asarray(counts, dtype=np.int64).tolist(),
    }


def shifts_json(shifts: Shifts | None, previous_dir: str | None) -> dict[str, Any] | None:
    """``summary.json``'s ``shifts``: null without a previous run; else each index's shift and the movers' count."""
    if shifts is None:
        return None
    return _shifts_figures(shifts.previous_run, previous_dir, shifts.mover_threshold, len(shifts.movers),
                           shifts.indices)


def _shifts_figures(previous_run: str | None, previous_dir: str | None, mover_threshold: float, movers: int,
                    indices: Sequence[IndexShift]) -> dict[str, Any]:
    """``shifts`` as both engines write it (docs/spark.md)."""
    return {
        "previous_run": previous_run, "previous_dir": previous_dir, "mover_threshold": float(mover_threshold),
        "movers": int(movers),
        "indices": [{name: _field(value) for name, value in asdict(shift).items()} for shift in indices],
    }


def topics_json(topics: Topics | None) -> dict[str, Any] | None:
    """``summary.json``'s ``topics``: null when no index gave topics; else the subjects with some, the lone claims."""
    if topics is None:
        return None
    return {"subjects": int(np.sum(topics.n_indices > 0)), "lone": len(topics.lone)}


def _field(value: Any) -> Any:
    """A dataclass field as JSON: floats through :func:`_plain` (NaN as null), the rest as they are."""
    return _plain(value) if isinstance(value, float) else value


def _numpy(
    run: str, out: str, *, method: str, consensus: str, threshold: float | None, previous: str | None,
) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from aggregator.analytics.compare import compare_table
    from aggregator.app.export import read_exported, score_table

    exported = read_exported(Path(run))
    table = score_table(exported)
    before = read_exported(Path(previous)) if previous is not None else None
    result = compare_table(table, method=method, consensus=consensus, threshold=threshold,
                           failures=exported.failures, previous=score_table(before) if before else None,
                           previous_run=before.run_id if before else None)
    assert result.agreement is not None
    assert result.robustness is not None
    assert result.inversion_counts is not None
    folder = Path(out)
    (folder / SUBJECTS).mkdir(parents=True, exist_ok=True)
    pq.write_table(subjects_table(result), folder / SUBJECTS / "part-00000.parquet")
    if result.topics is not None:
        (folder / LONE_TOPICS).mkdir(parents=True, exist_ok=True)
        pq.write_table(lone_topics_table(result.topics, table.subject_ids), folder / LONE_TOPICS / "part-00000.parquet")
    figures = summary(exported.run_id, table.specs, len(table.subject_ids), result.agreement, result.robustness,
                      result.health, method=method, consensus=consensus, threshold=result.threshold,
                      rule=result.threshold_rule)
    inversions = inversions_json(result.inversions, result.inversion_counts, result.threshold)
    figures.update(run_dir=run, inversions=inversions, shifts=shifts_json(result.shifts, previous),
                   topics=topics_json(result.topics))
    _write_summary(folder, figures)
    return figures


def subjects_table(result: Comparison) -> pa.Table:
    """``OUT/subjects``: one row per subject, in table order (see the module docstring)."""
    import pyarrow as pa

    columns = {
        "position": pa.array(np.arange(len(result.table.subject_ids)), pa.int64()),
        "subject_id": pa.array(result.table.subject_ids, pa.string()),
        "normalized": lists_of_rows(result.normalized), "standing": lists_of_rows(result.standing),
        "n_indices": pa.array(result.n_indices, pa.int64()), "consensus": float_column(result.consensus),
        "consensus_iqr": float_column(result.consensus_iqr), "spread": float_column(result.spread),
        "dissenter": pa.array(result.dissenter, pa.int64()), "dissent_gap": float_column(result.dissent_gap),
        "flagged": pa.array(result.flagged, pa.bool_()),
    }
    if result.shifts is not None:
        shifts = result.shifts
        columns |= {"raw_change": lists_of_rows(shifts.raw_change),
                    "standing_change": lists_of_rows(shifts.standing_change),
                    "consensus_change": float_column(shifts.consensus_change),
                    "movement": float_column(shifts.movement),
                    "new": pa.array(shifts.new, pa.bool_())}
    if result.topics is not None:
        columns |= {"topic_indices": pa.array(result.topics.n_indices, pa.int64()),
                    "topic_jaccard": float_column(result.topics.jaccard)}
    return pa.table(columns)


def lone_topics_table(topics: Topics, subject_ids: Sequence[str]) -> pa.Table:
    """``OUT/lone_topics``: one row per lone claim, by position, index, topic (``Topics.lone``'s order)."""
    import pyarrow as pa

    return pa.table({
        "position": pa.array([t.row for t in topics.lone], pa.int64()),
        "subject_id": pa.array([subject_ids[t.row] for t in topics.lone], pa.string()),
        "index": pa.array([t.index for t in topics.lone], pa.int64()),
        "topic": pa.array([t.topic for t in topics.lone], pa.string()),
    })


def _local_readings(run: str) -> int | None:
    """The readings of the exported run at ``run`` if it is a local folder (Parquet footers: no pass over
    the rows), else None (also when a footer cannot be read: reading the run reports that)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(run.removeprefix("file://")) / "readings"
    if "://" in run.removeprefix("file://") or not folder.is_dir():
        return None
    try:
        return sum(int(pq.ParquetFile(part).metadata.num_rows) for part in sorted(folder.glob("*.parquet")))
    except (OSError, pa.ArrowException):
        return None


def _spark(
    spark: SparkSession, run: str, out: str, *, method: str, consensus: str, threshold: float | None,
    previous: str | None = None,
) -> dict[str, Any]:
    from aggregator.analytics.spark.engine import compare_frames

    base = run.rstrip("/")
    now = _spark_run(spark, base)
    failures = spark.read.parquet(f"{base}/failures").select("index", "subject_id", "kind", "attempts", "message")
    before = None if previous is None else _spark_run(spark, previous.rstrip("/"))
    _local_defaults(spark, now.readings)
    result = compare_frames(now.subjects, now.readings, now.specs, method=method, consensus=consensus,
                            threshold=threshold, failures=failures, previous=before)
    result.subjects.write.mode("overwrite").parquet(f"{out.rstrip('/')}/subjects")
    figures = summary(str(now.run_id), now.specs, now.subjects.count(), result.agreement, result.robustness,
                      result.health, method=method, consensus=consensus, threshold=result.threshold,
                      rule=result.threshold_rule)
    figures["run_dir"] = run
    figures["inversions"] = inversions_json(result.inversions, result.inversion_counts, result.threshold)
    figures.update(_spark_changes(result, out, previous))
    if "://" in out:  # object storage: the summary goes through Spark too
        spark.createDataFrame([(json.dumps(figures, indent=2),)], "value string").coalesce(1).write.mode(
            "overwrite").text(f"{out.rstrip('/')}/{SUMMARY}")
    else:
        _write_summary(Path(out), figures)
    return figures


def _spark_run(spark: SparkSession, base: str) -> RunFrames:
    """The exported run at ``base`` as the Spark engine reads it."""
    from aggregator.analytics.spark.shifts import RunFrames

    meta = json.loads("\n".join(r.value for r in spark.read.text(f"{base}/run.json").collect()))
    specs = tuple(IndexSpec.model_validate_json(r.spec) for r in
                  spark.read.parquet(f"{base}/indices").orderBy("position").select("spec").collect())
    subjects = spark.read.parquet(f"{base}/subjects").select("position", "subject_id")
    readings = spark.read.parquet(f"{base}/readings").select("index", "subject_id", "value", "algorithm_version",
                                                             "topics")
    return RunFrames(subjects, readings, specs, str(meta["id"]))


def _spark_changes(result: SparkComparison, out: str, previous: str | None) -> dict[str, Any]:
    """The summary's ``shifts`` and ``topics`` (docs/spark.md), writing the lone claims to ``OUT/lone_topics/``."""
    changes, topics = result.shifts, result.topics
    if topics is not None:
        topics.lone.write.mode("overwrite").parquet(f"{out.rstrip('/')}/lone_topics")
    return {
        "shifts": None if changes is None else _shifts_figures(
            changes.previous_run, previous, changes.mover_threshold, changes.movers, changes.indices),
        "topics": None if topics is None else {"subjects": topics.with_topics, "lone": topics.n_lone},
    }
