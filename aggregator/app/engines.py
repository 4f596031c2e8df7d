"""``aggregator compare``: an exported run compared by the engine asked for, written as Parquet + JSON.

Both engines write the same layout (``docs/spark.md``)::

    OUT/subjects/     one row per subject: position, subject_id, normalized and standing (arrays in
                      index order, null = missing), n_indices, consensus, consensus_iqr, spread,
                      dissenter (index column, -1 for none), dissent_gap, flagged
    OUT/summary.json  the run, method, indices, threshold and its rule, the agreement matrix,
                      leave-one-out robustness, each index's health (NaN as null)

``numpy`` reads the export into memory (the single-machine path, and the reference the Spark
engine is checked against); ``spark`` runs :mod:`aggregator.analytics.spark` wherever the Spark
session points. pyarrow and pyspark load only here, inside the functions.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aggregator.analytics.agreement import Agreement, Robustness
from aggregator.analytics.compare import IndexHealth
from aggregator.atomic import write_atomic
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aggregator.analytics.spark.engine import SparkComparison
    from aggregator.analytics.spark.shifts import RunFrames

SUMMARY = "summary.json"


def compare_exported(
    engine: str, run: str, out: str, *, method: str = "percentile", consensus: str = "median",
    threshold: float | None = None, master: str | None = None, previous: str | None = None,
) -> dict[str, Any]:
    """Compare the exported run at ``run`` with ``engine`` and write the results to ``out``; the summary.

    ``threshold`` None flags the subjects whose spread is unusual for this roster (the product's
    rule, ``analytics/disputes.py``); a number flags those above it. ``previous`` (an exported run)
    adds the shifts since that run.
    """
    if previous is not None and engine != "spark":
        raise ConfigError("--previous needs --engine spark in this version")
    if engine == "numpy":
        return _numpy(Path(run), Path(out), method=method, consensus=consensus, threshold=threshold)
    if engine == "spark":
        return _spark(spark_session(master), run, out, method=method, consensus=consensus, threshold=threshold,
                      previous=previous)
    raise ConfigError(f"unknown engine {engine!r}; known: numpy, spark")


def spark_session(master: str | None = None) -> SparkSession:
    """The running Spark session (spark-submit's), or a new one on ``master`` (default ``local[*]``)."""
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
    spark = builder.getOrCreate()
    _local_defaults(spark)
    return spark


#: Shuffle partitions per core in local mode (see _local_defaults).
LOCAL_PARTITIONS_PER_CORE = 4


def _local_defaults(spark: SparkSession) -> None:
    """Local mode's settings where the user gave none (spark-defaults.conf, ``--conf``, ``PYSPARK_SUBMIT_ARGS``).

    Spark's default of 200 shuffle partitions is sized for a cluster: on a few local cores each of the
    engine's ~90 stages would run 200 tasks of a few rows each. A few tasks per core keeps both cores
    busy and each task's sort big enough to be worth scheduling; adaptive execution (on by default)
    coalesces the small per-index and per-pair shuffles further.
    """
    context = spark.sparkContext
    if (context.master or "").startswith("local") and not context.getConf().contains("spark.sql.shuffle.partitions"):
        spark.conf.set("spark.sql.shuffle.partitions", str(LOCAL_PARTITIONS_PER_CORE * context.defaultParallelism))


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


def _numpy(run: Path, out: Path, *, method: str, consensus: str, threshold: float | None) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aggregator.analytics.compare import compare_table
    from aggregator.app.export import read_exported, score_table

    exported = read_exported(run)
    table = score_table(exported)
    result = compare_table(table, method=method, consensus=consensus, threshold=threshold,
                           failures=exported.failures)
    assert result.agreement is not None
    assert result.robustness is not None

    def rows(matrix: np.ndarray) -> pa.Array:
        return pa.array([[None if np.isnan(v) else float(v) for v in row] for row in matrix], pa.list_(pa.float64()))

    def column(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.float64(), from_pandas=True)  # NaN -> null, as Spark writes it

    (out / "subjects").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "position": pa.array(np.arange(len(table.subject_ids)), pa.int64()),
        "subject_id": pa.array(table.subject_ids, pa.string()),
        "normalized": rows(result.normalized), "standing": rows(result.standing),
        "n_indices": pa.array(result.n_indices, pa.int64()), "consensus": column(result.consensus),
        "consensus_iqr": column(result.consensus_iqr), "spread": column(result.spread),
        "dissenter": pa.array(result.dissenter, pa.int64()), "dissent_gap": column(result.dissent_gap),
        "flagged": pa.array(result.flagged, pa.bool_()),
    }), out / "subjects" / "part-00000.parquet")
    figures = summary(exported.run_id, table.specs, len(table.subject_ids), result.agreement, result.robustness,
                      result.health, method=method, consensus=consensus, threshold=result.threshold,
                      rule=result.threshold_rule)
    _write_summary(out, figures)
    return figures


def _spark(
    spark: SparkSession, run: str, out: str, *, method: str, consensus: str, threshold: float | None,
    previous: str | None = None,
) -> dict[str, Any]:
    from aggregator.analytics.spark.engine import compare_frames

    base = run.rstrip("/")
    now = _spark_run(spark, base)
    failures = spark.read.parquet(f"{base}/failures").select("index", "subject_id", "kind", "attempts", "message")
    before = None if previous is None else _spark_run(spark, previous.rstrip("/"))
    result = compare_frames(now.subjects, now.readings, now.specs, method=method, consensus=consensus,
                            threshold=threshold, failures=failures, previous=before)
    result.subjects.write.mode("overwrite").parquet(f"{out.rstrip('/')}/subjects")
    figures = summary(str(now.run_id), now.specs, now.subjects.count(), result.agreement, result.robustness,
                      result.health, method=method, consensus=consensus, threshold=result.threshold,
                      rule=result.threshold_rule)
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
        "shifts": None if changes is None else {
            "previous_run": changes.previous_run, "previous_dir": previous, "mover_threshold": changes.mover_threshold,
            "movers": changes.movers,
            "indices": [{name: _plain(value) if isinstance(value, float) else value
                         for name, value in dataclasses.asdict(shift).items()} for shift in changes.indices],
        },
        "topics": None if topics is None else {"subjects": topics.with_topics, "lone": topics.n_lone},
    }
