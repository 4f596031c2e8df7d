"""Benchmark the in-house scorer: quality against baselines, vectorized scoring, PageRank.

    python bench/scorer.py [--subjects 1000000] [--big] [--no-networkx] [--quality-only]
    (needs the bench extra: pip install -e '.[bench]')

Measures, in one run:

- **quality**: 5-fold CV pairwise AUC and accuracy on ``../shared/data/peerindex_pairs/train.csv``
  of the in-house score and of the baselines (follower-count ratio, logistic regression on the
  11 log differences, scikit-learn gradient boosting), all in the same folds: ours
  (``aggregator scorer evaluate``) and scikit-learn's ``StratifiedKFold(5, shuffle, seed 0)``
  (the folds of the data's README); plus an empirical check on the scored population that
  doubling posts and sent counts never raises a score and more followers never lowers one;
- **held out**: the pairs split once, in advance, into a tuning part and a held-out third
  (``aggregator.scoring.metrics.held_out_rows``, by the pair's two people); the shipped fit
  procedure and settings, and the baselines, fitted on the tuning part only and scored once on
  the held-out part. The packaged model itself was fitted on all 4,000 pairs, so no pair is
  unseen by it: its AUC on the held-out part is shown too, marked in-sample;
- **scoring speed**: N subjects (default 1,000,000: the demo population resampled) scored from
  one array (vectorized) and one by one through the per-subject path (``score_one``), same
  results checked;
- **PageRank** on the real Higgs retweet + mention graph (``../shared/data/higgs``; retweets
  weight 1, mentions their count, pairs in both summed), from edge arrays to scores, at an
  absolute L1 change below 1e-10: ours (scipy.sparse power iteration) against igraph (PRPACK,
  graph build included) and networkx (``tol=1e-10/N``, the same criterion; its default
  tolerance stops after a few iterations with wrong top ranks: shown for agreement only);
- with ``--big``: a 10M-edge synthetic power-law graph (2M node ids), ours against igraph.

The last line is JSON with the key figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from adapters.sandbox.population import sample_population
from aggregator.scoring.evaluate import evaluate
from aggregator.scoring.features import FEATURES, read_pairs
from aggregator.scoring.fit import FitSettings, cross_validate, inhouse_method, subset
from aggregator.scoring.graph import pagerank
from aggregator.scoring.metrics import auc, held_out_rows, one_thread
from aggregator.scoring.model import packaged_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ALPHA = 0.85
TOL = 1e-10


def timed(func: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """(last value, median wall time) over ``repeat`` runs."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return value, statistics.median(times)


def say(text: str) -> None:
    print(text, flush=True)


# -- quality -------------------------------------------------------------------------------------


def quality(pairs_path: Path, first: int | None = None) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pairs = read_pairs(pairs_path)
    if first is not None:  # a smoke run: the first pairs only
        pairs = subset(pairs, np.arange(min(first, len(pairs.a_wins))))
    result, seconds = timed(lambda: evaluate(pairs))
    say(f"== quality: {pairs_path.name} ({seconds:.1f} s)\n" + result.table())

    # the same comparison in scikit-learn's folds, with scikit-learn's own baselines
    x = np.log1p(pairs.a) - np.log1p(pairs.b)
    y = pairs.a_wins
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(x, y))
    ours_method = inhouse_method(FitSettings())
    scores: dict[str, list[float]] = {"inhouse": [], "follower_ratio": [], "logistic_regression": [],
                                      "gradient_boosting": []}
    with one_thread():
        for train, test in folds:
            held = subset(pairs, test)
            scores["inhouse"].append(auc(y[test], ours_method(subset(pairs, train), held)))
            scores["follower_ratio"].append(auc(y[test], x[test, 0]))
            lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[train], y[train])
            scores["logistic_regression"].append(auc(y[test], lr.decision_function(x[test])))
            gb = HistGradientBoostingClassifier(random_state=0).fit(x[train], y[train])
            scores["gradient_boosting"].append(auc(y[test], gb.decision_function(x[test])))
    sk = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    say("scikit-learn folds (StratifiedKFold 5, shuffle, seed 0), scikit-learn baselines: "
        + ", ".join(f"{k} {v:.4f}" for k, v in sk.items()))
    seeds = {}
    for seed in (1, 2, 3):
        ours = cross_validate(pairs, ours_method, seed=seed).auc
        lr_auc = cross_validate(pairs, _lr, seed=seed).auc
        seeds[seed] = round(ours - lr_auc, 4)
    say(f"in-house minus logistic regression with other fold seeds: {seeds}")
    data = result.as_dict()
    held = held_out(pairs)
    return {
        "held_out": held,
        "auc": data["auc"], "accuracy": data["accuracy"], "auc_sd": data["auc_sd"],
        "baselines": {k: (v and {"auc": v["auc"], "accuracy": v["accuracy"]}) for k, v in data["baselines"].items()},
        "margin_over_best_baseline": data["margin_over_best_baseline"], "sklearn_folds_auc": sk,
        "margin_over_lr_other_seeds": seeds,
    }


def held_out(pairs: Any) -> dict[str, Any]:
    """AUC on the held-out third of the pairs of every method fitted on the rest (see the docstring)."""
    from aggregator.scoring.evaluate import follower_ratio

    held = held_out_rows(pairs.a, pairs.b)
    tuning, test = subset(pairs, np.flatnonzero(~held)), subset(pairs, np.flatnonzero(held))
    with one_thread():
        refit = inhouse_method(FitSettings())(tuning, test)
        figures = {
            "n": len(test), "tuning_n": len(tuning),
            "shipped_settings_refit_auc": round(auc(test.a_wins, refit), 4),
            "logistic_regression_auc": round(auc(test.a_wins, _lr(tuning, test)), 4),
            "follower_ratio_auc": round(auc(test.a_wins, follower_ratio(tuning, test)), 4),
        }
    shipped = packaged_model()
    figures["packaged_model_auc_in_sample"] = round(
        auc(test.a_wins, shipped.strength(test.a) - shipped.strength(test.b)), 4)
    say(f"held out: {len(test)} pairs no fit below touched ({len(tuning)} for fitting): the shipped settings, "
        f"refitted on the rest, AUC {figures['shipped_settings_refit_auc']:.4f}; logistic regression "
        f"{figures['logistic_regression_auc']:.4f}; follower ratio {figures['follower_ratio_auc']:.4f}; the "
        f"packaged model (fitted on all pairs, so in-sample here) {figures['packaged_model_auc_in_sample']:.4f}")
    return figures


def _lr(train: Any, test: Any) -> Any:
    from aggregator.scoring.evaluate import logistic_regression

    return logistic_regression(train, test)


# -- scoring speed --------------------------------------------------------------------------------


def scoring(subjects: int) -> dict[str, Any]:
    model = packaged_model()
    population, prep = timed(lambda: sample_population(subjects, seed=0))
    features = np.array(population.features)
    say(f"== scoring {subjects:,} subjects (population resampled in {prep:.1f} s)")
    vectorized, vec_s = timed(lambda: model.score(features), repeat=3)
    (_, points), points_s = timed(lambda: model.points(features), repeat=3)
    rows, rows_s = timed(lambda: [dict(zip(FEATURES, row, strict=True)) for row in features.tolist()])
    single, one_s = timed(lambda: [model.score_one(row)[0] for row in rows])
    diff = float(np.abs(np.array(single) - vectorized).max())
    ratio = one_s / vec_s
    say(f"vectorized score: {vec_s:.3f} s ({vec_s / subjects * 1e9:.0f} ns/subject); with points: {points_s:.3f} s")
    say(f"one by one (score_one): {one_s:.2f} s ({one_s / subjects * 1e6:.1f} µs/subject; building the "
        f"{subjects:,} dicts took another {rows_s:.1f} s, not counted) -> vectorized is {ratio:.0f}x faster; "
        f"max difference {diff:.1e}")
    # activity and monotonicity, empirically, on every subject
    sent = [FEATURES.index(f) for f in ("posts", "mentions_sent", "retweets_sent")]
    busier = features.copy()
    busier[:, sent] *= 2
    raised = int(np.count_nonzero(model.score(busier) > vectorized + 1e-9))
    grown = features.copy()
    grown[:, FEATURES.index("follower_count")] *= 2
    lowered = int(np.count_nonzero(model.score(grown) < vectorized - 1e-9))
    say(f"doubling posts and sent counts raised {raised} scores; doubling followers lowered {lowered}")
    return {"subjects": subjects, "vectorized_s": round(vec_s, 4), "points_s": round(points_s, 4),
            "one_by_one_s": round(one_s, 2), "speedup": round(ratio, 1), "max_diff": diff,
            "activity_raised": raised, "followers_lowered": lowered, "points_sum_ok": bool(
                np.allclose(points.sum(axis=1), vectorized, atol=1e-9))}


# -- PageRank --------------------------------------------------------------------------------------


def higgs() -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    retweets = np.loadtxt(SHARED / "higgs" / "twitter_higgs.txt", dtype=np.int64)
    mentions = np.loadtxt(SHARED / "higgs" / "higgs-mention_network.edgelist", dtype=np.int64)
    u = np.concatenate([retweets[:, 0], mentions[:, 0]])
    v = np.concatenate([retweets[:, 1], mentions[:, 1]])
    w = np.concatenate([np.ones(len(retweets)), mentions[:, 2].astype(np.float64)])
    return _unique_edges(u, v, w)


def _unique_edges(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Relabel to 0..n-1 and sum the weights of repeated (u, v) pairs (so every library sees the same graph)."""
    ids, labels = np.unique(np.concatenate([u, v]), return_inverse=True)
    n, m = len(ids), len(u)
    key = labels[:m] * n + labels[m:]
    pairs, inverse = np.unique(key, return_inverse=True)
    weight = np.bincount(inverse, w)
    return pairs // n, pairs % n, weight, n


def _agreement(scores: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    top = np.argsort(-reference, kind="stable")[:1000]
    mine = np.argsort(-scores, kind="stable")[:1000]
    return {"max_abs_diff": float(np.abs(scores - reference).max()),
            "top1000_overlap": len(np.intersect1d(top, mine)),
            "top1000_spearman": round(float(spearmanr(scores[top], reference[top]).statistic), 6)}


def _igraph(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, float, float]:
    import igraph as ig

    start = time.perf_counter()
    graph = ig.Graph(n, edges=list(zip(src.tolist(), dst.tolist(), strict=True)), directed=True)
    graph.es["weight"] = w
    built = time.perf_counter() - start
    ranks = np.array(graph.pagerank(damping=ALPHA, directed=True, weights="weight", implementation="prpack"))
    return ranks, built, time.perf_counter() - start - built


def _networkx(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int, tol: float) -> tuple[np.ndarray, float, float]:
    import networkx as nx

    start = time.perf_counter()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    built = time.perf_counter() - start
    ranks = nx.pagerank(graph, alpha=ALPHA, tol=tol, max_iter=10_000)
    computed = time.perf_counter() - start - built
    return np.array([ranks[i] for i in range(n)]), built, computed


def pagerank_bench(name: str, src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int, *, repeat: int,
                   with_networkx: bool) -> dict[str, Any]:
    dangling = int(np.count_nonzero(np.bincount(src, minlength=n) == 0))
    sources = int(np.count_nonzero(np.bincount(dst, minlength=n) == 0))
    say(f"== PageRank, {name}: {n:,} nodes, {len(src):,} edges, {dangling:,} dangling nodes, {sources:,} nodes "
        f"without in-edges (absolute L1 change < {TOL:g})")
    ours, ours_s = timed(lambda: pagerank(src, dst, w, n, alpha=ALPHA, tol=TOL), repeat=repeat)
    # igraph's OpenMP threads fight over a busy 2-core machine: time it both ways and keep its best
    runs = {"default threads": [_igraph(src, dst, w, n) for _ in range(repeat)]}
    with one_thread():
        runs["1 thread"] = [_igraph(src, dst, w, n) for _ in range(repeat)]
    medians = {k: (statistics.median(r[1] for r in v), statistics.median(r[2] for r in v),
                   statistics.median(r[1] + r[2] for r in v)) for k, v in runs.items()}
    best = min(medians, key=lambda k: medians[k][2])
    ig_build, ig_compute, ig_total = medians[best]
    ranks_ig = runs[best][-1][0]
    out: dict[str, Any] = {
        "nodes": n, "edges": len(src), "dangling": dangling, "no_in_edges": sources,
        "ours_s": round(ours_s, 4), "ours_iterations": ours.iterations,
        "igraph_s": round(ig_total, 4), "igraph_build_s": round(ig_build, 4), "igraph_compute_s": round(ig_compute, 4),
        "igraph_threads": best, "igraph_default_threads_s": round(medians["default threads"][2], 4),
        "vs_igraph": round(ig_total / ours_s, 2), "ours_vs_igraph": _agreement(ours.scores, ranks_ig),
    }
    say(f"ours (edge arrays -> scores): {ours_s:.3f} s, {ours.iterations} iterations, "
        f"{len(src) * ours.iterations / ours_s / 1e6:.0f} M edge-iterations/s")
    for k, (b, c, t) in medians.items():
        say(f"igraph PRPACK, {k}: {t:.3f} s (build {b:.3f} s + compute {c:.3f} s)")
    say(f"-> ours is {ig_total / ours_s:.2f}x igraph's best end to end; agreement {out['ours_vs_igraph']}")
    if with_networkx:
        ranks_nx, nx_build, nx_compute = _networkx(src, dst, w, n, TOL / n)
        default_nx, _, default_compute = _networkx(src, dst, w, n, 1e-6)
        out.update({
            "networkx_s": round(nx_build + nx_compute, 3), "networkx_build_s": round(nx_build, 3),
            "vs_networkx": round((nx_build + nx_compute) / ours_s, 1),
            "ours_vs_networkx_max_abs_diff": float(np.abs(ours.scores - ranks_nx).max()),
            "networkx_default_tol_vs_igraph": _agreement(default_nx, ranks_ig),
        })
        say(f"networkx, same criterion (tol=1e-10/N): {nx_build + nx_compute:.2f} s (build {nx_build:.2f} s) -> "
            f"ours is {out['vs_networkx']}x faster; max difference {out['ours_vs_networkx_max_abs_diff']:.1e}")
        say(f"networkx with its default tol=1e-6 (stops at L1 < N*1e-6, {default_compute:.2f} s compute): "
            f"not the same convergence, so not timed against; against igraph: {out['networkx_default_tol_vs_igraph']}")
    return out


FROM_FILE = {
    "ours": """
import sys, time
from pathlib import Path
from aggregator.app.memory import set_up
set_up()  # the process as the `aggregator` command sets it up (aggregator/app/memory.py)
import scipy.sparse  # imports are not timed, as igraph's are not
from aggregator.scoring.graph import pagerank_file
started = time.perf_counter()
edges, result = pagerank_file(Path(sys.argv[1]))
seconds = time.perf_counter() - started
peak = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")][0] / 1024
print(seconds, peak, result.iterations, edges.n)
""",
    "igraph": """
import sys, time
import igraph as ig
started = time.perf_counter()
g = ig.Graph.Read_Ncol(sys.argv[1], directed=True, weights="if_present")
scores = g.pagerank(damping=0.85, directed=True, weights="weight" if "weight" in g.es.attributes() else None,
                    implementation="prpack")
seconds = time.perf_counter() - started
peak = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:")][0] / 1024
print(seconds, peak, 0, g.vcount())
""",
}


def pagerank_from_file(edges: int, repeat: int) -> dict[str, Any]:
    """``aggregator scorer graph``'s path, file to scores, against igraph's ``Read_Ncol`` + PRPACK.

    Each run is a fresh process, so that its peak memory is its own (VmHWM: ``ru_maxrss`` would
    carry this process's over the exec); the file is a synthetic
    power-law graph of ``edges`` integer edges (``source target``), written once.
    """
    import os
    import subprocess
    import tempfile

    src, dst, _, n = synthetic(edges, max(edges // 5, 10))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "edges.txt"
        path.write_text("\n".join(f"{a} {b}" for a, b in zip(src.tolist(), dst.tolist(), strict=True)) + "\n")
        found: dict[str, list[list[float]]] = {"ours": [], "igraph": []}
        for _ in range(repeat):
            for name, script in FROM_FILE.items():
                out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                                     check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout.split()
                found[name].append([float(x) for x in out])
        size = path.stat().st_size
    med = {name: [statistics.median(r[i] for r in runs) for i in range(4)] for name, runs in found.items()}
    say(f"== PageRank from a file of {len(src):,} edges ({size / 2**20:.0f} MB), a fresh process each, "
        f"median of {repeat}")
    for name, (seconds, rss, _, nodes) in med.items():
        say(f"{name}: {seconds:.2f} s, peak RSS {rss:.0f} MB, {int(nodes):,} nodes")
    ratio = med["igraph"][0] / med["ours"][0]
    say(f"-> ours is {ratio:.2f}x igraph (Read_Ncol + PRPACK, 1 thread)")
    return {"edges": len(src), "nodes": n, "file_mb": round(size / 2**20, 1), "ours_s": round(med["ours"][0], 3),
            "ours_peak_mb": round(med["ours"][1]), "igraph_s": round(med["igraph"][0], 3),
            "igraph_peak_mb": round(med["igraph"][1]), "vs_igraph": round(ratio, 2),
            "runs_s": {k: [round(r[0], 3) for r in v] for k, v in found.items()}}


def synthetic(edges: int, nodes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A directed power-law graph: sources drawn with p ~ rank^-0.6, targets with p ~ rank^-0.9, ids permuted,
    duplicate edges dropped, ``edges`` unique edges kept."""
    rng = np.random.default_rng(seed)
    rank = np.arange(1, nodes + 1, dtype=np.float64)
    p_src, p_dst = rank ** -0.6, rank ** -0.9
    cdf_src, cdf_dst = np.cumsum(p_src / p_src.sum()), np.cumsum(p_dst / p_dst.sum())
    perm = rng.permutation(nodes)
    keys = np.zeros(0, dtype=np.int64)
    while len(keys) < edges:
        batch = int((edges - len(keys)) * 1.15) + 1000
        u = perm[np.minimum(np.searchsorted(cdf_src, rng.random(batch)), nodes - 1)]
        v = perm[np.minimum(np.searchsorted(cdf_dst, rng.random(batch)), nodes - 1)]
        keys = np.unique(np.concatenate([keys, u.astype(np.int64) * nodes + v]))
    keys = rng.choice(keys, size=edges, replace=False)
    u, v = keys // nodes, keys % nodes
    ids, labels = np.unique(np.concatenate([u, v]), return_inverse=True)
    return labels[:edges], labels[edges:], np.ones(edges), len(ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=Path, default=SHARED / "peerindex_pairs" / "train.csv")
    parser.add_argument("--big", action="store_true", help="also the 10M-edge synthetic graph (~1 min, ~3 GB)")
    parser.add_argument("--big-edges", type=int, default=10_000_000)
    parser.add_argument("--no-networkx", action="store_true", help="skip networkx on Higgs (~10 s)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quality-only", action="store_true", help="only the quality figures (~1 min)")
    parser.add_argument("--file-edges", type=int, default=0, metavar="N",
                        help="also PageRank from an edge file of N synthetic edges, ours against igraph's Read_Ncol")
    parser.add_argument("--smoke", action="store_true",
                        help="the smallest size, for CI: checks it runs (a small synthetic graph, not Higgs)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.subjects, args.repeat, args.no_networkx, args.big, args.file_edges = 10_000, 1, True, False, 20_000

    # without the shared data (a fresh CI machine), the smoke run skips the quality part
    figures: dict[str, Any] = {"quality": quality(args.pairs, 600 if args.smoke else None)
                               if args.pairs.exists() or not args.smoke else None}
    if args.quality_only:
        print(json.dumps(figures))
        return 0
    figures["scoring"] = scoring(args.subjects)
    (src, dst, w, n), load_s = timed(lambda: synthetic(50_000, 10_000) if args.smoke else higgs())
    say(f"(graph loaded and relabelled in {load_s:.1f} s, not timed below)")
    figures["pagerank_higgs"] = pagerank_bench("Higgs retweet + mention" if not args.smoke else "small synthetic",
                                               src, dst, w, n, repeat=args.repeat, with_networkx=not args.no_networkx)
    if args.big:
        (src, dst, w, n), made_s = timed(lambda: synthetic(args.big_edges, args.big_edges // 5))
        say(f"(synthetic graph generated in {made_s:.1f} s)")
        figures["pagerank_synthetic"] = pagerank_bench(f"synthetic power-law, {args.big_edges:,} edges", src, dst,
                                                       w, n, repeat=1, with_networkx=False)
    if args.file_edges:
        figures["pagerank_file"] = pagerank_from_file(args.file_edges, args.repeat)
    import resource

    figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
