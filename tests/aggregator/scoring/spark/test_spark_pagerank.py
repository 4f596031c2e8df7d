"""PageRank on Spark gives the scipy path's ranks: on a real subgraph of Higgs (as Parquet) and on a
hand-made graph with dangling nodes, self-loops, duplicate edges and isolated nodes (as the text
format, through ``aggregator scorer graph --engine spark``).

Both paths run the same iteration and stop at the same strict L1 tolerance, so each is within
``alpha / (1 - alpha) * tol`` of the fixed point, and they are within twice that of each other;
at the same number of iterations they are the same iterate, equal up to rounding. One local
Spark session serves the test run (``tests/conftest.py``); the runs are few and small, with tolerances that keep the
iterations few (Spark tests stay fast).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="pyspark is the optional 'spark' extra: pip install '.[spark]'")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17 (Debian: openjdk-17-jre-headless); CI installs it", allow_module_level=True)

import pyarrow as pa  # noqa: E402
from shared_data import shared_path  # noqa: E402

from aggregator.cli.main import main  # noqa: E402
from aggregator.errors import ConfigError  # noqa: E402
from aggregator.scoring.graph import pagerank, read_edges  # noqa: E402
from aggregator.scoring.spark.pagerank import pagerank_frame, read_edge_frame  # noqa: E402


def _bound(alpha: float, tol: float) -> float:
    return 2 * alpha / (1 - alpha) * tol + 1e-13


def test_a_real_higgs_subgraph_as_parquet_ranks_as_scipy_does(spark, tmp_path):
    """The replies among the first 2,000 lines of the Higgs reply layer (weighted, with self-loops)."""
    lines = shared_path("higgs", "higgs-reply_network.edgelist").read_text().splitlines()[:2000]
    small = tmp_path / "replies.txt"
    small.write_text("\n".join(lines) + "\n")
    edges = read_edges(small)
    assert np.any(edges.source == edges.target)  # self-loops, as in the source
    pq.write_table(pa.table({"source": edges.nodes[edges.source].tolist(),
                             "target": edges.nodes[edges.target].tolist(), "weight": edges.weight}),
                   tmp_path / "edges.parquet")
    tol = 3e-3  # 12 iterations (32 at 1e-4): the same-iterate check below is what holds it to 1e-14
    expected = pagerank(edges.source, edges.target, edges.weight, edges.n, tol=tol)
    result = pagerank_frame(read_edge_frame(spark, str(tmp_path / "edges.parquet")), tol=tol)
    got = dict(result.ranks.collect())  # a test's graph: small enough to look at whole
    assert (result.nodes, result.edges) == (edges.n, len(edges.source)) and result.converged
    assert abs(result.iterations - expected.iterations) <= 1
    ranks = np.array([got[str(node)] for node in edges.nodes])
    assert np.abs(ranks - expected.scores).sum() <= _bound(0.85, tol)
    assert ranks.sum() == pytest.approx(1.0, abs=1e-12)
    same = pagerank(edges.source, edges.target, edges.weight, edges.n, tol=0, max_iter=result.iterations)
    assert np.abs(ranks - same.scores).max() <= 1e-14  # the same iterate, up to the order of the sums


HAND_MADE = """\
# a hand-made graph: every case the iteration has to get right
a b 1
a b 2
a\tc 1.5
b b 4
b c 1
c a 1
d a 1
d e 1
f g 0
h h 3
x y 1
y x 1
x z 2
"""
# dangling: e (only in-edges), g (only a zero-weight in-edge), z; duplicates: a b (twice);
# self-loops: b b, h h (h holds only its self-loop); isolated: f and g (the one edge between them
# weighs 0, so it carries nothing); sources: d (out-edges only)


def test_the_command_on_a_hand_made_graph_gives_the_scipy_ranks(spark, tmp_path, capsys):
    path = tmp_path / "hand.txt"
    path.write_text(HAND_MADE)
    alpha, tol = 0.5, 1e-5  # 12 iterations (24 at 1e-10); the same-iterate check holds it to 1e-14
    out = tmp_path / "ranks"
    assert main(["scorer", "graph", "--engine", "spark", "--edges", str(path), "--alpha", str(alpha),
                 "--tol", str(tol), "--out", str(out), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    edges = read_edges(path)
    expected = pagerank(edges.source, edges.target, edges.weight, edges.n, alpha=alpha, tol=tol)
    table = pq.read_table(out).to_pylist()
    got = {row["node"]: row["pagerank"] for row in table}
    assert sorted(got) == sorted(edges.nodes.tolist()) == list("abcdefghxyz")
    ranks = np.array([got[str(node)] for node in edges.nodes])
    assert np.abs(ranks - expected.scores).sum() <= _bound(alpha, tol)
    same = pagerank(edges.source, edges.target, edges.weight, edges.n, alpha=alpha, tol=0,
                    max_iter=expected.iterations)
    assert np.abs(ranks - same.scores).max() <= 1e-14
    best = edges.nodes[np.argsort(-expected.scores, kind="stable")[:3]]
    assert [line.split()[1] for line in printed.splitlines()[1:4]] == best.tolist()
    assert f"PageRank on Spark converged after {expected.iterations} iterations" in printed


def test_isolated_nodes_given_beside_the_edges_hold_the_teleport_share(spark):
    edges = spark.createDataFrame([("a", "b", 1.0), ("b", "a", 1.0), ("c", "c", 1.0)],
                                  "source string, target string, weight double")
    nodes = spark.createDataFrame([("lone",), ("a",)], "node string")
    alpha, tol = 0.5, 1e-6
    result = pagerank_frame(edges, nodes=nodes, alpha=alpha, tol=tol)
    got = dict(result.ranks.collect())
    expected = pagerank(np.array([0, 1, 2]), np.array([1, 0, 2]), None, 4, alpha=alpha, tol=tol)
    ranks = np.array([got[name] for name in ("a", "b", "c", "lone")])
    assert np.abs(ranks - expected.scores).sum() <= _bound(alpha, tol)


def test_a_bad_edge_file_is_named_with_its_line(spark, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a b 1\nb c heavy\n")
    with pytest.raises(ConfigError, match=r"bad\.txt: the line 'b c heavy': expected 3 fields .* non-negative"):
        read_edge_frame(spark, str(bad))
    short = tmp_path / "short.txt"
    short.write_text("a b\nc\n")
    with pytest.raises(ConfigError, match=r"short\.txt: the line 'c': expected 2 fields"):
        read_edge_frame(spark, str(short))
    pq.write_table(pa.table({"from": ["a"], "to": ["b"]}), tmp_path / "cols.parquet")
    with pytest.raises(ConfigError, match=r"cols\.parquet: the Parquet edge list has no column source, target"):
        read_edge_frame(spark, str(tmp_path / "cols.parquet"))


def _plans_and_blocks(spark, run):
    """``run()``'s result, the longest query plan Spark recorded while it ran (in characters, from the SQL
    status store, as its UI shows it) and how many RDDs it left holding blocks (by id: the shared session's
    cleaner may free other tests' RDDs meanwhile, so a count before and after would not tell)."""
    context = spark.sparkContext._jsc.sc()
    store = spark._jsparkSession.sharedState().statusStore()
    context.listenerBus().waitUntilEmpty()  # the status store is fed asynchronously
    seen, held = store.executionsCount(), set(spark.sparkContext._jsc.getPersistentRDDs().keys())
    result = run()
    context.listenerBus().waitUntilEmpty()
    executions = store.executionsList(seen, store.executionsCount() - seen)
    longest = max(len(executions.apply(i).physicalPlanDescription()) for i in range(executions.size()))
    return result, longest, len(set(spark.sparkContext._jsc.getPersistentRDDs().keys()) - held)


def test_many_iterations_keep_the_plan_and_the_held_blocks_the_size_of_one(spark, tmp_path):
    """The growth that ran a 1 GB driver out of heap at 117 iterations (bench/spark_pagerank.py): the
    step reads the ranks twice, so an iterate that is not cut from its lineage doubles the plan each
    iteration, and iterates left to the JVM's garbage collector pile up their blocks."""
    path = tmp_path / "hand.txt"
    path.write_text(HAND_MADE)
    edges = read_edge_frame(spark, str(path))
    # 9 iterations: an uncut plan doubling at each would be 2**7 times the plan at 2 (2**2 times with a
    # checkpoint every 5 iterations, as before); more would only make the test slower
    few, few_plan, _ = _plans_and_blocks(spark, lambda: pagerank_frame(edges, tol=0, max_iter=2))
    many, many_plan, many_blocks = _plans_and_blocks(spark, lambda: pagerank_frame(edges, tol=0, max_iter=9))
    assert (few.iterations, many.iterations) == (2, 9)
    assert many_plan <= few_plan * 1.1  # the same plan whatever the iteration (ids may take a digit more)
    assert many_blocks == 1  # the returned ranks only: every iterate, the edges and the node numbers freed
    assert many.ranks.count() == 11
