"""Weighted PageRank on Spark: the scipy path's iteration (:func:`aggregator.scoring.graph.pagerank`), distributed.

Each iteration is the scipy path's

    x' = alpha * P^T x + (alpha * (sum of x over dangling nodes) + 1 - alpha) / n

from ``x = 1/n``, stopping when the L1 change ``sum |x' - x|`` is below ``tol`` (strictly): the
same iterates up to the order of floating-point sums, so both paths stop at the same iteration
(or one apart, when a change lands within rounding of ``tol``) and agree within
``2 * alpha / (1 - alpha) * tol`` in L1 (each is that close to the fixed point).

Distributed: the rank vector is a DataFrame (node, x) joined with the edges (src, dst, share of
the source's out-weight; duplicates summed) and summed by target. Per iteration only two numbers
reach the driver: the L1 change and the mass of the dangling nodes (one aggregate job). Every
iterate is checkpointed (reliably when the session has a checkpoint folder, else locally), so the
plan is the same few nodes at every iteration, and the iterate before is freed at once, so the
memory held does not grow with the iterations either.

Edge files: Parquet with columns ``source``, ``target`` and optionally ``weight``; or the text
format of the scipy path (``source target [weight]`` per line, spaces or tabs, ``#`` comments;
gzip when the name ends in ``.gz``, as Spark reads it). A bad line is an error naming the file,
quoting the line and saying what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.errors import ConfigError
from aggregator.scoring.graph import DEFAULT_ALPHA, DEFAULT_MAX_ITER, DEFAULT_TOL


@dataclass(frozen=True, eq=False)
class SparkPageRank:
    #: node (string), pagerank (double): one row per node
    ranks: DataFrame
    nodes: int
    edges: int
    iterations: int
    #: L1 change of the last iteration
    change: float
    converged: bool


def pagerank_frame(edges: DataFrame, *, nodes: DataFrame | None = None, alpha: float = DEFAULT_ALPHA,
                   tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER,
                   partitions: int | None = None) -> SparkPageRank:
    """PageRank of ``edges`` (``source``, ``target`` as strings, ``weight`` non-negative doubles).

    ``nodes`` (a column ``node``) adds nodes that no edge names (isolated ones); every endpoint
    of an edge is a node, a zero-weight edge included (it carries no rank). The ranks and the
    edges are hash-partitioned by node into ``partitions`` parts (default: the session's default
    parallelism, one per core), so that each iteration shuffles only the contributions.

    The returned ranks are materialized (checkpointed) and hold the only blocks this call leaves
    behind; Spark frees them when the frame is no longer referenced.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    spark = edges.sparkSession
    parts = partitions or spark.sparkContext.defaultParallelism
    saved = spark.conf.get("spark.sql.shuffle.partitions") or "200"
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))  # every shuffle below: one part per partition
    try:
        return _iterate(spark, edges, nodes, alpha=alpha, tol=tol, max_iter=max_iter, parts=parts)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", saved)


def _iterate(spark: SparkSession, edges: DataFrame, nodes: DataFrame | None, *, alpha: float, tol: float,
             max_iter: int, parts: int) -> SparkPageRank:
    named = edges.select(F.col("source").cast("string").alias("src"), F.col("target").cast("string").alias("dst"),
                         F.col("weight").cast("double").alias("w"))
    ends = named.select(F.col("src").alias("name")).union(named.select(F.col("dst").alias("name")))
    if nodes is not None:
        ends = ends.union(nodes.select(F.col("node").cast("string").alias("name")))
    # a number per node (unique, not consecutive), fixed once by a checkpoint: joins on longs
    numbered = _truncated(ends.distinct().withColumn("node", F.monotonically_increasing_id()), spark)
    by_name = numbered.select(F.col("name"), F.col("node"))
    linked = named.join(by_name.withColumnRenamed("name", "src").withColumnRenamed("node", "s"), "src").join(
        by_name.withColumnRenamed("name", "dst").withColumnRenamed("node", "d"), "dst").select(
        F.col("s").alias("src"), F.col("d").alias("dst"), "w")
    out_weight = linked.groupBy(F.col("src").alias("node")).agg(F.sum("w").alias("out"))
    positive = linked.where(F.col("w") > 0).groupBy("src", "dst").agg(F.sum("w").alias("w"))
    # the edges with their shares, read by every iteration: materialized once, with a plan of one node
    links = _truncated(positive.join(out_weight.withColumnRenamed("node", "src"), "src").select(
        "src", "dst", (F.col("w") / F.col("out")).alias("share")).repartition(parts, "src"), spark)
    n = numbered.count()
    m = named.count()
    if n == 0:
        _release(links, numbered)
        return SparkPageRank(spark.createDataFrame([], "node string, pagerank double"), 0, m, 0, 0.0, True)
    ranks = _truncated(numbered.join(out_weight, "node", "left").select(
        "node", (F.coalesce(F.col("out"), F.lit(0.0)) == 0).alias("dangling"), F.lit(1.0 / n).alias("x"),
    ).repartition(parts, "node"), spark)
    dangling_mass = _dangling_mass(ranks)
    change, iterations = float("inf"), 0
    while iterations < max_iter:
        iterations += 1
        spread = (alpha * dangling_mass + 1.0 - alpha) / n
        # Every iterate is cut from its lineage: the step reads the ranks twice (the inflow and the
        # previous x), so an uncut plan doubles with each iteration (5k to 390k characters over 5 of
        # them), each copy analysed, cached and described to the SQL status store (the 1 GB driver
        # ran out of heap on the Higgs mention layer). Cut, the plan is the same few nodes.
        # not eager: the figures' job below computes the iterate and keeps it, one job per iteration
        step = _truncated(_step(ranks, links, alpha, spread), spark, eager=False)
        figures = step.agg(F.sum(F.abs(F.col("x") - F.col("previous"))).alias("change"),
                           F.sum(F.when(F.col("dangling"), F.col("x")).otherwise(0.0)).alias("dangling")).first()
        assert figures is not None
        change, dangling_mass = float(figures["change"]), float(figures["dangling"] or 0.0)
        _release(ranks)  # the iterate before, now: not when a JVM garbage collection happens to notice it
        ranks = step.select("node", "dangling", "x")
        if change < tol:
            break
    named_ranks = _truncated(ranks.join(numbered, "node").select(F.col("name").alias("node"),
                                                                 F.col("x").alias("pagerank")), spark)
    _release(ranks, links, numbered)
    return SparkPageRank(named_ranks, n, m, iterations, change, change < tol)


def _step(ranks: DataFrame, links: DataFrame, alpha: float, spread: float) -> DataFrame:
    """The next iterate beside the previous one: node, dangling, x, previous.

    Sort-merge joins (``merge``): the ranks, the edges (by source) and the inflow (by target) are
    already hash-partitioned alike, so neither side is shuffled for them. Left to itself, adaptive
    execution broadcasts ranks under 10 MB, and each broadcast's hash table (about 64 MB on the
    driver even for a few thousand rows) stayed until a garbage collection in Python and then in the JVM let
    Spark's cleaner drop it: 65 MB more held per iteration, up to 500 MB on a 2,000-edge graph.
    """
    flow = links.join(ranks.select(F.col("node").alias("src"), "x").hint("merge"), "src").groupBy(
        F.col("dst").alias("node")).agg(F.sum(F.col("share") * F.col("x")).alias("inflow"))
    return ranks.hint("merge").join(flow, "node", "left").select(
        "node", "dangling", (F.lit(alpha) * F.coalesce(F.col("inflow"), F.lit(0.0)) + F.lit(spread)).alias("x"),
        F.col("x").alias("previous"))


def _dangling_mass(ranks: DataFrame) -> float:
    row = ranks.agg(F.sum(F.when(F.col("dangling"), F.col("x")).otherwise(0.0)).alias("mass")).first()
    return float(row["mass"] or 0.0) if row is not None else 0.0


def _truncated(frame: DataFrame, spark: SparkSession, *, eager: bool = True) -> DataFrame:
    """``frame`` cut from its lineage, and computed now when ``eager`` (else by the first job that reads
    it whole): a reliable checkpoint when the session has a checkpoint folder (a cluster that may
    lose executors), a local one otherwise."""
    if spark.sparkContext.getCheckpointDir():
        return frame.checkpoint(eager=eager)
    return frame.localCheckpoint(eager=eager)


def _release(*frames: DataFrame) -> None:
    """Free what :func:`_truncated` holds for ``frames`` (or a projection of one): the blocks of a local
    checkpoint, the files of a reliable one.

    Spark would free them only once a JVM garbage collection finds the frame unreachable (its
    ContextCleaner), which may be many iterations later: every iterate's blocks would pile up in
    the executors' storage meanwhile. The checkpointed RDD is the frame's plan's leaf.
    """
    for frame in frames:
        context = frame.sparkSession.sparkContext
        leaves = frame._jdf.queryExecution().logical().collectLeaves()  # no public handle on a frame's RDD
        for leaf in (leaves.apply(i) for i in range(leaves.size())):
            if leaf.nodeName() != "LogicalRDD":
                continue
            rdd = leaf.rdd()
            rdd.unpersist(True)  # blocking: freed before the next iterate is computed
            checkpoint_file = rdd.getCheckpointFile()
            if checkpoint_file.isDefined():
                path = context._jvm.org.apache.hadoop.fs.Path(checkpoint_file.get())  # type: ignore[union-attr]
                path.getFileSystem(context._jsc.hadoopConfiguration()).delete(path, True)


# -- edge files --------------------------------------------------------------------------------


def read_edge_frame(spark: SparkSession, path: str) -> DataFrame:
    """``source``, ``target``, ``weight`` from Parquet (a ``.parquet`` path or a folder) or an edge text file."""
    if _is_parquet(spark, path):
        frame = spark.read.parquet(path)
        missing = [c for c in ("source", "target") if c not in frame.columns]
        if missing:
            raise ConfigError(f"the Parquet edge list has no column {', '.join(missing)} (expected source, target "
                              f"and optionally weight; found {', '.join(frame.columns)})", source=path)
        weight = F.col("weight").try_cast("double") if "weight" in frame.columns else F.lit(1.0)
        edges = frame.select(F.col("source").cast("string"), F.col("target").cast("string"), weight.alias("weight"))
        bad = edges.where(F.col("source").isNull() | F.col("target").isNull() | F.col("weight").isNull()
                          | F.isnan("weight") | (F.col("weight") < 0) | (F.abs("weight") == float("inf"))).first()
        if bad is not None:
            raise ConfigError(f"a row has an empty node or a weight that is not a finite non-negative number: "
                              f"{_quote(str(tuple(bad)))}", source=path)
        return edges
    return _text_edges(spark, path)


def _is_parquet(spark: SparkSession, path: str) -> bool:
    if path.rstrip("/").endswith(".parquet"):
        return True
    from pathlib import Path

    return "://" not in path and Path(path).is_dir()


def _text_edges(spark: SparkSession, path: str) -> DataFrame:
    lines = spark.read.text(path).select(F.regexp_replace("value", r"^\s+|\s+$", "").alias("line"))
    edges = lines.where((F.col("line") != "") & ~F.col("line").startswith("#")).select(
        "line", F.split(F.col("line"), r"\s+").alias("fields"))
    first = edges.first()
    if first is None:
        raise ConfigError("the edge file has no edges (expected lines of: source target [weight])", source=path)
    width = len(first["fields"])
    # try_cast and get: null for a word or a missing field (Spark 4's ANSI mode would raise instead)
    weight = F.get(F.col("fields"), 2).try_cast("double")
    wrong: Column = F.size("fields") != width
    if width == 3:
        wrong = wrong | weight.isNull() | F.isnan(weight) | (weight < 0) | (F.abs(weight) == float("inf"))
    bad = edges.where(wrong).select("line").first() if width in (2, 3) else first
    if bad is not None:
        expected = ("2 or 3 fields (source target [weight])" if width not in (2, 3) else
                    f"{width} fields (source target [weight]) like the first edge, the weight a non-negative number")
        raise ConfigError(f"the line {_quote(bad['line'])}: expected {expected}", source=path)
    return edges.select(F.get(F.col("fields"), 0).alias("source"), F.get(F.col("fields"), 1).alias("target"),
                        (weight if width == 3 else F.lit(1.0)).alias("weight"))


def _quote(text: str) -> str:
    from aggregator.models import UNSAFE_TEXT

    return repr(UNSAFE_TEXT.sub("?", text[:80]))


__all__ = ["SparkPageRank", "pagerank_frame", "read_edge_frame"]
