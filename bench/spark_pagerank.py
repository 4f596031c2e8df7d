"""Benchmark PageRank on Spark against the scipy path, on the same Higgs graph, in one run.

    python bench/spark_pagerank.py [--graph reply|mention|retweet] [--tol 1e-10] [--repeat 1]
                                   [--master local[2]] [--smoke]
    (needs the spark and bench extras: pip install -e '.[spark,bench]', and Java 17)

Measures, on one Higgs layer from ``../shared/data/higgs`` (default: the mention layer, 116,408
nodes and 150,818 weighted edges; ``--smoke``: the first 2,000 lines of the reply layer, at
tol 1e-6):

- **baseline**: the scipy path (``aggregator.scoring.graph``: the file read, then the power
  iteration) — its seconds and iterations;
- **Spark**: ``aggregator.scoring.spark.pagerank`` on the same text file in local mode, in the
  session the command builds (``aggregator.app.engines.spark_session``, Spark's default 1 GB
  driver; its start is reported apart, not counted): edges read, iterated to the same strict L1
  tolerance, ranks written as Parquet to a temporary folder — its seconds, iterations and
  seconds per iteration;
- the ratio (Spark / scipy) and the agreement: the L1 distance of the two rank vectors against
  its bound ``2 * alpha / (1 - alpha) * tol``, and the overlap of the top 100.

Spark on two local cores is much slower than scipy on a graph that fits one machine: each
iteration is a few Spark stages (join, shuffle, aggregate), with a fixed cost per stage. What it
shows is the cost per iteration and that the numbers are the scipy path's; the graphs that need
Spark (billions of edges) do not fit here. The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from aggregator.scoring.graph import DEFAULT_ALPHA, pagerank, read_edges

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GRAPHS = {"reply": "higgs-reply_network.edgelist", "mention": "higgs-mention_network.edgelist",
          "retweet": "twitter_higgs.txt"}


def say(text: str) -> None:
    print(text, flush=True)


def scipy_run(path: Path, tol: float) -> tuple[Any, Any, float]:
    started = time.perf_counter()
    edges = read_edges(path)
    result = pagerank(edges.source, edges.target, edges.weight, edges.n, alpha=DEFAULT_ALPHA, tol=tol)
    return edges, result, time.perf_counter() - started


def spark_run(spark: Any, path: Path, out: Path, tol: float) -> tuple[Any, dict[str, float], float]:
    from aggregator.scoring.spark.pagerank import pagerank_frame, read_edge_frame

    started = time.perf_counter()
    result = pagerank_frame(read_edge_frame(spark, str(path)), alpha=DEFAULT_ALPHA, tol=tol)
    result.ranks.write.mode("overwrite").parquet(str(out))
    seconds = time.perf_counter() - started
    import pyarrow.parquet as pq  # the check reads the written ranks, outside the timing

    table = pq.read_table(out).to_pydict()
    return result, dict(zip(table["node"], table["pagerank"], strict=True)), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", choices=GRAPHS, default="mention")
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each path (default 1)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--smoke", action="store_true", help="a 2,000-edge part of the reply layer, tol 1e-6")
    args = parser.parse_args()
    source = SHARED / "higgs" / GRAPHS["reply" if args.smoke else args.graph]
    folder = Path(tempfile.mkdtemp(prefix="bench-spark-pagerank-"))
    path = source
    tol = 1e-6 if args.smoke else args.tol
    if args.smoke:
        path = folder / "reply-2000.txt"
        if source.exists():
            path.write_text("\n".join(source.read_text().splitlines()[:2000]) + "\n")
        else:  # a fresh CI machine has no shared data: a random graph of the same size
            say(f"no {source}: a random 2,000-edge graph instead")
            rng = np.random.default_rng(0)
            ends = rng.zipf(1.8, size=(2000, 2)) % 1500
            path.write_text("".join(f"{u} {v} {w}\n" for (u, v), w in zip(ends, rng.integers(1, 5, 2000), strict=True)))
    elif not source.exists():
        say(f"no {source}: the Higgs graph is in ../shared/data/higgs beside the checkout")
        return 2

    started = time.perf_counter()
    from aggregator.app.engines import spark_session  # the session `aggregator scorer graph --engine spark` runs in

    spark = spark_session(args.master)
    spark.sparkContext.setLogLevel("ERROR")
    session_s = time.perf_counter() - started
    load = os.getloadavg()
    say(f"{path.name}: Spark session {session_s:.1f} s ({args.master}); load average {load[0]:.1f} {load[1]:.1f}")

    scipy_times, spark_times = [], []
    for _ in range(args.repeat):
        edges, ours, seconds = scipy_run(path, tol)
        scipy_times.append(seconds)
        say(f"scipy: {seconds:.3f} s, {ours.iterations} iterations ({edges.n:,} nodes, {len(edges.source):,} edges)")
        result, ranks, seconds = spark_run(spark, path, folder / "ranks", tol)
        spark_times.append(seconds)
        say(f"spark: {seconds:.1f} s, {result.iterations} iterations ({seconds / result.iterations:.2f} s each)")
    spark.stop()

    got = np.array([ranks[str(node)] for node in edges.nodes])
    l1 = float(np.abs(got - ours.scores).sum())
    bound = 2 * DEFAULT_ALPHA / (1 - DEFAULT_ALPHA) * tol
    top = len(np.intersect1d(np.argsort(-got, kind="stable")[:100], np.argsort(-ours.scores, kind="stable")[:100]))
    scipy_s, spark_s = statistics.median(scipy_times), statistics.median(spark_times)
    say(f"-> Spark / scipy: {spark_s / scipy_s:.0f}x; L1 distance {l1:.2e} (bound {bound:.2e}); top-100 overlap {top}")
    print(json.dumps({
        "graph": path.name, "nodes": int(edges.n), "edges": len(edges.source), "tol": tol,
        "master": args.master, "repeat": args.repeat, "load_average_1m": round(load[0], 2),
        "scipy_s": round(scipy_s, 4), "scipy_iterations": ours.iterations,
        "spark_s": round(spark_s, 2), "spark_iterations": result.iterations,
        "spark_s_per_iteration": round(spark_s / result.iterations, 3), "spark_session_s": round(session_s, 2),
        "spark_times": [round(t, 2) for t in spark_times], "scipy_times": [round(t, 4) for t in scipy_times],
        "ratio": round(spark_s / scipy_s, 1), "l1_distance": l1, "l1_bound": bound,
        "within_bound": l1 <= bound, "top100_overlap": top,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
