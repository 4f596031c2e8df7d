"""Index health on Spark: each index's failures by kind, retries and a few example messages.

As :func:`aggregator.analytics.compare.index_health`, from the export's failures as a DataFrame
(``index``, ``subject_id``, ``kind``, ``attempts``, ``message``): counts are grouped aggregates
(a row per index and kind reaches the driver), and each index's examples are its first three
distinct fault messages in (subject, message) order, a distributed top 3 per index.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.compare import IndexHealth
from aggregator.models import FailureKind

#: fault messages an index's health shows (as the numpy engine: the first three distinct)
EXAMPLES = 3


def index_health(
    failures: DataFrame, names: Sequence[str], scored: Sequence[int], asked: int
) -> tuple[IndexHealth, ...]:
    """One :class:`IndexHealth` per index of ``names``, ``scored[j]`` readings each, of ``asked`` subjects."""
    known = failures.where(F.col("index").isin(list(names)))
    by_kind: dict[str, dict[FailureKind, int]] = {name: {} for name in names}
    retries = dict.fromkeys(names, 0)
    tallies = known.groupBy("index", "kind").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.greatest(F.col("attempts") - 1, F.lit(0))).alias("retries"),
    )
    for r in tallies.collect():  # one row per index and kind
        by_kind[r["index"]][FailureKind(r["kind"])] = int(r["n"])
        retries[r["index"]] += int(r["retries"] or 0)
    gaps = [kind.value for kind in FailureKind if kind.is_coverage_gap]
    # each message once, at its first place in (subject, message) order
    messages = known.where(~F.col("kind").isin(gaps)).groupBy("index", "message").agg(
        F.min(F.coalesce(F.col("subject_id"), F.lit(""))).alias("first")
    )
    examples = {}
    for name in (n for n in names if any(not kind.is_coverage_gap for kind in by_kind[n])):
        top = messages.where(F.col("index") == name).orderBy("first", "message").limit(EXAMPLES).collect()
        examples[name] = tuple(r["message"] for r in top)
    return tuple(
        IndexHealth(index=name, scored=int(scored[j]), asked=asked, failures=by_kind[name], retries=retries[name],
                    examples=examples.get(name, ()))
        for j, name in enumerate(names)
    )
