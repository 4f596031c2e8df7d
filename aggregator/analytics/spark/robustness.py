"""Leave-one-out robustness on Spark: the consensus without each index, against the full consensus.

As :func:`aggregator.analytics.agreement.robustness`: beyond ``ROBUSTNESS_SAMPLE`` subjects the
comparison reads every ``step``-th subject (by position, as the numpy engine reads every
``step``-th row); per index left out it gives Spearman's rho between the full consensus and the
consensus without the index (pairwise complete, ties at mid-rank), the subjects behind it, and
the median absolute change. The consensus without each index comes with each subject's figures
(``rows.subject_figures``, the numpy engine's row code); Spearman's figures come from the agreement
module's distributed rank sums, and the median from tie groups, so only a few numbers per index reach
the driver.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812 - pyspark's own convention

from aggregator.analytics.agreement import MIN_INDICES_FOR_OUTLIER, ROBUSTNESS_SAMPLE, Robustness
from aggregator.analytics.spark.agreement import rank_figures, spearman_from_sums
from aggregator.analytics.spark.median import exact_medians


def robustness(per_subject: DataFrame, names: Sequence[str], subjects: int) -> Robustness:
    """``per_subject`` has ``position``, ``consensus`` and ``without`` (array, one per index)."""
    k = len(names)
    step = -(-subjects // ROBUSTNESS_SAMPLE) if subjects > ROBUSTNESS_SAMPLE else 1
    sampled = per_subject.where(F.col("position") % step == 0) if step > 1 else per_subject
    shared = sampled.select(
        F.col("consensus").alias("x"), F.posexplode("without").alias("j", "y")
    ).where(F.col("x").isNotNull() & F.col("y").isNotNull()).select(
        F.col("j").alias("a"), F.col("j").alias("b"), "j", "x", "y", F.abs(F.col("x") - F.col("y")).alias("d")
    ).localCheckpoint()  # read by each figure below: materialized once, with a short plan to analyse
    rho, counts, shift = np.full(k, np.nan), np.zeros(k, dtype=np.int64), np.full(k, np.nan)
    for (j, _), f in rank_figures(shared).items():  # one pair (j, j) per index
        counts[j] = f["n"]
        rho[j] = spearman_from_sums(f["n"], f["x_cubes"], f["y_cubes"], f["products"])
    for j, median in exact_medians(shared, "d").items():  # one per index
        shift[j] = median
    most = -1
    if k >= MIN_INDICES_FOR_OUTLIER and not np.all(np.isnan(rho)):
        most = int(np.nanargmin(rho))
    return Robustness(indices=tuple(names), rho_without=rho, n=counts, median_shift=shift, most_influential=most)
