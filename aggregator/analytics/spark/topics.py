"""Topics on Spark: what :func:`aggregator.analytics.topics.topic_overlap` computes, from the readings' topics.

Topics compare by Python's ``str.strip()`` then ``str.casefold()``, which Spark SQL's ``trim``
and ``lower`` are not (``strip`` takes every Unicode space, ``casefold`` turns 'ß' into 'ss'
and 'ﬁ' into 'fi'): both are Python, a batch of topics at a time (Arrow), never a column at
once. Then, distributed: one row per (subject, index, topic key) with the index's first
spelling; per subject the number of indices, the mean pairwise Jaccard overlap (a self-join
of the keys for the intersections), and the keys exactly one index claims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.spark._kept import kept


@dataclass(frozen=True, eq=False)
class SparkTopics:
    """Per subject: ``topic_indices`` and ``topic_jaccard``; the lone claims; the summary's counts."""

    #: position, topic_indices (long), topic_jaccard (double, null with fewer than two indices)
    subjects: DataFrame
    #: position, subject_id, index (the index's position), topic (the spelling kept): one row per lone claim
    lone: DataFrame
    #: subjects with topics from at least one index
    with_topics: int
    #: lone claims
    n_lone: int


def _python_text(function: Callable[[str], str]) -> Callable[[Column], Column]:
    """``function`` of each string (null stays null), on Arrow batches."""
    import pyarrow as pa
    from pyspark.sql.pandas.functions import arrow_udf

    def apply(texts: pa.Array) -> pa.Array:
        return pa.array([None if t is None else function(t) for t in texts.to_pylist()], pa.string())

    # pyspark reads the kind of UDF off real annotations, which ``from __future__`` turns into strings
    apply.__annotations__ = {"texts": pa.Array, "return": pa.Array}
    make: Any = arrow_udf  # its stubs have no overload for the annotated form
    udf: Callable[[Column], Column] = make(apply, "string")
    return udf


def _strip(text: str) -> str:
    return text.strip()


def _key(text: str) -> str:
    return text.strip().casefold()


def topic_sets(cells: DataFrame) -> DataFrame:
    """``(i, j, key, topic)``: each index's topics for each subject, one row per key, its first spelling.

    ``cells`` has ``i``, ``j`` and ``topics`` (an array of strings, null or empty for none).
    """
    spelled = cells.select("i", "j", F.posexplode("topics").alias("place", "name")).where(F.col("name").isNotNull())
    name = F.col("name")
    cleaned = spelled.select(
        "i", "j", "place", _python_text(_strip)(name).alias("topic"), _python_text(_key)(name).alias("key")
    ).where(F.col("topic") != "")
    return cleaned.groupBy("i", "j", "key").agg(F.min_by("topic", "place").alias("topic"))


def topics(subjects: DataFrame, cells: DataFrame) -> SparkTopics | None:
    """The topic overlap of the run's subjects (``subjects``: position, subject_id); None when no index gave topics."""
    sets = kept(topic_sets(cells))
    sizes = sets.groupBy("i", "j").agg(F.count(F.lit(1)).alias("size"))
    n_indices = sizes.groupBy("i").agg(F.count(F.lit(1)).alias("topic_indices"))
    left = sets.select("i", F.col("j").alias("a"), "key")
    right = sets.select("i", F.col("j").alias("b"), "key")
    shared = left.join(right, ["i", "key"]).where(F.col("a") < F.col("b")).groupBy("i", "a", "b").agg(
        F.count(F.lit(1)).alias("shared"))
    pairs = sizes.select("i", F.col("j").alias("a"), F.col("size").alias("size_a")).join(
        sizes.select("i", F.col("j").alias("b"), F.col("size").alias("size_b")), "i"
    ).where(F.col("a") < F.col("b")).join(shared, ["i", "a", "b"], "left")
    common = F.coalesce(F.col("shared"), F.lit(0))
    overlap = pairs.groupBy("i").agg(
        F.avg(common / (F.col("size_a") + F.col("size_b") - common)).alias("topic_jaccard"))
    found = n_indices.join(overlap, "i", "left")
    per_subject = subjects.select(F.col("position").alias("i")).join(found, "i", "left").select(
        F.col("i").alias("position"), F.coalesce("topic_indices", F.lit(0)).cast("long").alias("topic_indices"),
        "topic_jaccard",
    ).localCheckpoint()
    with_topics = per_subject.where(F.col("topic_indices") > 0).count()
    if not with_topics:
        sets.unpersist()
        return None
    claims = sets.groupBy("i", "key").agg(F.count(F.lit(1)).alias("_claims"))
    lone = (
        sets.join(claims.where(F.col("_claims") == 1), ["i", "key"])
        .join(per_subject.where(F.col("topic_indices") >= 2).select(F.col("position").alias("i")), "i")
        .join(subjects.select(F.col("position").alias("i"), "subject_id"), "i")
        # numpy's order: by subject, index and key (the parts come out in it; readers sort again)
        .orderBy("i", "j", "key")
        .select(F.col("i").cast("long").alias("position"), "subject_id", F.col("j").cast("long").alias("index"),
                "topic")
    ).localCheckpoint()
    n_lone = lone.count()
    sets.unpersist()
    return SparkTopics(per_subject, lone, with_topics, n_lone)
