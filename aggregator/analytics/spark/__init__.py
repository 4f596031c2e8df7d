"""The comparison on Apache Spark: the same numbers as the numpy engine, for rosters past one machine.

An analytics engine of its own (docs/architecture.md): it takes a run's subjects and readings as
Spark DataFrames and the index specs, and computes what ``compare_table`` computes, with
DataFrame operations that stay distributed: per-column ranks come from running sums over range
buckets (``_running``), never a window over a whole column; per-subject figures are row
expressions; Kendall's tau-b counts its discordant pairs exactly, merge-sort style
(``agreement``). Only per-index and per-pair figures reach the driver.

- ``normalize``: every normalizer (percentile, range, robust_z, quantile_map);
- ``rows``: consensus (median, trimmed mean, Borda), IQR, spread, dissenter;
- ``agreement``: Kendall's tau-b, Spearman's rho, their CIs, Krippendorff's alpha;
- ``inversions``: the strongest inversions and every pair of indices' exact count;
- ``robustness``: the consensus without each index, against the full consensus;
- ``disputes``: the roster's own "unusual spread" threshold (the default flagging rule);
- ``health``: each index's failures by kind, retries and example messages;
- ``cells``: a run's readings as cells, their standings, each subject's row of them;
- ``shifts``: the changes since a previous run, with the recalibration check;
- ``topics``: the topics' overlap and lone claims (Python's casefold, on Arrow batches);
- ``engine``: ``compare_frames``, the whole comparison.

pyspark is the optional ``spark`` extra; nothing imports this package but the app module that
selects the engine (``aggregator.app.engines``).
"""
