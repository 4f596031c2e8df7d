"""``aggregator scorer ...``: fit, evaluate and graph commands of the in-house scorer.

``aggregator.cli.main`` calls :func:`register` while building its parser; everything
heavy (numpy, scipy, scikit-learn) is imported inside the handlers. Handlers return an exit
code (0 ok) and raise ``ConfigError`` for bad input, which the command turns into exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aggregator.atomic import atomic_open
from aggregator.cli.exits import EXIT_OK
from aggregator.errors import ConfigError

GRAPH_ENGINES = ("scipy", "spark")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``scorer`` command group (``fit``, ``evaluate``, ``graph``) to the ``aggregator`` command."""
    scorer = commands.add_parser(
        "scorer", help="the in-house score: fit it, evaluate it against baselines, rank a graph",
        description="The in-house influence score: transparent components calibrated on human judgments of "
                    "who is more influential (pairs files in the layout of the PeerIndex train.csv).",
    )
    sub = scorer.add_subparsers(title="scorer commands", metavar="COMMAND")
    scorer.set_defaults(handler=lambda _args: _help(scorer))

    fit = sub.add_parser("fit", help="fit the model on labelled pairs and write the model file",
                         description="Fit the monotone, activity-neutral model on labelled pairs, print its "
                                     "cross-validated AUC, and write the model file. Deterministic: fixed folds "
                                     "and seed, no random start.")
    fit.add_argument("--pairs", type=Path, required=True, metavar="FILE", help="labelled pairs (CSV)")
    fit.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the model (JSON)")
    _fit_options(fit)
    fit.set_defaults(handler=_fit)

    evaluate = sub.add_parser(
        "evaluate", help="how well the shipped model (or a model file) judges labelled pairs; --cv: refit by folds",
        description="Score every pair of the file with the packaged model (or --model) as it is, no refit, and "
                    "print its pairwise AUC and accuracy beside the follower-count ratio's; it says when the file "
                    "is the one the model was fitted on (in-sample). With --cv, also cross-validate the fitting "
                    "procedure and the baselines (logistic regression, gradient boosting when scikit-learn is "
                    "installed) inside the file, in the same folds.")
    evaluate.add_argument("--pairs", type=Path, required=True, metavar="FILE", help="labelled pairs (CSV)")
    evaluate.add_argument("--json", action="store_true",
                          help='print one JSON object ({"model_auc": ..., "model_accuracy": ..., "n": ..., '
                               '"in_sample": ..., and with --cv "cv_refit": {"auc": ..., "baselines": ...}})')
    evaluate.add_argument("--model", type=Path, metavar="FILE",
                          help="the model file to score the pairs with (default: the packaged model)")
    evaluate.add_argument("--cv", action="store_true",
                          help="also refit the model and the baselines by cross-validation inside the file")
    evaluate.add_argument("--no-boosting", action="store_true", help="skip the gradient-boosting baseline (--cv)")
    _fit_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    graph = sub.add_parser("graph", help="weighted PageRank of an interaction graph",
                           description="Weighted PageRank of an edge list (one 'source target [weight]' per line, "
                                       "an edge meaning source amplified target; gzip allowed), by sparse power "
                                       "iteration until the L1 change is below --tol. --engine spark runs the "
                                       "same iteration on Apache Spark (docs/spark.md), from the text format or "
                                       "Parquet (columns source, target [, weight]).")
    # a plain string: with --engine spark, any path Spark reads (s3a://...)
    graph.add_argument("--edges", required=True, metavar="FILE", help="the edge list")
    graph.add_argument("--top", type=int, default=20, metavar="N", help="how many top nodes to print (default 20)")
    graph.add_argument("--out", metavar="PATH",
                       help="write every node's PageRank: scipy, a CSV file (node, pagerank, percentile); spark, a "
                            "folder of Parquet (node, pagerank), or of CSV when PATH ends in .csv")
    graph.add_argument("--engine", choices=GRAPH_ENGINES, default="scipy",
                       help="scipy (default: one machine) or spark (the same numbers, distributed)")
    graph.add_argument("--master", help="with --engine spark: the Spark master URL (default: from spark-submit, "
                                        "else local[*])")
    graph.add_argument("--alpha", type=float, default=0.85, help="damping factor (default 0.85)")
    graph.add_argument("--tol", type=float, default=1e-10, help="stop at this absolute L1 change (default 1e-10)")
    graph.add_argument("--json", action="store_true", help="print the summary and top nodes as JSON")
    graph.set_defaults(handler=_graph)


def _fit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    parser.add_argument("--knots", type=int, default=16, help="segments per term curve (default 16)")


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _settings(args: argparse.Namespace) -> Any:
    from aggregator.scoring.fit import FitSettings

    if args.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {args.folds}")
    if args.knots < 1:
        raise ConfigError(f"--knots must be at least 1, got {args.knots}")
    return FitSettings(knots=args.knots, folds=args.folds, seed=args.seed)


def _read_pairs(path: Path, folds: int) -> Any:
    """The labelled pairs of ``path``, with enough of each outcome for ``folds`` folds (0: for an AUC)."""
    from aggregator.scoring.features import read_pairs

    pairs = read_pairs(path)
    ones = int(pairs.a_wins.sum())
    if folds == 0 and min(ones, len(pairs) - ones) == 0:
        raise ConfigError(f"an AUC needs pairs won by A and pairs won by B; the file has {ones} and "
                          f"{len(pairs) - ones}", source=str(path))
    if min(ones, len(pairs) - ones) < folds:
        raise ConfigError(f"{folds}-fold cross-validation needs at least {folds} pairs won by A and {folds} won "
                          f"by B; the file has {ones} and {len(pairs) - ones}", source=str(path))
    return pairs


def _fit(args: argparse.Namespace) -> int:
    from aggregator.scoring.fit import fit

    settings = _settings(args)
    pairs = _read_pairs(args.pairs, settings.folds)
    result = fit(pairs, settings, source=args.pairs)
    try:
        result.model.save(args.out)
    except OSError as exc:
        message = f"cannot write the model: {exc.strerror or type(exc).__name__}"
        raise ConfigError(message, source=str(args.out)) from None
    cv = result.cv
    print(f"{settings.folds}-fold cross-validated AUC {cv.auc:.4f} ± {cv.auc_sd:.4f}, accuracy {cv.accuracy:.4f} "
          f"({len(pairs)} pairs; folds: " + ", ".join(f"{a:.4f}" for a in cv.fold_auc) + ")")
    print(f"model: {args.out} (algorithm version {result.model.digest})")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    import hashlib

    from aggregator.scoring.evaluate import check_model, evaluate
    from aggregator.scoring.model import load_model

    settings = _settings(args)
    pairs = _read_pairs(args.pairs, settings.folds if args.cv else 0)
    model = load_model(args.model)
    name = str(args.model) if args.model else "packaged model.json"
    check = check_model(pairs, model, name=name, file_sha256=hashlib.sha256(args.pairs.read_bytes()).hexdigest())
    refit = evaluate(pairs, settings, boosting=False if args.no_boosting else None) if args.cv else None
    if args.json:
        print(json.dumps({**check.as_dict(), "cv_refit": refit.as_dict() if refit else None}, sort_keys=False))
    else:
        print(f"{args.pairs}: " + check.table())
        if refit is not None:
            print("\ncross-validated refit (--cv): the fitting procedure, refitted in each fold of this file\n"
                  + refit.table())
    return EXIT_OK


def _graph(args: argparse.Namespace) -> int:
    import time

    from aggregator.scoring.graph import pagerank, percentiles, read_edges

    if not 0 < args.alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if not args.tol > 0:
        raise ConfigError(f"--tol must be positive, got {args.tol}")
    if args.engine == "spark":
        return _graph_spark(args)
    if args.master:
        raise ConfigError("--master goes with --engine spark")
    started = time.perf_counter()
    edges = read_edges(Path(args.edges))
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    result = pagerank(edges.source, edges.target, edges.weight, edges.n, alpha=args.alpha, tol=args.tol)
    rank_s = time.perf_counter() - started
    order = result.scores.argsort(kind="stable")[::-1][: max(args.top, 0)]
    if args.out:
        _write_ranks(Path(args.out), edges.nodes, result.scores, percentiles(result.scores))
    summary = {"nodes": edges.n, "edges": len(edges.source), "iterations": result.iterations,
               "l1_change": result.change, "converged": result.converged, "read_s": round(read_s, 3),
               "pagerank_s": round(rank_s, 3),
               "top": [{"node": str(edges.nodes[i]), "pagerank": float(result.scores[i])} for i in order]}
    return _show_graph(args, summary, f"read {read_s:.2f} s, ranked {rank_s:.2f} s")


def _show_graph(args: argparse.Namespace, summary: dict[str, Any], timing: str) -> int:
    """Print a PageRank's summary and top nodes (as JSON with --json), and warn if it did not converge."""
    if args.json:
        print(json.dumps(summary))
    else:
        state = "converged" if summary["converged"] else "NOT converged"
        engine = " on Spark" if args.engine == "spark" else ""
        print(f"{args.edges}: {summary['nodes']} nodes, {summary['edges']} edges; PageRank{engine} {state} after "
              f"{summary['iterations']} iterations (L1 change {summary['l1_change']:.1e}); {timing}")
        for place, top in enumerate(summary["top"], start=1):
            print(f"{place:>5}  {top['node']:<24} {top['pagerank']:.6e}")
        if args.out:
            print(f"all nodes: {args.out}")
    if not summary["converged"]:
        print("warning: the iteration limit was reached before --tol", file=sys.stderr)
    return EXIT_OK


def _graph_spark(args: argparse.Namespace) -> int:
    """``scorer graph --engine spark``: the ranks stay a DataFrame; only the top --top reach the driver."""
    import time

    from pyspark.sql import functions as F  # noqa: N812

    from aggregator.app.engines import spark_session
    from aggregator.scoring.spark.pagerank import pagerank_frame, read_edge_frame

    spark = spark_session(args.master)
    started = time.perf_counter()
    result = pagerank_frame(read_edge_frame(spark, args.edges), alpha=args.alpha, tol=args.tol)
    top = result.ranks.orderBy(F.desc("pagerank"), F.asc("node")).limit(max(args.top, 0)).collect()
    if args.out:
        writer = result.ranks.write.mode("overwrite")
        if args.out.rstrip("/").endswith(".csv"):
            writer.option("header", True).csv(args.out)
        else:
            writer.parquet(args.out)
    seconds = time.perf_counter() - started
    summary = {"engine": "spark", "nodes": result.nodes, "edges": result.edges, "iterations": result.iterations,
               "l1_change": result.change, "converged": result.converged, "pagerank_s": round(seconds, 3),
               "top": [{"node": row["node"], "pagerank": row["pagerank"]} for row in top]}
    return _show_graph(args, summary, f"{seconds:.2f} s")


def _write_ranks(path: Path, nodes: Any, scores: Any, pct: Any) -> None:
    import csv

    try:
        with atomic_open(path, newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["node", "pagerank", "percentile"])
            for node, score, p in zip(nodes.tolist(), scores.tolist(), pct.tolist(), strict=True):
                writer.writerow([node, repr(score), f"{p:.4f}"])
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror or type(exc).__name__}", source=str(path)) from None


__all__ = ["register"]
