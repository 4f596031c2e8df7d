"""The default "disputed" rule on Spark: the spread unusual for this roster (``analytics/disputes.py``).

σ is the median over comparable subjects of spread ÷ the median range for their number of
indices, exact and distributed (:func:`~aggregator.analytics.spark.median.exact_medians`). Besides
the few values around the middle, only the count of subjects per number of indices (a few rows)
reaches the driver, which finishes with the numpy engine's own arithmetic (``disputes.unusual_from``).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.disputes import MIN_SUBJECTS, typical_range, unusual_from
from aggregator.analytics.spark.median import exact_medians


def unusual_threshold(per_subject: DataFrame, fallback: float) -> float:
    """The spread above which a subject is unusually disputed; ``per_subject`` has ``spread`` and ``n_indices``.

    ``fallback`` when fewer than ``MIN_SUBJECTS`` subjects are comparable (as ``unusual_spread``).
    """
    comparable = per_subject.where(
        F.col("spread").isNotNull() & ~F.isnan("spread") & (F.col("n_indices") >= 2)
    ).select("spread", "n_indices")
    # one row per number of indices a subject has: a handful
    counts = {int(r["n_indices"]): int(r["count"]) for r in comparable.groupBy("n_indices").count().collect()}
    total = sum(counts.values())
    if total < MIN_SUBJECTS:
        return fallback
    typical = F.create_map(*[x for k in sorted(counts) for x in (F.lit(k), F.lit(typical_range(k)))])
    ratios = comparable.select(F.lit(0).alias("j"), (F.col("spread") / typical[F.col("n_indices")]).alias("r"))
    return unusual_from(exact_medians(ratios, "r")[0], int(_median_of_counts(counts)))


def _median_of_counts(counts: dict[int, int]) -> float:
    """``np.median`` of the integers that ``counts`` (value -> how many times) holds."""
    total = sum(counts.values())
    ordered = sorted(counts)

    def at(place: int) -> int:
        seen = 0
        for value in ordered:
            seen += counts[value]
            if place < seen:
                return value
        raise IndexError(place)

    return (at((total - 1) // 2) + at(total // 2)) / 2
