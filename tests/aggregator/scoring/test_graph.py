"""PageRank against networkx, and edge files: gzip, comments, string ids, and located errors."""

from __future__ import annotations

import gzip

import networkx as nx
import numpy as np
import pytest

from aggregator.errors import ConfigError
from aggregator.scoring import graph
from aggregator.scoring.graph import pagerank, percentiles, read_edges


def _networkx(n: int, source, target, weight, alpha: float = 0.85) -> np.ndarray:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    for u, v, w in zip(source.tolist(), target.tolist(), weight.tolist(), strict=True):
        if graph.has_edge(u, v):  # networkx keeps one edge per pair: sum duplicates as we do
            graph[u][v]["weight"] += w
        else:
            graph.add_edge(u, v, weight=w)
    ranks = nx.pagerank(graph, alpha=alpha, tol=1e-15 / n, max_iter=100_000, weight="weight")
    return np.array([ranks[i] for i in range(n)])


@pytest.mark.parametrize("seed", range(6))
def test_matches_networkx_on_random_graphs_with_dangling_nodes_self_loops_and_duplicates(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    m = int(rng.integers(1, 4 * n))
    source = rng.integers(0, n - n // 4, m)  # the last quarter sends nothing: dangling nodes
    # a power-law-ish target choice leaves many nodes without in-edges (the shortcut's case)
    target = np.minimum((rng.pareto(1.2, m) * 3).astype(np.int64), n - 1)
    loops = rng.integers(0, n, 3)
    source, target = np.concatenate([source, loops, source[:5]]), np.concatenate([target, loops, target[:5]])
    weight = rng.integers(1, 6, len(source)).astype(float)
    ours = pagerank(source, target, weight, n, tol=1e-14)
    assert ours.converged
    assert not np.all(np.bincount(source, minlength=n) > 0)
    assert not np.all(np.bincount(target, minlength=n) > 0)
    np.testing.assert_allclose(ours.scores, _networkx(n, source, target, weight), rtol=0, atol=1e-8)
    assert ours.scores.sum() == pytest.approx(1.0, abs=1e-12)


def test_matches_networkx_with_another_damping_and_unweighted_edges():
    rng = np.random.default_rng(11)
    source, target = rng.integers(0, 30, 90), rng.integers(0, 30, 90)
    ours = pagerank(source, target, None, 30, alpha=0.5, tol=1e-14)
    np.testing.assert_allclose(ours.scores, _networkx(30, source, target, np.ones(90), alpha=0.5), atol=1e-8)


def test_a_cycle_shares_rank_equally_and_an_isolated_node_gets_the_teleport_share():
    ranks = pagerank(np.array([0, 1, 2]), np.array([1, 2, 0]), n=4, tol=1e-14).scores
    # node 3 is dangling and has no in-edges: it keeps only what teleport and its own spread give it
    assert ranks[0] == pytest.approx(ranks[1]) == pytest.approx(ranks[2])
    assert ranks[3] == pytest.approx(_networkx(4, np.array([0, 1, 2]), np.array([1, 2, 0]), np.ones(3))[3])


def test_zero_weight_edges_carry_nothing_and_bad_input_is_refused():
    with_zero = pagerank(np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([1.0, 0.0, 1.0]), tol=1e-14)
    without = pagerank(np.array([0, 1]), np.array([1, 2]), np.array([1.0, 1.0]), n=3, tol=1e-14)
    np.testing.assert_allclose(with_zero.scores, without.scores, atol=1e-15)
    with pytest.raises(ValueError, match="non-negative"):
        pagerank(np.array([0]), np.array([1]), np.array([-1.0]))
    with pytest.raises(ValueError, match=r"within 0 \.\. 1"):
        pagerank(np.array([0]), np.array([5]), n=2)
    assert pagerank(np.zeros(0, np.int64), np.zeros(0, np.int64), n=0).scores.shape == (0,)


def test_the_iteration_stops_at_the_absolute_tolerance():
    rng = np.random.default_rng(5)
    source, target = rng.integers(0, 200, 600), rng.integers(0, 200, 600)
    loose, strict = pagerank(source, target, tol=1e-3), pagerank(source, target, tol=1e-12)
    assert loose.change < 1e-3 and strict.change < 1e-12
    assert loose.iterations < strict.iterations
    capped = pagerank(source, target, tol=1e-12, max_iter=3)
    assert capped.iterations == 3 and not capped.converged


def test_percentiles_are_mid_ranks():
    assert percentiles(np.array([0.1, 0.3, 0.1, 0.5])).tolist() == [25.0, 62.5, 25.0, 87.5]


def test_edge_files_with_gzip_comments_weights_and_string_ids(tmp_path):
    text = b"# who amplified whom\nann bob 2\n\nbob cy 1.5\n  # indented comment\ncy ann 3\n"
    path = tmp_path / "edges.txt.gz"
    path.write_bytes(gzip.compress(text))
    edges = read_edges(path)
    assert edges.nodes.tolist() == ["ann", "bob", "cy"]
    assert edges.source.tolist() == [0, 1, 2] and edges.target.tolist() == [1, 2, 0]
    assert edges.weight.tolist() == [2.0, 1.5, 3.0]


def test_integer_ids_sort_as_numbers_but_leading_zeros_stay_text(tmp_path):
    (tmp_path / "a.txt").write_text("10 9\n9 100\n")
    assert read_edges(tmp_path / "a.txt").nodes.tolist() == ["9", "10", "100"]
    (tmp_path / "b.txt").write_text("010 9\n9 100\n")
    assert read_edges(tmp_path / "b.txt").nodes.tolist() == ["010", "100", "9"]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("top", [50, 10**12])  # dense ids (a table relabels them) and sparse ones
def test_integer_files_read_in_blocks_as_the_general_path_reads_them(tmp_path, monkeypatch, weighted, top):
    rng = np.random.default_rng(3)
    rows = rng.integers(0, top, (300, 3))
    rows[:, 2] = rng.integers(0, 9, 300)
    lines = [" ".join(map(str, r[: 3 if weighted else 2])) + ("\t\r" if i % 7 == 0 else "") for i, r in enumerate(rows)]
    text = "\n".join(lines[:100]) + "\n\n" + "\n".join(lines[100:])  # a blank line, CRLF and tab tails
    (tmp_path / "fast.txt").write_text(text)
    (tmp_path / "general.txt").write_text("# the general path\n" + text)
    monkeypatch.setattr(graph, "_BLOCK_BYTES", 64)  # many blocks, cut at line ends
    assert graph._integer_edges((tmp_path / "fast.txt").read_bytes()) is not None  # it takes the fast path
    fast, general = read_edges(tmp_path / "fast.txt"), read_edges(tmp_path / "general.txt")
    assert fast.nodes.tolist() == general.nodes.tolist()
    for name in ("source", "target", "weight"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(general, name))
    assert graph._integer_edges((tmp_path / "general.txt").read_bytes()) is None  # the comment sent it there


@pytest.mark.parametrize(("text", "expected"), [
    ("1 2\n2 3 4\n", "line 2: expected 2 fields (source target [weight]) like the first edge, got 3"),
    ("1 2 1\n\n2 3\n", "line 3: expected 3 fields (source target [weight]) like the first edge, got 2"),
    ("1\n", "line 1: expected 2 or 3 fields (source target [weight]), got 1"),
    ("alice,bob,2.5\n", "line 1: expected 2 or 3 fields (source target [weight]), got 1 (fields are separated "
                        "by spaces or tabs; this line has commas or semicolons)"),
    ("a b\nb;c\n", "line 2: expected 2 fields (source target [weight]) like the first edge, got 1 (fields are "
                   "separated by spaces or tabs; this line has commas or semicolons)"),
    ("1 2 1\n2 3 -4\n", "line 2, column 3 (weight): expected a non-negative number, got '-4'"),
    ("1 2 1\n# c\n2 3 heavy\n3 1 -1\n", "line 3, column 3 (weight): expected a non-negative number, got 'heavy'"),
    ("1 2 nan\n", "line 1, column 3 (weight): expected a non-negative number, got 'nan'"),
    ("# nothing\n\n", "the edge file has no edges"),
])
def test_bad_edge_files_name_file_line_and_column(tmp_path, text, expected):
    path = tmp_path / "edges.txt"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_edges(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_unreadable_edge_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the edge file"):
        read_edges(tmp_path / "missing.txt")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ConfigError, match="not a readable gzip file"):
        read_edges(tmp_path / "broken.gz")
